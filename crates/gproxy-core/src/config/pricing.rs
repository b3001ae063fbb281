//! `[pricing]`: price overrides over the embedded catalogue.

use serde::{Deserialize, Serialize};

use crate::cost::PriceOverride;

/// `[pricing]` as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PricingConfig {
    /// `[[pricing.overrides]]`: prices per provider and model (`*`
    /// wildcards), ahead of the catalogue. The most specific match wins:
    /// an exact provider name before a wildcard, then an exact model
    /// before a wildcard, then the longer pattern. When given, the list
    /// replaces the stored one whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Vec<PriceOverride>>,
    /// Where to fetch a newer catalogue (`http://` or `https://`, a JSON
    /// document in the embedded catalogue's format). Off by default; `""`
    /// turns it off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
    /// Seconds between fetches (60 to 604800). Default 86400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_interval_secs: Option<u64>,
}

/// Default seconds between catalogue fetches (a day).
pub const DEFAULT_REFRESH_INTERVAL_SECS: u64 = 86_400;

impl PricingConfig {
    /// Checks every override; the error names the field
    /// (`overrides[2].input`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(url) = self.refresh_url.as_deref().filter(|u| !u.is_empty()) {
            let ok = url.parse::<http::Uri>().ok().is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            });
            if !ok {
                return Err((
                    "refresh_url".into(),
                    "must be an http:// or https:// URL".into(),
                ));
            }
        }
        if let Some(secs) = self.refresh_interval_secs
            && !(60..=604_800).contains(&secs)
        {
            return Err((
                "refresh_interval_secs".into(),
                "must be between 60 and 604800".into(),
            ));
        }
        for (i, o) in self.overrides.iter().flatten().enumerate() {
            o.validate()
                .map_err(|e| (format!("overrides[{i}].{}", e.path), e.message))?;
        }
        Ok(())
    }

    /// `self` with every field `other` sets replaced.
    pub fn overlaid(mut self, other: PricingConfig) -> Self {
        if other.overrides.is_some() {
            self.overrides = other.overrides;
        }
        if other.refresh_url.is_some() {
            self.refresh_url = other.refresh_url;
        }
        if other.refresh_interval_secs.is_some() {
            self.refresh_interval_secs = other.refresh_interval_secs;
        }
        self
    }

    /// The refresh URL and interval, when the refresh is on.
    pub fn refresh(&self) -> Option<(String, std::time::Duration)> {
        let url = self.refresh_url.clone().filter(|u| !u.is_empty())?;
        let secs = self
            .refresh_interval_secs
            .unwrap_or(DEFAULT_REFRESH_INTERVAL_SECS);
        Some((url, std::time::Duration::from_secs(secs)))
    }
}
