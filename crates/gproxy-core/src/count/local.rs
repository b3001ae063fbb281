//! The local token count: an estimate over a canonical [`Request`] with
//! OpenAI's `o200k_base` BPE (`tiktoken-rs`), used when a provider has no
//! counting endpoint of its own.
//!
//! What is counted:
//! - every system text, as a message of its own;
//! - every message: its texts, tool calls (name + arguments JSON), tool
//!   results (their texts and images), reasoning text (signatures and
//!   redacted reasoning are opaque and not counted);
//! - OpenAI's documented chat overhead: [`TOKENS_PER_MESSAGE`] per message
//!   (system messages included) plus [`REPLY_PRIMING`] once for the reply;
//! - every tool definition: name, description and parameter schema (as
//!   compact JSON);
//! - every image as a fixed [`IMAGE_TOKENS`], whatever its size (the bytes
//!   are not decoded).
//!
//! It is an estimate: other vendors' tokenizers differ from `o200k_base`,
//! and each vendor wraps tools and images in its own hidden prompt.
//!
//! The encoder is built once per process, on first use (70–200 ms in a
//! release build), and shared; callers on an async runtime should count on
//! a blocking thread ([`tokio::task::spawn_blocking`]).

use std::sync::LazyLock;

use super::bpe::Bpe;
use gproxy_protocol::convert::{Part, Request};

/// Tokens added per message (`<|start|>{role}<|message|>…<|end|>`), as
/// OpenAI documents for its chat models.
pub const TOKENS_PER_MESSAGE: u64 = 3;

/// Tokens that prime the reply (`<|start|>assistant<|message|>`), counted once.
pub const REPLY_PRIMING: u64 = 3;

/// The fixed estimate for one image: what OpenAI bills for a 1024×1024
/// image at high detail (85 base + 4 tiles × 170).
pub const IMAGE_TOKENS: u64 = 765;

/// The `o200k_base` counter, built on first use (from `tiktoken-rs`'
/// encoder, which is then dropped: see [`super::bpe`]). `None` only if the
/// embedded vocabulary failed to load, in which case texts are estimated
/// at four bytes per token.
static ENCODER: LazyLock<Option<Bpe>> = LazyLock::new(|| {
    let built = tiktoken_rs::o200k_base()
        .map_err(|e| e.to_string())
        .and_then(|core| {
            Bpe::new(&core, tiktoken_rs::O200K_BASE_PAT_STR).map_err(|e| e.to_string())
        });
    match built {
        Ok(bpe) => Some(bpe),
        Err(e) => {
            tracing::error!("o200k_base failed to load, counting 4 bytes per token: {e}");
            None
        }
    }
});

/// Tokens in one text (no special tokens recognised).
pub fn count_text(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match ENCODER.as_ref() {
        Some(bpe) => bpe.count(text) as u64,
        None => text.len().div_ceil(4) as u64,
    }
}

/// The estimated input tokens of `req` (see the module docs).
pub fn count_request(req: &Request) -> u64 {
    let mut total = REPLY_PRIMING;
    for system in &req.system {
        total += TOKENS_PER_MESSAGE + count_text(system);
    }
    for message in &req.messages {
        total += TOKENS_PER_MESSAGE + count_parts(&message.content);
    }
    for tool in &req.tools {
        total += count_text(&tool.name);
        if let Some(description) = &tool.description {
            total += count_text(description);
        }
        total += count_text(&tool.parameters.to_string());
    }
    total
}

fn count_parts(parts: &[Part]) -> u64 {
    parts
        .iter()
        .map(|part| match part {
            Part::Text { text } => count_text(text),
            Part::Image { .. } => IMAGE_TOKENS,
            Part::ToolCall {
                name, arguments, ..
            } => count_text(name) + count_text(arguments),
            Part::ToolResult { content, .. } => count_parts(content),
            Part::Reasoning { text, .. } => count_text(text),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gproxy_protocol::convert::{ImageSource, Message, Role, Tool};
    use serde_json::json;

    fn user(parts: Vec<Part>) -> Message {
        Message {
            role: Role::User,
            content: parts,
        }
    }

    #[test]
    fn texts_use_o200k_base() {
        // Reference counts from OpenAI's tokenizer for o200k_base.
        assert_eq!(count_text(""), 0);
        assert_eq!(count_text("hello world"), 2);
        assert_eq!(count_text("Hello, world!"), 4);
        // Special tokens are plain text here.
        assert!(count_text("<|endoftext|>") > 1);
    }

    #[test]
    fn an_empty_request_is_the_reply_priming() {
        assert_eq!(count_request(&Request::default()), REPLY_PRIMING);
    }

    #[test]
    fn messages_and_system_carry_the_per_message_overhead() {
        let req = Request {
            system: vec!["Be brief.".into()],
            messages: vec![
                user(vec![Part::text("hello world")]),
                Message {
                    role: Role::Assistant,
                    content: vec![Part::text("Hello, world!")],
                },
            ],
            ..Request::default()
        };
        let expected = REPLY_PRIMING
            + (TOKENS_PER_MESSAGE + count_text("Be brief."))
            + (TOKENS_PER_MESSAGE + 2)
            + (TOKENS_PER_MESSAGE + 4);
        assert_eq!(count_request(&req), expected);
    }

    #[test]
    fn tool_calls_results_reasoning_and_images_count() {
        let image = Part::Image {
            source: ImageSource::Url {
                url: "https://example.com/cat.png".into(),
            },
        };
        let req = Request {
            messages: vec![
                user(vec![Part::text("weather?"), image.clone()]),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Reasoning {
                            text: "call the tool".into(),
                            signature: Some("c2lnbmF0dXJl".repeat(50)),
                            redacted: None,
                        },
                        Part::Reasoning {
                            text: String::new(),
                            signature: None,
                            redacted: Some("opaque".repeat(100)),
                        },
                        Part::ToolCall {
                            id: "call_1".into(),
                            name: "get_weather".into(),
                            arguments: "{\"city\":\"Paris\"}".into(),
                        },
                    ],
                },
                user(vec![Part::ToolResult {
                    call_id: "call_1".into(),
                    name: None,
                    content: vec![Part::text("sunny, 21 C"), image],
                    is_error: false,
                }]),
            ],
            ..Request::default()
        };
        let expected = REPLY_PRIMING
            + 3 * TOKENS_PER_MESSAGE
            + count_text("weather?")
            + IMAGE_TOKENS
            + count_text("call the tool")
            + count_text("get_weather")
            + count_text("{\"city\":\"Paris\"}")
            + count_text("sunny, 21 C")
            + IMAGE_TOKENS;
        assert_eq!(count_request(&req), expected);
    }

    #[test]
    fn tool_definitions_count_name_description_and_schema() {
        let schema = json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        });
        let req = Request {
            tools: vec![
                Tool {
                    name: "get_weather".into(),
                    description: Some("Current weather in a city.".into()),
                    parameters: schema.clone(),
                    strict: None,
                },
                Tool {
                    name: "noop".into(),
                    description: None,
                    parameters: json!({"type": "object"}),
                    strict: Some(true),
                },
            ],
            ..Request::default()
        };
        let expected = REPLY_PRIMING
            + count_text("get_weather")
            + count_text("Current weather in a city.")
            + count_text(&schema.to_string())
            + count_text("noop")
            + count_text("{\"type\":\"object\"}");
        assert_eq!(count_request(&req), expected);
        assert!(expected > REPLY_PRIMING + 20, "{expected}");
    }

    #[test]
    fn the_count_grows_with_the_text() {
        let short = Request {
            messages: vec![user(vec![Part::text("one two three")])],
            ..Request::default()
        };
        let long = Request {
            messages: vec![user(vec![Part::text("one two three ".repeat(100))])],
            ..Request::default()
        };
        assert!(count_request(&long) > count_request(&short) * 20);
    }
}
