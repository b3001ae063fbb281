//! Model listing, without IO: the shape of a listed model, the parsers for
//! the three upstream list formats, and the built-in fallback lists.
//!
//! A provider says where its list lives ([`crate::Provider::models_url`]) and
//! how to read one page of it ([`crate::Provider::parse_models`]); the core
//! does the fetching, the paging and the caching.

use serde::Deserialize;

/// One model as an upstream lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The id the upstream takes in requests (Gemini's `models/` prefix removed).
    pub id: String,
    /// Human-readable name, when the upstream gives one.
    pub display_name: Option<String>,
    /// Creation or release time in Unix seconds, when known.
    pub created: Option<i64>,
    /// Owner, when the upstream says (OpenAI's `owned_by`).
    pub owned_by: Option<String>,
}

impl ModelInfo {
    /// A model known only by its id.
    pub fn bare(id: impl Into<String>) -> Self {
        ModelInfo {
            id: id.into(),
            display_name: None,
            created: None,
            owned_by: None,
        }
    }
}

/// One page of an upstream model list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPage {
    /// The models on this page.
    pub models: Vec<ModelInfo>,
    /// The token for the next page, when there is one.
    pub next_page: Option<String>,
}

/// An upstream model list that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// The body is not the expected JSON shape.
    #[error("invalid model list: {0}")]
    Invalid(String),
}

/// Most models asked for per page (the Anthropic and Gemini maximum), so
/// one request usually returns the whole list.
pub const PAGE_SIZE: u32 = 1000;

#[derive(Deserialize)]
struct OpenAiList {
    #[serde(default)]
    data: Vec<OpenAiModel>,
}

#[derive(Deserialize)]
struct OpenAiModel {
    id: String,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    owned_by: Option<String>,
}

#[derive(Deserialize)]
struct ClaudeList {
    #[serde(default)]
    data: Vec<ClaudeModel>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

#[derive(Deserialize)]
struct ClaudeModel {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiList {
    #[serde(default)]
    models: Vec<GeminiModel>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiModel {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
}

fn invalid(e: serde_json::Error) -> ModelsError {
    ModelsError::Invalid(e.to_string())
}

/// OpenAI `GET /models`: `{"object":"list","data":[{"id","object","created","owned_by"}]}`.
/// The list is not paged.
pub fn parse_openai(body: &[u8]) -> Result<ModelPage, ModelsError> {
    let list: OpenAiList = serde_json::from_slice(body).map_err(invalid)?;
    Ok(ModelPage {
        models: list
            .data
            .into_iter()
            .map(|m| ModelInfo {
                id: m.id,
                display_name: None,
                created: m.created,
                owned_by: m.owned_by,
            })
            .collect(),
        next_page: None,
    })
}

/// Anthropic `GET /v1/models`: `{"data":[{"type":"model","id","display_name",
/// "created_at"}],"has_more","first_id","last_id"}`. The next page starts
/// after `last_id` when `has_more`.
pub fn parse_claude(body: &[u8]) -> Result<ModelPage, ModelsError> {
    let list: ClaudeList = serde_json::from_slice(body).map_err(invalid)?;
    let next_page = if list.has_more { list.last_id } else { None };
    Ok(ModelPage {
        models: list
            .data
            .into_iter()
            .map(|m| ModelInfo {
                id: m.id,
                display_name: m.display_name,
                created: m
                    .created_at
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp()),
                owned_by: None,
            })
            .collect(),
        next_page,
    })
}

/// Gemini `GET /v1beta/models`: `{"models":[{"name":"models/...","displayName",
/// ...}],"nextPageToken"}`. Ids lose their `models/` prefix.
pub fn parse_gemini(body: &[u8]) -> Result<ModelPage, ModelsError> {
    let list: GeminiList = serde_json::from_slice(body).map_err(invalid)?;
    Ok(ModelPage {
        models: list
            .models
            .into_iter()
            .map(|m| ModelInfo {
                id: m
                    .name
                    .strip_prefix("models/")
                    .map_or_else(|| m.name.clone(), str::to_owned),
                display_name: m.display_name,
                created: None,
                owned_by: None,
            })
            .collect(),
        next_page: list.next_page_token.filter(|t| !t.is_empty()),
    })
}

/// Appends `name=value` to `url`'s query, percent-encoding the value.
pub fn with_query(mut url: String, name: &str, value: &str) -> String {
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(name);
    url.push('=');
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_list_parses() {
        let page = parse_openai(
            br#"{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system","extra":1},{"id":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(page.next_page, None);
        assert_eq!(
            page.models[0],
            ModelInfo {
                id: "gpt-4o".into(),
                display_name: None,
                created: Some(1_715_367_049),
                owned_by: Some("system".into()),
            }
        );
        assert_eq!(page.models[1], ModelInfo::bare("x"));
    }

    #[test]
    fn claude_list_parses_and_pages() {
        let body = br#"{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],"has_more":true,"first_id":"claude-sonnet-4-5","last_id":"claude-sonnet-4-5"}"#;
        let page = parse_claude(body).unwrap();
        assert_eq!(page.models[0].id, "claude-sonnet-4-5");
        assert_eq!(
            page.models[0].display_name.as_deref(),
            Some("Claude Sonnet 4.5")
        );
        assert_eq!(page.models[0].created, Some(1_759_104_000));
        assert_eq!(page.next_page.as_deref(), Some("claude-sonnet-4-5"));
        let last = parse_claude(br#"{"data":[],"has_more":false,"last_id":"z"}"#).unwrap();
        assert_eq!(last.next_page, None);
    }

    #[test]
    fn gemini_list_parses_and_pages() {
        let body = br#"{"models":[{"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash","supportedGenerationMethods":["generateContent"]}],"nextPageToken":"abc"}"#;
        let page = parse_gemini(body).unwrap();
        assert_eq!(page.models[0].id, "gemini-2.5-flash");
        assert_eq!(
            page.models[0].display_name.as_deref(),
            Some("Gemini 2.5 Flash")
        );
        assert_eq!(page.next_page.as_deref(), Some("abc"));
        assert_eq!(parse_gemini(b"{}").unwrap(), ModelPage::default());
    }

    #[test]
    fn malformed_lists_are_errors_not_panics() {
        for body in [&b""[..], b"1", b"{\"data\":1}", b"{\"data\":[{}]}", b"\xff"] {
            assert!(parse_openai(body).is_err(), "{body:?}");
            assert!(parse_claude(body).is_err(), "{body:?}");
        }
        for body in [&b""[..], b"1", b"{\"models\":1}", b"{\"models\":[{}]}"] {
            assert!(parse_gemini(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            with_query("http://h/m".into(), "pageToken", "a b/c"),
            "http://h/m?pageToken=a%20b%2Fc"
        );
        assert_eq!(
            with_query("http://h/m?x=1".into(), "y", "2"),
            "http://h/m?x=1&y=2"
        );
    }
}
