//! `/pricing`: the price catalogue in force and the overrides over it.
//! An accepted change is stored and applied at once on every instance.

use gproxy_core::bootstrap::SETTING_PRICING;
use gproxy_core::config::PricingConfig;
use gproxy_core::cost::{CatalogueProvider, PriceOverride};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::json::parse;
use crate::request::Reply;
use crate::routes::Call;

/// The prices in force.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PricingView {
    /// The catalogue version (its snapshot date), recorded with every
    /// cost it priced.
    pub version: String,
    /// The catalogue: per vendor, the provider kinds, the source and the
    /// date it was checked, the models and their prices (USD per million
    /// tokens).
    pub catalogue: Vec<CatalogueProvider>,
    /// The overrides, ahead of the catalogue.
    pub overrides: Vec<PriceOverride>,
    /// The refresh URL (`null`: off, the embedded catalogue stays).
    pub refresh_url: Option<String>,
    /// Seconds between fetches.
    pub refresh_interval_secs: Option<u64>,
    /// What the refresh last did (on this instance).
    pub refresh: gproxy_core::price_refresh::RefreshStatus,
}

/// `PUT /pricing`: the overrides, replaced whole.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PricingInput {
    /// Prices per provider and model (`*` wildcards); the most specific
    /// match wins (see docs/cost.md).
    pub overrides: Vec<PriceOverride>,
    /// Where to fetch a newer catalogue (`http(s)://`, the embedded
    /// catalogue's format); absent or `""`: no refresh.
    #[serde(default)]
    pub refresh_url: Option<String>,
    /// Seconds between fetches (60 to 604800); default 86400.
    #[serde(default)]
    pub refresh_interval_secs: Option<u64>,
}

async fn current(call: &Call) -> Result<PricingView, ApiError> {
    let stored: PricingConfig = call
        .ctx
        .storage
        .get_setting(SETTING_PRICING)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    let book = call.ctx.engine.prices();
    Ok(PricingView {
        version: book.version().to_owned(),
        catalogue: book.catalogue().providers().to_vec(),
        overrides: stored.overrides.unwrap_or_default(),
        refresh_url: stored.refresh_url.filter(|u| !u.is_empty()),
        refresh_interval_secs: stored.refresh_interval_secs,
        refresh: call.ctx.engine.price_refresh_status(),
    })
}

/// `GET /pricing`.
pub async fn get(call: Call) -> Result<Reply, ApiError> {
    Reply::ok(&current(&call).await?)
}

/// `PUT /pricing`.
pub async fn put(call: Call) -> Result<Reply, ApiError> {
    let input: PricingInput = parse(&call.req.body)?;
    let config = PricingConfig {
        overrides: Some(input.overrides),
        refresh_url: Some(input.refresh_url.unwrap_or_default()),
        refresh_interval_secs: input.refresh_interval_secs,
    };
    config
        .validate()
        .map_err(|(field, message)| ApiError::field(field, message))?;
    let json = serde_json::to_string(&config).map_err(ApiError::internal)?;
    call.ctx.storage.set_setting(SETTING_PRICING, &json).await?;
    Reply::ok(&current(&call).await?)
}
