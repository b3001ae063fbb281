//! Incremental splitter for a streamed top-level JSON array.
//!
//! Gemini's `streamGenerateContent` without `alt=sse` answers with one JSON
//! array whose elements arrive over time: `[{...}\n,\r\n{...}]`.
//! [`JsonArraySplitter`] hands back each element's raw bytes as soon as its
//! last byte has arrived, whatever the chunking.
//!
//! It only tracks what it needs to find element boundaries (string and
//! escape state, nesting depth); it does not validate the JSON. Inside strings
//! it jumps from quote to backslash with `memchr`. If the stream starts with
//! something other than `[` (an error object, say), that whole top-level
//! value is handed back as a single element.
//!
//! The bytes of an unfinished element held between chunks are bounded
//! ([`MAX_BUFFERED_BYTES`] unless [`JsonArraySplitter::with_limit`] says
//! otherwise): past it, feeding fails with [`BufferLimitExceeded`].

use memchr::memchr2;

pub use crate::sse::{BufferLimitExceeded, MAX_BUFFERED_BYTES};

/// Where the splitter is in the stream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `[`.
    #[default]
    Start,
    /// Inside the array, between elements.
    Between,
    /// Inside an element.
    Element,
    /// After the closing `]` or after a bare top-level value: input ignored.
    Done,
}

/// What kind of value the current element is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An object or array: ends when its depth returns to zero.
    #[default]
    Container,
    /// A string: ends at its closing quote.
    Str,
    /// A number or literal: ends at `,`, `]` or whitespace.
    Scalar,
}

/// Incremental splitter for a streamed top-level JSON array.
#[derive(Debug)]
pub struct JsonArraySplitter {
    /// The bound on [`JsonArraySplitter::buffered_len`].
    limit: usize,
    /// The bound was exceeded: every later feed fails.
    overflowed: bool,
    state: State,
    kind: Kind,
    /// The current element is the top-level value itself (no array).
    bare: bool,
    depth: usize,
    in_string: bool,
    /// The previous chunk ended right after a backslash inside a string.
    escape: bool,
    /// Bytes of the current element from earlier chunks.
    buf: Vec<u8>,
}

impl Default for JsonArraySplitter {
    fn default() -> Self {
        Self::with_limit(MAX_BUFFERED_BYTES)
    }
}

impl JsonArraySplitter {
    /// A splitter at the start of a stream, bounded by [`MAX_BUFFERED_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A splitter that holds at most `limit` bytes of an unfinished element.
    pub fn with_limit(limit: usize) -> Self {
        JsonArraySplitter {
            limit,
            overflowed: false,
            state: State::default(),
            kind: Kind::default(),
            bare: false,
            depth: 0,
            in_string: false,
            escape: false,
            buf: Vec::new(),
        }
    }

    /// Feeds a chunk split anywhere; appends each completed top-level
    /// element's raw bytes to `out`. Tracks string/escape state and nesting
    /// depth; O(n) over bytes, memchr-friendly.
    ///
    /// Fails, and keeps failing, once an unfinished element held between
    /// chunks exceeds the splitter's bound (passed by at most one chunk).
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), BufferLimitExceeded> {
        if self.overflowed {
            return Err(BufferLimitExceeded { limit: self.limit });
        }
        self.split(chunk, out);
        if self.buf.len() > self.limit {
            self.overflowed = true;
            self.buf = Vec::new();
            return Err(BufferLimitExceeded { limit: self.limit });
        }
        Ok(())
    }

    fn split(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut i = 0;
        // Start of the current element within this chunk.
        let mut start = 0;
        while i < chunk.len() {
            match self.state {
                State::Start => {
                    match chunk[i] {
                        b'[' => self.state = State::Between,
                        // Whitespace and a UTF-8 BOM.
                        b' ' | b'\t' | b'\n' | b'\r' | 0xEF | 0xBB | 0xBF => {}
                        _ => {
                            self.bare = true;
                            self.begin(chunk[i]);
                            start = i;
                        }
                    }
                    i += 1;
                }
                State::Between => {
                    match chunk[i] {
                        b']' => self.state = State::Done,
                        b' ' | b'\t' | b'\n' | b'\r' | b',' => {}
                        byte => {
                            self.begin(byte);
                            start = i;
                        }
                    }
                    i += 1;
                }
                State::Element => {
                    if self.in_string {
                        i = self.skip_string(chunk, i);
                        if !self.in_string && self.kind == Kind::Str {
                            self.complete(&chunk[start..i], out);
                        }
                        continue;
                    }
                    let byte = chunk[i];
                    match byte {
                        b'"' => self.in_string = true,
                        b'{' | b'[' => self.depth += 1,
                        b'}' | b']' if self.kind == Kind::Container => {
                            self.depth = self.depth.saturating_sub(1);
                            if self.depth == 0 {
                                self.complete(&chunk[start..=i], out);
                            }
                        }
                        b',' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                            if self.kind == Kind::Scalar && self.depth == 0 =>
                        {
                            // The delimiter is not part of the element; let
                            // the next state see a closing bracket.
                            self.complete(&chunk[start..i], out);
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                State::Done => return,
            }
        }
        if self.state == State::Element {
            self.buf.extend_from_slice(&chunk[start..]);
        }
    }

    /// Bytes of an unfinished element held between calls (what the
    /// splitter's bound applies to).
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the closing `]` (or the end of a bare top-level value) has
    /// been seen; later input is ignored.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Starts an element whose first byte is `first` (not yet consumed).
    fn begin(&mut self, first: u8) {
        self.state = State::Element;
        self.depth = usize::from(matches!(first, b'{' | b'['));
        self.in_string = first == b'"';
        self.escape = false;
        self.kind = match first {
            b'{' | b'[' => Kind::Container,
            b'"' => Kind::Str,
            _ => Kind::Scalar,
        };
    }

    /// Moves past string content from `i`; returns the index after the
    /// closing quote, or the chunk length if the string goes on.
    fn skip_string(&mut self, chunk: &[u8], mut i: usize) -> usize {
        if self.escape {
            self.escape = false;
            i += 1;
        }
        while let Some(pos) = memchr2(b'"', b'\\', &chunk[i.min(chunk.len())..]) {
            let at = i + pos;
            if chunk[at] == b'"' {
                self.in_string = false;
                return at + 1;
            }
            if at + 1 < chunk.len() {
                i = at + 2;
            } else {
                self.escape = true;
                return chunk.len();
            }
        }
        chunk.len()
    }

    /// Emits the element made of the carried bytes plus `tail`.
    fn complete(&mut self, tail: &[u8], out: &mut Vec<Vec<u8>>) {
        if self.buf.is_empty() {
            out.push(tail.to_vec());
        } else {
            let mut element = std::mem::take(&mut self.buf);
            element.extend_from_slice(tail);
            out.push(element);
        }
        self.in_string = false;
        self.escape = false;
        self.depth = 0;
        self.state = if self.bare {
            State::Done
        } else {
            State::Between
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = JsonArraySplitter::new();
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, &mut out).unwrap();
        }
        out
    }

    fn strs(out: &[Vec<u8>]) -> Vec<&str> {
        out.iter()
            .map(|e| std::str::from_utf8(e).unwrap())
            .collect()
    }

    const GEMINI: &[u8] = b"[{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"He said \\\"[x]\\\" {y} \\\\\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 1,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\"}\n,\r\n{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\xE4\xBD\xA0\xE5\xA5\xBD ]}\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 12,\"totalTokenCount\": 20}}\n]";

    #[test]
    fn gemini_stream_every_split_point() {
        let whole = split_all(&[GEMINI]);
        assert_eq!(whole.len(), 2);
        for element in &whole {
            let value: serde_json::Value = serde_json::from_slice(element).unwrap();
            assert!(value["usageMetadata"].is_object());
        }
        let texts: Vec<serde_json::Value> = whole
            .iter()
            .map(|e| serde_json::from_slice::<serde_json::Value>(e).unwrap())
            .map(|v| v["candidates"][0]["content"]["parts"][0]["text"].clone())
            .collect();
        assert_eq!(texts[0], "He said \"[x]\" {y} \\");
        assert_eq!(texts[1], "你好 ]}");
        for split in 0..=GEMINI.len() {
            let out = split_all(&[&GEMINI[..split], &GEMINI[split..]]);
            assert_eq!(out, whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = GEMINI.chunks(1).collect();
        assert_eq!(split_all(&bytes), whole);
    }

    #[test]
    fn elements_are_emitted_as_soon_as_complete() {
        let mut splitter = JsonArraySplitter::new();
        let mut out = Vec::new();
        splitter.feed(b"[{\"a\":1}", &mut out).unwrap();
        assert_eq!(strs(&out), ["{\"a\":1}"]);
        splitter.feed(b",{\"b\":", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        splitter.feed(b"[2]}", &mut out).unwrap();
        assert_eq!(strs(&out), ["{\"a\":1}", "{\"b\":[2]}"]);
        assert!(!splitter.is_done());
        splitter.feed(b",{\"c\":\"long", &mut out).unwrap();
        assert_eq!(splitter.buffered_len(), 10);
        splitter.feed(b"\"}", &mut out).unwrap();
        assert_eq!(splitter.buffered_len(), 0);
        splitter.feed(b"]  trailing garbage {}", &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert!(splitter.is_done());
    }

    #[test]
    fn an_element_that_never_ends_is_refused_past_the_bound() {
        let mut splitter = JsonArraySplitter::with_limit(32);
        let mut out = Vec::new();
        splitter.feed(b"[{\"a\":1},{\"text\":\"", &mut out).unwrap();
        assert_eq!(strs(&out), ["{\"a\":1}"]);
        splitter.feed(&[b'x'; 16], &mut out).unwrap();
        let err = splitter.feed(&[b'x'; 16], &mut out).unwrap_err();
        assert_eq!(err.limit, 32);
        assert_eq!(splitter.buffered_len(), 0);
        assert!(splitter.feed(b"\"}]", &mut out).is_err());
        assert_eq!(out.len(), 1);
        // A large element inside one chunk is not held, so not refused.
        let mut whole = JsonArraySplitter::with_limit(8);
        let big = format!("[{{\"t\":\"{}\"}}]", "z".repeat(100));
        whole.feed(big.as_bytes(), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(JsonArraySplitter::new().limit, MAX_BUFFERED_BYTES);
    }

    #[test]
    fn scalars_strings_and_nested_arrays() {
        let out = split_all(&[b" [ 1 , -2.5e3,\"a,]\\\"b\" ,true,null,[1,[2]],{} ] "]);
        assert_eq!(
            strs(&out),
            [
                "1",
                "-2.5e3",
                "\"a,]\\\"b\"",
                "true",
                "null",
                "[1,[2]]",
                "{}"
            ]
        );
        let out = split_all(&[b"[1", b"2", b"]"]);
        assert_eq!(strs(&out), ["12"]);
        assert!(split_all(&[b"[]"]).is_empty());
        assert!(split_all(&[b"", b"  "]).is_empty());
    }

    #[test]
    fn bare_object_is_one_element() {
        let body = b"\xEF\xBB\xBF{\"error\":{\"code\":429,\"message\":\"[quota]\",\"status\":\"RESOURCE_EXHAUSTED\"}}\n";
        let out = split_all(&[body]);
        assert_eq!(out.len(), 1);
        let value: serde_json::Value = serde_json::from_slice(&out[0]).unwrap();
        assert_eq!(value["error"]["code"], 429);
    }

    #[test]
    fn escape_split_across_chunks() {
        let out = split_all(&[b"[\"a\\", b"\"b\"]"]);
        assert_eq!(strs(&out), ["\"a\\\"b\""]);
        let out = split_all(&[b"[{\"k\":\"\\\\", b"\"}]"]);
        assert_eq!(strs(&out), ["{\"k\":\"\\\\\"}"]);
    }
}
