//! `antigravity`: Google Code Assist as Google Antigravity uses it,
//! `oauth-providers.md` §3. Reverse-engineered (CLIProxyAPI, GP4):
//! accounts have been banned for it (403 Terms of Service).
//!
//! The provider itself is [`super::CodeAssist`]; this module holds what
//! is Antigravity's own: its client and identity, the envelope's extra
//! fields, `fetchAvailableModels` (models and quota) and CLIProxyAPI's
//! credential files.

use gproxy_credential::Secret;
use gproxy_credential::oauth::{ImportError, Imported, TokenSet};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::code_assist::{
    KindDefaults, epoch_ms, import_error, remove_either, strip_generation, unix_seconds,
    used_percent,
};
use crate::models::{ModelInfo, ModelPage, ModelsError};
use crate::oauth::{Quota, QuotaWindow};

/// The kind name.
pub const ANTIGRAVITY_KIND: &str = "antigravity";

/// Antigravity's installed-app OAuth client (CPA
/// `internal/auth/antigravity/constants.go` at `a7e3596`).
pub const ANTIGRAVITY_CLIENT_ID: &str =
    "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com";

/// Its embedded client secret (same file; installed-app secrets are not
/// confidential).
pub const ANTIGRAVITY_CLIENT_SECRET: &str = "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";

/// The app's local callback (port 51121).
pub const ANTIGRAVITY_REDIRECT_URI: &str = "http://localhost:51121/oauth-callback";

/// The user-info endpoint Antigravity reads (v2).
pub const ANTIGRAVITY_USERINFO_URL: &str = "https://www.googleapis.com/oauth2/v2/userinfo?alt=json";

/// The daily Code Assist host, which Antigravity tries first.
pub const ANTIGRAVITY_BASE_URL: &str = "https://daily-cloudcode-pa.googleapis.com";

/// The user agent's format (CPA `misc/antigravity_version.go`).
pub const ANTIGRAVITY_USER_AGENT: &str = "antigravity/hub/{version} darwin/arm64";

/// The app version put in the user agent: CPA's floor (below 2.9.0 new
/// models answer 404).
pub const ANTIGRAVITY_VERSION: &str = "2.9.1";

/// Models served when the list cannot be had (CPA's `antigravity` list).
pub const ANTIGRAVITY_MODELS: &[&str] = &[
    "claude-opus-4-6-thinking",
    "claude-sonnet-4-6",
    "gemini-3.6-flash-high",
    "gemini-3.7-flash-high",
    "gemini-3-flash",
    "gemini-3-flash-agent",
    "gemini-3.1-flash-image",
    "gemini-pro-agent",
    "gemini-3.1-pro-low",
    "gpt-oss-120b-medium",
    "gemini-3.1-flash-lite",
    "gemini-3.5-flash-low",
    "gemini-3.5-flash-extra-low",
];

/// Ids `fetchAvailableModels` lists that are not chat models (CPA skips them).
pub const ANTIGRAVITY_INTERNAL_MODELS: &[&str] = &[
    "chat_20706",
    "chat_23310",
    "tab_flash_lite_preview",
    "tab_jump_flash_lite_preview",
    "gemini-2.5-flash-thinking",
    "gemini-2.5-pro",
];

pub(crate) static DEFAULTS: KindDefaults = KindDefaults {
    kind: ANTIGRAVITY_KIND,
    base_url: ANTIGRAVITY_BASE_URL,
    client_id: ANTIGRAVITY_CLIENT_ID,
    client_secret: ANTIGRAVITY_CLIENT_SECRET,
    scopes: &[
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
        "https://www.googleapis.com/auth/cclog",
        "https://www.googleapis.com/auth/experimentsandconfigs",
    ],
    redirect_uri: ANTIGRAVITY_REDIRECT_URI,
    userinfo_url: ANTIGRAVITY_USERINFO_URL,
    user_agent: ANTIGRAVITY_USER_AGENT,
    version: ANTIGRAVITY_VERSION,
    api_client: None,
    pkce: true,
    ide_type: "ANTIGRAVITY",
    fallback_tier: "free-tier",
    fallback_models: ANTIGRAVITY_MODELS,
};

/// Antigravity's additions to the envelope (CPA `geminiToAntigravity`):
/// `userAgent: "antigravity"`, `requestType` and `requestId` (`agent-<uuid>`,
/// image models `image_gen/<ms>/<uuid>/12`), a `request.sessionId` stable
/// for a conversation, no `safetySettings`; Claude models get
/// `toolConfig.functionCallingConfig.mode = "VALIDATED"`, the others lose
/// `maxOutputTokens`.
pub(crate) fn adapt(
    model: &str,
    envelope: &mut Map<String, Value>,
    request: &mut Map<String, Value>,
) {
    envelope.insert("userAgent".into(), Value::from("antigravity"));
    let uuid = uuid::Uuid::new_v4();
    if model.contains("image") {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        envelope.insert("requestType".into(), Value::from("image_gen"));
        envelope.insert(
            "requestId".into(),
            Value::from(format!("image_gen/{ms}/{uuid}/12")),
        );
    } else {
        envelope.insert("requestType".into(), Value::from("agent"));
        envelope.insert("requestId".into(), Value::from(format!("agent-{uuid}")));
        let has_session = request
            .get("sessionId")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !has_session {
            request.insert("sessionId".into(), Value::from(session_id(request)));
        }
    }
    remove_either(request, &["safetySettings", "safety_settings"]);
    if model.contains("claude") {
        let tool_config = request
            .entry("toolConfig")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(tc) = tool_config {
            let calling = tc
                .entry("functionCallingConfig")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(fc) = calling {
                fc.insert("mode".into(), Value::from("VALIDATED"));
            }
        }
    } else {
        strip_generation(request, &["maxOutputTokens", "max_output_tokens"]);
    }
}

/// `-<decimal>`: the first 63 bits of SHA-256 of the first user text (so a
/// conversation keeps its session), else of the whole `contents`.
pub(crate) fn session_id(request: &Map<String, Value>) -> String {
    let contents = request.get("contents");
    let first_text = contents
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(|c| {
            c.pointer("/parts/0/text")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
        });
    let material = match first_text {
        Some(text) => text.as_bytes().to_vec(),
        None => contents
            .map(Value::to_string)
            .unwrap_or_default()
            .into_bytes(),
    };
    let digest = Sha256::digest(&material);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let value = u64::from_be_bytes(first) & 0x7FFF_FFFF_FFFF_FFFF;
    format!("-{value}")
}

/// `fetchAvailableModels`' answer: `models` keyed by model id.
#[derive(Deserialize)]
struct AvailableModels {
    #[serde(default)]
    models: Map<String, Value>,
}

fn available(body: &[u8]) -> Result<(Value, Vec<(String, Value)>), ModelsError> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| ModelsError::Invalid(e.to_string()))?;
    let list: AvailableModels =
        serde_json::from_value(raw.clone()).map_err(|e| ModelsError::Invalid(e.to_string()))?;
    let mut models: Vec<(String, Value)> = list
        .models
        .into_iter()
        .filter(|(id, _)| !ANTIGRAVITY_INTERNAL_MODELS.contains(&id.as_str()))
        .collect();
    models.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((raw, models))
}

/// The models of `fetchAvailableModels` (internal ids skipped), sorted.
pub(crate) fn parse_models(body: &[u8]) -> Result<ModelPage, ModelsError> {
    let (_, models) = available(body)?;
    Ok(ModelPage {
        models: models
            .into_iter()
            .map(|(id, m)| ModelInfo {
                display_name: m
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                ..ModelInfo::bare(id)
            })
            .collect(),
        next_page: None,
    })
}

/// One window per model with a `quotaInfo` (`remainingFraction`, `resetTime`).
pub(crate) fn parse_quota(body: &[u8]) -> Result<Quota, ModelsError> {
    let (raw, models) = available(body)?;
    let windows = models
        .into_iter()
        .filter_map(|(id, m)| {
            let info = m.get("quotaInfo")?;
            Some(QuotaWindow {
                name: id.clone(),
                model: Some(id),
                used_percent: used_percent(info.get("remainingFraction").and_then(Value::as_f64)),
                resets_at: unix_seconds(info.get("resetTime").and_then(Value::as_str)),
                window_seconds: None,
            })
        })
        .collect();
    Ok(Quota {
        plan: None,
        windows,
        raw,
    })
}

/// Reads a CLIProxyAPI `antigravity-<email>.json` (`{type, access_token,
/// refresh_token, expired (RFC 3339) | timestamp (ms) + expires_in (s),
/// email, project_id}`). Without an expiry the token counts as expired,
/// so the first use refreshes.
pub(crate) fn import(input: &str) -> Result<Imported, ImportError> {
    let json: Value = serde_json::from_str(input.trim())
        .map_err(|_| import_error("", "not JSON (a CLIProxyAPI antigravity-<email>.json)"))?;
    let obj = json
        .as_object()
        .ok_or_else(|| import_error("", "must be an object"))?;
    let text = |name: &str| {
        obj.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    };
    if let Some(kind) = text("type")
        && kind != ANTIGRAVITY_KIND
    {
        return Err(import_error(
            "type",
            &format!("`{kind}` is another provider's credential file"),
        ));
    }
    let access =
        text("access_token").ok_or_else(|| import_error("access_token", "missing or empty"))?;
    let refresh =
        text("refresh_token").ok_or_else(|| import_error("refresh_token", "missing or empty"))?;
    let expires_at_ms = match text("expired") {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| u64::try_from(t.timestamp_millis()).unwrap_or(0))
            .map_err(|_| import_error("expired", "not an RFC 3339 time"))?,
        None => match (obj.get("timestamp"), obj.get("expires_in")) {
            (Some(ts), Some(secs)) => {
                let ts = epoch_ms(ts)
                    .ok_or_else(|| import_error("timestamp", "must be epoch milliseconds"))?;
                let secs = secs
                    .as_u64()
                    .ok_or_else(|| import_error("expires_in", "must be seconds"))?;
                ts.saturating_add(secs.saturating_mul(1000))
            }
            _ => 0,
        },
    };
    let mut account = Map::new();
    for key in ["email", "project_id"] {
        if let Some(v) = text(key) {
            account.insert(key.into(), Value::from(v));
        }
    }
    Ok(Imported {
        tokens: TokenSet {
            access_token: Secret::new(access.to_owned()),
            refresh_token: Some(Secret::new(refresh.to_owned())),
            expires_at_ms,
            scope: None,
        },
        account,
    })
}
