//! `json_param_mask`: a list of paths set to JSON `null` in a request body
//! just before it goes upstream (a custom provider's way to neutralise
//! parameters its upstream rejects, without the client changing anything).
//!
//! Path forms, parsed once with [`JsonMask::parse`]:
//!
//! - a top-level key: `temperature`;
//! - dot and bracket paths: `a.b.c`, `messages[1].content`,
//!   `metadata["user.id"]` (a quoted key may contain `.`, `[` and `]`;
//!   `\"` and `\\` escape inside quotes); a plain key also addresses an
//!   array element when it is a decimal index (`messages.0.content`);
//! - wildcards: `[*]` or `*` match every element of an array and every
//!   value of an object (`messages[*].name`, `tools.*.strict`);
//! - JSON Pointer (RFC 6901), any path starting with `/`:
//!   `/messages/0/content`, with `~1` for `/` and `~0` for `~` in a key;
//!   `*` there is a literal key.
//!
//! [`JsonMask::apply`] parses the body's top level shallowly
//! ([`RawObject`]): only the top-level values a path reaches into are
//! parsed and re-serialised; every other value is copied byte for byte.
//! Missing paths are ignored; a body that is not JSON is left alone.

use std::collections::HashSet;

use serde_json::Value;

use crate::json_edit::{JsonEditError, RawObject};

/// One step of a mask path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// An object key; on an array, an index when it is a decimal number.
    Key(String),
    /// An array index (`[3]`).
    Index(usize),
    /// Every element or value (`[*]`, `*`).
    Any,
}

impl Segment {
    /// Whether this segment selects the top-level key `key`.
    fn matches_key(&self, key: &str) -> bool {
        match self {
            Segment::Key(k) => k == key,
            Segment::Any => true,
            Segment::Index(_) => false,
        }
    }
}

/// A parsed `json_param_mask`: paths set to `null` in a JSON body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonMask {
    paths: Vec<Vec<Segment>>,
}

/// A mask path that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {reason}")]
pub struct MaskError {
    /// Position of the bad path in the list.
    pub index: usize,
    /// The path as written.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl JsonMask {
    /// Parses every path; the first bad one is reported with its index.
    pub fn parse(paths: &[String]) -> Result<JsonMask, MaskError> {
        let paths = paths
            .iter()
            .enumerate()
            .map(|(index, path)| {
                parse_path(path).map_err(|reason| MaskError {
                    index,
                    path: path.clone(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(JsonMask { paths })
    }

    /// Whether the mask has no paths (and [`JsonMask::apply`] never changes
    /// anything).
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The body with every masked path set to `null`, or `None` when
    /// nothing changed (no path present, every one already `null`) or the
    /// body is not JSON.
    pub fn apply(&self, body: &[u8]) -> Option<Vec<u8>> {
        if self.paths.is_empty() {
            return None;
        }
        let mut object = match RawObject::parse(body) {
            Ok(object) => object,
            Err(JsonEditError::NotAnObject) => return self.apply_to_value(body),
            Err(JsonEditError::Invalid(_)) => return None,
        };
        let mut seen = HashSet::new();
        let keys: Vec<String> = object
            .keys()
            .filter(|k| seen.insert(*k))
            .map(str::to_owned)
            .collect();
        let mut changed = false;
        for key in keys {
            let mut rests = Vec::new();
            let mut whole = false;
            for path in &self.paths {
                if let Some((first, rest)) = path.split_first()
                    && first.matches_key(&key)
                {
                    whole |= rest.is_empty();
                    rests.push(rest);
                }
            }
            let Some(raw) = object.get(&key) else {
                continue;
            };
            if whole {
                if raw.get().trim() != "null" {
                    object.set_raw(&key, "null".to_owned()).ok()?;
                    changed = true;
                }
                continue;
            }
            if rests.is_empty() {
                continue;
            }
            let Ok(mut value) = serde_json::from_str::<Value>(raw.get()) else {
                continue;
            };
            let mut touched = false;
            for rest in rests {
                touched |= null_in(&mut value, rest);
            }
            if touched {
                object
                    .set_raw(&key, serde_json::to_string(&value).ok()?)
                    .ok()?;
                changed = true;
            }
        }
        changed.then(|| object.to_vec())
    }

    /// The slow path for a body that is JSON but not an object.
    fn apply_to_value(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut value: Value = serde_json::from_slice(body).ok()?;
        let mut changed = false;
        for path in &self.paths {
            changed |= null_in(&mut value, path);
        }
        if changed {
            serde_json::to_vec(&value).ok()
        } else {
            None
        }
    }
}

/// Sets every value `path` reaches under `value` to null; returns whether
/// anything changed.
fn null_in(value: &mut Value, path: &[Segment]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let mut changed = false;
    let mut visit = |child: &mut Value| {
        if rest.is_empty() {
            if !child.is_null() {
                *child = Value::Null;
                changed = true;
            }
        } else {
            changed |= null_in(child, rest);
        }
    };
    match (value, first) {
        (Value::Object(map), Segment::Key(key)) => {
            if let Some(child) = map.get_mut(key) {
                visit(child);
            }
        }
        (Value::Object(map), Segment::Any) => map.values_mut().for_each(visit),
        (Value::Array(items), Segment::Index(i)) => {
            if let Some(child) = items.get_mut(*i) {
                visit(child);
            }
        }
        (Value::Array(items), Segment::Key(key)) => {
            if let Some(child) = array_index(key).and_then(|i| items.get_mut(i)) {
                visit(child);
            }
        }
        (Value::Array(items), Segment::Any) => items.iter_mut().for_each(visit),
        (Value::Object(_), Segment::Index(_))
        | (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_), _) => {}
    }
    changed
}

/// A key read as an array index: decimal digits without a leading zero
/// (RFC 6901), so `-` and `01` address nothing.
fn array_index(key: &str) -> Option<usize> {
    let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
    if canonical && key.bytes().all(|b| b.is_ascii_digit()) {
        key.parse().ok()
    } else {
        None
    }
}

fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    if path.is_empty() {
        return Err("a mask path must not be empty".into());
    }
    if path.starts_with('/') {
        let pointer = jsonptr::Pointer::parse(path).map_err(|e| e.to_string())?;
        return Ok(pointer
            .tokens()
            .map(|t| Segment::Key(t.decoded().into_owned()))
            .collect());
    }
    parse_dotted(path)
}

/// `a.b[0]["c.d"].*`: keys separated by dots, brackets for indexes,
/// wildcards and quoted keys.
fn parse_dotted(path: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut chars = path.chars().peekable();
    // Whether a key is expected next (at the start and after a dot).
    let mut want_key = true;
    loop {
        match chars.peek().copied() {
            None if want_key => {
                return Err("a key is missing (empty key or trailing `.`)".into());
            }
            None => return Ok(segments),
            Some('[') => {
                chars.next();
                segments.push(parse_bracket(&mut chars)?);
                want_key = false;
            }
            Some('.') if !want_key => {
                chars.next();
                want_key = true;
            }
            Some(c) if want_key && c != '.' && c != ']' => {
                let mut key = String::new();
                while let Some(&c) = chars.peek() {
                    if matches!(c, '.' | '[' | ']') {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                segments.push(if key == "*" {
                    Segment::Any
                } else {
                    Segment::Key(key)
                });
                want_key = false;
            }
            Some(c) => return Err(format!("unexpected `{c}`")),
        }
    }
}

/// The inside of `[...]`, after the `[`: `*`, an index, or a quoted key.
fn parse_bracket(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Segment, String> {
    let segment = match chars.peek().copied() {
        Some('*') => {
            chars.next();
            Segment::Any
        }
        Some('"') => {
            chars.next();
            let mut key = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted key".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => key.push(c),
                        _ => return Err("only `\\\"` and `\\\\` escape in a quoted key".into()),
                    },
                    Some(c) => key.push(c),
                }
            }
            Segment::Key(key)
        }
        Some(c) if c.is_ascii_digit() => {
            let mut digits = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
                digits.push(c);
                chars.next();
            }
            Segment::Index(
                digits
                    .parse()
                    .map_err(|_| format!("index `{digits}` is too large"))?,
            )
        }
        _ => return Err("`[` must hold `*`, an index or a quoted key".into()),
    };
    match chars.next() {
        Some(']') => Ok(segment),
        _ => Err("`]` expected".into()),
    }
}

#[cfg(test)]
#[path = "json_mask_tests.rs"]
mod tests;
