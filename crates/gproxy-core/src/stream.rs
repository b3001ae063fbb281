//! Stream processing. Same protocol: observe usage in every event, and
//! rewrite only what the gateway must (strip the usage chunk it asked for on
//! the client's behalf, put the provider prefix back on the model).
//!
//! When nothing needs rewriting, the upstream bytes go out untouched and the
//! decoder only watches them. Cross-protocol: every event goes through a
//! [`Transcoder`] into the client's protocol.

use std::sync::LazyLock;

use bytes::Bytes;
use gproxy_protocol::convert::Transcoder;
use gproxy_protocol::json_array::JsonArraySplitter;
use gproxy_protocol::json_edit::{RawObject, prefix_model, replace_model};
use gproxy_protocol::sse::{BufferLimitExceeded, SseDecoder, SseEvent, encode};
use gproxy_protocol::usage::StreamUsageTracker;
use gproxy_protocol::{Protocol, Usage};
use memchr::memmem;

/// How the upstream frames its stream.
#[derive(Debug)]
pub(crate) enum Framing {
    /// `text/event-stream`.
    Sse(SseDecoder),
    /// A streamed JSON array (Gemini without `alt=sse`).
    JsonArray(JsonArraySplitter),
    /// Bytes the gateway does not look into (raw passthrough).
    Opaque,
}

/// What the gateway changes in a stream.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rewrite {
    /// Drop the OpenAI Chat usage-only chunk (`choices: []`) the gateway
    /// asked for with `stream_options.include_usage`.
    pub strip_usage_chunk: bool,
    /// What the client sees in the model field (aggregate routes).
    pub model: Option<ModelRewrite>,
}

impl Rewrite {
    fn is_noop(&self) -> bool {
        !self.strip_usage_chunk && self.model.is_none()
    }
}

/// How the model field of a response is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelRewrite {
    /// `provider/model`: the provider prefix put back.
    Prefix(String),
    /// The model route's name the client asked for.
    Replace(String),
}

impl ModelRewrite {
    /// `json` with its model rewritten, or `None` when it has none (or is
    /// not a JSON object).
    pub(crate) fn apply(&self, json: &[u8]) -> Option<Vec<u8>> {
        let edited = match self {
            ModelRewrite::Prefix(prefix) => prefix_model(json, prefix),
            ModelRewrite::Replace(model) => replace_model(json, model),
        };
        edited.ok().flatten()
    }

    /// The model name the client sees when `upstream_model` served.
    pub(crate) fn shown(&self, upstream_model: &str) -> String {
        match self {
            ModelRewrite::Prefix(prefix) => format!("{prefix}/{upstream_model}"),
            ModelRewrite::Replace(model) => model.clone(),
        }
    }
}

/// The first room output of several chunks gets.
const OUTPUT_ROOM: usize = 4096;

/// What goes to the client, possibly the output of several upstream
/// chunks joined (see `ProxyBody`): a chunk forwarded untouched is kept
/// as it is (no copy when it is alone); rewritten events are encoded
/// straight into the buffer, and chunks after the first are appended.
#[derive(Debug, Default)]
pub(crate) struct Output {
    first: Option<Bytes>,
    more: Vec<u8>,
}

impl Output {
    /// Adds `bytes` after what is held.
    pub(crate) fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if self.first.is_none() && self.more.is_empty() {
            self.first = Some(bytes);
            return;
        }
        self.buffer(bytes.len()).extend_from_slice(&bytes);
    }

    /// The buffer to append to, with room for `additional` more bytes
    /// (the first chunk moved into it when one is held).
    fn buffer(&mut self, additional: usize) -> &mut Vec<u8> {
        if let Some(first) = self.first.take() {
            // Room for a few more chunks at once: grown from the exact
            // size, a batch of a hundred small events was reallocated
            // seven times.
            self.more
                .reserve((first.len() + additional).max(OUTPUT_ROOM));
            self.more.extend_from_slice(&first);
        } else {
            self.more.reserve(additional);
        }
        &mut self.more
    }

    /// Bytes held.
    pub(crate) fn len(&self) -> usize {
        self.first.as_ref().map_or(self.more.len(), Bytes::len)
    }

    /// What was added after the first `held` bytes.
    pub(crate) fn since(&self, held: usize) -> &[u8] {
        match &self.first {
            Some(first) => &first[held..],
            None => &self.more[held..],
        }
    }

    /// Everything held, as one frame.
    pub(crate) fn take(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        (!self.more.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.more)))
    }
}

/// Processes one upstream stream.
#[derive(Debug)]
pub(crate) struct StreamProcessor {
    framing: Framing,
    tracker: StreamUsageTracker,
    rewrite: Option<Rewrite>,
    events: Vec<SseEvent>,
    elements: Vec<Vec<u8>>,
    /// Converts each event into the client's protocol (cross-protocol calls).
    transcoder: Option<Box<Transcoder>>,
    /// The generated text seen so far, for billing a stream the client
    /// left before the upstream reported its usage.
    streamed: StreamedText,
    /// The field each event is wrapped in (Code Assist's `response`).
    envelope: Option<&'static str>,
    /// SSE in, a streamed JSON array out (a Gemini client that did not ask
    /// for `alt=sse`, served by an upstream that only streams SSE):
    /// whether the array was opened.
    as_json_array: Option<bool>,
}

/// `data` without its `envelope` (`{"response": X, ...}` → `X`); as it is
/// when it has none (an error event).
pub(crate) fn unwrap_envelope<'a>(data: &'a [u8], envelope: &str) -> std::borrow::Cow<'a, [u8]> {
    if memmem::find(data, envelope.as_bytes()).is_some()
        && let Ok(obj) = RawObject::parse(data)
        && let Some(inner) = obj.get(envelope)
    {
        return std::borrow::Cow::Owned(inner.get().as_bytes().to_vec());
    }
    std::borrow::Cow::Borrowed(data)
}

fn unwrap_event(event: &mut SseEvent, envelope: Option<&str>) {
    if let Some(envelope) = envelope
        && let std::borrow::Cow::Owned(inner) = unwrap_envelope(event.data.as_bytes(), envelope)
    {
        event.data = String::from_utf8(inner)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }
}

/// Finds `"model"` (a searcher built once, not per event).
static MODEL_KEY: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\"model\""));

/// Most generated text kept per stream (past it, bytes are only counted).
const MAX_STREAMED_TEXT: usize = 256 * 1024;

/// The generated text of a stream as it goes by: the string values of the
/// keys that carry generated text in the upstream's protocol (Chat
/// `content` / `reasoning_content`, Responses `delta`, Anthropic `text` /
/// `thinking` / `partial_json`, Gemini `text`), found without parsing the
/// event. Kept up to [`MAX_STREAMED_TEXT`] bytes.
#[derive(Debug)]
pub(crate) struct StreamedText {
    /// The keys' searchers, built once per process: building one per event
    /// cost 1.3 k instructions per delta (issue 18).
    keys: &'static [KeyFinder],
    text: String,
    /// Text bytes past the cap.
    overflow: usize,
}

/// Finds the keys that end in `tail` (the key's end and its closing
/// quote) and start with one of `heads` (the opening quote and what comes
/// before `tail`): Chat's `"content"` and `"reasoning_content"` share one
/// search of the event for `content"`.
#[derive(Debug)]
struct KeyFinder {
    tail: memmem::Finder<'static>,
    heads: &'static [&'static [u8]],
}

impl KeyFinder {
    fn new(tail: &'static str, heads: &'static [&'static [u8]]) -> Self {
        KeyFinder {
            tail: memmem::Finder::new(tail.as_bytes()),
            heads,
        }
    }

    /// Where the text after each of the keys in `json` starts.
    fn values<'a>(&'a self, json: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        let len = self.tail.needle().len();
        self.tail
            .find_iter(json)
            .filter(|&at| self.heads.iter().any(|head| json[..at].ends_with(head)))
            .map(move |at| at + len)
    }
}

/// The searchers for `(tail, heads)` pairs, built on first use.
macro_rules! key_finders {
    ($(($tail:literal, $heads:expr)),+) => {{
        static FINDERS: LazyLock<Vec<KeyFinder>> =
            LazyLock::new(|| vec![$(KeyFinder::new($tail, $heads)),+]);
        FINDERS.as_slice()
    }};
}

impl StreamedText {
    fn new(protocol: Protocol) -> Self {
        const QUOTE: &[&[u8]] = &[b"\""];
        const CONTENT: &[&[u8]] = &[b"\"", b"\"reasoning_"];
        let keys = match protocol {
            Protocol::OpenAiChat => key_finders!(("content\"", CONTENT)),
            Protocol::OpenAiResponses => key_finders!(("delta\"", QUOTE)),
            Protocol::Claude => key_finders!(
                ("text\"", QUOTE),
                ("thinking\"", QUOTE),
                ("partial_json\"", QUOTE)
            ),
            Protocol::Gemini => key_finders!(("text\"", QUOTE)),
        };
        StreamedText {
            keys,
            text: String::new(),
            overflow: 0,
        }
    }

    /// Appends the text values in one event's JSON.
    fn observe(&mut self, json: &[u8]) {
        for key in self.keys {
            for after in key.values(json) {
                let rest = json[after..].trim_ascii_start();
                let Some(rest) = rest.strip_prefix(b":") else {
                    continue;
                };
                let rest = rest.trim_ascii_start();
                if !rest.starts_with(b"\"") {
                    continue;
                }
                self.push_string(rest);
            }
        }
    }

    /// Appends the JSON string at the start of `quoted` (which begins with
    /// its opening quote). One without escapes (most deltas) is its bytes
    /// between the quotes; one with escapes is decoded by serde.
    fn push_string(&mut self, quoted: &[u8]) {
        let inner = &quoted[1..];
        let plain;
        let value: &str = match memchr::memchr2(b'"', b'\\', inner) {
            Some(end) if inner[end] == b'"' => match std::str::from_utf8(&inner[..end]) {
                Ok(text) => text,
                Err(_) => return,
            },
            _ => {
                let mut values = serde_json::Deserializer::from_slice(quoted).into_iter::<String>();
                let Some(Ok(value)) = values.next() else {
                    return;
                };
                plain = value;
                &plain
            }
        };
        let room = MAX_STREAMED_TEXT.saturating_sub(self.text.len());
        if value.len() <= room {
            self.text.push_str(value);
        } else {
            self.overflow += value.len();
        }
    }

    /// The text kept and the bytes past the cap.
    pub(crate) fn take(&mut self) -> (String, usize) {
        (std::mem::take(&mut self.text), self.overflow)
    }
}

impl StreamProcessor {
    pub(crate) fn new(protocol: Protocol, framing: Framing, rewrite: Rewrite) -> Self {
        StreamProcessor {
            framing,
            tracker: StreamUsageTracker::new(protocol),
            rewrite: (!rewrite.is_noop()).then_some(rewrite),
            events: Vec::new(),
            elements: Vec::new(),
            transcoder: None,
            streamed: StreamedText::new(protocol),
            envelope: None,
            as_json_array: None,
        }
    }

    /// Writes the events out as a streamed JSON array instead of SSE.
    pub(crate) fn json_array_out(&mut self) {
        self.as_json_array = Some(false);
    }

    /// Unwraps every event from `envelope` first (Code Assist).
    pub(crate) fn unwrap(&mut self, envelope: Option<&'static str>) {
        self.envelope = envelope;
    }

    /// The generated text seen so far (taken: call once, at the end).
    pub(crate) fn take_streamed(&mut self) -> (String, usize) {
        self.streamed.take()
    }

    /// Converts every event with `transcoder` instead of forwarding it.
    pub(crate) fn transcode(&mut self, transcoder: Transcoder) {
        self.transcoder = Some(Box::new(transcoder));
    }

    /// Cross-protocol: every upstream event is decoded and re-encoded.
    fn process_transcoded(&mut self, chunk: &[u8]) -> Result<Bytes, BufferLimitExceeded> {
        let Some(transcoder) = self.transcoder.as_mut() else {
            return Ok(Bytes::new());
        };
        let mut out = Vec::with_capacity(chunk.len() + 128);
        match &mut self.framing {
            Framing::Opaque => {}
            Framing::JsonArray(splitter) => {
                let fed = splitter.feed(chunk, &mut self.elements);
                for element in self.elements.drain(..) {
                    self.tracker.observe_json(&element);
                    self.streamed.observe(&element);
                    let data = String::from_utf8_lossy(&element);
                    // A malformed event is reported in the client's stream.
                    let _ = transcoder.feed(&data, &mut out);
                }
                fed?;
            }
            Framing::Sse(decoder) => {
                let fed = decoder.feed(chunk, &mut self.events);
                for mut event in self.events.drain(..) {
                    unwrap_event(&mut event, self.envelope);
                    self.tracker.observe_event(&event);
                    self.streamed.observe(event.data.as_bytes());
                    let _ = transcoder.feed(&event.data, &mut out);
                    decoder.recycle(event.data);
                }
                fed?;
            }
        }
        Ok(Bytes::from(out))
    }

    /// Usage seen so far.
    pub(crate) fn usage(&self) -> Option<Usage> {
        self.tracker.usage()
    }

    /// Feeds one upstream chunk; adds what goes to the client to `out`
    /// (possibly nothing when a chunk holds only part of an event being
    /// rewritten).
    ///
    /// Fails when an upstream line, event or element grows past the
    /// decoder's bound ([`gproxy_protocol::sse::MAX_BUFFERED_BYTES`]): the
    /// stream must then end with an error rather than hold more memory.
    pub(crate) fn process(
        &mut self,
        chunk: Bytes,
        out: &mut Output,
    ) -> Result<(), BufferLimitExceeded> {
        if self.transcoder.is_some() {
            let converted = self.process_transcoded(&chunk);
            return converted.map(|bytes| out.push(bytes));
        }
        match &mut self.framing {
            Framing::Opaque => {
                out.push(chunk);
                Ok(())
            }
            Framing::JsonArray(splitter) => {
                let fed = splitter.feed(&chunk, &mut self.elements);
                for element in self.elements.drain(..) {
                    self.tracker.observe_json(&element);
                    self.streamed.observe(&element);
                }
                fed.map(|()| out.push(chunk))
            }
            Framing::Sse(decoder) => {
                let fed = decoder.feed(&chunk, &mut self.events);
                if self.rewrite.is_none() && self.envelope.is_none() && self.as_json_array.is_none()
                {
                    for event in self.events.drain(..) {
                        self.tracker.observe_event(&event);
                        self.streamed.observe(event.data.as_bytes());
                        decoder.recycle(event.data);
                    }
                    return fed.map(|()| out.push(chunk));
                }
                fed?;
                let rewrite = self.rewrite.take().unwrap_or_default();
                // The events are encoded straight into the output.
                let buffer = out.buffer(chunk.len() + 64);
                // Taken for the loop (which needs `self`) and put back after,
                // so its allocation is kept from chunk to chunk.
                let mut events = std::mem::take(&mut self.events);
                for event in &mut events {
                    unwrap_event(event, self.envelope);
                    // A chunk whose usage is null or absent is not the
                    // usage chunk: only one the tracker parsed is checked.
                    let carried = self.tracker.observe_event(event);
                    self.streamed.observe(event.data.as_bytes());
                    if rewrite.strip_usage_chunk && carried && is_usage_only_chunk(&event.data) {
                        continue;
                    }
                    if let Some(model) = &rewrite.model
                        && MODEL_KEY.find(event.data.as_bytes()).is_some()
                        && let Some(new) = model.apply(event.data.as_bytes())
                    {
                        event.data = String::from_utf8(new)
                            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    }
                    emit(&mut self.as_json_array, event, buffer);
                }
                if let Framing::Sse(decoder) = &mut self.framing {
                    for event in events.drain(..) {
                        decoder.recycle(event.data);
                    }
                }
                self.events = events;
                if !rewrite.is_noop() {
                    self.rewrite = Some(rewrite);
                }
                Ok(())
            }
        }
    }

    /// End of the upstream stream: flushes a trailing event that had no
    /// blank line after it.
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        if let Some(transcoder) = self.transcoder.as_mut() {
            let mut out = Vec::new();
            if let Framing::Sse(decoder) = &mut self.framing
                && let Some(mut event) = decoder.finish()
            {
                unwrap_event(&mut event, self.envelope);
                self.tracker.observe_event(&event);
                self.streamed.observe(event.data.as_bytes());
                let _ = transcoder.feed(&event.data, &mut out);
            }
            transcoder.finish(&mut out);
            return (!out.is_empty()).then(|| Bytes::from(out));
        }
        let Framing::Sse(decoder) = &mut self.framing else {
            return None;
        };
        let mut out = Vec::new();
        if let Some(mut event) = decoder.finish() {
            unwrap_event(&mut event, self.envelope);
            self.tracker.observe_event(&event);
            self.streamed.observe(event.data.as_bytes());
            // In pass-through mode its bytes already went out as received.
            let passed =
                self.rewrite.is_none() && self.envelope.is_none() && self.as_json_array.is_none();
            let stripped = self
                .rewrite
                .as_ref()
                .is_some_and(|r| r.strip_usage_chunk && is_usage_only_chunk(&event.data));
            if !passed && !stripped {
                emit(&mut self.as_json_array, &event, &mut out);
            }
        }
        // Close the JSON array (an empty stream is `[]`).
        match self.as_json_array {
            Some(true) => out.push(b']'),
            Some(false) => out.extend_from_slice(b"[]"),
            None => {}
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

/// One event out, as SSE or as the next element of the JSON array
/// (`as_json_array`: whether the array was opened, `None` for SSE).
fn emit(as_json_array: &mut Option<bool>, event: &SseEvent, out: &mut Vec<u8>) {
    match as_json_array {
        None => encode(event, out),
        Some(opened) => {
            out.push(if *opened { b',' } else { b'[' });
            *opened = true;
            out.extend_from_slice(event.data.as_bytes());
        }
    }
}

/// An OpenAI Chat chunk with `"choices": []` and a non-null `usage`.
///
/// Every chunk of a stream that asked for usage carries `"usage"` (as
/// `null` until the last one), so the key alone does not rule a chunk out;
/// an empty array (`[`, whitespace, `]`) somewhere in the text is also
/// needed before the chunk is parsed.
fn is_usage_only_chunk(data: &str) -> bool {
    static USAGE_KEY: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\"usage\""));
    let bytes = data.as_bytes();
    if USAGE_KEY.find(bytes).is_none() || !has_empty_array(bytes) {
        return false;
    }
    let Ok(obj) = RawObject::parse(data.as_bytes()) else {
        return false;
    };
    let empty_choices = obj.get("choices").is_some_and(|c| {
        c.get()
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .eq(*b"[]")
    });
    let has_usage = obj.get("usage").is_some_and(|u| u.get().trim() != "null");
    empty_choices && has_usage
}

/// Whether `[` followed by optional JSON whitespace and `]` occurs anywhere
/// (a necessary condition for `"choices": []`; strings are not excluded).
fn has_empty_array(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'[', bytes).any(|open| {
        bytes[open + 1..]
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            == Some(&b']')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    impl StreamProcessor {
        /// One chunk's output alone.
        fn process_alone(&mut self, chunk: Bytes) -> Result<Bytes, BufferLimitExceeded> {
            let mut out = Output::default();
            self.process(chunk, &mut out)?;
            Ok(out.take().unwrap_or_default())
        }
    }

    const ENVELOPED: &[u8] = b"data: {\"response\":{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hi\"}]}}]},\"traceId\":\"t1\"}\n\ndata: {\"response\":{\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1,\"totalTokenCount\":4}},\"traceId\":\"t1\"}\n\n";

    fn enveloped() -> StreamProcessor {
        let mut p = StreamProcessor::new(
            Protocol::Gemini,
            Framing::Sse(SseDecoder::new()),
            Rewrite::default(),
        );
        p.unwrap(Some("response"));
        p
    }

    #[test]
    fn enveloped_events_are_unwrapped_and_their_usage_counted() {
        let mut p = enveloped();
        // Split mid-event: the decoder joins it.
        let mut out = p
            .process_alone(Bytes::from_static(&ENVELOPED[..40]))
            .unwrap()
            .to_vec();
        out.extend_from_slice(
            &p.process_alone(Bytes::from_static(&ENVELOPED[40..]))
                .unwrap(),
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("data: {\"candidates\""), "{text}");
        assert!(
            !text.contains("traceId") && !text.contains("\"response\""),
            "{text}"
        );
        let usage = p.usage().unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (3, 1));
        // An error event has no envelope: it goes out as it came.
        let mut p = enveloped();
        let error = b"data: {\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}\n\n";
        let out = p.process_alone(Bytes::from_static(error)).unwrap();
        assert_eq!(&out[..], &error[..]);
    }

    #[test]
    fn enveloped_sse_can_leave_as_a_streamed_json_array() {
        let mut p = enveloped();
        p.json_array_out();
        let mut out = p
            .process_alone(Bytes::from_static(ENVELOPED))
            .unwrap()
            .to_vec();
        out.extend_from_slice(&p.finish().unwrap());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[0]["candidates"][0]["content"]["parts"][0]["text"], "Hi");
        assert_eq!(v[1]["usageMetadata"]["totalTokenCount"], 4);
        // Nothing streamed: an empty array.
        let mut p = enveloped();
        p.json_array_out();
        assert_eq!(&p.finish().unwrap()[..], b"[]");
    }

    const CHAT: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n",
        "data: [DONE]\n\n"
    );

    fn run(p: &mut StreamProcessor, input: &str, split: usize) -> String {
        let (a, b) = input.as_bytes().split_at(split);
        let mut out = Vec::new();
        out.extend_from_slice(&p.process_alone(Bytes::copy_from_slice(a)).unwrap());
        out.extend_from_slice(&p.process_alone(Bytes::copy_from_slice(b)).unwrap());
        if let Some(rest) = p.finish() {
            out.extend_from_slice(&rest);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn passthrough_forwards_bytes_untouched_and_sees_usage() {
        for split in [0, 7, 100, CHAT.len()] {
            let mut p = StreamProcessor::new(
                Protocol::OpenAiChat,
                Framing::Sse(SseDecoder::new()),
                Rewrite::default(),
            );
            assert_eq!(run(&mut p, CHAT, split), CHAT);
            let u = p.usage().unwrap();
            assert_eq!((u.input_tokens, u.output_tokens), (11, 7));
        }
    }

    #[test]
    fn strips_the_usage_chunk_and_prefixes_model() {
        for split in [0, 7, 100, 250, CHAT.len()] {
            let rewrite = Rewrite {
                strip_usage_chunk: true,
                model: Some(ModelRewrite::Prefix("openai".into())),
            };
            let mut p = StreamProcessor::new(
                Protocol::OpenAiChat,
                Framing::Sse(SseDecoder::new()),
                rewrite,
            );
            let out = run(&mut p, CHAT, split);
            assert!(!out.contains("prompt_tokens"), "{out}");
            assert!(out.contains("\"model\":\"openai/gpt-4o-mini\""), "{out}");
            assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
            assert_eq!(p.usage().unwrap().input_tokens, 11);
        }
    }

    #[test]
    fn an_event_past_the_bound_is_an_error_in_every_mode() {
        let endless = Bytes::from(vec![b'x'; 40]);
        let modes: [(Framing, Rewrite, bool); 4] = [
            (
                Framing::Sse(SseDecoder::with_limit(64)),
                Rewrite::default(),
                false,
            ),
            (
                Framing::Sse(SseDecoder::with_limit(64)),
                Rewrite {
                    strip_usage_chunk: true,
                    model: None,
                },
                false,
            ),
            (
                Framing::Sse(SseDecoder::with_limit(64)),
                Rewrite::default(),
                true,
            ),
            (
                Framing::JsonArray(JsonArraySplitter::with_limit(64)),
                Rewrite::default(),
                false,
            ),
        ];
        for (framing, rewrite, transcode) in modes {
            let mut p = StreamProcessor::new(Protocol::OpenAiChat, framing, rewrite);
            if transcode {
                p.transcode(Transcoder::new(
                    Protocol::OpenAiChat,
                    Protocol::Claude,
                    gproxy_protocol::convert::StreamOptions::default(),
                    None,
                ));
            }
            let start: &[u8] = if matches!(p.framing, Framing::JsonArray(_)) {
                b"[\""
            } else {
                b"data: "
            };
            p.process_alone(Bytes::from_static(start)).unwrap();
            p.process_alone(endless.clone()).unwrap();
            let err = p.process_alone(endless.clone()).unwrap_err();
            assert_eq!(err.limit, 64);
        }
    }

    #[test]
    fn chunks_processed_into_one_output_join_as_they_would_alone() {
        for rewrite in [
            Rewrite::default(),
            Rewrite {
                strip_usage_chunk: true,
                model: Some(ModelRewrite::Prefix("openai".into())),
            },
        ] {
            let new = || {
                StreamProcessor::new(
                    Protocol::OpenAiChat,
                    Framing::Sse(SseDecoder::new()),
                    rewrite.clone(),
                )
            };
            let (mut alone, mut joined) = (new(), new());
            let mut expected = Vec::new();
            let mut out = Output::default();
            let mut captured = Vec::new();
            for piece in CHAT.as_bytes().chunks(37) {
                let chunk = Bytes::copy_from_slice(piece);
                expected.extend_from_slice(&alone.process_alone(chunk.clone()).unwrap());
                let held = out.len();
                joined.process(chunk, &mut out).unwrap();
                captured.extend_from_slice(out.since(held));
            }
            let all = out.take().unwrap();
            assert_eq!(&all[..], &expected[..]);
            assert_eq!(captured, expected);
            assert!(out.take().is_none());
        }
        // A chunk alone is kept as it came.
        let mut out = Output::default();
        let chunk = Bytes::from_static(b"data: x\n\n");
        out.push(chunk.clone());
        assert_eq!(out.take().unwrap().as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn usage_only_chunk_detection() {
        assert!(is_usage_only_chunk(
            "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}"
        ));
        assert!(is_usage_only_chunk("{\"choices\":[ ],\"usage\":{}}"));
        assert!(!is_usage_only_chunk("{\"choices\":[{}],\"usage\":{}}"));
        assert!(!is_usage_only_chunk("{\"choices\":[],\"usage\":null}"));
        assert!(!is_usage_only_chunk("[DONE]"));
        assert!(is_usage_only_chunk(
            "{\"choices\":[\n\t ],\"usage\":{\"prompt_tokens\":1}}"
        ));
        assert!(!is_usage_only_chunk(
            "{\"choices\":[{\"delta\":{}}],\"usage\":null}"
        ));
        // An empty array elsewhere makes the chunk parsed, not accepted.
        assert!(!is_usage_only_chunk(
            "{\"choices\":[{\"delta\":{\"tool_calls\":[]}}],\"usage\":{}}"
        ));
    }

    #[test]
    fn empty_arrays_are_found() {
        assert!(has_empty_array(b"[]"));
        assert!(has_empty_array(b"{\"a\":[ \r\n],\"b\":1}"));
        assert!(!has_empty_array(b"{\"a\":[1],\"b\":[ x]}"));
        assert!(!has_empty_array(b"[ "));
        assert!(!has_empty_array(b""));
    }

    #[test]
    fn streamed_text_collects_the_generated_strings_of_each_protocol() {
        let mut chat = StreamedText::new(Protocol::OpenAiChat);
        chat.observe(br#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#);
        chat.observe(br#"{"choices":[{"delta":{"content":"Hel"}}]}"#);
        chat.observe(br#"{"choices":[{"delta":{"content" : "lo \"you\""}}]}"#);
        chat.observe(br#"{"choices":[],"usage":{"prompt_tokens":1}}"#);
        chat.observe(br#"{"choices":[{"delta":{"reasoning_content":"Hm. "}}]}"#);
        // Neither a key that only ends like one nor a value is taken.
        chat.observe(br#"{"choices":[{"delta":{"xcontent":"no","role":"content"}}]}"#);
        assert_eq!(chat.take(), ("Hello \"you\"Hm. ".to_owned(), 0));
        let mut claude = StreamedText::new(Protocol::Claude);
        claude.observe(
            br#"{"type":"content_block_delta","delta":{"type":"thinking_delta","thinking":"hm"}}"#,
        );
        claude.observe(
            br#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"ok"}}"#,
        );
        assert_eq!(claude.take().0, "hmok");
        let mut gemini = StreamedText::new(Protocol::Gemini);
        gemini.observe(br#"{"candidates":[{"content":{"parts":[{"text":"a"},{"text":"b"}]}}]}"#);
        assert_eq!(gemini.take().0, "ab");
        let mut big = StreamedText::new(Protocol::OpenAiResponses);
        let long = "x".repeat(MAX_STREAMED_TEXT);
        big.observe(format!(r#"{{"delta":"{long}"}}"#).as_bytes());
        big.observe(br#"{"delta":"more"}"#);
        assert_eq!((big.text.len(), big.overflow), (MAX_STREAMED_TEXT, 4));
    }
}
