//! Usage extraction from real-shaped bodies and streams of all four protocols.
#![cfg(test)]

use gproxy_protocol::Protocol;
use gproxy_protocol::json_array::JsonArraySplitter;
use gproxy_protocol::sse::SseDecoder;
use gproxy_protocol::usage::{StreamUsageTracker, Usage, from_response_body};

fn usage(input: u64, output: u64, read: u64, write: u64, reasoning: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: read,
        cache_write_tokens: write,
        cache_write_1h_tokens: 0,
        reasoning_tokens: reasoning,
    }
}

/// Runs an SSE transcript through the decoder and the tracker in small chunks,
/// recording the usage after every event.
fn track_sse(protocol: Protocol, transcript: &[u8]) -> Vec<Option<Usage>> {
    let mut decoder = SseDecoder::new();
    let mut tracker = StreamUsageTracker::new(protocol);
    let mut seen = Vec::new();
    let mut events = Vec::new();
    for chunk in transcript.chunks(7) {
        decoder.feed(chunk, &mut events).unwrap();
        for event in events.drain(..) {
            tracker.observe_event(&event);
            seen.push(tracker.usage());
        }
    }
    if let Some(event) = decoder.finish() {
        tracker.observe_event(&event);
        seen.push(tracker.usage());
    }
    seen
}

#[test]
fn openai_chat() {
    let body = include_bytes!("fixtures/openai_chat_body.json");
    assert_eq!(
        from_response_body(Protocol::OpenAiChat, body),
        Some(usage(1117, 446, 896, 0, 384))
    );
    let seen = track_sse(
        Protocol::OpenAiChat,
        include_bytes!("fixtures/openai_chat_stream.sse"),
    );
    // Chunks 1-4 carry `"usage":null`, chunk 5 the usage, then [DONE].
    assert_eq!(seen[..4], [None, None, None, None]);
    assert_eq!(seen[4], Some(usage(1117, 46, 1024, 0, 0)));
    assert_eq!(seen[5], seen[4]);
}

#[test]
fn openai_responses() {
    let body = include_bytes!("fixtures/openai_responses_body.json");
    assert_eq!(
        from_response_body(Protocol::OpenAiResponses, body),
        Some(usage(37, 211, 0, 0, 192))
    );
    let seen = track_sse(
        Protocol::OpenAiResponses,
        include_bytes!("fixtures/openai_responses_stream.sse"),
    );
    assert_eq!(seen.len(), 10);
    assert!(seen[..9].iter().all(Option::is_none));
    assert_eq!(seen[9], Some(usage(37, 211, 0, 0, 192)));
}

/// Current Responses answers report `input_tokens_details.cache_write_tokens`
/// (the OpenAI SDKs require it); it is recorded as cache writes, as the
/// converter reads it.
#[test]
fn openai_responses_cache_write_tokens() {
    let body = br#"{"id":"resp_1","object":"response","status":"completed","usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":10,"cache_write_tokens":15},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":35}}"#;
    assert_eq!(
        from_response_body(Protocol::OpenAiResponses, body),
        Some(usage(30, 5, 10, 15, 2))
    );
}

#[test]
fn claude() {
    let body = include_bytes!("fixtures/claude_body.json");
    assert_eq!(
        from_response_body(Protocol::Claude, body),
        Some(usage(2095, 503, 32000, 1500, 0))
    );
    let seen = track_sse(
        Protocol::Claude,
        include_bytes!("fixtures/claude_stream.sse"),
    );
    assert_eq!(seen.len(), 11);
    // message_start gives the initial values...
    assert_eq!(seen[0], Some(usage(472, 2, 10240, 2048, 0)));
    assert!(seen[1..9].iter().all(|u| *u == seen[0]));
    // ...and message_delta overrides the cumulative output count only.
    assert_eq!(seen[9], Some(usage(472, 89, 10240, 2048, 0)));
    assert_eq!(seen[10], seen[9]);
}

#[test]
fn gemini_sse() {
    let body = include_bytes!("fixtures/gemini_body.json");
    assert_eq!(
        from_response_body(Protocol::Gemini, body),
        Some(usage(8, 7, 0, 0, 1039))
    );
    let seen = track_sse(
        Protocol::Gemini,
        include_bytes!("fixtures/gemini_stream.sse"),
    );
    assert_eq!(
        seen,
        [
            Some(usage(12, 2, 0, 0, 166)),
            Some(usage(12, 14, 0, 0, 166)),
            Some(usage(12, 15, 1024, 0, 166)),
        ]
    );
}

#[test]
fn gemini_json_array_stream() {
    let stream = include_bytes!("fixtures/gemini_stream_array.json");
    let mut splitter = JsonArraySplitter::new();
    let mut tracker = StreamUsageTracker::new(Protocol::Gemini);
    let mut elements = Vec::new();
    for chunk in stream.chunks(5) {
        splitter.feed(chunk, &mut elements).unwrap();
    }
    assert_eq!(elements.len(), 3);
    for element in &elements {
        tracker.observe_json(element);
    }
    assert_eq!(tracker.usage(), Some(usage(12, 15, 1024, 0, 166)));
    // The whole array as one body: the last usage wins too.
    assert_eq!(
        from_response_body(Protocol::Gemini, stream),
        Some(usage(12, 15, 1024, 0, 166))
    );
}
