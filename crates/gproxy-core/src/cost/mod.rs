//! Prices: the embedded catalogue, overrides, and what a request costs.
//!
//! A [`PriceBook`] is the catalogue (the embedded, dated snapshot in
//! `catalogue.json`, or a refreshed document of the same shape) with the
//! configured overrides applied. It is immutable; the engine swaps a new
//! one in when the overrides change or a refresh succeeds
//! ([`crate::Engine::prices`]). Amounts are USD as [`Decimal`]: no float
//! anywhere. See `docs/cost.md`.

mod document;
mod price;

use std::sync::{Arc, LazyLock};

use gproxy_protocol::Usage;
pub use rust_decimal::Decimal;

pub use document::{
    CatalogueDocument, CatalogueError, CatalogueModel, CatalogueProvider, PriceEntry,
    PriceOverride, PriceSpec, TierSpec, Usd,
};
pub use price::{
    COST_SCALE, CostBreakdown, CostLine, ModelPrice, PriceTier, USD_TEXT_MAX, UsageSemantics,
    from_nanos, round, to_nanos, usd_text,
};

/// The embedded catalogue document.
pub const EMBEDDED_CATALOGUE: &str = include_str!("catalogue.json");

/// The embedded catalogue, parsed once.
static EMBEDDED: LazyLock<Arc<Catalogue>> = LazyLock::new(|| {
    // A test checks the embedded document parses; an empty catalogue is
    // the harmless fallback should it ever not.
    Arc::new(Catalogue::parse(EMBEDDED_CATALOGUE).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the embedded price catalogue is invalid");
        Catalogue::default()
    }))
});

/// A parsed catalogue: its version, sources and model prices.
#[derive(Debug, Default)]
pub struct Catalogue {
    version: String,
    providers: Vec<CatalogueProvider>,
    entries: Vec<CatalogueEntry>,
}

#[derive(Debug)]
struct CatalogueEntry {
    kinds: Vec<String>,
    model: Pattern,
    price: ModelPrice,
}

impl Catalogue {
    /// The embedded catalogue.
    pub fn embedded() -> Arc<Catalogue> {
        EMBEDDED.clone()
    }

    /// Parses and validates a catalogue document (the embedded one, or a
    /// refreshed one).
    pub fn parse(json: &str) -> Result<Catalogue, CatalogueError> {
        let doc = CatalogueDocument::parse(json)?;
        let mut entries = Vec::new();
        for (i, provider) in doc.providers.iter().enumerate() {
            for (j, m) in provider.models.iter().enumerate() {
                let price = m.price.resolve().map_err(|e| CatalogueError::Field {
                    path: format!("providers[{i}].models[{j}].{}", e.path),
                    message: e.message,
                })?;
                entries.push(CatalogueEntry {
                    kinds: provider.kinds.clone(),
                    model: Pattern::new(&m.model),
                    price,
                });
            }
        }
        Ok(Catalogue {
            version: doc.version,
            providers: doc.providers,
            entries,
        })
    }

    /// The catalogue's version (its snapshot date).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Its providers, with their sources and models, as written.
    pub fn providers(&self) -> &[CatalogueProvider] {
        &self.providers
    }

    /// How many model entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no model.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn lookup_index(&self, kind: &str, model: &str) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kinds.iter().any(|k| k == kind) && e.model.matches(model))
            .max_by_key(|(_, e)| e.model.rank())
            .map(|(i, _)| i)
    }
}

/// A resolved override.
#[derive(Debug)]
struct OverrideEntry {
    provider: Pattern,
    model: Pattern,
    price: ModelPrice,
}

/// The catalogue with the overrides applied: what prices a request.
#[derive(Debug)]
pub struct PriceBook {
    catalogue: Arc<Catalogue>,
    overrides: Vec<OverrideEntry>,
    /// The overrides as given, for [`PriceBook::with_catalogue`].
    given: Vec<PriceOverride>,
    /// Lookups already made, by provider, kind and model (the book is
    /// immutable, so an answer stays true; bounded by
    /// [`MEMO_CAPACITY`], emptied when full).
    memo: std::sync::RwLock<hashbrown::HashMap<MemoKey, Found>>,
}

/// A remembered lookup's provider, kind and model.
type MemoKey = (Box<str>, Box<str>, Box<str>);

/// A lookup's provider, kind and model, borrowed: found in the memo
/// without building its key (hashed as [`MemoKey`] is).
#[derive(Hash)]
struct MemoQuery<'a>(&'a str, &'a str, &'a str);

impl hashbrown::Equivalent<MemoKey> for MemoQuery<'_> {
    fn equivalent(&self, key: &MemoKey) -> bool {
        *key.0 == *self.0 && *key.1 == *self.1 && *key.2 == *self.2
    }
}

/// The most lookups a book remembers.
const MEMO_CAPACITY: usize = 4_096;

/// Where a lookup found its price.
#[derive(Debug, Clone, Copy)]
enum Found {
    Override(usize),
    Catalogue(usize),
    Unknown,
}

/// Where a request's price came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum PriceOrigin {
    /// The catalogue entry with this model pattern.
    Catalogue {
        /// The entry's model pattern.
        model: String,
    },
    /// The override with this provider and model pattern.
    Override {
        /// The override's provider pattern.
        provider: String,
        /// The override's model pattern.
        model: String,
    },
}

/// A model's price and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct PriceMatch<'a> {
    /// The prices.
    pub price: &'a ModelPrice,
    /// Whether an override (not the catalogue) set them.
    pub overridden: bool,
    provider_pattern: Option<&'a Pattern>,
    model_pattern: &'a Pattern,
}

impl PriceMatch<'_> {
    /// Where the price came from.
    pub fn origin(&self) -> PriceOrigin {
        match self.provider_pattern {
            Some(p) => PriceOrigin::Override {
                provider: p.source.clone(),
                model: self.model_pattern.source.clone(),
            },
            None => PriceOrigin::Catalogue {
                model: self.model_pattern.source.clone(),
            },
        }
    }
}

impl Default for PriceBook {
    fn default() -> Self {
        PriceBook::new(Catalogue::embedded(), &[])
    }
}

impl PriceBook {
    /// `catalogue` with `overrides` (validated beforehand: see
    /// [`PriceOverride::validate`]; an invalid one is skipped and logged).
    pub fn new(catalogue: Arc<Catalogue>, overrides: &[PriceOverride]) -> Self {
        let overrides_src = overrides;
        let overrides = overrides
            .iter()
            .filter_map(|o| match o.price.resolve() {
                Ok(price) => Some(OverrideEntry {
                    provider: Pattern::new(&o.provider),
                    model: Pattern::new(&o.model),
                    price,
                }),
                Err(e) => {
                    tracing::warn!(provider = %o.provider, model = %o.model, error = %e.message, "price override skipped");
                    None
                }
            })
            .collect();
        PriceBook {
            catalogue,
            overrides,
            given: overrides_src.to_vec(),
            memo: std::sync::RwLock::default(),
        }
    }

    /// This book's overrides over another `catalogue` (a refreshed one).
    pub fn with_catalogue(&self, catalogue: Arc<Catalogue>) -> PriceBook {
        PriceBook::new(catalogue, &self.given)
    }

    /// How many overrides it applies.
    pub fn override_count(&self) -> usize {
        self.overrides.len()
    }

    /// The catalogue this book is built on.
    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// The catalogue version (snapshot date) that prices requests.
    pub fn version(&self) -> &str {
        &self.catalogue.version
    }

    /// The version recorded with a cost priced by `m`: the catalogue
    /// version, with `+override` when an override set the price.
    pub fn version_of(&self, m: &PriceMatch<'_>) -> String {
        if m.overridden {
            format!("{}+override", self.catalogue.version)
        } else {
            self.catalogue.version.clone()
        }
    }

    /// The price of `model` on the provider named `provider` of `kind`:
    /// the most specific matching override (an exact provider name before
    /// a wildcard, then the most specific model pattern), else the most
    /// specific catalogue entry for `kind`. A leading `models/` is
    /// ignored.
    pub fn lookup(&self, provider: &str, kind: &str, model: &str) -> Option<PriceMatch<'_>> {
        use std::sync::PoisonError;
        let model = model.strip_prefix("models/").unwrap_or(model);
        let known = self
            .memo
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&MemoQuery(provider, kind, model))
            .copied();
        let found = match known {
            Some(found) => found,
            None => {
                let found = self.find(provider, kind, model);
                let mut memo = self.memo.write().unwrap_or_else(PoisonError::into_inner);
                if memo.len() >= MEMO_CAPACITY {
                    memo.clear();
                }
                memo.insert((provider.into(), kind.into(), model.into()), found);
                found
            }
        };
        match found {
            Found::Override(i) => self.overrides.get(i).map(|o| PriceMatch {
                price: &o.price,
                overridden: true,
                provider_pattern: Some(&o.provider),
                model_pattern: &o.model,
            }),
            Found::Catalogue(i) => self.catalogue.entries.get(i).map(|e| PriceMatch {
                price: &e.price,
                overridden: false,
                provider_pattern: None,
                model_pattern: &e.model,
            }),
            Found::Unknown => None,
        }
    }

    /// [`PriceBook::lookup`] without the memo.
    fn find(&self, provider: &str, kind: &str, model: &str) -> Found {
        let hit = self
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| o.provider.matches(provider) && o.model.matches(model))
            .max_by_key(|(_, o)| (o.provider.rank(), o.model.rank()));
        if let Some((i, _)) = hit {
            return Found::Override(i);
        }
        self.catalogue
            .lookup_index(kind, model)
            .map_or(Found::Unknown, Found::Catalogue)
    }

    /// What `usage` cost (USD, rounded to nine places), read with the
    /// semantics of `kind`'s native protocol. `None`: the price is unknown.
    pub fn cost(&self, provider: &str, kind: &str, model: &str, usage: &Usage) -> Option<Decimal> {
        self.cost_with(provider, kind, model, usage, UsageSemantics::of_kind(kind))
    }

    /// [`PriceBook::cost`] with the usage's semantics given (the engine
    /// knows the protocol the upstream answered in).
    pub fn cost_with(
        &self,
        provider: &str,
        kind: &str,
        model: &str,
        usage: &Usage,
        semantics: UsageSemantics,
    ) -> Option<Decimal> {
        let m = self.lookup(provider, kind, model)?;
        Some(m.price.breakdown(usage, semantics)?.total)
    }

    /// An upper estimate before the call, in whole nano-dollars (as
    /// [`to_nanos`] makes them, `i64::MAX` past it): `input_tokens`
    /// uncached and `max_output_tokens` generated (see
    /// [`ModelPrice::estimate`]); `None`: the price is unknown.
    pub fn estimate_nanos(
        &self,
        provider: &str,
        kind: &str,
        model: &str,
        input_tokens: u64,
        max_output_tokens: u64,
    ) -> Option<i64> {
        let m = self.lookup(provider, kind, model)?;
        Some(
            m.price
                .estimate_nanos(input_tokens, max_output_tokens)
                .unwrap_or(i64::MAX),
        )
    }
}

/// A name pattern: `*` matches any run of characters, the rest literally.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    parts: Vec<String>,
    wildcard: bool,
}

impl Pattern {
    /// The pattern `s`.
    pub fn new(s: &str) -> Self {
        Pattern {
            source: s.to_owned(),
            parts: s.split('*').map(str::to_owned).collect(),
            wildcard: s.contains('*'),
        }
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        if !self.wildcard {
            return self.source == name;
        }
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return false,
        };
        let Some(mut tail) = name.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return true;
        };
        for part in middle {
            match tail.find(part.as_str()) {
                Some(at) => tail = &tail[at + part.len()..],
                None => return false,
            }
        }
        tail.len() >= last.len() && tail.ends_with(last.as_str())
    }

    /// How specific it is: an exact name beats any wildcard; among
    /// wildcards, more literal characters win.
    fn rank(&self) -> (bool, usize) {
        (
            !self.wildcard,
            self.parts.iter().map(String::len).sum::<usize>(),
        )
    }
}

#[cfg(test)]
mod tests;
