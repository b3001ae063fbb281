//! A usage object read by a scan instead of serde, when it is as plain as
//! answers send it: members whose values are unsigned integers, `null`,
//! strings without escapes, or objects of those. Anything else (an escape,
//! a fraction, a sign, an array, a duplicate key, deeper nesting) makes the
//! scan give up, and the caller parses with serde, which decides. So a
//! scan's answer is always serde's (a test compares them on generated
//! objects); serde's cost for a Chat usage object (~5.5 k instructions,
//! most of a non-stream request's usage handling) is what it saves.

use std::fmt;

use super::{
    CachedDetails, ChatUsage, ClaudeCacheCreation, ClaudeUsage, ReasoningDetails, ResponsesUsage,
};

/// Members a scan holds at most (the largest usage objects have about 15).
const MAX_MEMBERS: usize = 32;

/// A member's value, as far as a scan reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Count(u64),
    Null,
    /// A string (no count: what serde's `count` makes of it is its call).
    Text,
    /// An object, whose members follow as members of this key.
    Object,
}

/// The members of a usage object and of the objects in it.
pub(super) struct Scanned<'a> {
    /// (the key of the object the member is in, empty at the top; its key;
    /// its value).
    members: [(&'a [u8], &'a [u8], Value); MAX_MEMBERS],
    len: usize,
}

impl fmt::Debug for Scanned<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.members[..self.len].iter().map(|(parent, key, value)| {
                (
                    String::from_utf8_lossy(parent),
                    String::from_utf8_lossy(key),
                    *value,
                )
            }))
            .finish()
    }
}

impl<'a> Scanned<'a> {
    /// The members of the object `json` (nothing but whitespace around
    /// it), or `None` when it is not as plain as the module says.
    pub(super) fn scan(json: &'a [u8]) -> Option<Self> {
        let mut scanned = Scanned {
            members: [(&[][..], &[][..], Value::Null); MAX_MEMBERS],
            len: 0,
        };
        let end = scanned.object(json, ws(json, 0), &[])?;
        (ws(json, end) == json.len()).then_some(scanned)
    }

    /// Reads the object opening at `at` (its members recorded under
    /// `parent`); the index after it.
    fn object(&mut self, json: &'a [u8], at: usize, parent: &'a [u8]) -> Option<usize> {
        if json.get(at) != Some(&b'{') {
            return None;
        }
        let mut i = ws(json, at + 1);
        if json.get(i) == Some(&b'}') {
            return Some(i + 1);
        }
        loop {
            let (key, after) = plain_string(json, i)?;
            i = ws(json, after);
            if json.get(i) != Some(&b':') {
                return None;
            }
            i = ws(json, i + 1);
            let (value, after) = match *json.get(i)? {
                b'"' => (Value::Text, plain_string(json, i)?.1),
                b'n' if json[i..].starts_with(b"null") => (Value::Null, i + 4),
                b'0'..=b'9' => {
                    let (n, after) = unsigned(json, i)?;
                    (Value::Count(n), after)
                }
                // One level of objects: a count's details.
                b'{' if parent.is_empty() => (Value::Object, 0),
                _ => return None,
            };
            if self.get(parent, key).is_some() || self.len == MAX_MEMBERS {
                return None;
            }
            self.members[self.len] = (parent, key, value);
            self.len += 1;
            i = match value {
                Value::Object => self.object(json, i, key)?,
                _ => after,
            };
            i = ws(json, i);
            match json.get(i)? {
                b',' => i = ws(json, i + 1),
                b'}' => return Some(i + 1),
                _ => return None,
            }
        }
    }

    fn get(&self, parent: &[u8], key: &[u8]) -> Option<Value> {
        self.members[..self.len]
            .iter()
            .find(|(p, k, _)| *p == parent && *k == key)
            .map(|(_, _, value)| *value)
    }

    /// A count member as serde's `count` reads it: `None` (give up) when
    /// it is not a number or `null`.
    fn count(&self, parent: &[u8], key: &[u8]) -> Option<Option<u64>> {
        match self.get(parent, key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Count(n)) => Some(Some(n)),
            Some(Value::Text | Value::Object) => None,
        }
    }

    /// An optional object member read by `read`: `Some(None)` when absent
    /// or `null`, `None` (give up) when it is something else.
    fn nested<T>(
        &self,
        key: &[u8],
        read: impl FnOnce(&Self, &[u8]) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.get(b"", key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Object) => read(self, key).map(Some),
            Some(Value::Count(_) | Value::Text) => None,
        }
    }
}

/// A usage type read from a scan as serde would read it (`None`: give up).
pub(super) trait FromScan: Sized {
    fn from_scan(s: &Scanned<'_>) -> Option<Self>;
}

fn cached_details(s: &Scanned<'_>, at: &[u8]) -> Option<CachedDetails> {
    Some(CachedDetails {
        cached_tokens: s.count(at, b"cached_tokens")?,
        cache_write_tokens: s.count(at, b"cache_write_tokens")?,
    })
}

fn reasoning_details(s: &Scanned<'_>, at: &[u8]) -> Option<ReasoningDetails> {
    Some(ReasoningDetails {
        reasoning_tokens: s.count(at, b"reasoning_tokens")?,
    })
}

impl FromScan for ChatUsage {
    fn from_scan(s: &Scanned<'_>) -> Option<Self> {
        Some(ChatUsage {
            prompt_tokens: s.count(b"", b"prompt_tokens")?,
            completion_tokens: s.count(b"", b"completion_tokens")?,
            prompt_tokens_details: s.nested(b"prompt_tokens_details", cached_details)?,
            completion_tokens_details: s.nested(b"completion_tokens_details", reasoning_details)?,
        })
    }
}

impl FromScan for ResponsesUsage {
    fn from_scan(s: &Scanned<'_>) -> Option<Self> {
        Some(ResponsesUsage {
            input_tokens: s.count(b"", b"input_tokens")?,
            output_tokens: s.count(b"", b"output_tokens")?,
            input_tokens_details: s.nested(b"input_tokens_details", cached_details)?,
            output_tokens_details: s.nested(b"output_tokens_details", reasoning_details)?,
        })
    }
}

impl FromScan for ClaudeUsage {
    fn from_scan(s: &Scanned<'_>) -> Option<Self> {
        Some(ClaudeUsage {
            input_tokens: s.count(b"", b"input_tokens")?,
            output_tokens: s.count(b"", b"output_tokens")?,
            cache_read_input_tokens: s.count(b"", b"cache_read_input_tokens")?,
            cache_creation_input_tokens: s.count(b"", b"cache_creation_input_tokens")?,
            cache_creation: s.nested(b"cache_creation", |s, at| {
                Some(ClaudeCacheCreation {
                    ephemeral_1h_input_tokens: s.count(at, b"ephemeral_1h_input_tokens")?,
                })
            })?,
        })
    }
}

/// The index of the first non-whitespace byte at or after `at`.
fn ws(json: &[u8], mut at: usize) -> usize {
    while json
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// The string opening at `at` when it has no escape and no control
/// character and is UTF-8 (so valid JSON as it is): its contents and the
/// index after it.
fn plain_string(json: &[u8], at: usize) -> Option<(&[u8], usize)> {
    if json.get(at) != Some(&b'"') {
        return None;
    }
    let len = memchr::memchr2(b'"', b'\\', json.get(at + 1..)?)?;
    let contents = &json[at + 1..at + 1 + len];
    if json[at + 1 + len] != b'"'
        || contents.iter().any(|&b| b < 0x20)
        || std::str::from_utf8(contents).is_err()
    {
        return None;
    }
    Some((contents, at + len + 2))
}

/// The unsigned integer at `at` (JSON's form: no leading zero, nothing
/// fractional after it) and the index after it; `None` past `u64::MAX`.
fn unsigned(json: &[u8], at: usize) -> Option<(u64, usize)> {
    let digits = json[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 1 && json[at] == b'0' {
        return None;
    }
    let end = at + digits;
    if matches!(json.get(end), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let mut n = 0u64;
    for &d in &json[at..end] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((n, end))
}
