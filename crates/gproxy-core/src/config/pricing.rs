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
}

impl PricingConfig {
    /// Checks every override; the error names the field
    /// (`overrides[2].input`).
    pub fn validate(&self) -> Result<(), (String, String)> {
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
        self
    }
}
