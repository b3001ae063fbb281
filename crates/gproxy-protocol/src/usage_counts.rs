//! A usage object's token counts read by one forward walk, without serde.
//!
//! Deserialising a chat answer's `usage` (about 230 bytes, eleven members,
//! two nested objects) cost 4.3 k instructions per request, most of them
//! matching member names and skipping the members no struct asks for
//! (issue 18). The walk here compares each name with the few it wants and
//! reads plain unsigned integers in place.
//!
//! It reads only the common form. Anything a wanted member holds other than
//! a plain unsigned integer or `null` (a string, a fraction, a negative or
//! oversized number, a leading zero), a wanted member or nested object
//! given twice, a name escaped or not ASCII, or a structure it does not expect makes it
//! give up: the caller then deserialises the value, whose rules (the
//! `count` visitor's tolerance, serde's errors) decide. The members it
//! skips are walked by their structure (strings to their closing quote,
//! containers by counting brackets), not validated.

use crate::json_edit::value_end;

/// The most counts one shape reads.
pub(crate) const MAX_FIELDS: usize = 8;

/// What a member of a usage object is to a [`Shape`].
pub(crate) enum Member {
    /// The count with this index (below [`MAX_FIELDS`]).
    Count(usize),
    /// A nested object holding counts, by its id (1 to 7).
    Nested(u8),
    /// Nothing the shape reads.
    Other,
}

/// A usage struct read by [`read`]. Its [`member`](Shape::member) names
/// every count the struct deserialises, so that an unusual value of any
/// of them leaves the whole value to serde.
pub(crate) trait Shape: Sized {
    /// What the member `name` of the object `parent` (0: the usage
    /// object itself, otherwise a [`Member::Nested`] id) is. A `match` on
    /// the name, as serde's derive does it: by length, then bytes.
    fn member(parent: u8, name: &[u8]) -> Member;

    /// The struct serde would have made of the common form.
    fn from_counts(counts: &Counts) -> Self;
}

/// What the walk found: each count (`None` when absent or `null`), by
/// index, and which nested objects were present.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    values: [Option<u64>; MAX_FIELDS],
    /// Bit `id` set: the nested object `id` was present as an object.
    nested: u8,
}

impl Counts {
    /// Count `i`.
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        self.values[i]
    }

    /// Whether the nested object `id` was present (not absent or `null`):
    /// serde's `Option<Details>` is `Some` exactly then.
    pub(crate) fn has(&self, id: u8) -> bool {
        self.nested & (1 << id) != 0
    }
}

/// Reads the counts `S` names from the JSON object `json` (the whole of
/// it: only whitespace may follow the closing brace). `None` when the walk
/// gives up (see the module doc).
pub(crate) fn read<S: Shape>(json: &[u8]) -> Option<Counts> {
    let mut counts = Counts::default();
    let mut seen: u16 = 0;
    let end = walk::<S>(json, 0, 0, &mut counts, &mut seen)?;
    (ws(json, end) == json.len()).then_some(counts)
}

/// How far from the end of a body [`read_last`] looks for its key.
const LAST_WINDOW: usize = 2048;

/// Reads the counts `S` names from the value of the last top-level
/// member `key` of the JSON object `body`, found without walking the
/// whole body: an answer's usage follows its content, so `"key":` is
/// searched for (vectorised) in the body's last [`LAST_WINDOW`] bytes;
/// a value found there is walked by [`read`]'s walk (which finds where it
/// ends), and the members after it must then close the object (which a
/// member nested deeper cannot do) without another `key`. `None` when
/// that fails for every `"key":` found (another spacing, an escaped quote,
/// a `null` or unusual value, a usage further back): the caller then finds
/// the value by its structural scans. What lies before the member is not
/// checked.
pub(crate) fn read_last<S: Shape>(body: &[u8], key: &KeyFinder) -> Option<Counts> {
    let from = body.len().saturating_sub(LAST_WINDOW);
    key.finder
        .find_iter(&body[from..])
        .map(|at| from + at)
        .filter(|&at| at > 0 && body[at - 1] != b'\\')
        .find_map(|at| member_closing::<S>(body, at, key))
}

/// [`read_last`] for the `"key":` at `at`.
fn member_closing<S: Shape>(body: &[u8], at: usize, key: &KeyFinder) -> Option<Counts> {
    let mut counts = Counts::default();
    let mut seen: u16 = 0;
    let mut i = walk::<S>(
        body,
        ws(body, at + key.quoted.len()),
        0,
        &mut counts,
        &mut seen,
    )?;
    loop {
        i = ws(body, i);
        match *body.get(i)? {
            b'}' => return (ws(body, i + 1) == body.len()).then_some(counts),
            b',' => {}
            _ => return None,
        }
        let (name, value) = member_name(body, ws(body, i + 1))?;
        if name == key.name() {
            return None;
        }
        i = value_end(body, value)?;
    }
}

/// `"key":` and a search for it, built once.
pub(crate) struct KeyFinder {
    quoted: Vec<u8>,
    finder: memchr::memmem::Finder<'static>,
}

impl KeyFinder {
    pub(crate) fn new(key: &str) -> Self {
        let quoted = format!("\"{key}\":").into_bytes();
        let finder = memchr::memmem::Finder::new(&quoted).into_owned();
        KeyFinder { quoted, finder }
    }

    /// The key itself, unquoted.
    fn name(&self) -> &[u8] {
        &self.quoted[1..self.quoted.len() - 2]
    }
}

#[inline]
fn ws(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Walks the object opening at `at`, the object `parent` of `S`;
/// returns the index after its closing brace.
fn walk<S: Shape>(
    json: &[u8],
    at: usize,
    parent: u8,
    counts: &mut Counts,
    seen: &mut u16,
) -> Option<usize> {
    let mut i = at;
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(json, i + 1);
    if json.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        let (name, value) = member_name(json, i)?;
        i = match S::member(parent, name) {
            Member::Count(f) => {
                claim(seen, f)?;
                let (count, end) = count_at(json, value)?;
                counts.values[f] = count;
                end
            }
            // Only one level deep.
            Member::Nested(id) if parent == 0 => {
                claim(seen, MAX_FIELDS + usize::from(id))?;
                match json.get(value)? {
                    b'{' => {
                        counts.nested |= 1 << id;
                        walk::<S>(json, value, id, counts, seen)?
                    }
                    b'n' if json[value..].starts_with(b"null") => value + 4,
                    _ => return None,
                }
            }
            Member::Nested(_) | Member::Other => value_end(json, value)?,
        };
        i = ws(json, i);
        match json.get(i)? {
            b',' => i = ws(json, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The name of the object member whose opening quote is at `i`, and
/// where its value starts (after the colon and any whitespace). Inlined
/// into both loops: called, it cost about 0.2 k instructions per chat
/// answer.
#[inline(always)]
fn member_name(json: &[u8], i: usize) -> Option<(&[u8], usize)> {
    if json.get(i) != Some(&b'"') {
        return None;
    }
    let end = name_end(json, i + 1)?;
    let colon = ws(json, end + 1);
    if json.get(colon) != Some(&b':') {
        return None;
    }
    Some((&json[i + 1..end], ws(json, colon + 1)))
}

/// The index of the quote closing the name that starts at `from`; `None`
/// at an escape or a byte beyond ASCII (serde checks names as UTF-8:
/// those are left to it) or at the end. Names are short: eight bytes are
/// tested at a time (a vectorised search's set-up costs more than a name),
/// then the rest one by one.
fn name_end(json: &[u8], mut from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = json.get(from..from + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A byte of `v` is zero where `x` has a quote or a backslash;
        // `(v - ONES) & !v & HIGH` marks such bytes (exactly the lowest
        // one, which is all that is read). Bytes beyond ASCII are marked
        // by `x & HIGH`.
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let hits =
            zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\'))) | (x & HIGH);
        if hits != 0 {
            from += (hits.trailing_zeros() / 8) as usize;
            return (json[from] == b'"').then_some(from);
        }
        from += 8;
    }
    loop {
        match *json.get(from)? {
            b'"' => return Some(from),
            b'\\' | 0x80.. => return None,
            _ => from += 1,
        }
    }
}

/// Marks bit `bit` of `seen`; `None` when it was already set (a member
/// given twice, which serde refuses).
fn claim(seen: &mut u16, bit: usize) -> Option<()> {
    let mask = 1u16 << bit;
    if *seen & mask != 0 {
        return None;
    }
    *seen |= mask;
    Some(())
}

/// A plain unsigned integer or `null` at `i`, and the index after it.
fn count_at(json: &[u8], i: usize) -> Option<(Option<u64>, usize)> {
    if json[i..].starts_with(b"null") {
        return Some((None, i + 4));
    }
    let digits = json[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    // Up to 19 digits always fit a u64; a leading zero is not JSON.
    if digits == 0 || digits > 19 || (digits > 1 && json[i] == b'0') {
        return None;
    }
    let end = i + digits;
    if matches!(json.get(end), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let value = json[i..end]
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some((Some(value), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenAI Chat's usage: counts 0 to 4 are `prompt_tokens`,
    /// `completion_tokens`, `prompt_tokens_details.cached_tokens` and
    /// `.cache_write_tokens`, `completion_tokens_details.reasoning_tokens`.
    type Chat = crate::usage::ChatUsage;

    fn values(json: &str) -> Option<[Option<u64>; 4]> {
        read::<Chat>(json.as_bytes()).map(|c| [c.get(0), c.get(1), c.get(2), c.get(4)])
    }

    #[test]
    fn an_answers_usage_is_read_with_its_nested_counts() {
        let usage = r#"{"completion_tokens":7,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":5,"rejected_prediction_tokens":0},"prompt_tokens":11,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":3},"total_tokens":18}"#;
        let counts = read::<Chat>(usage.as_bytes()).unwrap();
        assert_eq!(
            [counts.get(0), counts.get(1), counts.get(2), counts.get(4)],
            [Some(11), Some(7), Some(3), Some(5)]
        );
        assert!(counts.has(1) && counts.has(2));
    }

    #[test]
    fn whitespace_nulls_and_absent_members_are_read() {
        assert_eq!(
            values(
                "{ \"prompt_tokens\" : 4 ,\n \"completion_tokens\": null, \"prompt_tokens_details\": null } "
            ),
            Some([Some(4), None, None, None])
        );
        assert_eq!(values("{}"), Some([None; 4]));
        assert!(
            !read::<Chat>(b"{\"prompt_tokens_details\":null}")
                .unwrap()
                .has(1)
        );
        assert!(
            read::<Chat>(b"{\"prompt_tokens_details\":{}}")
                .unwrap()
                .has(1)
        );
        // A nested count's name at the top is not it.
        assert_eq!(values(r#"{"cached_tokens":5}"#), Some([None; 4]));
    }

    #[test]
    fn unwanted_members_of_any_kind_are_skipped() {
        assert_eq!(
            values(
                r#"{"a":"x\"}","b":[1,{"c":"]"}],"d":true,"e":-1.5e3,"f":{"prompt_tokens":9},"prompt_tokens":2}"#
            ),
            Some([Some(2), None, None, None])
        );
        assert_eq!(
            values(r#"{"prompt_tokens":9999999999999999999}"#),
            Some([Some(9_999_999_999_999_999_999), None, None, None])
        );
    }

    fn last(body: &str) -> Option<[Option<u64>; 4]> {
        static KEY: std::sync::LazyLock<KeyFinder> =
            std::sync::LazyLock::new(|| KeyFinder::new("usage"));
        read_last::<Chat>(body.as_bytes(), &KEY).map(|c| [c.get(0), c.get(1), c.get(2), c.get(4)])
    }

    #[test]
    fn the_last_top_level_usage_is_found_from_the_end() {
        let counts = Some([Some(1), Some(2), None, None]);
        let usage = r#"{"prompt_tokens":1,"completion_tokens":2}"#;
        for body in [
            format!(r#"{{"usage":{usage}}}"#),
            format!(
                r#"{{"id":"x","usage":{usage},"tier":"default","fp":{{"a":[1,"}}"]}},"n":null}} "#
            ),
            format!(r#"{{"choices":[{{"usage":{{"prompt_tokens":9}}}}],"usage":{usage}}}"#),
            format!(r#"{{"usage":{{"prompt_tokens":9}},"usage":{usage}}}"#),
        ] {
            assert_eq!(last(&body), counts, "{body}");
        }
        // Left to the structural scans.
        for body in [
            format!(r#"{{"usage" :{usage}}}"#),
            format!(r#"{{"usage":{usage},"usage" : null}}"#),
            format!(r#"{{"usage":{usage},"x":1"#),
            format!(r#"{{"usage":{usage},"x":1}}}}"#),
            format!(r#"{{"a":{{"usage":{usage}}},"b":1}}"#),
            format!(r#"{{"a":[{{"usage":{usage}}}]}}"#),
            format!(r#"{{"a\"usage":{usage}}}"#),
            r#"{"usage":null}"#.to_owned(),
            r#"{"usage":{"prompt_tokens":"1"}}"#.to_owned(),
            r#"{"id":"x"}"#.to_owned(),
            format!(r#"{{"usage":{usage},"pad":"{}"}}"#, "x".repeat(LAST_WINDOW)),
        ] {
            assert_eq!(last(&body), None, "{body}");
        }
    }

    #[test]
    fn a_names_end_is_found_at_every_offset() {
        for len in 0..20 {
            let name = "n".repeat(len);
            let json = format!("{name}\":1");
            assert_eq!(name_end(json.as_bytes(), 0), Some(len), "{json}");
            for stop in ["\\\"", "\u{e9}\""] {
                let json = format!("{name}{stop}:1");
                assert_eq!(name_end(json.as_bytes(), 0), None, "{json}");
            }
            assert_eq!(name_end(name.as_bytes(), 0), None);
        }
    }

    #[test]
    fn anything_but_the_common_form_is_left_to_serde() {
        for json in [
            r#"{"prompt_tokens":"12"}"#,
            r#"{"prompt_tokens":1.0}"#,
            r#"{"prompt_tokens":1e3}"#,
            r#"{"prompt_tokens":-1}"#,
            r#"{"prompt_tokens":012}"#,
            r#"{"prompt_tokens":true}"#,
            r#"{"prompt_tokens":18446744073709551615}"#,
            r#"{"prompt_tokens":1,"prompt_tokens":2}"#,
            r#"{"prompt_tokens_details":{},"prompt_tokens_details":{}}"#,
            r#"{"prompt_tokens_details":3}"#,
            r#"{"prompt_tokens_details":{"cached_tokens":[]}}"#,
            r#"{"prompt\u005ftokens":1}"#,
            "{\"n\u{f6}te\":1}",
            r#"{"prompt_tokens":1"#,
            r#"{"prompt_tokens":1}x"#,
            r#"{"prompt_tokens" 1}"#,
            r#"{"prompt_tokens":1,}"#,
            r#" {"prompt_tokens":1}"#,
            r#"[1]"#,
            "null",
            "",
        ] {
            assert_eq!(values(json), None, "{json}");
        }
    }
}
