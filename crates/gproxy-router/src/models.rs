//! Model lists in the shape the client asked for: OpenAI
//! (`GET /v1/models`), Anthropic (the same path with an `anthropic-version`
//! header) or Gemini (`GET /v1beta/models`).
//!
//! Entries from a provider kind's fallback list carry `"fallback": true`.
//! When a provider's upstream list failed, its name is in the
//! `x-gproxy-partial` response header (comma-separated) and in a top-level
//! `"partial"` array.

use gproxy_core::ProxyBody;
use gproxy_core::models::{ListedModel, ModelListing, ModelSource};
use gproxy_protocol::Protocol;
use http::Response;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};

use crate::JSON;

/// Response header naming the providers whose upstream list failed.
pub const PARTIAL_HEADER: &str = "x-gproxy-partial";

/// The shape of a model list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListShape {
    /// `{"object":"list","data":[{"id","object","created","owned_by"}]}`.
    OpenAi,
    /// `{"data":[{"type","id","display_name","created_at"}],"has_more","first_id","last_id"}`.
    Claude,
    /// `{"models":[{"name":"models/...","displayName"}]}`.
    Gemini,
}

impl ListShape {
    /// The shape for a request on a `/v1beta/models` (`gemini`) or
    /// `/v1/models` path with these headers.
    pub(crate) fn of(gemini: bool, headers: &HeaderMap) -> Self {
        if gemini {
            ListShape::Gemini
        } else if headers.contains_key("anthropic-version") {
            ListShape::Claude
        } else {
            ListShape::OpenAi
        }
    }

    /// The protocol whose error shape this list's errors take.
    pub(crate) fn protocol(self) -> Protocol {
        match self {
            ListShape::OpenAi => Protocol::OpenAiChat,
            ListShape::Claude => Protocol::Claude,
            ListShape::Gemini => Protocol::Gemini,
        }
    }
}

/// Renders `listing` in `shape`.
pub(crate) fn render(shape: ListShape, listing: &ModelListing) -> Response<ProxyBody> {
    let mut body = body(shape, listing);
    if !listing.partial.is_empty()
        && let Value::Object(map) = &mut body
    {
        map.insert("partial".into(), json!(listing.partial));
    }
    let mut response = Response::new(ProxyBody::full(body.to_string()));
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    if !listing.partial.is_empty()
        && let Ok(v) = HeaderValue::from_str(&listing.partial.join(","))
    {
        response.headers_mut().insert(PARTIAL_HEADER, v);
    }
    response
}

fn body(shape: ListShape, listing: &ModelListing) -> Value {
    let entries = listing.models.iter().map(|m| entry(shape, m));
    match shape {
        ListShape::OpenAi => json!({"object": "list", "data": entries.collect::<Vec<_>>()}),
        ListShape::Claude => json!({
            "data": entries.collect::<Vec<_>>(),
            "has_more": false,
            "first_id": listing.models.first().map(|m| &m.id),
            "last_id": listing.models.last().map(|m| &m.id),
        }),
        ListShape::Gemini => json!({"models": entries.collect::<Vec<_>>()}),
    }
}

fn entry(shape: ListShape, m: &ListedModel) -> Value {
    let mut e = Map::new();
    let display = m.display_name.clone().unwrap_or_else(|| m.id.clone());
    match shape {
        ListShape::OpenAi => {
            e.insert("id".into(), json!(m.id));
            e.insert("object".into(), json!("model"));
            e.insert("created".into(), json!(m.created.unwrap_or(0)));
            e.insert("owned_by".into(), json!(m.owned_by));
        }
        ListShape::Claude => {
            // Anthropic documents the epoch for an unknown release date.
            let created_at = chrono::DateTime::from_timestamp(m.created.unwrap_or(0), 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            e.insert("type".into(), json!("model"));
            e.insert("id".into(), json!(m.id));
            e.insert("display_name".into(), json!(display));
            e.insert("created_at".into(), json!(created_at));
        }
        ListShape::Gemini => {
            e.insert("name".into(), json!(format!("models/{}", m.id)));
            e.insert("displayName".into(), json!(display));
        }
    }
    if m.source == ModelSource::Fallback {
        e.insert("fallback".into(), json!(true));
    }
    Value::Object(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> ModelListing {
        ModelListing {
            models: vec![
                ListedModel {
                    id: "smart".into(),
                    display_name: None,
                    created: None,
                    owned_by: "gproxy".into(),
                    source: ModelSource::Route,
                },
                ListedModel {
                    id: "claude/claude-x".into(),
                    display_name: Some("Claude X".into()),
                    created: Some(1_759_104_000),
                    owned_by: "claude".into(),
                    source: ModelSource::Fallback,
                },
            ],
            partial: vec!["claude".into()],
        }
    }

    fn json_of(r: Response<ProxyBody>) -> (HeaderMap, Value) {
        let (parts, body) = r.into_parts();
        let bytes = collect_body(body);
        (parts.headers, serde_json::from_slice(&bytes).unwrap())
    }

    fn collect_body(body: ProxyBody) -> bytes::Bytes {
        use http_body_util::BodyExt;
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body.collect())
            .unwrap()
            .to_bytes()
    }

    #[test]
    fn openai_shape() {
        let (headers, v) = json_of(render(ListShape::OpenAi, &listing()));
        assert_eq!(headers[PARTIAL_HEADER], "claude");
        assert_eq!(
            v,
            json!({
                "object": "list",
                "data": [
                    {"id": "smart", "object": "model", "created": 0, "owned_by": "gproxy"},
                    {"id": "claude/claude-x", "object": "model", "created": 1_759_104_000, "owned_by": "claude", "fallback": true}
                ],
                "partial": ["claude"]
            })
        );
    }

    #[test]
    fn claude_shape() {
        let mut l = listing();
        l.partial.clear();
        let (headers, v) = json_of(render(ListShape::Claude, &l));
        assert!(headers.get(PARTIAL_HEADER).is_none());
        assert_eq!(
            v,
            json!({
                "data": [
                    {"type": "model", "id": "smart", "display_name": "smart", "created_at": "1970-01-01T00:00:00Z"},
                    {"type": "model", "id": "claude/claude-x", "display_name": "Claude X", "created_at": "2025-09-29T00:00:00Z", "fallback": true}
                ],
                "has_more": false,
                "first_id": "smart",
                "last_id": "claude/claude-x"
            })
        );
        let (_, v) = json_of(render(ListShape::Claude, &ModelListing::default()));
        assert_eq!(v["first_id"], Value::Null);
    }

    #[test]
    fn gemini_shape() {
        let (_, v) = json_of(render(ListShape::Gemini, &listing()));
        assert_eq!(
            v["models"][0],
            json!({"name": "models/smart", "displayName": "smart"})
        );
        assert_eq!(v["models"][1]["name"], "models/claude/claude-x");
        assert_eq!(v["partial"], json!(["claude"]));
    }

    #[test]
    fn shape_by_path_and_header() {
        let mut h = HeaderMap::new();
        assert_eq!(ListShape::of(false, &h), ListShape::OpenAi);
        assert_eq!(ListShape::of(true, &h), ListShape::Gemini);
        h.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        assert_eq!(ListShape::of(false, &h), ListShape::Claude);
        assert_eq!(ListShape::of(true, &h), ListShape::Gemini);
    }
}
