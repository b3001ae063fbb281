//! Planning: resolve the provider and model, and rewrite only the fields
//! the gateway must touch. Runs once per route target tried.

use std::sync::Arc;

use bytes::Bytes;
use gproxy_protocol::Protocol;
use gproxy_protocol::convert::StreamOptions;
use gproxy_protocol::embeddings::{self, EncodingFormat};
use gproxy_protocol::json_edit::RawObject;
use gproxy_provider::Endpoint;
use gproxy_storage::RequestLog;

use super::{Engine, GeminiMethod, Operation, ProxyRequest};
use crate::GatewayError;
use crate::conversion::{self, Conversion};
use crate::cost_estimate::max_output_in;
use crate::model_route::{self, CallKind, Resolved};
use crate::state::ProviderRuntime;
use crate::stream::{ModelRewrite, Rewrite};

/// The upstream operation, owned by the plan.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    OpenAiChat,
    OpenAiResponses,
    OpenAiEmbeddings,
    ClaudeMessages,
    GeminiGenerate { stream: bool, alt_sse: bool },
    GeminiEmbed { batch: bool },
}

/// An OpenAI embeddings request answered by a Gemini provider.
pub(super) struct EmbedConversion {
    pub(super) encoding: EncodingFormat,
    /// The model as the client wrote it, for the response.
    pub(super) client_model: String,
}

/// The upstream call the engine settled on.
pub(super) struct Plan<'a> {
    pub(super) provider: Arc<ProviderRuntime>,
    pub(super) target: Target,
    /// Gemini API version segment.
    pub(super) version: &'a str,
    /// The upstream model.
    pub(super) model: String,
    /// The body to send (cheap to clone for each attempt).
    pub(super) body: Bytes,
    pub(super) stream: bool,
    pub(super) rewrite: Rewrite,
    /// What the client sees in the model field of a non-stream body.
    pub(super) reply_model: Option<ModelRewrite>,
    pub(super) embed_conversion: Option<EmbedConversion>,
    /// Set when the client speaks another protocol than the upstream.
    pub(super) conversion: Option<Conversion>,
    /// Resolved through a model route (so another target may be tried).
    pub(super) from_route: bool,
    /// The request's own output cap (`max_tokens` and the like), read
    /// from the body parsed here, for the budget's estimate.
    pub(super) output_cap: Option<u64>,
}

impl Plan<'_> {
    pub(super) fn endpoint(&self) -> Endpoint<'_> {
        let (version, model) = (self.version, self.model.as_str());
        match self.target {
            Target::OpenAiChat => Endpoint::OpenAiChat,
            Target::OpenAiResponses => Endpoint::OpenAiResponses,
            Target::OpenAiEmbeddings => Endpoint::OpenAiEmbeddings,
            Target::ClaudeMessages => Endpoint::ClaudeMessages,
            Target::GeminiGenerate { stream, alt_sse } => Endpoint::GeminiGenerate {
                version,
                model,
                stream,
                alt_sse,
            },
            Target::GeminiEmbed { batch } => Endpoint::GeminiEmbed {
                version,
                model,
                batch,
            },
        }
    }
}

impl Engine {
    /// Plans the upstream call: resolves the provider and model (a model
    /// route skips the targets in `tried`, already failed for this
    /// request) and rewrites the body.
    pub(super) fn plan<'r>(
        &self,
        req: &'r ProxyRequest,
        log: &mut RequestLog,
        tried: &[(String, String)],
    ) -> Result<Plan<'r>, GatewayError> {
        let protocol = req.route.protocol;
        // The model as the client wrote it, and the parsed body when the
        // model lives there.
        let output_cap;
        let (client_model, mut body_obj): (String, Option<RawObject<'r>>) = match &req.route.gemini
        {
            Some(call) => {
                let obj = RawObject::parse(&req.body)
                    .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
                output_cap = max_output_in(protocol, &obj);
                (call.model.clone(), None)
            }
            None => {
                let obj = RawObject::parse(&req.body)
                    .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
                output_cap = max_output_in(protocol, &obj);
                let model = obj
                    .get_str("model")
                    .ok_or_else(|| {
                        GatewayError::BadRequest("`model` is required and must be a string".into())
                    })?
                    .into_owned();
                (model, Some(obj))
            }
        };

        let operation = req.route.operation;
        if operation == Operation::Embeddings {
            log.protocol = match protocol {
                Protocol::Gemini => "gemini_embed",
                _ => "openai_embeddings",
            }
            .to_owned();
        }
        let resolved = self.resolve_model(req, client_model, operation, tried, log)?;
        if operation == Operation::Generate {
            let upstream =
                conversion::upstream_protocol(resolved.provider.provider.as_ref(), protocol);
            if upstream != protocol {
                let wants_usage = body_obj
                    .as_ref()
                    .is_some_and(conversion::client_wants_usage);
                return self.plan_conversion(req, log, resolved, upstream, wants_usage, output_cap);
            }
        }
        let Resolved {
            provider,
            model,
            rewrite_request,
            reply_model,
            from_route,
        } = resolved;

        let convert_embeddings = operation == Operation::Embeddings
            && protocol == Protocol::OpenAiChat
            && !provider.provider.speaks(Protocol::OpenAiChat);

        let mut rewrite = Rewrite::default();
        let mut stream = false;
        let mut changed = false;
        if let Some(obj) = body_obj
            .as_mut()
            .filter(|_| operation == Operation::Generate)
        {
            stream = obj.get_bool("stream").unwrap_or(false);
            if rewrite_request {
                obj.set_str("model", &model);
                changed = true;
            }
            if protocol == Protocol::OpenAiChat && stream {
                let (options, asked) = include_usage(obj.get("stream_options").map(|r| r.get()))?;
                if !asked {
                    obj.set_raw("stream_options", options)
                        .map_err(|e| GatewayError::Internal(format!("stream_options: {e}")))?;
                    rewrite.strip_usage_chunk = true;
                    changed = true;
                }
            }
        }
        if let Some(obj) = body_obj
            .as_mut()
            .filter(|_| rewrite_request && operation == Operation::Embeddings)
        {
            obj.set_str("model", &model);
            changed = true;
        }
        let mut body = match (&body_obj, changed) {
            (Some(obj), true) => Bytes::from(obj.to_vec()),
            _ => req.body.clone(),
        };
        // Gemini responses carry no `model` field to rewrite.
        let mut reply_model = reply_model.filter(|_| protocol != Protocol::Gemini);
        let mut embed_conversion = None;
        if convert_embeddings {
            let bad = |e: embeddings::EmbeddingsError| GatewayError::BadRequest(e.to_string());
            let parsed = embeddings::parse_openai_request(&req.body).map_err(bad)?;
            let encoding = parsed.encoding().map_err(bad)?;
            body = Bytes::from(parsed.to_gemini_batch(&model).map_err(bad)?);
            embed_conversion = Some(EmbedConversion {
                encoding,
                client_model: parsed.model,
            });
            reply_model = None;
        }
        let body = provider.masked(body);
        rewrite.model = reply_model.clone();

        let mut version = "v1beta";
        let target = match (&req.route.gemini, protocol) {
            (Some(call), _) => {
                version = &call.version;
                stream = call.method == GeminiMethod::StreamGenerateContent;
                match call.method {
                    GeminiMethod::GenerateContent | GeminiMethod::StreamGenerateContent => {
                        Target::GeminiGenerate {
                            stream,
                            alt_sse: call.alt_sse,
                        }
                    }
                    GeminiMethod::EmbedContent => Target::GeminiEmbed { batch: false },
                    GeminiMethod::BatchEmbedContents => Target::GeminiEmbed { batch: true },
                    GeminiMethod::CountTokens => {
                        return Err(GatewayError::Internal(
                            "countTokens reached the generate pipeline".into(),
                        ));
                    }
                }
            }
            (None, Protocol::OpenAiChat) if convert_embeddings => {
                Target::GeminiEmbed { batch: true }
            }
            (None, Protocol::OpenAiChat) if operation == Operation::Embeddings => {
                Target::OpenAiEmbeddings
            }
            (None, Protocol::OpenAiChat) => Target::OpenAiChat,
            (None, Protocol::OpenAiResponses) => Target::OpenAiResponses,
            (None, Protocol::Claude) => Target::ClaudeMessages,
            (None, Protocol::Gemini) => {
                return Err(GatewayError::Internal("gemini route without a call".into()));
            }
        };
        log.stream = stream;
        Ok(Plan {
            provider,
            target,
            version,
            model,
            body,
            stream,
            rewrite,
            reply_model,
            embed_conversion,
            conversion: None,
            from_route,
            output_cap,
        })
    }

    /// Resolves `client_model` for `operation` to a provider and upstream
    /// model (a model route skips the targets in `tried`), records them on
    /// the log row (what the client asked for when unresolved), and
    /// refuses a model outside the provider's allow-list.
    pub(crate) fn resolve_model(
        &self,
        req: &ProxyRequest,
        client_model: String,
        operation: Operation,
        tried: &[(String, String)],
        log: &mut RequestLog,
    ) -> Result<Resolved, GatewayError> {
        let snapshot = self.state.load();
        // The name the client asked for, kept only when a model allow-list
        // must see it.
        let asked = req
            .principal
            .access
            .as_ref()
            .filter(|a| a.models.is_some())
            .map(|_| client_model.clone());
        let resolved = model_route::resolve(
            &snapshot.providers,
            &snapshot.routes,
            req.route.provider.as_deref(),
            &client_model,
            CallKind {
                protocol: req.route.protocol,
                operation,
            },
            tried,
        );
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(e) => {
                log.model = Some(client_model);
                log.provider = req.route.provider.clone();
                return Err(e);
            }
        };
        log.provider = Some(resolved.provider.name.clone());
        log.model = Some(resolved.model.clone());
        if let Some(access) = &req.principal.access {
            check_access(access, &resolved, asked.as_deref().unwrap_or_default())?;
        }
        if !resolved.provider.provider.allows_model(&resolved.model) {
            return Err(GatewayError::NotFound(format!(
                "model `{}` is not offered by provider `{}`",
                resolved.model, resolved.provider.name
            )));
        }
        Ok(resolved)
    }

    /// The plan of a generate call whose client speaks another protocol
    /// than `provider`: the body goes through the canonical model.
    /// `wants_usage`: an OpenAI Chat client asked for the usage chunk;
    /// `output_cap`: its own output cap.
    fn plan_conversion<'r>(
        &self,
        req: &'r ProxyRequest,
        log: &mut RequestLog,
        resolved: Resolved,
        upstream: Protocol,
        wants_usage: bool,
        output_cap: Option<u64>,
    ) -> Result<Plan<'r>, GatewayError> {
        let Resolved {
            provider,
            model,
            reply_model,
            from_route,
            ..
        } = resolved;
        let client = req.route.protocol;
        let gemini = req.route.gemini.as_ref();
        // The model the client sees: what it asked for.
        let shown = reply_model.as_ref().map(|m| m.shown(&model));
        let include_usage = client == Protocol::OpenAiChat && wants_usage;
        let mut conv = Conversion {
            client,
            upstream,
            options: StreamOptions {
                include_usage,
                gemini_sse: gemini.is_some_and(|c| c.alt_sse),
            },
            reply_model: shown,
            tool_aliases: Default::default(),
            dropped: Vec::new(),
        };
        let converted = conv.request(
            &req.body,
            &model,
            gemini.map(|c| c.method == GeminiMethod::StreamGenerateContent),
            &self.capabilities,
        )?;
        let stream = converted.stream;
        let body = provider.masked(converted.body);
        let target = match upstream {
            Protocol::OpenAiChat => Target::OpenAiChat,
            Protocol::OpenAiResponses => Target::OpenAiResponses,
            Protocol::Claude => Target::ClaudeMessages,
            // Converted Gemini streams are always asked for as SSE.
            Protocol::Gemini => Target::GeminiGenerate {
                stream,
                alt_sse: true,
            },
        };
        log.stream = stream;
        Ok(Plan {
            provider,
            target,
            version: gemini.map_or("v1beta", |c| c.version.as_str()),
            model,
            body,
            stream,
            rewrite: Rewrite::default(),
            reply_model: None,
            embed_conversion: None,
            conversion: Some(conv),
            from_route,
            output_cap,
        })
    }
}

/// `stream_options` with `include_usage: true`, and whether the client had
/// already asked for it.
fn include_usage(current: Option<&str>) -> Result<(String, bool), GatewayError> {
    let current = current.map(str::trim).filter(|c| *c != "null");
    let Some(raw) = current else {
        return Ok(("{\"include_usage\":true}".to_owned(), false));
    };
    let mut obj = RawObject::parse(raw.as_bytes())
        .map_err(|_| GatewayError::BadRequest("`stream_options` must be an object".into()))?;
    if obj.get_bool("include_usage") == Some(true) {
        return Ok((String::new(), true));
    }
    obj.set_bool("include_usage", true);
    Ok((String::from_utf8_lossy(&obj.to_vec()).into_owned(), false))
}

/// Refuses (403) a provider or model outside the key's allow-lists.
fn check_access(
    access: &crate::access::KeyAccess,
    resolved: &Resolved,
    asked: &str,
) -> Result<(), GatewayError> {
    let provider = resolved.provider.name.as_str();
    if !access.allows_provider(provider) {
        return Err(GatewayError::Forbidden(format!(
            "this API key may not use provider `{provider}`"
        )));
    }
    if !access.allows_model(provider, &resolved.model, asked) {
        return Err(GatewayError::Forbidden(format!(
            "this API key may not use model `{asked}`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_usage_is_added_or_kept() {
        assert_eq!(
            include_usage(None).unwrap(),
            ("{\"include_usage\":true}".into(), false)
        );
        assert!(!include_usage(Some("null")).unwrap().1);
        assert!(include_usage(Some("{\"include_usage\":true}")).unwrap().1);
        let (merged, asked) = include_usage(Some("{\"include_usage\":false,\"x\":1}")).unwrap();
        assert!(!asked);
        let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v, serde_json::json!({"include_usage": true, "x": 1}));
        assert!(include_usage(Some("[1]")).is_err());
    }
}
