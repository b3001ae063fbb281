//! Token usage as the upstream reported it.
//!
//! Each protocol reports usage under its own names; [`Usage`] holds the
//! numbers as reported, with no arithmetic: for example OpenAI's
//! `prompt_tokens` includes the cached tokens while Anthropic's
//! `input_tokens` does not, and Gemini's `candidatesTokenCount` excludes the
//! thinking tokens. Pricing code must know which protocol a usage came from.
//!
//! Only the usage parts of a body are deserialised (small structs, unknown
//! fields skipped), and [`StreamUsageTracker`] does not parse stream events
//! that cannot carry usage at all.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use memchr::memmem;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::Protocol;
use crate::sse::SseEvent;
use crate::usage_counts::{self, Counts, Member, Shape};

/// Token counts for one request, as the upstream reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Prompt tokens (OpenAI `prompt_tokens`/`input_tokens`, Anthropic
    /// `input_tokens`, Gemini `promptTokenCount`).
    pub input_tokens: u64,
    /// Generated tokens (OpenAI `completion_tokens`/`output_tokens`,
    /// Anthropic `output_tokens`, Gemini `candidatesTokenCount`).
    pub output_tokens: u64,
    /// Prompt tokens served from cache (OpenAI `cached_tokens`, Anthropic
    /// `cache_read_input_tokens`, Gemini `cachedContentTokenCount`).
    pub cache_read_tokens: u64,
    /// Prompt tokens written to cache (Anthropic `cache_creation_input_tokens`).
    pub cache_write_tokens: u64,
    /// Of `cache_write_tokens`, those written with a one-hour lifetime
    /// (Anthropic `cache_creation.ephemeral_1h_input_tokens`), priced
    /// apart from the default five-minute writes.
    #[serde(default)]
    pub cache_write_1h_tokens: u64,
    /// Reasoning tokens (OpenAI `reasoning_tokens`, Gemini `thoughtsTokenCount`).
    pub reasoning_tokens: u64,
}

/// Usage from a complete (non-stream) response body. None if absent or the body is not JSON.
///
/// For Gemini a JSON array of chunks (a buffered `streamGenerateContent`
/// answer) is accepted too: the last chunk carrying usage wins.
pub fn from_response_body(protocol: Protocol, body: &[u8]) -> Option<Usage> {
    static GEMINI_KEY: LazyLock<usage_counts::KeyFinder> =
        LazyLock::new(|| usage_counts::KeyFinder::new("usageMetadata"));
    match protocol {
        Protocol::OpenAiChat => top_level_usage::<ChatUsage>(body).map(Into::into),
        Protocol::OpenAiResponses => top_level_usage::<ResponsesUsage>(body).map(Into::into),
        Protocol::Claude => {
            top_level_usage::<ClaudeUsage>(body).map(|u| u.apply_to(Usage::default()))
        }
        Protocol::Gemini => {
            if body.trim_ascii_start().starts_with(b"[") {
                parse::<Vec<GeminiChunk>>(body)?
                    .into_iter()
                    .rev()
                    .find_map(|c| c.usage_metadata)
                    .map(Into::into)
            } else if let Some(counts) = usage_counts::read_last::<GeminiUsage>(body, &GEMINI_KEY) {
                Some(GeminiUsage::from_counts(&counts).into())
            } else if let Some(span) =
                crate::json_edit::top_level_value_from_end(body, b"usageMetadata")
            {
                read_usage::<GeminiUsage>(&body[span]).map(Into::into)
            } else {
                parse::<GeminiChunk>(body)?.usage_metadata.map(Into::into)
            }
        }
    }
}

/// Observes a stream one event at a time and keeps the usage reported so far.
#[derive(Debug)]
pub struct StreamUsageTracker {
    protocol: Protocol,
    usage: Option<Usage>,
}

/// Finds `"usage` (which also covers `"usageMetadata`): built once per
/// process, not per stream.
static USAGE_KEY: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\"usage"));

impl StreamUsageTracker {
    /// A tracker for a stream in `protocol`, with no usage seen yet.
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            usage: None,
        }
    }

    /// Observes one SSE event (its data; the event name is not needed).
    /// Returns what [`observe_json`](Self::observe_json) returns.
    pub fn observe_event(&mut self, event: &SseEvent) -> bool {
        self.observe_json(event.data.as_bytes())
    }

    /// Observes one JSON message (e.g. a Gemini JSON-array element or SSE data).
    ///
    /// Messages that are not JSON (such as `[DONE]`) or carry no usage are
    /// ignored. Returns whether the message has a `"usage…` key whose value
    /// is not `null` (whether it was parsed for usage): when it is `false`,
    /// the message certainly carries no usage, which spares a caller
    /// looking for the usage chunk a search of its own.
    pub fn observe_json(&mut self, json: &[u8]) -> bool {
        if !self.may_carry_usage(json) {
            return false;
        }
        match self.protocol {
            Protocol::OpenAiChat => {
                if let Some(u) = parse::<WithUsage<ChatUsage>>(json).and_then(|c| c.usage) {
                    self.usage = Some(u.into());
                }
            }
            Protocol::OpenAiResponses => {
                if let Some(u) = parse::<ResponsesEvent>(json)
                    .and_then(|e| e.response)
                    .and_then(|r| r.usage)
                {
                    self.usage = Some(u.into());
                }
            }
            Protocol::Claude => self.observe_claude(json),
            Protocol::Gemini => {
                if let Some(u) = parse::<GeminiChunk>(json).and_then(|c| c.usage_metadata) {
                    self.usage = Some(u.into());
                }
            }
        }
        true
    }

    /// The usage reported so far, if any.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Whether `json` has a `"usage…` key that is not `"usage": null`.
    /// OpenAI sends `"usage":null` in every chunk of a stream that asked
    /// for usage; parsing those would find nothing, so they are skipped
    /// without a parse (a match inside a string, where the quote is
    /// escaped, is never taken for a null and leads to the parse).
    fn may_carry_usage(&self, json: &[u8]) -> bool {
        // A Chat chunk's usage is its top-level key; a stream that asked
        // for usage ends every chunk but the last with `"usage":null`,
        // seen at the end without a search of the whole chunk.
        if self.protocol == Protocol::OpenAiChat && ends_with_null_usage(json) {
            return false;
        }
        // Anthropic's text deltas (most of its events) never carry usage;
        // only `message_start` and `message_delta` are read for it.
        if self.protocol == Protocol::Claude
            && json.starts_with(br#"{"type":"content_block_delta""#)
        {
            return false;
        }
        USAGE_KEY
            .find_iter(json)
            .any(|at| !is_null_usage_key(&json[at + b"\"usage".len()..]))
    }

    /// `message_start` sets the usage; each `message_delta` overrides the
    /// fields it carries (its `output_tokens` is cumulative).
    fn observe_claude(&mut self, json: &[u8]) {
        let Some(event) = parse::<ClaudeEvent<'_>>(json) else {
            return;
        };
        match event.kind.as_deref() {
            Some("message_start") => {
                if let Some(u) = event.message.and_then(|m| m.usage) {
                    self.usage = Some(u.apply_to(Usage::default()));
                }
            }
            Some("message_delta") => {
                if let Some(u) = event.usage {
                    self.usage = Some(u.apply_to(self.usage.unwrap_or_default()));
                }
            }
            _ => {}
        }
    }
}

/// Whether `rest` (the text after `"usage`) is `"`, optional whitespace,
/// `:`, optional whitespace and `null`: a `usage` key whose value is null.
fn is_null_usage_key(rest: &[u8]) -> bool {
    fn skip_ws(b: &[u8]) -> &[u8] {
        let n = b
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        &b[n..]
    }
    let Some(rest) = rest.strip_prefix(b"\"") else {
        return false;
    };
    skip_ws(rest)
        .strip_prefix(b":")
        .is_some_and(|value| skip_ws(value).starts_with(b"null"))
}

/// Whether the object `json` ends with the member `"usage": null` (a
/// top-level key: what precedes it is `,` or `{`, which a string's escaped
/// quote is not), whitespace allowed as JSON allows it.
fn ends_with_null_usage(json: &[u8]) -> bool {
    fn strip<'a>(rest: &'a [u8], suffix: &[u8]) -> Option<&'a [u8]> {
        rest.trim_ascii_end().strip_suffix(suffix)
    }
    let key = strip(json, b"}")
        .and_then(|rest| strip(rest, b"null"))
        .and_then(|rest| strip(rest, b":"))
        .and_then(|rest| strip(rest, b"\"usage\""));
    key.is_some_and(|rest| matches!(rest.trim_ascii_end().last(), Some(b',' | b'{')))
}

/// Deserialises `bytes`, `None` on any error.
fn parse<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// [`parse`] for a short value read whole, such as a `usage` object, as
/// text ([`from_bytes_as_text`](crate::json_edit::from_bytes_as_text):
/// its keys checked as UTF-8 together, not one call each, 1.6 k
/// instructions per chat answer). Not for a whole answer, most of which
/// (the content) is skipped unchecked from bytes.
fn parse_text<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Option<T> {
    crate::json_edit::from_bytes_as_text(bytes).ok()
}

/// The top-level `usage` of the object `body` as `U` (`None` when absent,
/// null, not a `U`, or the body is not JSON). The value is found by a
/// structural scan and only it is parsed: deserialising the whole answer to
/// skip its content cost 11 k instructions per chat request (issue 18).
/// The scan walks back from the end first (the usage follows the content,
/// so the content is not read: 5.4 k instructions per chat request), then
/// forward from the start; a body neither scan can read takes the full
/// parse. Before either, [`usage_counts::read_last`] looks for the member
/// near the end and reads it in place: the whole read then cost 3.5 k
/// instructions per chat answer where the scan from the end and serde cost
/// 6.6 k (issue 18).
fn top_level_usage<'de, U: Shape + Deserialize<'de>>(body: &'de [u8]) -> Option<U> {
    static KEY: LazyLock<usage_counts::KeyFinder> =
        LazyLock::new(|| usage_counts::KeyFinder::new("usage"));
    if let Some(counts) = usage_counts::read_last::<U>(body, &KEY) {
        return Some(U::from_counts(&counts));
    }
    if let Some(span) = crate::json_edit::top_level_value_from_end(body, b"usage") {
        return read_usage(&body[span]);
    }
    match crate::json_edit::top_level_value(body, b"usage") {
        Some(Some(span)) => read_usage(&body[span]),
        Some(None) => None,
        None => parse::<WithUsage<U>>(body)?.usage,
    }
}

/// A usage value (`null` or an object) as `U`: read by
/// [`usage_counts::read`] when it is in the common form, deserialised
/// otherwise (its rules decide the rest). The walk cost 2.5 k instructions
/// for a chat answer's usage where serde cost 4.3 k (issue 18).
fn read_usage<'de, U: Shape + Deserialize<'de>>(span: &'de [u8]) -> Option<U> {
    match usage_counts::read::<U>(span) {
        Some(counts) => Some(U::from_counts(&counts)),
        None => parse_text::<Option<U>>(span).flatten(),
    }
}

/// Any body or event whose usage sits under a top-level `usage` key.
///
/// (A missing `Option` field reads as `None` without `#[serde(default)]`.)
#[derive(Deserialize)]
struct WithUsage<U> {
    usage: Option<U>,
}

/// OpenAI Chat Completions `usage`.
#[derive(Deserialize)]
pub(crate) struct ChatUsage {
    #[serde(default, deserialize_with = "count")]
    prompt_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<CachedDetails>,
    completion_tokens_details: Option<ReasoningDetails>,
}

impl Shape for ChatUsage {
    fn member(parent: u8, name: &[u8]) -> Member {
        match (parent, name) {
            (0, b"prompt_tokens") => Member::Count(0),
            (0, b"completion_tokens") => Member::Count(1),
            (0, b"prompt_tokens_details") => Member::Nested(1),
            (0, b"completion_tokens_details") => Member::Nested(2),
            (1, b"cached_tokens") => Member::Count(2),
            (1, b"cache_write_tokens") => Member::Count(3),
            (2, b"reasoning_tokens") => Member::Count(4),
            _ => Member::Other,
        }
    }

    fn from_counts(c: &Counts) -> Self {
        ChatUsage {
            prompt_tokens: c.get(0),
            completion_tokens: c.get(1),
            prompt_tokens_details: c.has(1).then(|| CachedDetails {
                cached_tokens: c.get(2),
                cache_write_tokens: c.get(3),
            }),
            completion_tokens_details: c.has(2).then(|| ReasoningDetails {
                reasoning_tokens: c.get(4),
            }),
        }
    }
}

/// OpenAI `*_tokens_details` with `cached_tokens` (and, on Responses,
/// `cache_write_tokens`).
#[derive(Deserialize)]
struct CachedDetails {
    #[serde(default, deserialize_with = "count")]
    cached_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    cache_write_tokens: Option<u64>,
}

/// OpenAI `*_tokens_details` with `reasoning_tokens`.
#[derive(Deserialize)]
struct ReasoningDetails {
    #[serde(default, deserialize_with = "count")]
    reasoning_tokens: Option<u64>,
}

impl From<ChatUsage> for Usage {
    fn from(u: ChatUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens.unwrap_or(0),
            output_tokens: u.completion_tokens.unwrap_or(0),
            cache_read_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
            reasoning_tokens: u
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// OpenAI Responses `usage`.
#[derive(Deserialize)]
struct ResponsesUsage {
    #[serde(default, deserialize_with = "count")]
    input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    output_tokens: Option<u64>,
    input_tokens_details: Option<CachedDetails>,
    output_tokens_details: Option<ReasoningDetails>,
}

impl Shape for ResponsesUsage {
    fn member(parent: u8, name: &[u8]) -> Member {
        match (parent, name) {
            (0, b"input_tokens") => Member::Count(0),
            (0, b"output_tokens") => Member::Count(1),
            (0, b"input_tokens_details") => Member::Nested(1),
            (0, b"output_tokens_details") => Member::Nested(2),
            (1, b"cached_tokens") => Member::Count(2),
            (1, b"cache_write_tokens") => Member::Count(3),
            (2, b"reasoning_tokens") => Member::Count(4),
            _ => Member::Other,
        }
    }

    fn from_counts(c: &Counts) -> Self {
        ResponsesUsage {
            input_tokens: c.get(0),
            output_tokens: c.get(1),
            input_tokens_details: c.has(1).then(|| CachedDetails {
                cached_tokens: c.get(2),
                cache_write_tokens: c.get(3),
            }),
            output_tokens_details: c.has(2).then(|| ReasoningDetails {
                reasoning_tokens: c.get(4),
            }),
        }
    }
}

impl From<ResponsesUsage> for Usage {
    fn from(u: ResponsesUsage) -> Self {
        Usage {
            input_tokens: u.input_tokens.unwrap_or(0),
            output_tokens: u.output_tokens.unwrap_or(0),
            cache_read_tokens: u
                .input_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cache_write_tokens: u
                .input_tokens_details
                .and_then(|d| d.cache_write_tokens)
                .unwrap_or(0),
            cache_write_1h_tokens: 0,
            reasoning_tokens: u
                .output_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// An OpenAI Responses stream event: `{"type":..,"response":{..,"usage":..}}`.
#[derive(Deserialize)]
struct ResponsesEvent {
    response: Option<WithUsage<ResponsesUsage>>,
}

/// Anthropic `usage`; absent or null fields stay `None`.
#[derive(Deserialize)]
struct ClaudeUsage {
    #[serde(default, deserialize_with = "count")]
    input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    output_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    cache_read_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    cache_creation_input_tokens: Option<u64>,
    /// The cache writes split by lifetime.
    cache_creation: Option<ClaudeCacheCreation>,
}

/// Anthropic `usage.cache_creation`: cache writes by lifetime.
#[derive(Deserialize)]
struct ClaudeCacheCreation {
    #[serde(default, deserialize_with = "count")]
    ephemeral_1h_input_tokens: Option<u64>,
}

impl Shape for ClaudeUsage {
    fn member(parent: u8, name: &[u8]) -> Member {
        match (parent, name) {
            (0, b"input_tokens") => Member::Count(0),
            (0, b"output_tokens") => Member::Count(1),
            (0, b"cache_read_input_tokens") => Member::Count(2),
            (0, b"cache_creation_input_tokens") => Member::Count(3),
            (0, b"cache_creation") => Member::Nested(1),
            (1, b"ephemeral_1h_input_tokens") => Member::Count(4),
            _ => Member::Other,
        }
    }

    fn from_counts(c: &Counts) -> Self {
        ClaudeUsage {
            input_tokens: c.get(0),
            output_tokens: c.get(1),
            cache_read_input_tokens: c.get(2),
            cache_creation_input_tokens: c.get(3),
            cache_creation: c.has(1).then(|| ClaudeCacheCreation {
                ephemeral_1h_input_tokens: c.get(4),
            }),
        }
    }
}

impl ClaudeUsage {
    /// `base` with every field this usage carries replaced.
    fn apply_to(self, base: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.unwrap_or(base.input_tokens),
            output_tokens: self.output_tokens.unwrap_or(base.output_tokens),
            cache_read_tokens: self
                .cache_read_input_tokens
                .unwrap_or(base.cache_read_tokens),
            cache_write_tokens: self
                .cache_creation_input_tokens
                .unwrap_or(base.cache_write_tokens),
            cache_write_1h_tokens: self
                .cache_creation
                .and_then(|c| c.ephemeral_1h_input_tokens)
                .unwrap_or(base.cache_write_1h_tokens),
            reasoning_tokens: base.reasoning_tokens,
        }
    }
}

/// An Anthropic stream event, reduced to what carries usage.
#[derive(Deserialize)]
struct ClaudeEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    message: Option<WithUsage<ClaudeUsage>>,
    usage: Option<ClaudeUsage>,
}

/// A Gemini response or stream chunk, reduced to its usage.
#[derive(Deserialize)]
struct GeminiChunk {
    #[serde(rename = "usageMetadata")]
    usage_metadata: Option<GeminiUsage>,
}

/// Gemini `usageMetadata`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiUsage {
    #[serde(default, deserialize_with = "count")]
    prompt_token_count: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    candidates_token_count: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    cached_content_token_count: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    thoughts_token_count: Option<u64>,
}

impl Shape for GeminiUsage {
    fn member(parent: u8, name: &[u8]) -> Member {
        match (parent, name) {
            (0, b"promptTokenCount") => Member::Count(0),
            (0, b"candidatesTokenCount") => Member::Count(1),
            (0, b"cachedContentTokenCount") => Member::Count(2),
            (0, b"thoughtsTokenCount") => Member::Count(3),
            _ => Member::Other,
        }
    }

    fn from_counts(c: &Counts) -> Self {
        GeminiUsage {
            prompt_token_count: c.get(0),
            candidates_token_count: c.get(1),
            cached_content_token_count: c.get(2),
            thoughts_token_count: c.get(3),
        }
    }
}

impl From<GeminiUsage> for Usage {
    fn from(u: GeminiUsage) -> Self {
        Usage {
            input_tokens: u.prompt_token_count.unwrap_or(0),
            output_tokens: u.candidates_token_count.unwrap_or(0),
            cache_read_tokens: u.cached_content_token_count.unwrap_or(0),
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
            reasoning_tokens: u.thoughts_token_count.unwrap_or(0),
        }
    }
}

/// A token count: a non-negative integer, tolerating what OpenAI-compatible
/// upstreams send instead (`null`, negative or fractional numbers, numeric
/// strings). Anything unusable reads as absent rather than failing the parse.
fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct CountVisitor;
    impl<'de> Visitor<'de> for CountVisitor {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a token count")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(u64::try_from(v).unwrap_or(0)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // `as` saturates and maps NaN to 0.
            Ok(Some(v as u64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    deserializer.deserialize_any(CountVisitor)
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
