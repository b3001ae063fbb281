//! Real-shaped SSE transcripts decode to the same events however they are chunked.
#![cfg(test)]

use gproxy_protocol::sse::{self, SseDecoder, SseEvent};

const OPENAI_CHAT: &[u8] = include_bytes!("fixtures/openai_chat_stream.sse");
const OPENAI_RESPONSES: &[u8] = include_bytes!("fixtures/openai_responses_stream.sse");
const CLAUDE: &[u8] = include_bytes!("fixtures/claude_stream.sse");
const GEMINI: &[u8] = include_bytes!("fixtures/gemini_stream.sse");

fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut out).unwrap();
    }
    out.extend(decoder.finish());
    out
}

/// Every two-chunk split, byte-at-a-time feeding and three-way splits around
/// every line terminator all give the unsplit result.
fn assert_split_invariant(input: &[u8]) -> Vec<SseEvent> {
    let whole = decode_chunks([input]);
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(decode_chunks([a, b]), whole, "split at {split}");
    }
    assert_eq!(decode_chunks(input.chunks(1)), whole, "byte at a time");
    for (i, _) in input
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\r' || **b == b'\n')
    {
        let (a, rest) = input.split_at(i);
        let (b, c) = rest.split_at(1);
        assert_eq!(
            decode_chunks([a, b, c]),
            whole,
            "terminator isolated at {i}"
        );
    }
    whole
}

fn assert_reencodes(events: &[SseEvent]) {
    let mut wire = Vec::new();
    for event in events {
        sse::encode(event, &mut wire);
    }
    assert_eq!(decode_chunks([&wire[..]]), events);
}

fn names(events: &[SseEvent]) -> Vec<Option<&str>> {
    events.iter().map(|e| e.event.as_deref()).collect()
}

#[test]
fn openai_chat_stream() {
    let events = assert_split_invariant(OPENAI_CHAT);
    assert_eq!(events.len(), 6, "the leading comment is not an event");
    assert!(events.iter().all(|e| e.event.is_none()));
    assert_eq!(events[5].data, "[DONE]");
    let chunk: serde_json::Value = serde_json::from_str(&events[1].data).unwrap();
    assert_eq!(chunk["choices"][0]["delta"]["content"], "你好");
    let chunk: serde_json::Value = serde_json::from_str(&events[2].data).unwrap();
    assert_eq!(
        chunk["choices"][0]["delta"]["content"],
        "! 👋 The \"usage\" is next."
    );
    let last: serde_json::Value = serde_json::from_str(&events[4].data).unwrap();
    assert_eq!(last["usage"]["prompt_tokens"], 1117);
    assert_reencodes(&events);
}

#[test]
fn openai_responses_stream() {
    let events = assert_split_invariant(OPENAI_RESPONSES);
    assert_eq!(events.len(), 10);
    for event in &events {
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(event.event.as_deref(), data["type"].as_str());
    }
    assert_eq!(events[9].event.as_deref(), Some("response.completed"));
    assert_reencodes(&events);
}

#[test]
fn claude_stream() {
    let events = assert_split_invariant(CLAUDE);
    assert_eq!(
        names(&events),
        [
            Some("message_start"),
            Some("content_block_start"),
            Some("ping"),
            Some("content_block_delta"),
            Some("content_block_delta"),
            Some("content_block_stop"),
            Some("content_block_start"),
            Some("content_block_delta"),
            Some("content_block_stop"),
            Some("message_delta"),
            Some("message_stop"),
        ]
    );
    let thinking: serde_json::Value = serde_json::from_str(&events[3].data).unwrap();
    assert_eq!(thinking["delta"]["thinking"], "用户在打招呼。");
    let text: serde_json::Value = serde_json::from_str(&events[7].data).unwrap();
    assert_eq!(text["delta"]["text"], "Hello! 🦀\nHow can I help?");
    assert_reencodes(&events);
}

#[test]
fn gemini_stream_with_crlf() {
    assert!(GEMINI.windows(4).any(|w| w == b"\r\n\r\n"));
    let events = assert_split_invariant(GEMINI);
    assert_eq!(events.len(), 3);
    let second: serde_json::Value = serde_json::from_str(&events[1].data).unwrap();
    assert_eq!(
        second["candidates"][0]["content"]["parts"][0]["text"],
        " brown fox [jumps] {over} \"the\" 狗 🐕"
    );
    assert_reencodes(&events);
}

#[test]
fn transcript_without_final_blank_line() {
    let trimmed = CLAUDE.strip_suffix(b"\n").unwrap();
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    decoder.feed(trimmed, &mut out).unwrap();
    assert_eq!(out.len(), 10);
    let last = decoder.finish().unwrap();
    assert_eq!(last.event.as_deref(), Some("message_stop"));
    assert_eq!(decode_chunks([CLAUDE]), decode_chunks([trimmed]));
}
