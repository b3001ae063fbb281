//! Config export and import: the whole stored state (providers with their
//! settings, credentials, users, model routes, limits, circuit breaker,
//! egress proxy) as the TOML document the config file takes, and back.
//!
//! Secrets never leave in the clear: a credential is exported only when its
//! stored secret is sealed (`{"sealed": "..."}`), as that sealed string;
//! user keys are exported as their SHA-256 and prefix; the admin key is
//! never exported. What an export leaves out is listed in comments at the
//! top of the document.

use std::collections::HashMap;
use std::path::Path;

use gproxy_provider::ProviderRegistry;
use gproxy_provider::builtin::VERTEX_KIND;
use gproxy_provider::builtin::VertexSettings;
use gproxy_provider::builtin::custom::{CUSTOM_KIND, CountTokens, CustomSettings};
use gproxy_storage::{CredentialRow, ProviderRow, Storage};

use crate::CoreError;
use crate::bootstrap::{
    ApplyMode, ApplyReport, SETTING_CIRCUIT_BREAKER, SETTING_LIMITS, SETTING_LOGGING,
    SETTING_PROXY, apply_entities, limits_to_config,
};
use crate::config::{
    CircuitBreakerConfig, ConfigError, CredentialConfig, CredentialStrategy, FileConfig,
    KeyHashConfig, LimitsConfig, LoggingConfig, ProviderConfig, RouteConfig, TargetConfig,
    UserConfig, WeightedTarget,
};
use crate::model_route::{RouteTarget, Strategy};
use crate::settings::{Limits, Logging, Resilience, redact_url_password};
use crate::state::ADMIN_USER;

/// What an import applied.
pub type ImportReport = ApplyReport;

/// The name an imported document has in error messages.
const IMPORT_PATH: &str = "<import>";

/// The stored state as a config document, plus what was left out and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The document.
    pub config: FileConfig,
    /// One line per entity or value left out (`credential openai/k1: its
    /// secret is not sealed`).
    pub omitted: Vec<String>,
}

/// The whole stored state as a TOML document that [`FileConfig`] parses
/// (and [`import_config`] applies). Omissions are listed as comments.
pub async fn export_config(storage: &Storage) -> Result<String, CoreError> {
    let export = export_state(storage).await?;
    let body = toml::to_string(&export.config)
        .map_err(|e| CoreError::Invalid(format!("cannot write the export: {e}")))?;
    let mut out = String::from("# gproxy configuration export\n");
    for line in &export.omitted {
        out.push_str("# omitted: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

/// The stored state as a [`FileConfig`]: entities sorted by name, built-in
/// providers left at their defaults skipped.
pub async fn export_state(storage: &Storage) -> Result<Export, CoreError> {
    let settings: HashMap<String, String> = storage.all_settings().await?.into_iter().collect();
    let mut omitted = Vec::new();
    let mut config = FileConfig {
        limits: settings
            .get(SETTING_LIMITS)
            .and_then(|l| serde_json::from_str::<LimitsConfig>(l).ok())
            .filter(|l| *l != LimitsConfig::default()),
        circuit_breaker: settings
            .get(SETTING_CIRCUIT_BREAKER)
            .and_then(|c| serde_json::from_str::<CircuitBreakerConfig>(c).ok())
            .filter(|c| *c != CircuitBreakerConfig::default()),
        proxy: settings
            .get(SETTING_PROXY)
            .filter(|p| !p.is_empty())
            .cloned(),
        logging: settings
            .get(SETTING_LOGGING)
            .and_then(|l| serde_json::from_str::<LoggingConfig>(l).ok())
            .filter(|l| Logging::default().merged(l) != Logging::default()),
        ..FileConfig::default()
    };
    if let Some(cb) = config.circuit_breaker.as_mut()
        && cb
            .redis_url
            .as_ref()
            .is_some_and(|u| redact_url_password(u) != *u)
    {
        cb.redis_url = None;
        omitted.push("circuit_breaker.redis_url: it holds a password".to_owned());
    }
    if config
        .proxy
        .as_ref()
        .is_some_and(|p| redact_url_password(p) != *p)
    {
        config.proxy = None;
        omitted.push("proxy: it holds a password".to_owned());
    }

    let mut providers = storage.list_providers().await?;
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut credentials: HashMap<i64, Vec<CredentialRow>> = HashMap::new();
    for c in storage.list_credentials().await? {
        credentials.entry(c.provider_id).or_default().push(c);
    }
    for row in &providers {
        let mut rows = credentials.remove(&row.id).unwrap_or_default();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let p = export_provider(row, &rows, &mut omitted)?;
        if p != bare_provider(&row.name) {
            config.providers.push(p);
        }
    }

    let mut users = storage.list_users().await?;
    users.sort_by(|a, b| a.name.cmp(&b.name));
    let names: HashMap<i64, &str> = users.iter().map(|u| (u.id, u.name.as_str())).collect();
    let mut keys: HashMap<i64, Vec<KeyHashConfig>> = HashMap::new();
    for k in storage.list_user_keys().await? {
        if k.enabled {
            keys.entry(k.user_id).or_default().push(KeyHashConfig {
                sha256: k.key_hash,
                prefix: k.key_prefix,
            });
        } else {
            let user = names.get(&k.user_id).copied().unwrap_or("?");
            omitted.push(format!(
                "disabled key `{}...` of user `{user}`",
                k.key_prefix
            ));
        }
    }
    omitted.sort();
    for u in users {
        let mut key_hashes = if u.enabled {
            keys.remove(&u.id).unwrap_or_default()
        } else {
            omitted.push(format!("the keys of disabled user `{}`", u.name));
            Vec::new()
        };
        if u.name == ADMIN_USER && key_hashes.is_empty() {
            continue;
        }
        key_hashes.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        config.users.push(UserConfig {
            name: u.name,
            keys: Vec::new(),
            key_hashes,
        });
    }

    let mut routes = storage.list_model_routes().await?;
    routes.sort_by(|a, b| a.name.cmp(&b.name));
    for r in routes {
        if !r.enabled {
            omitted.push(format!("disabled route `{}`", r.name));
            continue;
        }
        let Ok(targets) = serde_json::from_value::<Vec<RouteTarget>>(r.targets) else {
            omitted.push(format!(
                "route `{}`: its stored targets are unreadable",
                r.name
            ));
            continue;
        };
        let weighted = Strategy::parse(&r.strategy) == Some(Strategy::Weighted);
        config.routes.push(RouteConfig {
            model: r.name,
            targets: targets
                .into_iter()
                .map(|t| {
                    let target = format!("{}/{}", t.provider, t.model);
                    if weighted {
                        TargetConfig::Weighted(WeightedTarget {
                            target,
                            weight: t.weight,
                        })
                    } else {
                        TargetConfig::Plain(target)
                    }
                })
                .collect(),
        });
    }
    Ok(Export { config, omitted })
}

/// A provider entry naming only the provider: what a built-in at its
/// defaults exports as (and is then skipped).
fn bare_provider(name: &str) -> ProviderConfig {
    ProviderConfig {
        name: name.to_owned(),
        kind: None,
        base_url: None,
        enabled: None,
        protocol: None,
        json_param_mask: None,
        headers: None,
        models: None,
        count_tokens: None,
        auth: None,
        project: None,
        location: None,
        credential_strategy: None,
        settings: None,
        credentials: Vec::new(),
    }
}

/// One provider row (and its credentials) in the config file's terms.
fn export_provider(
    row: &ProviderRow,
    credentials: &[CredentialRow],
    omitted: &mut Vec<String>,
) -> Result<ProviderConfig, CoreError> {
    let mut p = bare_provider(&row.name);
    if row.kind != row.name {
        p.kind = Some(row.kind.clone());
    }
    p.base_url = row.base_url.clone();
    p.enabled = (!row.enabled).then_some(false);
    p.credential_strategy = CredentialStrategy::parse(&row.credential_strategy)
        .filter(|s| *s != CredentialStrategy::RoundRobin);
    let unreadable = |e: serde_json::Error| {
        CoreError::Invalid(format!(
            "provider `{}`: its stored settings are unreadable: {e}",
            row.name
        ))
    };
    if row.kind == CUSTOM_KIND {
        let s: CustomSettings = serde_json::from_value(row.settings.clone()).map_err(unreadable)?;
        p.protocol = Some(s.protocol);
        p.json_param_mask = (!s.json_param_mask.is_empty()).then_some(s.json_param_mask);
        p.headers = (!s.headers.is_empty()).then_some(s.headers);
        p.models = (!s.models.is_empty()).then_some(s.models);
        p.count_tokens = (s.count_tokens != CountTokens::default()).then_some(s.count_tokens);
        p.auth = s.auth;
    } else if row.kind == VERTEX_KIND {
        let s: VertexSettings = serde_json::from_value(row.settings.clone()).map_err(unreadable)?;
        p.project = s.project;
        p.location = s.location;
    } else if let Some(obj) = row.settings.as_object() {
        // A kind's own settings (OAuth kinds), without the overrides.
        let own: serde_json::Map<String, serde_json::Value> = obj
            .iter()
            .filter(|(k, _)| !gproxy_provider::builtin::OVERRIDE_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        p.settings = (!own.is_empty()).then_some(own);
    }
    for c in credentials {
        let sealed = c
            .secret
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("sealed"))
            .and_then(|s| s.as_str());
        let Some(sealed) = sealed else {
            omitted.push(format!(
                "credential {}/{}: its secret is not sealed",
                row.name, c.name
            ));
            continue;
        };
        p.credentials.push(CredentialConfig {
            name: Some(c.name.clone()),
            api_key: None,
            service_account: None,
            service_account_file: None,
            sealed: Some(sealed.to_owned()),
            kind: (c.kind != CredentialConfig::default_sealed_kind(&row.kind))
                .then(|| c.kind.clone()),
            enabled: (!c.enabled).then_some(false),
            weight: (c.weight != 1).then_some(c.weight),
        });
    }
    Ok(p)
}

/// Validates `text` like a config file (errors name the exact field, in a
/// file called `<import>`) and applies every entry, replacing stored values
/// of the same names; nothing is deleted. `${VAR}` is not expanded.
/// Instance-local fields (`host`, `port`, `data_dir`, `dsn`, `admin_key`)
/// are refused. The running instance's live settings (limits, circuit
/// breaker, proxy) are stored for the next start or live-settings reload.
pub async fn import_config(
    storage: &Storage,
    registry: &ProviderRegistry,
    sealer: &gproxy_credential::seal::Sealer,
    text: &str,
) -> Result<ImportReport, CoreError> {
    let path = Path::new(IMPORT_PATH);
    let file = FileConfig::parse(text, path, &|_| None)?;
    for (field, given) in [
        ("host", file.host.is_some()),
        ("port", file.port.is_some()),
        ("data_dir", file.data_dir.is_some()),
        ("dsn", file.dsn.is_some()),
        ("admin_key", file.admin_key.is_some()),
    ] {
        if given {
            return Err(ConfigError::Field {
                path: path.to_owned(),
                field: field.to_owned(),
                message: "cannot be imported: set it on the instance (command line, environment or its config file)".to_owned(),
            }
            .into());
        }
    }
    let mut report =
        apply_entities(storage, registry, sealer, &file, path, &ApplyMode::All).await?;
    if let Some(limits) = &file.limits {
        let stored: LimitsConfig = stored_json(storage, SETTING_LIMITS).await?;
        let merged = Limits::default().merged(&stored).merged(limits);
        store_json(storage, SETTING_LIMITS, &limits_to_config(&merged)).await?;
        report.settings.push(SETTING_LIMITS.to_owned());
    }
    if let Some(cb) = &file.circuit_breaker {
        let stored: CircuitBreakerConfig = stored_json(storage, SETTING_CIRCUIT_BREAKER).await?;
        let merged = Resilience::default().merged(&stored).merged(cb);
        store_json(storage, SETTING_CIRCUIT_BREAKER, &merged.to_config()).await?;
        report.settings.push(SETTING_CIRCUIT_BREAKER.to_owned());
    }
    if let Some(proxy) = &file.proxy {
        storage.set_setting(SETTING_PROXY, proxy).await?;
        report.settings.push(SETTING_PROXY.to_owned());
    }
    if let Some(logging) = &file.logging {
        let stored: LoggingConfig = stored_json(storage, SETTING_LOGGING).await?;
        let merged = Logging::default().merged(&stored).merged(logging);
        store_json(storage, SETTING_LOGGING, &merged.to_config()).await?;
        report.settings.push(SETTING_LOGGING.to_owned());
    }
    Ok(report)
}

/// The JSON setting `key`, or the default when absent or unreadable.
async fn stored_json<T: serde::de::DeserializeOwned + Default>(
    storage: &Storage,
    key: &str,
) -> Result<T, CoreError> {
    Ok(storage
        .get_setting(key)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

async fn store_json(
    storage: &Storage,
    key: &str,
    value: &impl serde::Serialize,
) -> Result<(), CoreError> {
    let json = serde_json::to_string(value)
        .map_err(|e| CoreError::Invalid(format!("cannot store {key}: {e}")))?;
    storage.set_setting(key, &json).await?;
    Ok(())
}
