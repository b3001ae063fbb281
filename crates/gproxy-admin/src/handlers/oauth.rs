//! OAuth subscription logins (codex, claudecode, antigravity, geminicli):
//! start a login (the authorize URL, or a device code), complete it with
//! the pasted callback or by polling the device code, or import the
//! vendor CLI's own credentials file; read a credential's live quota;
//! force a token refresh. A login for an account that already has a
//! credential (same name) replaces that credential's tokens, so logging
//! in again revives a credential whose refresh token died.

use std::sync::Arc;

use gproxy_core::oauth::{LoginError, LoginStart, Polled, QuotaReport};
use gproxy_credential::Credential;
use gproxy_credential::oauth::OAuthCredential;
use gproxy_provider::Provider;
use gproxy_storage::{CredentialPatch, NewCredential};
use http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::credentials::{self, CredentialView, view_of};
use super::providers;
use crate::error::ApiError;
use crate::json::parse;
use crate::request::Reply;
use crate::routes::Call;

/// `POST /providers/{name}/oauth/start`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// `authorization_code` (default) or `device` (codex).
    pub flow: Option<String>,
    /// Overrides the kind's redirect URI (it must be registered with the
    /// vendor's client).
    pub redirect_uri: Option<String>,
}

/// `POST /providers/{name}/oauth/complete`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteInput {
    /// The `state` of the login started (optional when the pasted
    /// callback carries it).
    pub state: Option<String>,
    /// What the browser ended on: the redirect URL, Claude's `code#state`,
    /// or the bare code.
    pub callback: String,
    /// The credential's name; default: from the account's e-mail.
    pub name: Option<String>,
    /// Weight for weighted selection (default 1).
    #[schemars(range(min = 1))]
    pub weight: Option<u32>,
}

/// `POST /providers/{name}/oauth/poll`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollInput {
    /// The `state` of the device login started.
    pub state: String,
    /// The credential's name; default: from the account's e-mail.
    pub name: Option<String>,
    /// Weight (default 1).
    #[schemars(range(min = 1))]
    pub weight: Option<u32>,
}

/// `POST /providers/{name}/oauth/import`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportInput {
    /// The file's text (Codex `auth.json`, Claude Code `.credentials.json`
    /// or a setup token, Gemini CLI `oauth_creds.json`).
    pub content: String,
    /// The credential's name; default: from the account's e-mail.
    pub name: Option<String>,
    /// Weight (default 1).
    #[schemars(range(min = 1))]
    pub weight: Option<u32>,
}

/// A login's result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LoginDone {
    /// `created`, or `updated` when the account already had a credential.
    pub status: &'static str,
    /// The credential.
    pub credential: CredentialView,
}

/// A device login not approved yet.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LoginPending {
    /// Always `pending`.
    pub status: &'static str,
    /// Seconds before polling again.
    pub retry_after_secs: u64,
}

/// A forced refresh's result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Refreshed {
    /// The credential's id.
    pub id: i64,
    /// When the new access token expires (RFC 3339).
    pub expires_at: String,
}

fn login_error(e: LoginError) -> ApiError {
    match e {
        LoginError::Invalid { field, message } => ApiError::field(field, message),
        LoginError::Unsupported(m) => ApiError::bad_request(m),
        LoginError::Upstream(m) => ApiError::bad_gateway(m),
    }
}

/// The running provider `name` (its kind with settings, and base URL).
async fn running(call: &Call, name: &str) -> Result<(i64, Arc<dyn Provider>, String), ApiError> {
    let row = providers::find(call, name).await?;
    let snapshot = call.ctx.engine.state().load_full();
    let p = snapshot.providers.get(&row.name).ok_or_else(|| {
        ApiError::conflict(format!(
            "provider `{name}` is not running (disabled, or its settings are unusable)"
        ))
    })?;
    Ok((row.id, p.provider.clone(), p.base_url.clone()))
}

/// `POST /providers/{name}/oauth/start`.
pub async fn start(call: Call) -> Result<Reply, ApiError> {
    let input: StartInput = if call.req.body.is_empty() {
        StartInput::default()
    } else {
        parse(&call.req.body)?
    };
    let name = call.param(0).to_owned();
    let (_, provider, _) = running(&call, &name).await?;
    let oauth = call.ctx.engine.oauth();
    let started: LoginStart = match input.flow.as_deref().unwrap_or("authorization_code") {
        "authorization_code" => {
            if let Some(uri) = &input.redirect_uri
                && !(uri.starts_with("http://") || uri.starts_with("https://"))
            {
                return Err(ApiError::field("redirect_uri", "must be an http(s) URL"));
            }
            oauth
                .start_login(&name, provider.as_ref(), input.redirect_uri.as_deref())
                .map_err(login_error)?
        }
        "device" => {
            if input.redirect_uri.is_some() {
                return Err(ApiError::field(
                    "redirect_uri",
                    "the device flow has no redirect",
                ));
            }
            oauth
                .start_device(&name, provider.as_ref())
                .await
                .map_err(login_error)?
        }
        other => {
            return Err(ApiError::field(
                "flow",
                format!("`{other}`: one of `authorization_code`, `device`"),
            ));
        }
    };
    Reply::ok(&started)
}

/// `POST /providers/{name}/oauth/complete`.
pub async fn complete(call: Call) -> Result<Reply, ApiError> {
    let input: CompleteInput = parse(&call.req.body)?;
    let name = call.param(0).to_owned();
    let (provider_id, provider, base_url) = running(&call, &name).await?;
    let login = call
        .ctx
        .engine
        .oauth()
        .complete_login(
            &name,
            provider.as_ref(),
            &base_url,
            input.state.as_deref(),
            &input.callback,
        )
        .await
        .map_err(login_error)?;
    save(&call, provider_id, &name, login, input.name, input.weight).await
}

/// `POST /providers/{name}/oauth/poll`.
pub async fn poll(call: Call) -> Result<Reply, ApiError> {
    let input: PollInput = parse(&call.req.body)?;
    let name = call.param(0).to_owned();
    let (provider_id, provider, base_url) = running(&call, &name).await?;
    let polled = call
        .ctx
        .engine
        .oauth()
        .poll_device(&name, provider.as_ref(), &base_url, &input.state)
        .await
        .map_err(login_error)?;
    match polled {
        Polled::Pending { retry_after_secs } => Reply::json(
            StatusCode::ACCEPTED,
            &LoginPending {
                status: "pending",
                retry_after_secs,
            },
        ),
        Polled::Done(login) => {
            save(&call, provider_id, &name, *login, input.name, input.weight).await
        }
    }
}

/// `POST /providers/{name}/oauth/import`.
pub async fn import(call: Call) -> Result<Reply, ApiError> {
    let input: ImportInput = parse(&call.req.body)?;
    let name = call.param(0).to_owned();
    let (provider_id, provider, base_url) = running(&call, &name).await?;
    let login = call
        .ctx
        .engine
        .oauth()
        .import(provider.as_ref(), &base_url, &input.content)
        .await
        .map_err(login_error)?;
    save(&call, provider_id, &name, login, input.name, input.weight).await
}

/// A credential name from the account: its e-mail made name-safe, else a
/// fingerprint.
fn default_name(login: &OAuthCredential) -> String {
    if let Some(email) = login.account_str("email") {
        let safe: String = email
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(64)
            .collect();
        if !safe.is_empty() {
            return safe;
        }
    }
    format!(
        "oauth-{}",
        Credential::OAuth(Box::new(login.clone())).fingerprint()
    )
}

/// Stores a login: a new credential, or the tokens of the provider's
/// credential of the same name replaced (and enabled).
async fn save(
    call: &Call,
    provider_id: i64,
    provider_name: &str,
    login: OAuthCredential,
    name: Option<String>,
    weight: Option<u32>,
) -> Result<Reply, ApiError> {
    if weight == Some(0) {
        return Err(ApiError::field("weight", "must be at least 1"));
    }
    let name = match name {
        Some(name) => {
            gproxy_core::config::validate_name(&name).map_err(|m| ApiError::field("name", m))?;
            name
        }
        None => default_name(&login),
    };
    let credential = Credential::OAuth(Box::new(login));
    let sealed = call
        .ctx
        .hooks
        .seal(&credential.to_secret_json())
        .map_err(ApiError::internal)?;
    let existing = call
        .ctx
        .storage
        .list_credentials_of(provider_id)
        .await?
        .into_iter()
        .find(|c| c.name == name);
    let (status, row) = match existing {
        Some(row) => {
            let patch = CredentialPatch {
                name: None,
                enabled: Some(true),
                weight,
                secret: Some((credential.kind().to_owned(), sealed)),
            };
            let row = call
                .ctx
                .storage
                .update_credential(row.id, &patch)
                .await?
                .ok_or_else(|| ApiError::not_found("credential deleted meanwhile"))?;
            (("updated", StatusCode::OK), row)
        }
        None => {
            let row = call
                .ctx
                .storage
                .create_credential(&NewCredential {
                    provider_id,
                    name,
                    kind: credential.kind().to_owned(),
                    secret: sealed,
                    enabled: true,
                    weight: weight.unwrap_or(1),
                })
                .await?;
            (("created", StatusCode::CREATED), row)
        }
    };
    // A revived credential starts healthy.
    let _ = call.ctx.engine.enable_credential(row.id).await;
    call.apply().await?;
    let view = view_of(call, row, provider_name).await;
    Reply::json(
        status.1,
        &LoginDone {
            status: status.0,
            credential: view,
        },
    )
}

/// The credential row `id` opened, with its provider's name.
async fn opened(call: &Call, id: i64) -> Result<(Credential, String), ApiError> {
    let (row, provider) = credentials::find_id(call, id).await?;
    Ok((credentials::opened(call, &row)?, provider))
}

/// Credential `id`'s quota (shared by the admin route and
/// `GET /{provider}/usage?credential_id=`).
pub async fn quota_of(
    call: &Call,
    id: i64,
    provider_name: Option<&str>,
) -> Result<Arc<QuotaReport>, ApiError> {
    let (credential, provider) = opened(call, id).await?;
    if provider_name.is_some_and(|p| p != provider) {
        return Err(ApiError::not_found(format!(
            "credential {id} does not belong to provider `{}`",
            provider_name.unwrap_or_default()
        )));
    }
    let (_, runtime, base_url) = running(call, &provider).await?;
    call.ctx
        .engine
        .oauth()
        .quota(id, &credential, runtime.as_ref(), &base_url)
        .await
        .map_err(|e| {
            if e.contains("has no quota endpoint") {
                ApiError::bad_request(e)
            } else {
                ApiError::bad_gateway(e)
            }
        })
}

/// `GET /credentials/{id}/quota`.
pub async fn quota(call: Call) -> Result<Reply, ApiError> {
    let id = call.id(0)?;
    let report = quota_of(&call, id, None).await?;
    Reply::ok(&*report)
}

/// `GET /providers/{name}/usage?credential_id=N` (also served as
/// `GET /{provider}/usage?credential_id=N` on the proxy's path, with the
/// admin key).
pub async fn provider_usage(call: Call) -> Result<Reply, ApiError> {
    let id: i64 = call
        .req
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("credential_id="))
        .ok_or_else(|| ApiError::field("credential_id", "required (a credential id)"))?
        .parse()
        .map_err(|_| ApiError::field("credential_id", "must be a credential id"))?;
    let name = call.param(0).to_owned();
    let report = quota_of(&call, id, Some(&name)).await?;
    Reply::ok(&*report)
}

/// `POST /credentials/{id}/refresh`.
pub async fn refresh(call: Call) -> Result<Reply, ApiError> {
    let id = call.id(0)?;
    let (credential, provider) = opened(&call, id).await?;
    let Credential::OAuth(login) = &credential else {
        return Err(ApiError::bad_request(format!(
            "credential {id} is not an OAuth login"
        )));
    };
    let (_, runtime, _) = running(&call, &provider).await?;
    let fresh = call
        .ctx
        .engine
        .oauth()
        .refresh_rejected(id, login.version, runtime.as_ref(), None)
        .await
        .map_err(|e| ApiError::bad_gateway(format!("refresh failed: {e}")))?;
    Reply::ok(&Refreshed {
        id,
        expires_at: rfc3339(fresh.tokens.expires_at_ms),
    })
}

/// Epoch ms as RFC 3339.
pub(crate) fn rfc3339(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}
