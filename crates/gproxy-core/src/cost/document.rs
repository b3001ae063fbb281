//! The price documents as written: the catalogue (embedded or refreshed),
//! and the overrides of the config file and the admin API. Amounts are
//! decimal strings (or plain numbers, read through their shortest decimal
//! form), validated into [`ModelPrice`]s.

use std::fmt;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::price::{ModelPrice, PriceTier};

/// An amount in USD (per million tokens, or per request), exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usd(pub Decimal);

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.normalize())
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Usd;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount such as \"2.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Usd, E> {
                v.trim()
                    .parse::<Decimal>()
                    .map(Usd)
                    .map_err(|_| E::custom(format!("`{v}` is not a decimal amount")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Usd, E> {
                Ok(Usd(Decimal::from(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Usd, E> {
                Ok(Usd(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Usd, E> {
                // The shortest decimal that reads back as `v`: what was
                // written, for any amount of up to 15 significant digits.
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Usd {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Usd".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "number"],
            "description": "A non-negative USD amount, exact; a decimal string such as \"2.50\" is preferred.",
            "examples": ["2.50"]
        })
    }
}

/// A model's prices as written (USD per million tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// Uncached prompt tokens.
    pub input: Usd,
    /// Generated tokens (reasoning included unless `reasoning` is set).
    pub output: Usd,
    /// Prompt tokens read from a cache (unset: unknown, so a request with
    /// cache reads gets no cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Usd>,
    /// Prompt tokens written to a cache with the default (5-minute)
    /// lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Usd>,
    /// Prompt tokens written to a cache with a one-hour lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Usd>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Usd>,
    /// A flat fee per request, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request: Option<Usd>,
    /// Long-context tiers: above `above` prompt tokens the whole request
    /// is priced at the tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierSpec>,
}

/// A long-context tier as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// The prompt size (tokens, cached included) past which it applies.
    pub above: u64,
    /// Uncached prompt tokens (unset: the base price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Usd>,
    /// Generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Usd>,
    /// Cache reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Usd>,
    /// 5-minute cache writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Usd>,
    /// 1-hour cache writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Usd>,
    /// Reasoning tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Usd>,
}

/// A price field that failed validation: its path inside the spec and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The field, e.g. `tiers[0].input`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn amount(path: &str, v: Usd) -> Result<Decimal, SpecError> {
    if v.0.is_sign_negative() && !v.0.is_zero() {
        return Err(SpecError {
            path: path.to_owned(),
            message: "must not be negative".into(),
        });
    }
    Ok(v.0.normalize())
}

fn optional(path: &str, v: Option<Usd>) -> Result<Option<Decimal>, SpecError> {
    v.map(|v| amount(path, v)).transpose()
}

impl PriceSpec {
    /// The spec validated: no negative amount, tiers with distinct
    /// thresholds.
    pub fn resolve(&self) -> Result<ModelPrice, SpecError> {
        let mut tiers = Vec::with_capacity(self.tiers.len());
        for (i, t) in self.tiers.iter().enumerate() {
            let p = |f: &str| format!("tiers[{i}].{f}");
            if self.tiers[..i].iter().any(|o| o.above == t.above) {
                return Err(SpecError {
                    path: p("above"),
                    message: format!("a tier above {} is already given", t.above),
                });
            }
            tiers.push(PriceTier {
                above: t.above,
                input: optional(&p("input"), t.input)?,
                output: optional(&p("output"), t.output)?,
                cache_read: optional(&p("cache_read"), t.cache_read)?,
                cache_write_5m: optional(&p("cache_write_5m"), t.cache_write_5m)?,
                cache_write_1h: optional(&p("cache_write_1h"), t.cache_write_1h)?,
                reasoning: optional(&p("reasoning"), t.reasoning)?,
            });
        }
        Ok(ModelPrice {
            input: amount("input", self.input)?,
            output: amount("output", self.output)?,
            cache_read: optional("cache_read", self.cache_read)?,
            cache_write_5m: optional("cache_write_5m", self.cache_write_5m)?,
            cache_write_1h: optional("cache_write_1h", self.cache_write_1h)?,
            reasoning: optional("reasoning", self.reasoning)?,
            per_request: optional("per_request", self.per_request)?,
            tiers,
        })
    }
}

/// A price override: `provider` (a configured provider name, or a pattern
/// such as `*`) and `model` (the upstream model, `*` wildcards allowed)
/// priced by `price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "PriceEntry", into = "PriceEntry")]
pub struct PriceOverride {
    /// The provider name it applies to (`*` wildcards allowed; `*`, the
    /// default: every provider).
    pub provider: String,
    /// The upstream model (`*` wildcards allowed, e.g. `gpt-4o*`).
    pub model: String,
    /// The prices.
    #[serde(flatten)]
    pub price: PriceSpec,
}

/// A price entry as written: the names and the prices side by side
/// (serde's `flatten` would let unknown fields through, so the wire form
/// lists every field once, here).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    /// Overrides only: the provider name it applies to (`*` wildcards;
    /// default `*`, every provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The upstream model (`*` wildcards allowed, e.g. `gpt-4o*`).
    pub model: String,
    /// Uncached prompt tokens, USD per million.
    pub input: Usd,
    /// Generated tokens (reasoning included unless `reasoning` is set).
    pub output: Usd,
    /// Cache reads (unset: unknown; a request with cache reads then has
    /// no cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Usd>,
    /// 5-minute cache writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Usd>,
    /// 1-hour cache writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Usd>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Usd>,
    /// A flat fee per request, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request: Option<Usd>,
    /// Long-context tiers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierSpec>,
}

impl PriceEntry {
    fn split(self) -> (Option<String>, String, PriceSpec) {
        (
            self.provider,
            self.model,
            PriceSpec {
                input: self.input,
                output: self.output,
                cache_read: self.cache_read,
                cache_write_5m: self.cache_write_5m,
                cache_write_1h: self.cache_write_1h,
                reasoning: self.reasoning,
                per_request: self.per_request,
                tiers: self.tiers,
            },
        )
    }

    fn join(provider: Option<String>, model: String, p: PriceSpec) -> Self {
        PriceEntry {
            provider,
            model,
            input: p.input,
            output: p.output,
            cache_read: p.cache_read,
            cache_write_5m: p.cache_write_5m,
            cache_write_1h: p.cache_write_1h,
            reasoning: p.reasoning,
            per_request: p.per_request,
            tiers: p.tiers,
        }
    }
}

impl From<PriceEntry> for PriceOverride {
    fn from(e: PriceEntry) -> Self {
        let (provider, model, price) = e.split();
        PriceOverride {
            provider: provider.unwrap_or_else(|| "*".to_owned()),
            model,
            price,
        }
    }
}

impl From<PriceOverride> for PriceEntry {
    fn from(o: PriceOverride) -> Self {
        PriceEntry::join(Some(o.provider), o.model, o.price)
    }
}

impl TryFrom<PriceEntry> for CatalogueModel {
    type Error = String;
    fn try_from(e: PriceEntry) -> Result<Self, String> {
        let (provider, model, price) = e.split();
        if provider.is_some() {
            return Err("a catalogue model has no `provider` (the section's `kinds` say)".into());
        }
        Ok(CatalogueModel { model, price })
    }
}

impl From<CatalogueModel> for PriceEntry {
    fn from(m: CatalogueModel) -> Self {
        PriceEntry::join(None, m.model, m.price)
    }
}

impl PriceOverride {
    /// Checks the override, returning the bad field's path (relative to
    /// the override) and why.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.provider.trim().is_empty() {
            return Err(SpecError {
                path: "provider".into(),
                message: "must not be empty (use \"*\" for every provider)".into(),
            });
        }
        if self.model.trim().is_empty() {
            return Err(SpecError {
                path: "model".into(),
                message: "must not be empty (use \"*\" for every model)".into(),
            });
        }
        self.price.resolve().map(|_| ())
    }
}

/// A catalogue document: `catalogue.json`'s shape, which a refresh URL
/// must serve too.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueDocument {
    /// The version (snapshot date) recorded with every cost it priced.
    pub version: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Prices by vendor.
    pub providers: Vec<CatalogueProvider>,
}

/// One vendor's prices in the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueProvider {
    /// The provider kinds these prices apply to (`openai`, `claude`,
    /// `aistudio`...).
    pub kinds: Vec<String>,
    /// Where the prices were taken from.
    pub source: String,
    /// When they were checked (a date).
    pub checked: String,
    /// The models.
    pub models: Vec<CatalogueModel>,
}

/// One model of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "PriceEntry", into = "PriceEntry")]
pub struct CatalogueModel {
    /// The upstream model (`*` wildcards allowed).
    pub model: String,
    /// Its prices.
    #[serde(flatten)]
    pub price: PriceSpec,
}

/// Why a catalogue document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// Not a catalogue document.
    #[error("not a price catalogue: {path}: {message}")]
    Shape {
        /// Where it went wrong.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A field with a bad value.
    #[error("{path}: {message}")]
    Field {
        /// The field.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl CatalogueDocument {
    /// Parses `json` and checks its shape (a version, at least one
    /// provider, each with kinds and models).
    pub fn parse(json: &str) -> Result<Self, CatalogueError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let doc: CatalogueDocument =
            serde_path_to_error::deserialize(de).map_err(|e| CatalogueError::Shape {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        let field = |path: String, message: &str| CatalogueError::Field {
            path,
            message: message.to_owned(),
        };
        if doc.version.trim().is_empty() {
            return Err(field("version".into(), "must not be empty"));
        }
        if doc.providers.is_empty() {
            return Err(field("providers".into(), "must list at least one provider"));
        }
        for (i, p) in doc.providers.iter().enumerate() {
            if p.kinds.is_empty() {
                return Err(field(format!("providers[{i}].kinds"), "must not be empty"));
            }
            for (j, m) in p.models.iter().enumerate() {
                if m.model.trim().is_empty() {
                    return Err(field(
                        format!("providers[{i}].models[{j}].model"),
                        "must not be empty",
                    ));
                }
            }
        }
        Ok(doc)
    }
}
