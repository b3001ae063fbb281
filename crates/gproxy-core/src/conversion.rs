//! Cross-protocol calls: the client speaks one protocol, the provider
//! another. The request goes through the canonical model
//! (`gproxy_protocol::convert`) into the provider's native protocol, and
//! the answer (whole, streamed, or an error) comes back in the client's.
//!
//! Same-protocol calls never come here: they are forwarded as bytes.

use bytes::Bytes;
use gproxy_protocol::capabilities::{self, CapabilityTable, TokenField};
use gproxy_protocol::convert::{
    self, Assembler, ConvertError, StreamEvent, StreamOptions, ToolAliases, Transcoder,
};
use gproxy_protocol::json_edit::RawObject;
use gproxy_protocol::sse::SseDecoder;
use gproxy_protocol::usage::{self, StreamUsageTracker};
use gproxy_protocol::{Protocol, Usage};
use gproxy_provider::Provider;

use crate::GatewayError;
use crate::engine::ProxyRoute;
use crate::stream::Rewrite;

/// The longest `user` OpenAI accepts.
const OPENAI_MAX_USER: usize = 64;

/// The protocol a generate call is sent upstream in: the client's when the
/// provider speaks it, else the provider's preferred one.
pub(crate) fn upstream_protocol(provider: &dyn Provider, client: Protocol) -> Protocol {
    if provider.speaks(client) {
        return client;
    }
    provider.protocols().first().copied().unwrap_or(client)
}

/// A converted call.
#[derive(Debug)]
pub(crate) struct Conversion {
    /// The protocol the client speaks (and is answered in).
    pub client: Protocol,
    /// The protocol sent upstream.
    pub upstream: Protocol,
    /// How the client's stream is written.
    pub options: StreamOptions,
    /// The model name the client sees (`None`: the upstream's).
    pub reply_model: Option<String>,
    /// The client's namespaced tools under their flat upstream names
    /// (filled by [`Conversion::request`]).
    pub tool_aliases: ToolAliases,
    /// What the conversion left out of the request (hosted tools, refused
    /// parameters), for the `x-gproxy-dropped` response header (filled by
    /// [`Conversion::request`]).
    pub dropped: Vec<String>,
}

/// A converted upstream request.
#[derive(Debug)]
pub(crate) struct ConvertedRequest {
    /// The body in the upstream protocol.
    pub body: Bytes,
    /// Whether the client (and so the upstream call) streams.
    pub stream: bool,
}

/// The request field that holds a protocol's conversation.
fn conversation_field(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::OpenAiChat | Protocol::Claude => "messages",
        Protocol::OpenAiResponses => "input",
        Protocol::Gemini => "contents",
    }
}

/// Whether a converted request carries no conversation (an empty or
/// missing `messages` / `contents` / `input`): upstreams refuse it, so the
/// gateway does before the call. Checked on the encoded body, besides the
/// canonical request's turns, so that whatever a converter left out (empty
/// parts, dropped turns) counts.
fn conversation_is_empty(upstream: Protocol, encoded: &[u8]) -> bool {
    let Ok(obj) = RawObject::parse(encoded) else {
        return false;
    };
    let Some(value) = obj.get(conversation_field(upstream)) else {
        return true;
    };
    let text = value.get().trim();
    let inner = |open: char, close: char| {
        text.strip_prefix(open)
            .and_then(|t| t.strip_suffix(close))
            .map(str::trim)
    };
    matches!(inner('[', ']'), Some("")) || text == "\"\"" || text == "null"
}

/// A client request the gateway refuses: invalid for its protocol or not
/// expressible in the provider's.
fn client_error(e: ConvertError, upstream: Protocol) -> GatewayError {
    match e {
        ConvertError::Invalid(m) => GatewayError::BadRequest(format!("invalid request: {m}")),
        ConvertError::Unsupported(m) => GatewayError::BadRequest(format!(
            "cannot convert this request for a provider speaking {upstream}: {m}"
        )),
    }
}

impl Conversion {
    /// Converts the client's `body` for the upstream, with `model` as the
    /// upstream model. `gemini_stream` is the stream flag a Gemini client
    /// gives in its URL (`streamGenerateContent`).
    pub(crate) fn request(
        &mut self,
        body: &[u8],
        model: &str,
        gemini_stream: Option<bool>,
        capabilities: &CapabilityTable,
    ) -> Result<ConvertedRequest, GatewayError> {
        let mut canonical = convert::decode_request(self.client, body)
            .map_err(|e| client_error(e, self.upstream))?;
        canonical.model = model.to_owned();
        if let Some(stream) = gemini_stream {
            canonical.stream = stream;
        }
        let stream = canonical.stream;
        self.tool_aliases = std::mem::take(&mut canonical.tool_aliases);
        self.dropped = std::mem::take(&mut canonical.dropped);
        // OpenAI refuses a `user` over 64 characters (Claude Code's
        // `metadata.user_id` is a JSON object of ~150).
        if matches!(
            self.upstream,
            Protocol::OpenAiChat | Protocol::OpenAiResponses
        ) && canonical
            .user
            .as_ref()
            .is_some_and(|u| u.chars().count() > OPENAI_MAX_USER)
        {
            canonical.user = None;
            self.dropped.push("user".to_owned());
        }
        let caps = capabilities.lookup(model);
        if let Some(caps) = caps {
            self.dropped
                .extend(capabilities::adapt(&mut canonical, caps));
        }
        let empty = || {
            GatewayError::BadRequest(format!(
                "`{}` holds no conversation turn: there is nothing to send",
                conversation_field(self.client)
            ))
        };
        if canonical.messages.is_empty() {
            return Err(empty());
        }
        let mut encoded = match convert::encode_request(self.upstream, &canonical) {
            Ok(encoded) if conversation_is_empty(self.upstream, &encoded) => return Err(empty()),
            Ok(encoded) => encoded,
            Err(e) => return Err(client_error(e, self.upstream)),
        };
        // The target wants its output limit under another name.
        if self.upstream == Protocol::OpenAiChat
            && caps.is_some_and(|c| c.token_field == TokenField::MaxCompletionTokens)
        {
            let mut obj = RawObject::parse(&encoded)
                .map_err(|e| GatewayError::Internal(format!("converted request: {e}")))?;
            if let Some(raw) = obj.get("max_tokens").map(|r| r.get().to_owned()) {
                obj.remove("max_tokens");
                obj.set_raw("max_completion_tokens", raw)
                    .map_err(|e| GatewayError::Internal(format!("max_completion_tokens: {e}")))?;
                encoded = obj.to_vec();
            }
        }
        // Usage must come back whatever the client asked: the gateway
        // accounts for it and converts it into the client's convention.
        if self.upstream == Protocol::OpenAiChat && stream {
            let mut obj = RawObject::parse(&encoded)
                .map_err(|e| GatewayError::Internal(format!("converted request: {e}")))?;
            obj.set_raw("stream_options", "{\"include_usage\":true}".to_owned())
                .map_err(|e| GatewayError::Internal(format!("stream_options: {e}")))?;
            encoded = obj.to_vec();
        }
        Ok(ConvertedRequest {
            body: Bytes::from(encoded),
            stream,
        })
    }

    /// Converts a complete upstream answer into the client's protocol.
    pub(crate) fn response(&self, body: &[u8], provider: &str) -> Result<Bytes, GatewayError> {
        let resp = self.decode_response(body, provider)?;
        self.encode_response(resp, provider)
    }

    /// A complete upstream answer in the canonical model.
    fn decode_response(
        &self,
        body: &[u8],
        provider: &str,
    ) -> Result<convert::Response, GatewayError> {
        convert::decode_response(self.upstream, body).map_err(|e| GatewayError::UpstreamInvalid {
            provider: provider.to_owned(),
            message: format!("cannot read the {} answer: {e}", self.upstream),
        })
    }

    /// `resp` as the client's whole answer, with the model it should see.
    fn encode_response(
        &self,
        mut resp: convert::Response,
        provider: &str,
    ) -> Result<Bytes, GatewayError> {
        if let Some(model) = &self.reply_model {
            resp.model.clone_from(model);
        }
        convert::encode_response_with(self.client, &resp, &self.tool_aliases)
            .map(Bytes::from)
            .map_err(|e| GatewayError::UpstreamInvalid {
                provider: provider.to_owned(),
                message: format!("cannot answer in {}: {e}", self.client),
            })
    }

    /// A stream transcoder from the upstream's protocol to the client's.
    pub(crate) fn transcoder(&self) -> Transcoder {
        Transcoder::new(
            self.upstream,
            self.client,
            self.options,
            self.reply_model.clone(),
        )
        .with_tool_aliases(self.tool_aliases.clone())
    }

    /// The `x-gproxy-dropped` header value: what the conversion left out,
    /// comma-separated (`None` when nothing was).
    pub(crate) fn dropped_header(&self) -> Option<String> {
        (!self.dropped.is_empty()).then(|| self.dropped.join(", "))
    }

    /// A same-protocol call seen as a conversion, for reframing an answer
    /// that came in the other mode than asked (see [`Conversion::reframe`]).
    pub(crate) fn same_protocol(
        protocol: Protocol,
        route: &ProxyRoute,
        rewrite: &Rewrite,
        model: &str,
    ) -> Self {
        Conversion {
            client: protocol,
            upstream: protocol,
            options: StreamOptions {
                // The gateway asked for usage; the client did unless the
                // gateway strips the usage chunk for it.
                include_usage: !rewrite.strip_usage_chunk,
                gemini_sse: route.gemini.as_ref().is_some_and(|c| c.alt_sse),
            },
            reply_model: rewrite.model.as_ref().map(|m| m.shown(model)),
            tool_aliases: ToolAliases::default(),
            dropped: Vec::new(),
        }
    }

    /// Reframes a whole upstream answer: a stream (`streamed`) assembled
    /// into one response for a client that did not stream, or a complete
    /// response replayed as a stream for one that did. Returns the
    /// client's body and the usage as the upstream reported it.
    pub(crate) fn reframe(
        &self,
        body: &[u8],
        streamed: bool,
        provider: &str,
    ) -> Result<(Bytes, Option<Usage>), GatewayError> {
        let invalid = |message: String| GatewayError::UpstreamInvalid {
            provider: provider.to_owned(),
            message,
        };
        if !streamed {
            let reported = usage::from_response_body(self.upstream, body);
            let resp = self.decode_response(body, provider)?;
            let mut encoder = convert::stream_encoder(self.client, self.options);
            encoder.set_tool_aliases(self.tool_aliases.clone());
            let mut out = Vec::with_capacity(body.len() * 2);
            for mut event in convert::response_events(&resp) {
                if let (StreamEvent::Start { model, .. }, Some(shown)) =
                    (&mut event, &self.reply_model)
                {
                    model.clone_from(shown);
                }
                encoder.encode(&event, &mut out);
            }
            encoder.finish(&mut out);
            return Ok((Bytes::from(out), reported));
        }
        let mut sse = SseDecoder::new();
        let mut events = Vec::new();
        sse.feed(body, &mut events)
            .map_err(|e| invalid(format!("cannot read the {} stream: {e}", self.upstream)))?;
        events.extend(sse.finish());
        let mut tracker = StreamUsageTracker::new(self.upstream);
        let mut decoder = convert::stream_decoder(self.upstream);
        let mut canonical = Vec::new();
        for event in &events {
            tracker.observe_event(event);
            decoder
                .feed(&event.data, &mut canonical)
                .map_err(|e| invalid(format!("cannot read the {} stream: {e}", self.upstream)))?;
        }
        decoder.finish(&mut canonical);
        let mut assembler = Assembler::new();
        for event in canonical {
            assembler.push(event);
        }
        let resp = assembler
            .finish()
            .map_err(|m| invalid(format!("the upstream stream failed: {m}")))?;
        Ok((self.encode_response(resp, provider)?, tracker.usage()))
    }

    /// The content type of the client's stream.
    pub(crate) fn stream_content_type(&self) -> &'static str {
        if self.client == Protocol::Gemini && !self.options.gemini_sse {
            "application/json"
        } else {
            "text/event-stream"
        }
    }
}

/// Whether an OpenAI Chat client asked for the usage chunk.
pub(crate) fn client_wants_usage(obj: &RawObject<'_>) -> bool {
    obj.get("stream_options")
        .and_then(|raw| RawObject::parse(raw.get().as_bytes()).ok())
        .and_then(|o| o.get_bool("include_usage"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_conversations_are_recognised_in_every_protocol() {
        for (protocol, body, empty) in [
            (
                Protocol::OpenAiChat,
                r#"{"model":"m","messages":[ ]}"#,
                true,
            ),
            (Protocol::OpenAiChat, r#"{"model":"m"}"#, true),
            (
                Protocol::OpenAiChat,
                r#"{"messages":[{"role":"user","content":"hi"}]}"#,
                false,
            ),
            (Protocol::OpenAiResponses, r#"{"input":""}"#, true),
            (Protocol::OpenAiResponses, r#"{"input":[]}"#, true),
            (Protocol::OpenAiResponses, r#"{"input":null}"#, true),
            (Protocol::OpenAiResponses, r#"{"input":"hi"}"#, false),
            (Protocol::Claude, r#"{"messages":[]}"#, true),
            (
                Protocol::Claude,
                r#"{"messages":[{"role":"user","content":"x"}]}"#,
                false,
            ),
            (Protocol::Gemini, r#"{"contents":[]}"#, true),
            (
                Protocol::Gemini,
                r#"{"contents":[{"parts":[{"text":"x"}]}]}"#,
                false,
            ),
        ] {
            assert_eq!(
                conversation_is_empty(protocol, body.as_bytes()),
                empty,
                "{protocol}: {body}"
            );
        }
    }

    #[test]
    fn the_refusal_names_the_clients_field() {
        let table = CapabilityTable::default();
        for (client, body, field) in [
            (Protocol::Gemini, r#"{"contents":[]}"#, "contents"),
            (
                Protocol::OpenAiChat,
                r#"{"model":"m","messages":[]}"#,
                "messages",
            ),
            (
                Protocol::OpenAiResponses,
                r#"{"model":"m","input":[]}"#,
                "input",
            ),
            (
                Protocol::Claude,
                r#"{"model":"m","max_tokens":5,"messages":[]}"#,
                "messages",
            ),
            (
                Protocol::Claude,
                r#"{"model":"m","max_tokens":5,"system":"be brief","messages":[]}"#,
                "messages",
            ),
        ] {
            for upstream in Protocol::ALL.into_iter().filter(|p| *p != client) {
                let mut conversion = Conversion {
                    client,
                    upstream,
                    options: StreamOptions::default(),
                    reply_model: None,
                    tool_aliases: ToolAliases::default(),
                    dropped: Vec::new(),
                };
                let err = conversion
                    .request(body.as_bytes(), "m", None, &table)
                    .unwrap_err();
                assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
                assert!(
                    err.to_string().contains(&format!("`{field}`")),
                    "{client} -> {upstream}: {err}"
                );
            }
        }
    }
}
