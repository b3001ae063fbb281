//! Edit a few top-level fields of a JSON object without re-serialising the rest.
//!
//! Same-protocol forwarding only has to touch a handful of fields (`model`,
//! `stream`, masked parameters). [`RawObject`] parses the top level shallowly:
//! every value stays a borrowed slice of the input ([`RawValue`]) and is
//! copied back byte for byte, so a 2 MB conversation costs one validation
//! pass and one copy, not a full tree build and re-serialisation.
//!
//! Duplicate keys are kept as they came. Reads see the last occurrence (as
//! `serde_json::Value` and JavaScript do); writes update every occurrence and
//! [`RawObject::remove`] removes them all, so the upstream sees the same
//! value whichever duplicate its parser picks.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use memchr::memmem;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// An error from [`RawObject`] or [`prefix_model`].
#[derive(Debug, thiserror::Error)]
pub enum JsonEditError {
    /// The text is not valid JSON.
    #[error("invalid JSON: {0}")]
    Invalid(String),
    /// Valid JSON, but not an object.
    #[error("expected a JSON object")]
    NotAnObject,
}

/// A JSON object parsed shallowly: keys in order, values as borrowed raw JSON text (serde_json RawValue).
#[derive(Debug, Clone)]
pub struct RawObject<'a> {
    entries: Vec<Entry<'a>>,
}

impl<'a> RawObject<'a> {
    /// Parses `bytes` as a JSON object. Malformed JSON gives
    /// [`JsonEditError::Invalid`]; any other JSON value gives
    /// [`JsonEditError::NotAnObject`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, JsonEditError> {
        // One pass: the top level is walked once and every value is captured
        // as raw text while being validated (the raw values cover nearly
        // all of it, so it is checked as UTF-8 whole).
        match from_bytes_as_text::<TopLevel<'a>>(bytes) {
            Ok(TopLevel::Object(entries)) => Ok(Self { entries }),
            Ok(TopLevel::Other) => Err(JsonEditError::NotAnObject),
            Err(e) => Err(JsonEditError::Invalid(e.to_string())),
        }
    }

    /// The raw value of `key` (the last one if the key is duplicated).
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The unescaped value of `key`, only if it is a JSON string.
    pub fn get_str(&self, key: &str) -> Option<Cow<'_, str>> {
        let raw = self.get(key)?.get();
        if !raw.starts_with('"') {
            return None;
        }
        serde_json::from_str::<CowStr<'_>>(raw).ok().map(|s| s.0)
    }

    /// The value of `key`, only if it is a JSON boolean.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)?.get().trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// Whether `key` is present (with any value, `null` included).
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Replace (in place, keeping position) or append. `json` must be valid JSON text; returns Invalid otherwise.
    pub fn set_raw(&mut self, key: &str, json: String) -> Result<(), JsonEditError> {
        let raw = RawValue::from_string(json).map_err(|e| JsonEditError::Invalid(e.to_string()))?;
        self.put(key, Cow::Owned(raw));
        Ok(())
    }

    /// Sets `key` to the JSON string `value`.
    pub fn set_str(&mut self, key: &str, value: &str) {
        let mut json = Vec::with_capacity(value.len() + 2);
        write_json_str(&mut json, value);
        // We just wrote a valid JSON string from a `&str`, so neither
        // conversion can fail; the key is left untouched if one ever did.
        if let Some(raw) = String::from_utf8(json)
            .ok()
            .and_then(|s| RawValue::from_string(s).ok())
        {
            self.put(key, Cow::Owned(raw));
        }
    }

    /// Sets `key` to `true` or `false`.
    pub fn set_bool(&mut self, key: &str, value: bool) {
        let raw = if value {
            RawValue::TRUE
        } else {
            RawValue::FALSE
        };
        self.put(key, Cow::Borrowed(raw));
    }

    /// Removes every occurrence of `key`; returns whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k != key);
        self.entries.len() != before
    }

    /// Appends the compact object `{"k":<raw>,...}` to `out`; raw values are copied byte for byte.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(
            2 + self
                .entries
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>(),
        );
        out.push(b'{');
        for (i, (key, value)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_str(out, key);
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        }
        out.push(b'}');
    }

    /// The compact object as a new buffer (see [`RawObject::write_to`]).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Number of entries, duplicates counted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys in order, duplicates included.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    /// Replaces every occurrence of `key`, or appends it.
    fn put(&mut self, key: &str, value: Cow<'a, RawValue>) {
        let mut found = false;
        for (_, v) in self.entries.iter_mut().filter(|(k, _)| k == key) {
            *v = value.clone();
            found = true;
        }
        if !found {
            self.entries.push((Cow::Owned(key.to_owned()), value));
        }
    }
}

/// If `json` is an object whose top-level "model" is a string, returns the object with "model" = prefix + "/" + model.
/// Otherwise, if it has an object under "message" or "response" whose "model" is a string, rewrites that nested one
/// (Anthropic message_start events and OpenAI Responses stream events). Returns Ok(None) when there is nothing to rewrite.
///
/// Errors as [`RawObject::parse`]: malformed JSON (such as `[DONE]`) is
/// [`JsonEditError::Invalid`], any other non-object [`JsonEditError::NotAnObject`].
pub fn prefix_model(json: &[u8], prefix: &str) -> Result<Option<Vec<u8>>, JsonEditError> {
    edit_model(json, &|model, out| {
        out.push(b'"');
        write_json_str_contents(out, prefix);
        out.push(b'/');
        write_json_str_contents(out, model);
        out.push(b'"');
    })
}

/// As [`prefix_model`], but sets the model to `model` (a model route's
/// name in place of the upstream model that served it).
pub fn replace_model(json: &[u8], model: &str) -> Result<Option<Vec<u8>>, JsonEditError> {
    edit_model(json, &|_, out| write_json_str(out, model))
}

/// Rewrites the top-level (or `message`/`response` nested) string "model"
/// with `f`, which writes the new value as a JSON string literal (so a
/// prefix is written beside the model, not formatted into a new string
/// first).
///
/// A top-level string model (every non-stream answer and OpenAI chunk) is
/// found by [`top_level_model`], a structural scan that allocates nothing,
/// and spliced in place; anything else takes the full parse. A response
/// is forwarded as it came, so the scan checks the structure up to the
/// model (and past it only when another `model` member could follow) but
/// not every literal: validating it in full cost more than the rest of a
/// small answer's handling (issue 18).
fn edit_model(
    json: &[u8],
    f: &dyn Fn(&str, &mut Vec<u8>),
) -> Result<Option<Vec<u8>>, JsonEditError> {
    if let Some(Some(span)) = top_level_model(json)
        && json[span.start] == b'"'
    {
        let raw = &json[span.clone()];
        let inner = &raw[1..raw.len() - 1];
        let model = if memchr::memchr(b'\\', inner).is_none() {
            std::str::from_utf8(inner).ok().map(Cow::Borrowed)
        } else {
            serde_json::from_slice::<String>(raw).ok().map(Cow::Owned)
        };
        if let Some(model) = model {
            let mut out = Vec::with_capacity(json.len() + 64);
            out.extend_from_slice(&json[..span.start]);
            f(&model, &mut out);
            out.extend_from_slice(&json[span.end..]);
            return Ok(Some(out));
        }
    }
    edit_model_parsed(json, f)
}

/// [`edit_model`] through a full parse of `json`.
fn edit_model_parsed(
    json: &[u8],
    f: &dyn Fn(&str, &mut Vec<u8>),
) -> Result<Option<Vec<u8>>, JsonEditError> {
    let mut object = RawObject::parse(json)?;
    if edit_top_level(&mut object, f) {
        return Ok(Some(object.to_vec()));
    }
    for key in ["message", "response"] {
        let Some(raw) = object.get(key) else {
            continue;
        };
        let Ok(mut nested) = RawObject::parse(raw.get().as_bytes()) else {
            continue;
        };
        if !edit_top_level(&mut nested, f) {
            continue;
        }
        let nested = String::from_utf8(nested.to_vec())
            .map_err(|e| JsonEditError::Invalid(e.to_string()))?;
        object.set_raw(key, nested)?;
        return Ok(Some(object.to_vec()));
    }
    Ok(None)
}

/// The unsigned integer at `path` (keys of nested objects) of the JSON
/// object `json`, found by [`top_level_value`]'s scan: `Some(None)` when a
/// key is absent or the value is not an unsigned integer, `None` when the
/// scan gives up (the caller then parses in full).
pub fn u64_at(json: &[u8], path: &[&str]) -> Option<Option<u64>> {
    let (last, parents) = path.split_last()?;
    u64_at_first(json, parents, &[*last])
}

/// [`u64_at`] of the first of `keys` present (by their order) in the
/// object at `parents`, in one scan of each object on the way: e.g. OpenAI
/// Chat's `max_completion_tokens`, else its `max_tokens`.
pub fn u64_at_first(json: &[u8], parents: &[&str], keys: &[&str]) -> Option<Option<u64>> {
    let mut object = json;
    for key in parents {
        match top_level_value(object, key.as_bytes())? {
            Some(range) => object = &object[range],
            None => return Some(None),
        }
        if object.first() != Some(&b'{') {
            return Some(None);
        }
    }
    let parse =
        |range: std::ops::Range<usize>| std::str::from_utf8(&object[range]).ok()?.parse().ok();
    match top_level_value_of(object, keys)? {
        None => Some(None),
        Some(range) => match parse(range) {
            Some(n) => Some(Some(n)),
            // The first key present holds no such number (`null`, say):
            // each is looked at on its own, in order.
            None => {
                for key in keys {
                    if let Some(n) = top_level_value(object, key.as_bytes())?.and_then(parse) {
                        return Some(Some(n));
                    }
                }
                Some(None)
            }
        },
    }
}

/// The top-level string `key` of the JSON object `json` when it has no
/// escapes, found by [`top_level_value`]'s scan (`None`: absent, not a
/// plain string, or the scan gave up).
pub fn plain_str_at<'a>(json: &'a [u8], key: &str) -> Option<&'a str> {
    let range = top_level_value(json, key.as_bytes())??;
    let raw = json.get(range)?;
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if memchr::memchr(b'\\', inner).is_some() {
        return None;
    }
    std::str::from_utf8(inner).ok()
}

/// Where the value of the last top-level `key` of the JSON object `json`
/// lies, by a scan of its structure that allocates nothing (strings are
/// skipped with `memchr`, containers by counting brackets, which are not
/// matched by kind): `Some(None)` when the key is absent, `None` when a
/// top-level key is escaped or the scan finds something it does not expect
/// (the caller then parses in full, which reports malformed JSON). A
/// literal value is not validated.
/// `T` from the JSON `bytes`, checked as UTF-8 whole and parsed as text.
/// From bytes, serde_json checks each key, string and raw value it reads
/// with a call of its own, which costs more than one check of the whole
/// when they are many and short or cover most of it (not when most of the
/// bytes would be skipped unread). Invalid UTF-8 is parsed from the bytes,
/// for serde_json's own error and its position.
pub(crate) fn from_bytes_as_text<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

pub(crate) fn top_level_value(json: &[u8], key: &[u8]) -> Option<Option<std::ops::Range<usize>>> {
    top_level_value_of(json, &[key])
}

/// [`top_level_value`] of `model`, stopping at the first top-level
/// `model` when no other member of that name can follow it: the rest of
/// `json` holds neither `"model"` nor a `\u` escape (the only way to spell
/// that name otherwise). An answer names its model before its content
/// (OpenAI's `id`, `object`, `created`, `model`, then `choices`; Claude's
/// `model` before `content`), so the content is searched, not walked; what
/// follows the value is not checked then.
fn top_level_model(json: &[u8]) -> Option<Option<std::ops::Range<usize>>> {
    /// Whether no member named `model` can be in `rest`.
    fn no_other_model(rest: &[u8]) -> bool {
        static QUOTED: LazyLock<memmem::Finder<'static>> =
            LazyLock::new(|| memmem::Finder::new(b"\"model\""));
        QUOTED.find(rest).is_none()
            && memchr::memchr_iter(b'\\', rest).all(|at| rest.get(at + 1) != Some(&b'u'))
    }
    top_level_scan(json, &[b"model"], Some(no_other_model))
}

/// [`top_level_value`] for the first of `keys` present (by their order),
/// in one scan.
fn top_level_value_of<K: AsRef<[u8]>>(
    json: &[u8],
    keys: &[K],
) -> Option<Option<std::ops::Range<usize>>> {
    top_level_scan(json, keys, None)
}

/// The scan of [`top_level_value_of`]; with `last`, it stops at the
/// first of `keys` whose value `last` says no other member of its name
/// can follow (given what follows the value).
fn top_level_scan<K: AsRef<[u8]>>(
    json: &[u8],
    keys: &[K],
    last: Option<fn(&[u8]) -> bool>,
) -> Option<Option<std::ops::Range<usize>>> {
    let ws = |mut i: usize| {
        while json.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut i = ws(0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(i + 1);
    let mut found = None;
    if json.get(i) == Some(&b'}') {
        return (ws(i + 1) == json.len()).then_some(None);
    }
    loop {
        if json.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(json, i + 1)?;
        let name = &json[i + 1..key_end - 1];
        if memchr::memchr(b'\\', name).is_some() {
            return None;
        }
        i = ws(key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i = ws(i + 1);
        let value_end = value_end(json, i)?;
        if let Some(k) = keys.iter().position(|key| key.as_ref() == name)
            && found.as_ref().is_none_or(|(best, _)| k <= *best)
        {
            if k == 0 && last.is_some_and(|last| last(&json[value_end..])) {
                return Some(Some(i..value_end));
            }
            found = Some((k, i..value_end));
        }
        i = ws(value_end);
        match json.get(i)? {
            b',' => i = ws(i + 1),
            b'}' => break,
            _ => return None,
        }
    }
    (ws(i + 1) == json.len()).then_some(found.map(|(_, range)| range))
}

/// Where the value of the last top-level `key` of the JSON object `json`
/// lies, found by walking its members back from its closing brace: an
/// answer's usage sits near its end (after `choices`, `content` or
/// `candidates`), so only the members after it are read, not the whole
/// answer as [`top_level_value`] reads it. `None` when the walk reaches
/// the object's first member without finding `key`, or finds something it
/// does not expect (an escaped key, a stray byte): the caller then takes
/// the forward scan, which also tells an absent key from a malformed body.
/// Strings are walked back to their first unescaped quote; containers by
/// counting brackets. What lies before the value is not checked.
pub(crate) fn top_level_value_from_end(json: &[u8], key: &[u8]) -> Option<std::ops::Range<usize>> {
    let ws_back = |mut i: usize| {
        while i > 0 && json[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        i
    };
    // `end` is the index of the closing brace, then of each member's comma.
    let mut end = ws_back(json.len()).checked_sub(1)?;
    if json[end] != b'}' {
        return None;
    }
    loop {
        let value_end = ws_back(end);
        let last = *json.get(value_end.checked_sub(1)?)?;
        let value_start = match last {
            b'"' => string_start(json, value_end - 1)?,
            b'}' | b']' => container_start(json, value_end - 1)?,
            b'{' | b'[' | b',' | b':' => return None,
            _ => {
                let len = json[..value_end].iter().rev().position(|&b| {
                    matches!(b, b':' | b',' | b'{' | b'[') || b.is_ascii_whitespace()
                })?;
                value_end - len
            }
        };
        let colon = ws_back(value_start).checked_sub(1)?;
        if json[colon] != b':' {
            return None;
        }
        let key_end = ws_back(colon);
        if json.get(key_end.checked_sub(1)?) != Some(&b'"') {
            return None;
        }
        let key_start = string_start(json, key_end - 1)?;
        let name = &json[key_start + 1..key_end - 1];
        if memchr::memchr(b'\\', name).is_some() {
            return None;
        }
        if name == key {
            return Some(value_start..value_end);
        }
        end = ws_back(key_start).checked_sub(1)?;
        if json[end] != b',' {
            return None;
        }
    }
}

/// The index of the opening quote of the string whose closing quote is at
/// `close`: the nearest quote before it that is not escaped (not preceded
/// by an odd number of backslashes).
fn string_start(json: &[u8], close: usize) -> Option<usize> {
    let mut to = close;
    loop {
        let at = memchr::memrchr(b'"', &json[..to])?;
        let backslashes = json[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 0 {
            return Some(at);
        }
        to = at;
    }
}

/// The index of the bracket that opens the object or array closing at
/// `close`, its strings skipped (brackets are counted, not matched by
/// kind).
fn container_start(json: &[u8], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = close + 1;
    loop {
        i = json[..i]
            .iter()
            .rposition(|&b| CONTAINER_STOP[usize::from(b)])?;
        match json[i] {
            b'"' => i = string_start(json, i)?,
            b'}' | b']' => depth += 1,
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
    }
}

/// The bytes a container's scan stops at.
static CONTAINER_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

/// The index after the value of an object member that starts at `i`:
/// strings to their closing quote, containers by counting brackets, any
/// other token up to the comma, brace or whitespace that ends it (not
/// checked further). `None` when there is none.
pub(crate) fn value_end(json: &[u8], i: usize) -> Option<usize> {
    match *json.get(i)? {
        b'"' => string_end(json, i + 1),
        b'{' | b'[' => container_end(json, i),
        _ => {
            let len = json[i..]
                .iter()
                .position(|&b| b == b',' || b == b'}' || b.is_ascii_whitespace())?;
            (len > 0).then_some(i + len)
        }
    }
}

/// The index after the closing quote of the string whose contents start
/// at `from`.
fn string_end(json: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = from + memchr::memchr2(b'"', b'\\', json.get(from..)?)?;
        if json[at] == b'"' {
            return Some(at + 1);
        }
        from = at + 2;
    }
}

/// The index after the object or array opening at `start`, its strings
/// skipped (brackets are counted, not matched by kind).
fn container_end(json: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    loop {
        i += json
            .get(i..)?
            .iter()
            .position(|&b| CONTAINER_STOP[usize::from(b)])?;
        let b = json[i];
        i += 1;
        match b {
            b'"' => i = string_end(json, i)?,
            b'{' | b'[' => depth += 1,
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
    }
}

/// Rewrites `object.model` with `f` if it is a string.
fn edit_top_level(object: &mut RawObject<'_>, f: &dyn Fn(&str, &mut Vec<u8>)) -> bool {
    let Some(model) = object.get_str("model") else {
        return false;
    };
    let mut literal = Vec::with_capacity(model.len() + 32);
    f(&model, &mut literal);
    match String::from_utf8(literal) {
        Ok(literal) => object.set_raw("model", literal).is_ok(),
        Err(_) => false,
    }
}

/// Writes `s` as a JSON string literal, escaped the way serde_json does it.
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_json_str_contents(out, s);
    out.push(b'"');
}

/// Writes `s` escaped as the inside of a JSON string literal.
fn write_json_str_contents(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Most strings (model and provider names) need no escape: one pass
    // to tell, then one copy, instead of a match per byte.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A string that borrows from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A parsed top-level JSON value: an object's entries, or anything else.
enum TopLevel<'a> {
    Object(Vec<Entry<'a>>),
    Other,
}

/// One key and its raw value.
type Entry<'a> = (Cow<'a, str>, Cow<'a, RawValue>);

impl<'de> serde::Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

/// Collects an object's entries in order, keeping duplicates and raw values;
/// walks (and so validates) any other value.
struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            entries.push((key, Cow::Borrowed(value)));
        }
        Ok(TopLevel::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TopLevel::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TopLevel::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TopLevel::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TopLevel::Other)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(TopLevel::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(TopLevel::Other)
    }
}

#[cfg(test)]
#[path = "json_edit_tests.rs"]
mod tests;
