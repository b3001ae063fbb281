//! `geminicli`: Google Code Assist as Gemini CLI uses it ("Login with
//! Google"), `oauth-providers.md` §2. Since 2026-06-18 only accounts with
//! a Gemini Code Assist Standard/Enterprise licence are served; consumer
//! accounts are refused at discovery (`UNSUPPORTED_CLIENT`).
//!
//! The provider itself is [`super::CodeAssist`]; this module holds what
//! is Gemini CLI's own: its client and identity, `oauth_creds.json`, and
//! `retrieveUserQuota`.

use gproxy_credential::Secret;
use gproxy_credential::oauth::{ImportError, Imported, TokenSet, jwt_claims};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::code_assist::{KindDefaults, epoch_ms, import_error, unix_seconds, used_percent};
use crate::models::ModelsError;
use crate::oauth::{Quota, QuotaWindow};

/// The kind name.
pub const GEMINICLI_KIND: &str = "geminicli";

/// Gemini CLI's installed-app OAuth client (GCLI `code_assist/oauth2.ts`).
pub const GEMINICLI_CLIENT_ID: &str =
    "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";

/// Gemini CLI's embedded client secret (`OAUTH_CLIENT_SECRET` in GCLI
/// `code_assist/oauth2.ts`; "the client secret is obviously not treated as
/// a secret" for installed apps, per Google).
pub const GEMINICLI_CLIENT_SECRET: &str = "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";

/// The paste-the-code redirect of `gemini` with `NO_BROWSER` (GCLI
/// `authWithUserCode`): the page shows the code for the user to paste.
pub const GEMINICLI_REDIRECT_URI: &str = "https://codeassist.google.com/authcode";

/// Gemini CLI's user-info endpoint.
pub const GEMINICLI_USERINFO_URL: &str = "https://www.googleapis.com/oauth2/v1/userinfo?alt=json";

/// The Code Assist production host.
pub const CLOUDCODE_BASE_URL: &str = "https://cloudcode-pa.googleapis.com";

/// The user agent's format (GCLI `core/contentGenerator.ts`:
/// `GeminiCLI/<version>/<model> (<platform>; <arch>; <surface>)`).
pub const GEMINICLI_USER_AGENT: &str = "GeminiCLI/{version}/{model} (linux; x64; terminal)";

/// The CLI version put in the user agent.
pub const GEMINICLI_VERSION: &str = "0.55.1";

/// The `x-goog-api-client` header sent with it.
pub const GEMINICLI_API_CLIENT: &str = "gl-node/22.20.0";

/// Models served when no list can be had (Code Assist has no list
/// endpoint; CPA's `gemini-cli` list).
pub const GEMINICLI_MODELS: &[&str] = &[
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3.1-pro-preview",
    "gemini-3-flash-preview",
    "gemini-3.1-flash-lite-preview",
];

pub(crate) static DEFAULTS: KindDefaults = KindDefaults {
    kind: GEMINICLI_KIND,
    base_url: CLOUDCODE_BASE_URL,
    client_id: GEMINICLI_CLIENT_ID,
    client_secret: GEMINICLI_CLIENT_SECRET,
    scopes: &[
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    ],
    redirect_uri: GEMINICLI_REDIRECT_URI,
    userinfo_url: GEMINICLI_USERINFO_URL,
    user_agent: GEMINICLI_USER_AGENT,
    version: GEMINICLI_VERSION,
    api_client: Some(GEMINICLI_API_CLIENT),
    pkce: true,
    ide_type: "IDE_UNSPECIFIED",
    fallback_tier: "legacy-tier",
    fallback_models: GEMINICLI_MODELS,
};

/// Reads Gemini CLI's `~/.gemini/oauth_creds.json`
/// (`{access_token, refresh_token, expiry_date (epoch ms, may be a
/// float), scope, token_type, id_token?}`). The e-mail comes from the id
/// token; the project is unknown (the core runs discovery). A missing
/// `expiry_date` counts as expired, so the first use refreshes.
pub(crate) fn import(input: &str) -> Result<Imported, ImportError> {
    let json: Value = serde_json::from_str(input.trim())
        .map_err(|_| import_error("", "not JSON (Gemini CLI's ~/.gemini/oauth_creds.json)"))?;
    let obj = json
        .as_object()
        .ok_or_else(|| import_error("", "must be an object"))?;
    if let Some(kind) = obj.get("type").and_then(Value::as_str)
        && kind != "authorized_user"
    {
        return Err(import_error(
            "type",
            &format!("`{kind}` credentials are not a Login with Google"),
        ));
    }
    let text = |name: &str| {
        obj.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let access =
        text("access_token").ok_or_else(|| import_error("access_token", "missing or empty"))?;
    let refresh = text("refresh_token").ok_or_else(|| {
        import_error(
            "refresh_token",
            "missing or empty (log in to Gemini CLI again)",
        )
    })?;
    if let Some(kind) = text("token_type")
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(import_error("token_type", "must be Bearer"));
    }
    let expires_at_ms = match obj.get("expiry_date") {
        None | Some(Value::Null) => 0,
        Some(v) => {
            epoch_ms(v).ok_or_else(|| import_error("expiry_date", "must be epoch milliseconds"))?
        }
    };
    let mut account = Map::new();
    if let Some(email) = text("id_token")
        .and_then(jwt_claims)
        .and_then(|c| c.get("email").and_then(Value::as_str).map(str::to_owned))
    {
        account.insert("email".into(), Value::from(email));
    }
    Ok(Imported {
        tokens: TokenSet {
            access_token: Secret::new(access.to_owned()),
            refresh_token: Some(Secret::new(refresh.to_owned())),
            expires_at_ms,
            scope: text("scope").map(str::to_owned),
        },
        account,
    })
}

/// `retrieveUserQuota`'s answer (GCLI `code_assist/types.ts`).
#[derive(Deserialize)]
struct UserQuota {
    #[serde(default)]
    buckets: Vec<Bucket>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bucket {
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    remaining_fraction: Option<f64>,
    #[serde(default)]
    reset_time: Option<String>,
}

/// One window per bucket: the model, the share used
/// (`(1 - remainingFraction) * 100`) and the reset.
pub(crate) fn parse_quota(body: &[u8]) -> Result<Quota, ModelsError> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| ModelsError::Invalid(e.to_string()))?;
    let quota: UserQuota =
        serde_json::from_value(raw.clone()).map_err(|e| ModelsError::Invalid(e.to_string()))?;
    let windows = quota
        .buckets
        .into_iter()
        .map(|b| {
            let model = b.model_id.unwrap_or_default();
            let name = match b.token_type.as_deref() {
                None | Some("REQUESTS") => model.clone(),
                Some(kind) => format!("{model} {}", kind.to_ascii_lowercase()),
            };
            QuotaWindow {
                name,
                model: (!model.is_empty()).then_some(model),
                used_percent: used_percent(b.remaining_fraction),
                resets_at: unix_seconds(b.reset_time.as_deref()),
                window_seconds: None,
            }
        })
        .collect();
    Ok(Quota {
        plan: None,
        windows,
        raw,
    })
}
