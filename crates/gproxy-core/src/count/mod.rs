//! Token counting: Anthropic `POST /v1/messages/count_tokens`, Gemini
//! `models/{model}:countTokens` and OpenAI `POST /v1/responses/input_tokens`.
//!
//! The provider's own counting endpoint answers when it has one
//! ([`Provider::count_tokens_api`]):
//! - in the client's protocol, the body goes as is (only the model is
//!   rewritten, as on generate calls) and the answer comes back as is;
//! - in another protocol, the client's request is decoded to the canonical
//!   [`Request`](gproxy_protocol::convert::Request), encoded for the
//!   provider's endpoint, and the number it answers is put in the client's
//!   shape.
//!
//! Without one, or when it answers 404, 405 or 501, the count is local
//! ([`local`]): an `o200k_base` estimate. The `x-gproxy-count` response
//! header says which (`upstream` or `local`).
//!
//! [`Provider::count_tokens_api`]: gproxy_provider::Provider::count_tokens_api

mod bpe;
pub mod local;

use bytes::Bytes;
use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{self, ConvertError, Request as Canonical};
use gproxy_protocol::json_edit::RawObject;
use gproxy_provider::{CountTokensApi, Endpoint};
use gproxy_storage::RequestLog;
use http::header::{CONTENT_TYPE, HeaderName};
use http::response::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::accounting::{Accounting, AttemptEnd, AttemptStart, Outcome};
use crate::body::ProxyBody;
use crate::engine::{Operation, ProxyRequest, served_by, upstream_failure};
use crate::headers::copy_response_headers;
use crate::model_route::Resolved;
use crate::state::ProviderRuntime;
use crate::{Engine, GatewayError};

/// Response header saying where a count came from: `upstream` or `local`.
pub const COUNT_HEADER: &str = "x-gproxy-count";

/// The request-log protocol of a count call by a `protocol` client.
pub fn log_protocol(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Claude => "claude_count_tokens",
        Protocol::Gemini => "gemini_count_tokens",
        Protocol::OpenAiResponses | Protocol::OpenAiChat => "openai_input_tokens",
    }
}

/// Upstream statuses that mean "no counting endpoint here": the count is
/// made locally instead.
fn means_no_endpoint(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
    )
}

/// A count call resolved to its provider.
struct CountCall<'r> {
    req: &'r ProxyRequest,
    protocol: Protocol,
    provider: std::sync::Arc<ProviderRuntime>,
    /// The upstream model.
    model: String,
    /// The body's model must be rewritten (aggregate routes).
    rewrite_model: bool,
    /// Gemini API version for Gemini endpoints.
    version: &'r str,
}

impl Engine {
    /// Counts the input tokens of a count-tokens request. Errors are
    /// returned for the router to render; either way the request's log row
    /// is recorded (no usage tokens: nothing was generated).
    pub async fn count_tokens(
        &self,
        mut req: ProxyRequest,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let logging = self.logging.load();
        let mut accounting = Accounting::start(
            self,
            &logging,
            &req.principal,
            &req.headers,
            std::mem::take(&mut req.request_id),
            log_protocol(req.route.protocol),
            &req.method,
            std::mem::take(&mut req.path),
            req.started,
        );
        accounting.capture_request(&logging, &req.headers, Some(&req.body));
        drop(logging);
        let result = self.count(&req, &mut accounting).await;
        match &result {
            Ok(response) => {
                if let Some(body) = response.body().as_full() {
                    accounting.capture_response(body);
                }
            }
            Err(GatewayError::Upstream(failure)) => accounting.capture_response(&failure.body),
            Err(_) => {}
        }
        let (status, error) = match &result {
            Ok(response) => (response.status().as_u16(), None),
            Err(e) => (e.status().as_u16(), Some(e.log_message())),
        };
        accounting.finish(Outcome {
            status,
            usage: None,
            error,
            client_disconnected: false,
        });
        result
    }

    async fn count(
        &self,
        req: &ProxyRequest,
        accounting: &mut Accounting,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let call = self.resolve_count(req, accounting.log_mut())?;
        let api = call.provider.provider.count_tokens_api();
        let name = call.provider.name.as_str();
        match api {
            Some(api) if api.protocol() == call.protocol => {
                let body = native_body(&call.req.body, api, &call.model, call.rewrite_model)?;
                let endpoint = api.endpoint(call.version, &call.model);
                let (parts, answer) = self
                    .call_count_endpoint(&call, &endpoint, body, accounting)
                    .await?;
                if parts.status.is_success() {
                    return Ok(upstream_answer(parts, answer, name, &call.model));
                }
                if !means_no_endpoint(parts.status) {
                    return Err(upstream_error(parts, answer, name, &call.model, None));
                }
                let canonical = decode_count_request(call.protocol, &call.req.body, &call.model)?;
                self.local_answer(&call, canonical).await
            }
            Some(api) => {
                let canonical = decode_count_request(call.protocol, &call.req.body, &call.model)?;
                let body = encode_count_request(api, &canonical, &call.model)?;
                let endpoint = api.endpoint(call.version, &call.model);
                let (parts, answer) = self
                    .call_count_endpoint(&call, &endpoint, Bytes::from(body), accounting)
                    .await?;
                if parts.status.is_success() {
                    let n = read_count(api.protocol(), &answer).ok_or_else(|| {
                        GatewayError::UpstreamInvalid {
                            provider: name.to_owned(),
                            message: "the token count answer has no count".into(),
                        }
                    })?;
                    return Ok(count_response(
                        call.protocol,
                        n,
                        "upstream",
                        name,
                        &call.model,
                    ));
                }
                if !means_no_endpoint(parts.status) {
                    return Err(upstream_error(
                        parts,
                        answer,
                        name,
                        &call.model,
                        Some(call.protocol),
                    ));
                }
                self.local_answer(&call, canonical).await
            }
            None => {
                let canonical = decode_count_request(call.protocol, &call.req.body, &call.model)?;
                self.local_answer(&call, canonical).await
            }
        }
    }

    /// Finds the provider and upstream model, as generate calls do.
    fn resolve_count<'r>(
        &self,
        req: &'r ProxyRequest,
        log: &mut RequestLog,
    ) -> Result<CountCall<'r>, GatewayError> {
        let protocol = req.route.protocol;
        let obj = RawObject::parse(&req.body)
            .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
        let (client_model, version) = match &req.route.gemini {
            Some(call) => (call.model.clone(), call.version.as_str()),
            None => {
                let model = obj
                    .get_str("model")
                    .ok_or_else(|| {
                        GatewayError::BadRequest("`model` is required and must be a string".into())
                    })?
                    .into_owned();
                (model, "v1beta")
            }
        };
        let Resolved {
            provider,
            model,
            rewrite_request,
            ..
        } = self.resolve_model(req, client_model, Operation::CountTokens, &[], log)?;
        Ok(CountCall {
            req,
            protocol,
            provider,
            model,
            rewrite_model: rewrite_request,
            version,
        })
    }

    /// Calls the provider's counting endpoint; returns the answer whatever
    /// its status.
    async fn call_count_endpoint(
        &self,
        call: &CountCall<'_>,
        endpoint: &Endpoint<'_>,
        body: Bytes,
        accounting: &mut Accounting,
    ) -> Result<(Parts, Bytes), GatewayError> {
        let provider = &call.provider;
        let name = provider.name.as_str();
        let picked = provider.pool.pick();
        if picked.is_none() && provider.provider.requires_credential() {
            return Err(GatewayError::NoCredential {
                provider: name.to_owned(),
            });
        }
        accounting.log_mut().credential_id = picked.as_ref().map(|c| c.id);
        let body = provider.masked(body);
        let (mut upstream_req, _) = self
            .upstream_request(call.req, provider, endpoint, picked.as_deref(), body)
            .await?;
        accounting.trace_upstream(upstream_req.headers_mut());
        let start = AttemptStart::now();
        let credential_id = picked.as_ref().map(|c| c.id);
        let response = match self.send_upstream(upstream_req, name).await {
            Ok(response) => response,
            Err(e) => {
                accounting.attempt(start, name, credential_id, AttemptEnd::failed(&e));
                return Err(e);
            }
        };
        let (parts, incoming) = response.into_parts();
        accounting.first_byte();
        let body = self.read_body(incoming, name).await;
        let end = match &body {
            Ok(_) => AttemptEnd::answered(parts.status.as_u16()),
            Err(e) => AttemptEnd::failed(e),
        };
        accounting.attempt(start, name, credential_id, end);
        Ok((parts, body?))
    }

    /// Counts locally, on a blocking thread (the first count builds the
    /// encoder; a long prompt takes milliseconds).
    async fn local_answer(
        &self,
        call: &CountCall<'_>,
        canonical: Canonical,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let n = tokio::task::spawn_blocking(move || local::count_request(&canonical))
            .await
            .map_err(|e| GatewayError::Internal(format!("local token count: {e}")))?;
        Ok(count_response(
            call.protocol,
            n,
            "local",
            &call.provider.name,
            &call.model,
        ))
    }
}

/// The client's body for the provider's endpoint in the same protocol:
/// the model rewritten on aggregate routes; for Gemini, the body put in
/// the form the endpoint takes.
fn native_body(
    body: &Bytes,
    api: CountTokensApi,
    model: &str,
    rewrite_model: bool,
) -> Result<Bytes, GatewayError> {
    match api {
        CountTokensApi::Claude | CountTokensApi::OpenAiResponses => {
            if !rewrite_model {
                return Ok(body.clone());
            }
            let mut obj = RawObject::parse(body)
                .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
            obj.set_str("model", model);
            Ok(Bytes::from(obj.to_vec()))
        }
        CountTokensApi::Gemini | CountTokensApi::Vertex => {
            let mut obj = json_object(body)?;
            let Some(inner) = obj.remove("generateContentRequest") else {
                // `{"contents": [...]}`: both forms take it as is.
                return Ok(body.clone());
            };
            let Value::Object(mut inner) = inner else {
                return Err(GatewayError::BadRequest(
                    "`generateContentRequest` must be an object".into(),
                ));
            };
            let out = if api == CountTokensApi::Vertex {
                // Vertex takes the request's fields at the top level.
                inner.remove("model");
                inner
            } else {
                inner.insert("model".into(), json!(format!("models/{model}")));
                obj.insert("generateContentRequest".into(), Value::Object(inner));
                obj
            };
            Ok(Bytes::from(Value::Object(out).to_string()))
        }
    }
}

/// The body parsed as a JSON object.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(GatewayError::BadRequest(
            "invalid request body: expected a JSON object".into(),
        )),
        Err(e) => Err(GatewayError::BadRequest(format!(
            "invalid request body: {e}"
        ))),
    }
}

fn convert_error(e: ConvertError) -> GatewayError {
    match e {
        ConvertError::Invalid(m) => GatewayError::BadRequest(m),
        ConvertError::Unsupported(m) => {
            GatewayError::BadRequest(format!("cannot count this request: {m}"))
        }
    }
}

/// The client's count request as a canonical request, with the upstream
/// model. A count body is a generation request minus what only generation
/// needs:
/// - Anthropic: a Messages body without `max_tokens` (one is supplied);
/// - OpenAI: a Responses body;
/// - Gemini: `{"contents": [...]}` or `{"generateContentRequest": {...}}`.
fn decode_count_request(
    protocol: Protocol,
    body: &[u8],
    model: &str,
) -> Result<Canonical, GatewayError> {
    let mut canonical = match protocol {
        Protocol::Claude => {
            let mut obj = json_object(body)?;
            obj.entry("max_tokens").or_insert(json!(1));
            let bytes = Value::Object(obj).to_string();
            convert::decode_request(Protocol::Claude, bytes.as_bytes())
        }
        Protocol::Gemini => {
            let mut obj = json_object(body)?;
            let generate = match obj.remove("generateContentRequest") {
                Some(Value::Object(mut inner)) => {
                    inner.remove("model");
                    inner
                }
                Some(_) => {
                    return Err(GatewayError::BadRequest(
                        "`generateContentRequest` must be an object".into(),
                    ));
                }
                None => obj,
            };
            let bytes = Value::Object(generate).to_string();
            convert::decode_request(Protocol::Gemini, bytes.as_bytes())
        }
        protocol @ (Protocol::OpenAiResponses | Protocol::OpenAiChat) => {
            convert::decode_request(protocol, body)
        }
    }
    .map_err(convert_error)?;
    model.clone_into(&mut canonical.model);
    Ok(canonical)
}

/// Keeps only `keys` of `obj`.
fn keep(obj: &mut Map<String, Value>, keys: &[&str]) {
    obj.retain(|k, _| keys.contains(&k.as_str()));
}

/// `canonical` as a body for the counting endpoint `api`, for `model`.
fn encode_count_request(
    api: CountTokensApi,
    canonical: &Canonical,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    let mut req = canonical.clone();
    req.model = model.to_owned();
    req.stream = false;
    // Some encoders need a token limit; counting endpoints ignore or refuse
    // it, and it is removed below.
    req.max_tokens.get_or_insert(1);
    let encoded = convert::encode_request(api.protocol(), &req).map_err(convert_error)?;
    let mut obj = json_object(&encoded)
        .map_err(|_| GatewayError::Internal("a converter wrote a non-object request".into()))?;
    let out = match api {
        CountTokensApi::Claude => {
            keep(
                &mut obj,
                &[
                    "model",
                    "messages",
                    "system",
                    "tools",
                    "tool_choice",
                    "thinking",
                ],
            );
            obj.insert("model".into(), json!(model));
            Value::Object(obj)
        }
        CountTokensApi::Gemini => {
            keep(
                &mut obj,
                &["contents", "systemInstruction", "tools", "toolConfig"],
            );
            obj.insert("model".into(), json!(format!("models/{model}")));
            json!({ "generateContentRequest": obj })
        }
        CountTokensApi::Vertex => {
            keep(&mut obj, &["contents", "systemInstruction", "tools"]);
            Value::Object(obj)
        }
        CountTokensApi::OpenAiResponses => {
            keep(
                &mut obj,
                &[
                    "model",
                    "input",
                    "instructions",
                    "tools",
                    "tool_choice",
                    "parallel_tool_calls",
                    "reasoning",
                    "text",
                ],
            );
            obj.insert("model".into(), json!(model));
            Value::Object(obj)
        }
    };
    Ok(out.to_string().into_bytes())
}

/// The count in an upstream counting answer of `protocol`.
fn read_count(protocol: Protocol, body: &[u8]) -> Option<u64> {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    match protocol {
        Protocol::Claude | Protocol::OpenAiResponses | Protocol::OpenAiChat => {
            obj.get("input_tokens")?.as_u64()
        }
        // Proto3 JSON leaves a zero count out.
        Protocol::Gemini => match obj.get("totalTokens") {
            None => Some(0),
            Some(v) => v.as_u64(),
        },
    }
}

/// A count answer in the client's shape.
pub fn count_body(protocol: Protocol, n: u64) -> Value {
    match protocol {
        Protocol::Claude => json!({ "input_tokens": n }),
        Protocol::Gemini => json!({ "totalTokens": n }),
        Protocol::OpenAiResponses | Protocol::OpenAiChat => {
            json!({ "object": "response.input_tokens", "input_tokens": n })
        }
    }
}

fn count_response(
    protocol: Protocol,
    n: u64,
    source: &'static str,
    provider: &str,
    model: &str,
) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(count_body(protocol, n).to_string()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        HeaderName::from_static(COUNT_HEADER),
        HeaderValue::from_static(source),
    );
    served_by(headers, provider, model);
    response
}

/// The upstream's answer in the client's own protocol, as is.
fn upstream_answer(parts: Parts, body: Bytes, provider: &str, model: &str) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(body));
    *response.status_mut() = parts.status;
    let headers = response.headers_mut();
    copy_response_headers(&parts.headers, headers);
    headers.insert(
        HeaderName::from_static(COUNT_HEADER),
        HeaderValue::from_static("upstream"),
    );
    served_by(headers, provider, model);
    response
}

/// An upstream error status: passed on as is, or (`convert_to`) with its
/// message put in the client's protocol shape.
fn upstream_error(
    parts: Parts,
    body: Bytes,
    provider: &str,
    model: &str,
    convert_to: Option<Protocol>,
) -> GatewayError {
    let mut kept = HeaderMap::new();
    copy_response_headers(&parts.headers, &mut kept);
    upstream_failure(provider, model, parts.status, kept, body, convert_to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_each_shape() {
        assert_eq!(
            read_count(Protocol::Claude, br#"{"input_tokens":12}"#),
            Some(12)
        );
        assert_eq!(
            read_count(
                Protocol::OpenAiResponses,
                br#"{"object":"response.input_tokens","input_tokens":7}"#
            ),
            Some(7)
        );
        assert_eq!(
            read_count(
                Protocol::Gemini,
                br#"{"totalTokens":31,"promptTokensDetails":[]}"#
            ),
            Some(31)
        );
        assert_eq!(read_count(Protocol::Gemini, b"{}"), Some(0));
        assert_eq!(read_count(Protocol::Claude, b"{}"), None);
        assert_eq!(read_count(Protocol::Claude, b"[1]"), None);
        assert_eq!(read_count(Protocol::Claude, b"nope"), None);
    }

    #[test]
    fn answers_take_the_client_shape() {
        assert_eq!(count_body(Protocol::Claude, 5), json!({"input_tokens": 5}));
        assert_eq!(count_body(Protocol::Gemini, 5), json!({"totalTokens": 5}));
        assert_eq!(
            count_body(Protocol::OpenAiResponses, 5),
            json!({"object": "response.input_tokens", "input_tokens": 5})
        );
        assert_eq!(log_protocol(Protocol::Gemini), "gemini_count_tokens");
    }

    fn native(body: Value, api: CountTokensApi, rewrite: bool) -> Value {
        let body = Bytes::from(body.to_string());
        let out = native_body(&body, api, "m-1", rewrite).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn native_bodies_get_the_upstream_model_and_the_endpoint_form() {
        let claude = json!({"model": "claude/m-1", "messages": [], "x": 1});
        assert_eq!(
            native(claude.clone(), CountTokensApi::Claude, true),
            json!({"model": "m-1", "messages": [], "x": 1})
        );
        assert_eq!(
            native(claude.clone(), CountTokensApi::Claude, false),
            claude
        );
        let contents = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
        assert_eq!(
            native(contents.clone(), CountTokensApi::Gemini, true),
            contents
        );
        assert_eq!(
            native(contents.clone(), CountTokensApi::Vertex, true),
            contents
        );
        let wrapped = json!({"generateContentRequest": {
            "model": "models/aistudio/m-1",
            "contents": contents["contents"],
            "systemInstruction": {"parts": [{"text": "be brief"}]}
        }});
        assert_eq!(
            native(wrapped.clone(), CountTokensApi::Gemini, true),
            json!({"generateContentRequest": {
                "model": "models/m-1",
                "contents": contents["contents"],
                "systemInstruction": {"parts": [{"text": "be brief"}]}
            }})
        );
        assert_eq!(
            native(wrapped, CountTokensApi::Vertex, true),
            json!({
                "contents": contents["contents"],
                "systemInstruction": {"parts": [{"text": "be brief"}]}
            })
        );
        let bad = Bytes::from_static(br#"{"generateContentRequest": 1}"#);
        assert!(native_body(&bad, CountTokensApi::Gemini, "m", true).is_err());
    }

    fn sample() -> Canonical {
        decode_count_request(
            Protocol::Claude,
            br#"{"model": "x", "system": "Be brief.", "temperature": 0.5, "stream": true,
                 "messages": [{"role": "user", "content": "hello"}],
                 "tools": [{"name": "f", "input_schema": {"type": "object"}}]}"#,
            "m-1",
        )
        .unwrap()
    }

    fn encoded(api: CountTokensApi) -> Value {
        serde_json::from_slice(&encode_count_request(api, &sample(), "m-1").unwrap()).unwrap()
    }

    #[test]
    fn count_requests_decode_from_each_client_shape() {
        let claude = sample();
        assert_eq!(claude.model, "m-1");
        assert_eq!(claude.system, ["Be brief."]);
        assert_eq!(claude.messages.len(), 1);
        assert_eq!(claude.tools.len(), 1);
        // Anthropic count bodies carry no max_tokens: one is supplied to decode.
        let wrapped = br#"{"generateContentRequest": {"model": "models/p/g",
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [{"role": "user", "parts": [{"text": "hello"}]}]}}"#;
        let gemini = decode_count_request(Protocol::Gemini, wrapped, "g").unwrap();
        assert_eq!((gemini.model.as_str(), gemini.system.len()), ("g", 1));
        assert_eq!(gemini.messages, claude.messages);
        let flat = br#"{"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}"#;
        let gemini = decode_count_request(Protocol::Gemini, flat, "g").unwrap();
        assert_eq!(gemini.messages, claude.messages);
        let responses = decode_count_request(
            Protocol::OpenAiResponses,
            br#"{"model": "o", "input": "hello", "instructions": "Be brief."}"#,
            "o-1",
        )
        .unwrap();
        assert_eq!(responses.messages, claude.messages);
        assert_eq!(responses.system, claude.system);
        for bad in [&b"[]"[..], b"nope", br#"{"generateContentRequest": []}"#] {
            assert!(decode_count_request(Protocol::Gemini, bad, "g").is_err());
        }
    }

    #[test]
    fn count_requests_encode_for_each_endpoint_without_generation_fields() {
        let claude = encoded(CountTokensApi::Claude);
        assert_eq!(claude["model"], "m-1");
        assert!(claude["messages"].is_array() && claude["tools"].is_array());
        for field in ["max_tokens", "stream", "temperature"] {
            assert!(claude.get(field).is_none(), "{field}: {claude}");
        }

        let gemini = encoded(CountTokensApi::Gemini);
        let obj = gemini.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{gemini}");
        let inner = &gemini["generateContentRequest"];
        assert_eq!(inner["model"], "models/m-1");
        assert!(inner["contents"].is_array() && inner["systemInstruction"].is_object());
        assert!(inner.get("generationConfig").is_none(), "{inner}");

        let vertex = encoded(CountTokensApi::Vertex);
        assert!(vertex["contents"].is_array() && vertex["tools"].is_array());
        for field in ["generateContentRequest", "generationConfig", "model"] {
            assert!(vertex.get(field).is_none(), "{field}: {vertex}");
        }

        let responses = encoded(CountTokensApi::OpenAiResponses);
        assert_eq!(responses["model"], "m-1");
        assert!(responses["input"].is_array());
        assert_eq!(responses["instructions"], "Be brief.");
        for field in ["stream", "max_output_tokens", "temperature"] {
            assert!(responses.get(field).is_none(), "{field}: {responses}");
        }
    }

    #[test]
    fn only_missing_endpoint_statuses_fall_back() {
        for s in [404, 405, 501] {
            assert!(means_no_endpoint(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 429, 500, 503] {
            assert!(!means_no_endpoint(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
