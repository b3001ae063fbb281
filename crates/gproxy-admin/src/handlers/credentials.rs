//! Credentials: list (all, or one provider's), create one, batch import,
//! read, update, delete, test with one upstream call, runtime state and
//! re-enable. Secrets are write-only: reads show a masked form.

use gproxy_core::config::CredentialConfig;
use gproxy_core::health::CredentialHealthReport;
use gproxy_credential::Credential;
use gproxy_storage::{CredentialPatch, CredentialRow, NewCredential};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::providers;
use crate::error::ApiError;
use crate::json::parse;
use crate::request::Reply;
use crate::routes::Call;

/// Most credentials one import may hold.
const MAX_IMPORT: usize = 1000;

/// A credential as reads show it: never the secret.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CredentialView {
    /// Row id.
    pub id: i64,
    /// Owning provider's name.
    pub provider: String,
    /// Name, unique within the provider.
    pub name: String,
    /// `api_key`, `service_account`, ...
    pub kind: String,
    /// The secret, masked (`sk-...a1b2`; a service account's email).
    pub masked: String,
    /// Whether it may be selected.
    pub enabled: bool,
    /// Weight for weighted selection.
    pub weight: u32,
    /// Runtime state (`ok`, `cooling_down`, `transient_cooldown`,
    /// `disabled`), or `not_loaded` when it does not serve (disabled in
    /// the database, or unreadable).
    pub state: String,
    /// An OAuth login's facts (never its tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthView>,
}

/// What an OAuth credential shows: the account and the token's life.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OAuthView {
    /// Account facts: `email`, `account_id`, `project_id`, `plan`, ...
    pub account: serde_json::Map<String, serde_json::Value>,
    /// When the access token expires (RFC 3339).
    pub expires_at: String,
    /// Whether it can be refreshed (a setup token cannot).
    pub refreshable: bool,
    /// Why it is disabled for good (its refresh token died), until
    /// someone logs in again.
    pub disabled_reason: Option<String>,
}

/// A new credential. Exactly one of `api_key` and `service_account`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    /// Name; default: derived from the secret (`key-` + 8 hex digits).
    pub name: Option<String>,
    /// An API key.
    pub api_key: Option<String>,
    /// `vertex` only: the service-account key file's JSON (an object, or
    /// its text).
    pub service_account: Option<serde_json::Value>,
    /// Default true.
    pub enabled: Option<bool>,
    /// At least 1; default 1.
    #[schemars(range(min = 1))]
    pub weight: Option<u32>,
}

/// `POST /providers/{name}/credentials/import`: many keys at once, as text
/// (one API key per line; blank lines and `#` comments skipped) or as a
/// JSON array of credentials.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportInput {
    /// API keys, one per line.
    pub keys: Option<String>,
    /// Credentials.
    pub items: Option<Vec<CredentialInput>>,
}

/// What an import did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportResult {
    /// The credentials created.
    pub created: Vec<CredentialView>,
    /// What was not imported, and why.
    pub skipped: Vec<Skipped>,
}

/// One entry an import skipped.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Skipped {
    /// `keys` line number (1-based) or `items` index (0-based), as a path.
    pub at: String,
    /// Why.
    pub reason: String,
}

/// `PATCH /credentials/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialPatchInput {
    /// New name.
    pub name: Option<String>,
    /// Enabled flag.
    pub enabled: Option<bool>,
    /// Weight (at least 1).
    #[schemars(range(min = 1))]
    pub weight: Option<u32>,
    /// A new API key (replaces the secret).
    pub api_key: Option<String>,
    /// A new service-account key (replaces the secret).
    pub service_account: Option<serde_json::Value>,
}

/// The answer of a credential test.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TestResult {
    /// Whether the upstream accepted the credential.
    pub ok: bool,
    /// The upstream's status, when it answered.
    pub status: Option<u16>,
    /// Time to the whole answer, in milliseconds.
    pub latency_ms: u64,
    /// Models listed, on success.
    pub models: Option<usize>,
    /// What went wrong, or what was called.
    pub message: String,
}

/// A credential's runtime state (the `/health` fields).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CredentialState {
    /// Row id.
    pub id: i64,
    /// Whether the running snapshot serves it.
    pub loaded: bool,
    /// `ok`, `cooling_down`, `transient_cooldown`, `disabled`, or
    /// `not_loaded`.
    pub state: String,
    /// Requests in flight.
    pub in_flight: u32,
    /// End of the cooldown for every model (RFC 3339).
    pub cooldown_until: Option<String>,
    /// Cooldowns of single models.
    pub model_cooldowns: std::collections::BTreeMap<String, String>,
    /// Why it was disabled at run time (401/403 from the upstream).
    pub disabled_reason: Option<String>,
    /// When.
    pub disabled_at: Option<String>,
}

/// The masked form of a secret: enough to recognise, never to use.
pub fn mask(credential: &Credential) -> String {
    match credential {
        Credential::ApiKey { key } => mask_text(key.expose()),
        Credential::AccessToken { token } => mask_text(token.expose()),
        Credential::ServiceAccount(key) => format!("service account {}", key.client_email),
        Credential::OAuth(login) => match login.account_str("email") {
            Some(email) => format!("oauth {email}"),
            None => format!("oauth {}", mask_text(login.tokens.access_token.expose())),
        },
        Credential::None => String::new(),
    }
}

fn mask_text(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 16 {
        return "***".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

async fn runtime(call: &Call) -> Vec<CredentialHealthReport> {
    call.ctx
        .engine
        .health_report()
        .await
        .providers
        .into_iter()
        .flat_map(|p| p.credential_states)
        .collect()
}

fn view(
    call: &Call,
    row: CredentialRow,
    provider: &str,
    states: &[CredentialHealthReport],
) -> CredentialView {
    let opened = call
        .ctx
        .hooks
        .open(&row.secret)
        .ok()
        .and_then(|secret| Credential::from_stored(&row.kind, &secret).ok());
    let masked = opened
        .as_ref()
        .map_or_else(|| "unreadable".to_owned(), mask);
    let oauth = opened
        .as_ref()
        .and_then(Credential::oauth)
        .map(|login| OAuthView {
            account: login.account.clone(),
            expires_at: super::oauth::rfc3339(login.tokens.expires_at_ms),
            refreshable: login.tokens.refresh_token.is_some(),
            disabled_reason: login.disabled_reason.clone(),
        });
    let state = states
        .iter()
        .find(|s| s.id == row.id)
        .map_or("not_loaded", |s| s.state);
    CredentialView {
        id: row.id,
        provider: provider.to_owned(),
        name: row.name,
        kind: row.kind,
        masked,
        enabled: row.enabled,
        weight: row.weight,
        state: state.to_owned(),
        oauth,
    }
}

/// The view of `row` with its runtime state.
pub(crate) async fn view_of(call: &Call, row: CredentialRow, provider: &str) -> CredentialView {
    let states = runtime(call).await;
    view(call, row, provider, &states)
}

async fn provider_names(call: &Call) -> Result<std::collections::HashMap<i64, String>, ApiError> {
    Ok(call
        .ctx
        .storage
        .list_providers()
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

/// `GET /credentials`.
pub async fn list_all(call: Call) -> Result<Reply, ApiError> {
    let names = provider_names(&call).await?;
    let states = runtime(&call).await;
    let rows = call.ctx.storage.list_credentials().await?;
    let out: Vec<CredentialView> = rows
        .into_iter()
        .map(|row| {
            let provider = names.get(&row.provider_id).cloned().unwrap_or_default();
            view(&call, row, &provider, &states)
        })
        .collect();
    Reply::ok(&out)
}

/// `GET /providers/{name}/credentials`.
pub async fn list_of_provider(call: Call) -> Result<Reply, ApiError> {
    let provider = providers::find(&call, call.param(0)).await?;
    let states = runtime(&call).await;
    let rows = call.ctx.storage.list_credentials_of(provider.id).await?;
    let out: Vec<CredentialView> = rows
        .into_iter()
        .map(|row| view(&call, row, &provider.name, &states))
        .collect();
    Reply::ok(&out)
}

/// Validates an input for a provider of `kind`; errors name fields
/// relative to `at` (`""` or `items[3].`).
fn checked(
    input: &CredentialInput,
    kind: &str,
    at: &str,
) -> Result<(String, Credential), ApiError> {
    let service_account = match &input.service_account {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(v @ serde_json::Value::Object(_)) => Some(v.to_string()),
        Some(_) => {
            return Err(ApiError::field(
                format!("{at}service_account"),
                "must be the key file's JSON object or its text",
            ));
        }
    };
    let config = CredentialConfig {
        name: input.name.clone(),
        api_key: input.api_key.clone(),
        service_account,
        service_account_file: None,
        enabled: input.enabled,
        weight: input.weight,
        sealed: None,
        kind: None,
    };
    let field = |(f, m): (String, String)| ApiError::field(format!("{at}{f}"), m);
    config.validate(kind).map_err(field)?;
    if let Some(name) = &input.name {
        gproxy_core::config::validate_name(name)
            .map_err(|m| ApiError::field(format!("{at}name"), m))?;
    }
    let credential = config.credential().map_err(field)?;
    Ok((config.name_for(&credential), credential))
}

async fn store(
    call: &Call,
    provider_id: i64,
    name: String,
    credential: &Credential,
    input: &CredentialInput,
) -> Result<CredentialRow, ApiError> {
    let secret = call
        .ctx
        .hooks
        .seal(&credential.to_secret_json())
        .map_err(ApiError::internal)?;
    Ok(call
        .ctx
        .storage
        .create_credential(&NewCredential {
            provider_id,
            name,
            kind: credential.kind().to_owned(),
            secret,
            enabled: input.enabled.unwrap_or(true),
            weight: input.weight.unwrap_or(1),
        })
        .await?)
}

/// `POST /providers/{name}/credentials`.
pub async fn create(call: Call) -> Result<Reply, ApiError> {
    let input: CredentialInput = parse(&call.req.body)?;
    let provider = providers::find(&call, call.param(0)).await?;
    let (name, credential) = checked(&input, &provider.kind, "")?;
    let row = store(&call, provider.id, name, &credential, &input).await?;
    call.apply().await?;
    let states = runtime(&call).await;
    Reply::created(&view(&call, row, &provider.name, &states))
}

/// `POST /providers/{name}/credentials/import`.
pub async fn import(call: Call) -> Result<Reply, ApiError> {
    let input: ImportInput = parse(&call.req.body)?;
    let provider = providers::find(&call, call.param(0)).await?;
    let mut entries: Vec<(String, CredentialInput)> = Vec::new();
    if let Some(text) = &input.keys {
        for (i, line) in text.lines().enumerate() {
            let key = line.trim();
            if key.is_empty() || key.starts_with('#') {
                continue;
            }
            entries.push((
                format!("keys[line {}]", i + 1),
                CredentialInput {
                    name: None,
                    api_key: Some(key.to_owned()),
                    service_account: None,
                    enabled: None,
                    weight: None,
                },
            ));
        }
    }
    for (i, item) in input.items.iter().flatten().enumerate() {
        entries.push((format!("items[{i}]"), item.clone()));
    }
    if entries.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to import: give `keys` (one API key per line) or `items`",
        ));
    }
    if entries.len() > MAX_IMPORT {
        return Err(ApiError::too_large(format!(
            "{} credentials in one import; at most {MAX_IMPORT}",
            entries.len()
        )));
    }
    // Everything is checked before anything is stored: a bad entry fails
    // the whole import with its path, so nothing is half-imported.
    let mut checked_entries = Vec::with_capacity(entries.len());
    for (at, entry) in &entries {
        let (name, credential) = checked(entry, &provider.kind, &format!("{at}."))?;
        checked_entries.push((at, name, credential, entry));
    }
    let existing: std::collections::HashSet<String> = call
        .ctx
        .storage
        .list_credentials_of(provider.id)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut result = ImportResult {
        created: Vec::new(),
        skipped: Vec::new(),
    };
    for (at, name, credential, entry) in checked_entries {
        if existing.contains(&name) || !seen.insert(name.clone()) {
            result.skipped.push(Skipped {
                at: at.clone(),
                reason: format!("a credential named `{name}` exists already"),
            });
            continue;
        }
        let row = store(&call, provider.id, name, &credential, entry).await?;
        result.created.push(view(&call, row, &provider.name, &[]));
    }
    Reply::created(&result)
}

async fn find(call: &Call) -> Result<(CredentialRow, String), ApiError> {
    find_id(call, call.id(0)?).await
}

/// Credential row `id` and its provider's name.
pub(crate) async fn find_id(call: &Call, id: i64) -> Result<(CredentialRow, String), ApiError> {
    let row = call
        .ctx
        .storage
        .get_credential(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no credential {id}")))?;
    let names = provider_names(call).await?;
    let provider = names.get(&row.provider_id).cloned().unwrap_or_default();
    Ok((row, provider))
}

/// The credential stored in `row` (an OAuth login with the row's version).
pub(crate) fn opened(call: &Call, row: &CredentialRow) -> Result<Credential, ApiError> {
    let unreadable =
        |e: String| ApiError::conflict(format!("the stored secret cannot be read: {e}"));
    let secret = call.ctx.hooks.open(&row.secret).map_err(unreadable)?;
    let mut credential =
        Credential::from_stored(&row.kind, &secret).map_err(|e| unreadable(e.to_string()))?;
    if let Credential::OAuth(login) = &mut credential {
        login.version = row.version;
    }
    Ok(credential)
}

/// `GET /credentials/{id}`.
pub async fn get(call: Call) -> Result<Reply, ApiError> {
    let (row, provider) = find(&call).await?;
    let states = runtime(&call).await;
    Reply::ok(&view(&call, row, &provider, &states))
}

/// `PATCH /credentials/{id}`.
pub async fn update(call: Call) -> Result<Reply, ApiError> {
    let input: CredentialPatchInput = parse(&call.req.body)?;
    let (row, provider_name) = find(&call).await?;
    if input.weight == Some(0) {
        return Err(ApiError::field("weight", "must be at least 1"));
    }
    if let Some(name) = &input.name {
        gproxy_core::config::validate_name(name).map_err(|m| ApiError::field("name", m))?;
    }
    let mut patch = CredentialPatch {
        name: input.name.clone(),
        enabled: input.enabled,
        weight: input.weight,
        secret: None,
    };
    if input.api_key.is_some() || input.service_account.is_some() {
        let provider = providers::find(&call, &provider_name).await?;
        let (_, credential) = checked(
            &CredentialInput {
                name: Some(row.name.clone()),
                api_key: input.api_key.clone(),
                service_account: input.service_account.clone(),
                enabled: None,
                weight: None,
            },
            &provider.kind,
            "",
        )?;
        let sealed = call
            .ctx
            .hooks
            .seal(&credential.to_secret_json())
            .map_err(ApiError::internal)?;
        patch.secret = Some((credential.kind().to_owned(), sealed));
    }
    let row = call
        .ctx
        .storage
        .update_credential(row.id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("credential deleted meanwhile"))?;
    call.apply().await?;
    let states = runtime(&call).await;
    Reply::ok(&view(&call, row, &provider_name, &states))
}

/// `DELETE /credentials/{id}`.
pub async fn delete(call: Call) -> Result<Reply, ApiError> {
    let id = call.id(0)?;
    if !call.ctx.storage.delete_credential(id).await? {
        return Err(ApiError::not_found(format!("no credential {id}")));
    }
    Ok(Reply::no_content())
}

/// `POST /credentials/{id}/test`.
pub async fn test(call: Call) -> Result<Reply, ApiError> {
    let (row, provider) = find(&call).await?;
    let credential = opened(&call, &row)?;
    let r = call
        .ctx
        .engine
        .probe_credential(&provider, row.id, &credential)
        .await;
    Reply::ok(&TestResult {
        ok: r.ok,
        status: r.status,
        latency_ms: r.latency_ms,
        models: r.models,
        message: r.message,
    })
}

fn state_of(id: i64, report: Option<CredentialHealthReport>) -> CredentialState {
    match report {
        Some(r) => CredentialState {
            id,
            loaded: true,
            state: r.state.to_owned(),
            in_flight: r.in_flight,
            cooldown_until: r.cooldown_until,
            model_cooldowns: r.model_cooldowns,
            disabled_reason: r.disabled_reason,
            disabled_at: r.disabled_at,
        },
        None => CredentialState {
            id,
            loaded: false,
            state: "not_loaded".to_owned(),
            in_flight: 0,
            cooldown_until: None,
            model_cooldowns: Default::default(),
            disabled_reason: None,
            disabled_at: None,
        },
    }
}

/// `GET /credentials/{id}/state`.
pub async fn state(call: Call) -> Result<Reply, ApiError> {
    let (row, _) = find(&call).await?;
    let report = runtime(&call).await.into_iter().find(|s| s.id == row.id);
    Reply::ok(&state_of(row.id, report))
}

/// `POST /credentials/{id}/enable`: clears a run-time disable and the
/// cooldowns (the stored enabled flag is `PATCH`'s).
pub async fn enable(call: Call) -> Result<Reply, ApiError> {
    let (row, _) = find(&call).await?;
    match call.ctx.engine.enable_credential(row.id).await {
        Ok(report) => Reply::ok(&state_of(row.id, Some(report))),
        Err(e) => Err(ApiError::conflict(e.to_string())),
    }
}
