//! Incremental Server-Sent Events codec.
//!
//! [`SseDecoder`] follows the WHATWG `text/event-stream` parsing rules and
//! accepts byte chunks split anywhere: mid-line, mid-UTF-8 character or
//! between `\r` and `\n`. Only a partial line is ever carried between chunks;
//! complete lines are parsed straight out of the chunk.
//!
//! Two deliberate differences from a browser `EventSource`, both because a
//! proxy forwards events rather than consuming them:
//! - `id` and `retry` belong to the event block they appeared in (they are not
//!   carried over to later events);
//! - an event block with an `event:` name but no `data:` line is still
//!   dispatched, with empty data.
//!
//! [`encode`] writes the wire form back.
//!
//! What the decoder holds between chunks (a partial line plus the data of
//! the event being assembled) is bounded ([`MAX_BUFFERED_BYTES`] unless
//! [`SseDecoder::with_limit`] says otherwise): an upstream that never sends
//! a line break gets [`BufferLimitExceeded`] instead of growing memory.

use memchr::{memchr, memchr2};

/// The UTF-8 byte order mark, skipped once at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The default bound on the bytes a decoder (or the JSON-array splitter)
/// holds between chunks: 16 MiB, far above any real event (the largest are
/// single base64 images of a few MiB) and low enough that a few hundred
/// broken streams cannot exhaust memory.
pub const MAX_BUFFERED_BYTES: usize = 16 * 1024 * 1024;

/// A line, event or element grew past the decoder's bound without ending.
/// The decoder drops what it held and refuses further input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an upstream event grew past {limit} bytes without ending")]
pub struct BufferLimitExceeded {
    /// The bound that was exceeded, in bytes.
    pub limit: usize,
}

/// Convenience for the OpenAI terminator: `data: [DONE]\n\n`.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// One dispatched Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if the block had one.
    pub event: Option<String>,
    /// All `data:` lines of the block joined with `\n` (no trailing newline).
    pub data: String,
    /// The `id:` field, if the block had one (values containing NUL are ignored).
    pub id: Option<String>,
    /// The `retry:` field, if the block had one made only of ASCII digits.
    pub retry: Option<u64>,
}

/// Incremental `text/event-stream` decoder.
#[derive(Debug)]
pub struct SseDecoder {
    /// The bound on [`SseDecoder::buffered_len`].
    limit: usize,
    /// The bound was exceeded: every later feed fails.
    overflowed: bool,
    /// Bytes of a line whose terminator has not arrived yet (and, before the
    /// BOM check is done, the first bytes of the stream).
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a leading `\n` in the next chunk
    /// belongs to the same line terminator.
    pending_cr: bool,
    /// The stream start has been checked for a BOM.
    bom_checked: bool,
    /// The event being assembled.
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    retry: Option<u64>,
    /// Emptied data strings given back by [`SseDecoder::recycle`], the
    /// next events' data is assembled in (no allocation per event).
    spare: Vec<String>,
}

/// At most this many strings are kept for reuse, each of at most
/// [`SPARE_CAPACITY`] bytes (a large event's string is freed).
const SPARES: usize = 8;
const SPARE_CAPACITY: usize = 4096;

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_limit(MAX_BUFFERED_BYTES)
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream, bounded by [`MAX_BUFFERED_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that holds at most `limit` bytes between chunks.
    pub fn with_limit(limit: usize) -> Self {
        SseDecoder {
            limit,
            overflowed: false,
            line: Vec::new(),
            pending_cr: false,
            bom_checked: false,
            event: None,
            data: String::new(),
            has_data: false,
            id: None,
            retry: None,
            spare: Vec::new(),
        }
    }

    /// Gives back the data string of an event this decoder produced, once
    /// read: the next event's data is assembled in it.
    pub fn recycle(&mut self, mut data: String) {
        if self.spare.len() < SPARES && data.capacity() <= SPARE_CAPACITY {
            data.clear();
            self.spare.push(data);
        }
    }

    /// Feeds a chunk split anywhere (mid-line, mid-UTF-8 char, between \r and \n).
    /// Appends every completed event to `out`.
    ///
    /// Fails, and keeps failing, once what is held between chunks exceeds
    /// the decoder's bound; the events completed before that are in `out`.
    /// A single chunk is processed whole first, so the bound can be passed
    /// by at most one chunk.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<SseEvent>,
    ) -> Result<(), BufferLimitExceeded> {
        if self.overflowed {
            return Err(self.exceeded());
        }
        self.feed_unbounded(chunk, out);
        if self.buffered_len() > self.limit {
            self.overflowed = true;
            self.line = Vec::new();
            self.data = String::new();
            return Err(self.exceeded());
        }
        Ok(())
    }

    fn exceeded(&self) -> BufferLimitExceeded {
        BufferLimitExceeded { limit: self.limit }
    }

    fn feed_unbounded(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut input = chunk;
        if !self.bom_checked {
            // Until three bytes have been seen, `line` holds only stream-start bytes.
            let take = (BOM.len() - self.line.len()).min(input.len());
            self.line.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.line.len() < BOM.len() && BOM.starts_with(&self.line) {
                return;
            }
            self.bom_checked = true;
            if self.line == BOM {
                self.line.clear();
            } else {
                let head = std::mem::take(&mut self.line);
                self.process(&head, out);
            }
        }
        self.process(input, out);
    }

    /// End of stream: returns a final event if the stream ended without the blank line but had pending data lines.
    ///
    /// A last line without a terminator is parsed as if it had one. The
    /// decoder is reset afterwards and can decode a new stream.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.process_line(&line);
        }
        let event = if self.overflowed {
            None
        } else {
            self.take_event()
        };
        *self = Self::with_limit(self.limit);
        event
    }

    /// Bytes held between calls: the partial line plus the data of the
    /// event being assembled (what the decoder's bound applies to).
    pub fn buffered_len(&self) -> usize {
        self.line.len() + self.data.len()
    }

    /// Splits `input` into lines, carrying a trailing partial line in `self.line`.
    fn process(&mut self, mut input: &[u8], out: &mut Vec<SseEvent>) {
        if self.pending_cr {
            self.pending_cr = false;
            if let Some(rest) = input.strip_prefix(b"\n") {
                input = rest;
            }
        }
        while let Some(pos) = memchr2(b'\n', b'\r', input) {
            let mut next = pos + 1;
            if input[pos] == b'\r' {
                match input.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            if self.line.is_empty() {
                self.dispatch_line(&input[..pos], out);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&input[..pos]);
                self.dispatch_line(&line, out);
                line.clear();
                self.line = line;
            }
            input = &input[next..];
        }
        self.line.extend_from_slice(input);
    }

    /// Handles one complete line: a blank line dispatches, anything else is a field.
    fn dispatch_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(event) = self.take_event() {
                out.push(event);
            }
        } else {
            self.process_line(line);
        }
    }

    /// Applies one non-empty field line to the event being assembled.
    fn process_line(&mut self, line: &[u8]) {
        if line.first() == Some(&b':') {
            return;
        }
        let (field, value) = match memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                push_lossy(&mut self.data, value);
            }
            b"event" => {
                let mut name = String::new();
                push_lossy(&mut name, value);
                self.event = Some(name);
            }
            // An id containing NUL is ignored, as the spec says.
            b"id" if memchr(0, value).is_none() => {
                self.id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" => {
                if let Some(retry) = parse_digits(value) {
                    self.retry = Some(retry);
                }
            }
            // Unknown fields (and a NUL-bearing id) are ignored.
            _ => {}
        }
    }

    /// Takes the assembled event if it has data or a name; always resets the block.
    fn take_event(&mut self) -> Option<SseEvent> {
        let event = if self.has_data || self.event.is_some() {
            Some(SseEvent {
                event: self.event.take(),
                data: std::mem::replace(&mut self.data, self.spare.pop().unwrap_or_default()),
                id: self.id.take(),
                retry: self.retry.take(),
            })
        } else {
            None
        };
        self.event = None;
        self.data.clear();
        self.has_data = false;
        self.id = None;
        self.retry = None;
        event
    }
}

/// Appends `bytes` to `out`, invalid UTF-8 replaced by U+FFFD (as
/// `String::from_utf8_lossy`, whose scan is several times slower than
/// `str::from_utf8` on the valid text that is the norm).
fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Parses a non-empty run of ASCII digits; `None` on any other byte or on overflow.
fn parse_digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Appends the wire form of `event` to `out`: optional `event: x\n`, `id: ..\n`, `retry: ..\n`, one `data: ` line per line of data, then `\n`.
///
/// `\r\n`, `\r` and `\n` in `data` all start a new `data:` line (the decoder
/// gives them back as `\n`). Line breaks inside `event` or `id` would end the
/// field early, so they are dropped.
pub fn encode(event: &SseEvent, out: &mut Vec<u8>) {
    if let Some(name) = &event.event {
        write_field(out, b"event: ", name);
    }
    if let Some(id) = &event.id {
        write_field(out, b"id: ", id);
    }
    if let Some(retry) = event.retry {
        out.extend_from_slice(b"retry: ");
        out.extend_from_slice(retry.to_string().as_bytes());
        out.push(b'\n');
    }
    let mut data = event.data.as_bytes();
    loop {
        out.extend_from_slice(b"data: ");
        match memchr2(b'\n', b'\r', data) {
            Some(pos) => {
                out.extend_from_slice(&data[..pos]);
                out.push(b'\n');
                let skip = if data[pos..].starts_with(b"\r\n") {
                    2
                } else {
                    1
                };
                data = &data[pos + skip..];
            }
            None => {
                out.extend_from_slice(data);
                out.push(b'\n');
                break;
            }
        }
    }
    out.push(b'\n');
}

/// Writes `prefix value\n`, leaving out any line break in `value`.
fn write_field(out: &mut Vec<u8>, prefix: &[u8], value: &str) {
    out.extend_from_slice(prefix);
    let mut rest = value.as_bytes();
    while let Some(pos) = memchr2(b'\n', b'\r', rest) {
        out.extend_from_slice(&rest[..pos]);
        rest = &rest[pos + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(input, &mut out).unwrap();
        out.extend(decoder.finish());
        out
    }

    fn data(s: &str) -> SseEvent {
        SseEvent {
            data: s.to_owned(),
            ..SseEvent::default()
        }
    }

    #[test]
    fn basic_fields() {
        let events = decode_all(b"event: ping\nid: 7\nretry: 1500\ndata: hello\n\n");
        assert_eq!(
            events,
            vec![SseEvent {
                event: Some("ping".into()),
                data: "hello".into(),
                id: Some("7".into()),
                retry: Some(1500),
            }]
        );
    }

    #[test]
    fn multi_line_data_and_one_space_stripped() {
        let events = decode_all(b"data:a\ndata:  b\ndata\ndata: c\n\n");
        assert_eq!(events, vec![data("a\n b\n\nc")]);
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        let events = decode_all(b": keep-alive\n\nfoo: bar\ndata: x\n: mid\n\n:\n\n");
        assert_eq!(events, vec![data("x")]);
    }

    #[test]
    fn line_endings() {
        let expected = vec![data("a"), data("b\nc")];
        assert_eq!(
            decode_all(b"data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n"),
            expected
        );
        assert_eq!(decode_all(b"data: a\r\rdata: b\rdata: c\r\r"), expected);
        assert_eq!(decode_all(b"data: a\n\ndata: b\ndata: c\n\n"), expected);
        assert_eq!(decode_all(b"data: a\r\n\rdata: b\ndata: c\r\r\n"), expected);
    }

    #[test]
    fn lone_cr_at_chunk_end_waits_for_next_chunk() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(b"data: a\r", &mut out).unwrap();
        decoder.feed(b"\n", &mut out).unwrap();
        assert!(out.is_empty(), "\\r\\n is one terminator, not a blank line");
        decoder.feed(b"\r", &mut out).unwrap();
        assert_eq!(out, vec![data("a")]);
        decoder.feed(b"\ndata: b\r", &mut out).unwrap();
        decoder.feed(b"\r", &mut out).unwrap();
        assert_eq!(out, vec![data("a"), data("b")]);
    }

    #[test]
    fn bom_is_skipped_once_even_when_split() {
        let input = b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n";
        let whole = decode_all(input);
        assert_eq!(whole.len(), 1, "a second BOM makes an unknown field");
        assert_eq!(whole[0], data("a"));
        for split in 0..input.len() {
            let mut decoder = SseDecoder::new();
            let mut out = Vec::new();
            for byte in &input[..split] {
                decoder.feed(std::slice::from_ref(byte), &mut out).unwrap();
            }
            decoder.feed(&input[split..], &mut out).unwrap();
            out.extend(decoder.finish());
            assert_eq!(out, whole, "split at {split}");
        }
    }

    #[test]
    fn short_stream_that_starts_like_a_bom() {
        assert_eq!(decode_all(b"\xEF\xBB"), vec![]);
        assert_eq!(decode_all(b"\xEFdata: x\n\n"), vec![]);
        assert_eq!(decode_all(b"da"), vec![]);
        assert_eq!(decode_all(b"data: x"), vec![data("x")]);
    }

    #[test]
    fn event_name_without_data_dispatches_empty() {
        let events = decode_all(b"event: ping\n\nid: 1\n\ndata\n\n");
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: Some("ping".into()),
                    ..SseEvent::default()
                },
                data(""),
            ]
        );
    }

    #[test]
    fn id_with_nul_and_bad_retry_are_ignored() {
        let events =
            decode_all(b"id: a\0b\nretry: 12x\nretry: 99999999999999999999999\ndata: x\n\n");
        assert_eq!(events, vec![data("x")]);
    }

    #[test]
    fn a_line_that_never_ends_is_refused_past_the_bound() {
        let mut decoder = SseDecoder::with_limit(64);
        let mut out = Vec::new();
        decoder.feed(b"data: ok\n\ndata: ", &mut out).unwrap();
        let mut fed = 0;
        let err = loop {
            match decoder.feed(&[b'x'; 16], &mut out) {
                Ok(()) => fed += 16,
                Err(e) => break e,
            }
            assert!(fed < 1024, "never refused");
        };
        assert_eq!(err, BufferLimitExceeded { limit: 64 });
        assert!(decoder.buffered_len() == 0, "the held bytes are dropped");
        assert_eq!(out, vec![data("ok")]);
        // Refused from then on, even a well-formed event; nothing at finish.
        assert!(decoder.feed(b"\n\ndata: late\n\n", &mut out).is_err());
        assert_eq!(out.len(), 1);
        assert_eq!(decoder.finish(), None);
        // `finish` resets: the next stream decodes with the same bound.
        decoder.feed(b"data: next\n\n", &mut out).unwrap();
        assert_eq!(out.last(), Some(&data("next")));
        assert!(decoder.feed(&[b'y'; 65], &mut out).is_err());
    }

    #[test]
    fn many_data_lines_count_against_the_bound_too() {
        let mut decoder = SseDecoder::with_limit(100);
        let mut out = Vec::new();
        let lines = b"data: 0123456789\n".repeat(20);
        assert!(decoder.feed(&lines, &mut out).is_err());
        let mut roomy = SseDecoder::with_limit(1000);
        roomy.feed(&lines, &mut out).unwrap();
        roomy.feed(b"\n", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(SseDecoder::new().limit, MAX_BUFFERED_BYTES);
    }

    #[test]
    fn finish_flushes_pending_event() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(b"data: a\n\ndata: b\ndata: c", &mut out)
            .unwrap();
        assert_eq!(out, vec![data("a")]);
        assert_eq!(decoder.buffered_len(), "b".len() + "data: c".len());
        assert_eq!(decoder.finish(), Some(data("b\nc")));
        assert_eq!(decoder.finish(), None);
        decoder.feed(b"data: again\n\n", &mut out).unwrap();
        assert_eq!(out.last(), Some(&data("again")));
    }

    #[test]
    fn utf8_split_mid_character() {
        let input = "data: 你好,世界 🦀👩‍👩‍👧\n\n".as_bytes();
        for split in 0..input.len() {
            let mut decoder = SseDecoder::new();
            let mut out = Vec::new();
            decoder.feed(&input[..split], &mut out).unwrap();
            decoder.feed(&input[split..], &mut out).unwrap();
            assert_eq!(out, vec![data("你好,世界 🦀👩‍👩‍👧")], "split at {split}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(decode_all(b"data: a\xFFb\n\n"), vec![data("a\u{FFFD}b")]);
    }

    #[test]
    fn encode_shapes() {
        let mut out = Vec::new();
        encode(
            &SseEvent {
                event: Some("message_stop".into()),
                data: "{\"type\":\"message_stop\"}".into(),
                id: Some("9".into()),
                retry: Some(10),
            },
            &mut out,
        );
        assert_eq!(
            out,
            b"event: message_stop\nid: 9\nretry: 10\ndata: {\"type\":\"message_stop\"}\n\n"
        );
        out.clear();
        encode(&data("a\nb\r\nc\rd"), &mut out);
        assert_eq!(out, b"data: a\ndata: b\ndata: c\ndata: d\n\n");
        out.clear();
        encode(&data(""), &mut out);
        assert_eq!(out, b"data: \n\n");
        out.clear();
        encode(
            &SseEvent {
                event: Some("a\nb".into()),
                ..SseEvent::default()
            },
            &mut out,
        );
        assert_eq!(out, b"event: ab\ndata: \n\n");
        assert_eq!(decode_all(DONE), vec![data("[DONE]")]);
    }

    #[test]
    fn recycled_strings_carry_nothing_into_the_next_events() {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        decoder
            .feed(b"data: a long first event\n\ndata: two\n\n", &mut events)
            .unwrap();
        assert_eq!(events, vec![data("a long first event"), data("two")]);
        for event in events.drain(..) {
            decoder.recycle(event.data);
        }
        decoder
            .feed(b"data: x\ndata: y\n\ndata: z\n\n", &mut events)
            .unwrap();
        assert_eq!(events, vec![data("x\ny"), data("z")]);
        // A large event's string is not kept.
        decoder.recycle("x".repeat(SPARE_CAPACITY + 1));
        assert!(decoder.spare.iter().all(|s| s.capacity() <= SPARE_CAPACITY));
    }
}
