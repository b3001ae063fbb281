//! An Anthropic Messages request and its SSE stream converted into OpenAI
//! Chat Completions form with `gproxy-protocol` alone: no HTTP, no async
//! runtime, no gateway.
//!
//! ```sh
//! cargo run -p gproxy-protocol --example anthropic_to_openai
//! cargo run -p gproxy-protocol --example anthropic_to_openai -- request.json stream.sse
//! ```
//!
//! Without arguments it converts the samples this crate's tests use
//! (`tests/fixtures/convert/claude/`). It prints the OpenAI Chat request
//! body, then the OpenAI Chat stream (`data:` lines up to `[DONE]`); the
//! usage the stream reported goes to stderr. The tests
//! (`tests/examples.rs`) compare both with the reviewed golden outputs.

use std::error::Error;

use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{self, ConvertError, StreamOptions, Transcoder, Usage};
use gproxy_protocol::sse::SseDecoder;

/// A Messages request: system prompt, one user turn, sampling settings.
pub const SAMPLE_REQUEST: &str = include_str!("../tests/fixtures/convert/claude/request_text.json");
/// A Messages stream as Anthropic sends it: `message_start`, a text block
/// in two deltas, a `ping`, `message_delta` with the stop reason and the
/// usage, `message_stop`.
pub const SAMPLE_STREAM: &str = include_str!("../tests/fixtures/convert/claude/stream_text.sse");

/// A Messages request body as an OpenAI Chat Completions request body,
/// through the canonical model.
pub fn convert_request(anthropic: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let canonical = convert::decode_request(Protocol::Claude, anthropic)?;
    convert::encode_request(Protocol::OpenAiChat, &canonical)
}

/// A Messages SSE stream, given as byte chunks split anywhere (as they
/// come off the network), as an OpenAI Chat SSE stream; and the usage the
/// stream reported. The client is taken to have asked for
/// `stream_options.include_usage`, so the usage is sent in a last chunk.
pub fn convert_stream<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(Vec<u8>, Option<Usage>), Box<dyn Error + Send + Sync>> {
    let options = StreamOptions {
        include_usage: true,
        gemini_sse: false,
    };
    // `Some(model)` would rename the model the client sees.
    let mut transcoder = Transcoder::new(Protocol::Claude, Protocol::OpenAiChat, options, None);
    let mut sse = SseDecoder::new();
    let mut events = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        sse.feed(chunk, &mut events)?;
        for event in events.drain(..) {
            transcoder.feed(&event.data, &mut out)?;
        }
    }
    // A last event without its blank line, then the stream's end.
    if let Some(event) = sse.finish() {
        transcoder.feed(&event.data, &mut out)?;
    }
    transcoder.finish(&mut out);
    Ok((out, transcoder.usage()))
}

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let request = match args.next() {
        Some(path) => std::fs::read(path)?,
        None => SAMPLE_REQUEST.as_bytes().to_vec(),
    };
    let stream = match args.next() {
        Some(path) => std::fs::read(path)?,
        None => SAMPLE_STREAM.as_bytes().to_vec(),
    };

    let openai: serde_json::Value = serde_json::from_slice(&convert_request(&request)?)?;
    println!("{}", serde_json::to_string_pretty(&openai)?);
    println!();
    // Small chunks, as a network read might deliver them.
    let (openai_stream, usage) = convert_stream(stream.chunks(64))?;
    print!("{}", String::from_utf8(openai_stream)?);
    eprintln!("usage: {usage:?}");
    Ok(())
}
