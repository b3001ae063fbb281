//! One model's prices and the arithmetic that turns a usage into USD.
//!
//! Prices are USD per million tokens (per request for the flat fee), held
//! as [`Decimal`]; no float is ever involved. How a usage's numbers relate
//! to each other depends on the protocol that reported it
//! ([`UsageSemantics`]): OpenAI and Gemini count cached prompt tokens
//! inside the prompt, Anthropic does not; Gemini counts thinking tokens
//! apart from the candidates, OpenAI inside the completion.

use gproxy_protocol::{Protocol, Usage};
use rust_decimal::Decimal;
use serde::Serialize;

/// Decimal places a cost is rounded to (1e-9 USD, a nano-dollar).
pub const COST_SCALE: u32 = 9;

/// One million, the unit prices are quoted per.
const MILLION: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// How the numbers of a [`Usage`] relate, by the protocol that reported
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSemantics {
    /// OpenAI (Chat, Responses) and OpenAI-compatible upstreams: the
    /// prompt count includes cached reads (and writes); the completion
    /// count includes reasoning tokens.
    OpenAi,
    /// Anthropic: the input count excludes cache reads and writes; the
    /// output count includes thinking.
    Anthropic,
    /// Gemini: the prompt count includes cached content; the candidates
    /// count excludes thinking (`thoughtsTokenCount`), billed as output.
    Gemini,
}

impl UsageSemantics {
    /// The semantics of usage in `protocol`.
    pub fn of_protocol(protocol: Protocol) -> Self {
        match protocol {
            Protocol::OpenAiChat | Protocol::OpenAiResponses => UsageSemantics::OpenAi,
            Protocol::Claude => UsageSemantics::Anthropic,
            Protocol::Gemini => UsageSemantics::Gemini,
        }
    }

    /// The semantics of a built-in provider kind's native usage: `claude`
    /// is Anthropic's, `aistudio`, `vertex` and `vertexexpress` Gemini's,
    /// every other kind OpenAI's.
    pub fn of_kind(kind: &str) -> Self {
        match kind {
            "claude" => UsageSemantics::Anthropic,
            "aistudio" | "vertex" | "vertexexpress" => UsageSemantics::Gemini,
            _ => UsageSemantics::OpenAi,
        }
    }
}

/// The prices of one model (USD per million tokens unless said).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelPrice {
    /// Uncached prompt tokens.
    pub input: Decimal,
    /// Generated tokens (reasoning included unless `reasoning` is set).
    pub output: Decimal,
    /// Prompt tokens read from a cache; `None`: unknown (a usage with
    /// cache reads then has no price).
    pub cache_read: Option<Decimal>,
    /// Prompt tokens written to a cache with the default (5-minute)
    /// lifetime.
    pub cache_write_5m: Option<Decimal>,
    /// Prompt tokens written to a cache with a one-hour lifetime.
    pub cache_write_1h: Option<Decimal>,
    /// Reasoning tokens, when the vendor prices them apart from output.
    pub reasoning: Option<Decimal>,
    /// A flat fee per request, USD.
    pub per_request: Option<Decimal>,
    /// Long-context tiers: when the prompt is larger than a tier's
    /// `above`, the whole request is priced at that tier (the highest
    /// matching one).
    pub tiers: Vec<PriceTier>,
}

/// A long-context tier: prices that replace the base ones for the whole
/// request when the prompt exceeds `above` tokens. Absent prices keep the
/// base price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceTier {
    /// The prompt size (tokens, cached included) past which the tier
    /// applies.
    pub above: u64,
    /// Uncached prompt tokens.
    pub input: Option<Decimal>,
    /// Generated tokens.
    pub output: Option<Decimal>,
    /// Cache reads.
    pub cache_read: Option<Decimal>,
    /// 5-minute cache writes.
    pub cache_write_5m: Option<Decimal>,
    /// 1-hour cache writes.
    pub cache_write_1h: Option<Decimal>,
    /// Reasoning tokens.
    pub reasoning: Option<Decimal>,
}

/// One line of a cost's arithmetic: `tokens` × `price_per_million` / 1e6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CostLine {
    /// `input`, `cache_read`, `cache_write_5m`, `cache_write_1h`,
    /// `output`, `reasoning` or `request`.
    pub kind: &'static str,
    /// How many tokens (requests, for `request`).
    pub tokens: u64,
    /// USD per million tokens (per request, for `request`).
    #[schemars(with = "String")]
    pub price: Decimal,
    /// What the line costs, USD.
    #[schemars(with = "String")]
    pub cost: Decimal,
}

/// A priced usage: its lines and their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CostBreakdown {
    /// The prompt size the tier was chosen by.
    pub prompt_tokens: u64,
    /// The long-context tier applied (its `above`), if any.
    pub tier_above: Option<u64>,
    /// The lines with a non-zero token count.
    pub lines: Vec<CostLine>,
    /// The sum, USD, rounded to nine decimal places.
    #[schemars(with = "String")]
    pub total: Decimal,
}

/// What [`ModelPrice::parts`] found: up to six token lines (kind, tokens,
/// price per million), the fee, the prompt size and the tier applied.
pub(super) struct Parts {
    prompt: u64,
    tier_above: Option<u64>,
    lines: [(&'static str, u64, Decimal); 6],
    len: usize,
    fee: Option<Decimal>,
}

impl Parts {
    /// The parts' total in whole nano-dollars by exact integer arithmetic
    /// (half away from zero, as [`round`]); `None` when a price has more
    /// than twelve decimal places per million tokens or it overflows.
    pub(super) fn integer_nanos(&self) -> Option<i64> {
        /// `price` × 10^`places` as an integer, if exact.
        fn scaled(price: Decimal, places: u32) -> Option<i128> {
            let shift = places.checked_sub(price.scale())?;
            price.mantissa().checked_mul(10i128.checked_pow(shift)?)
        }
        // Atto-dollars (1e-18): a price per million tokens is 10^12
        // atto-dollars per token per dollar; a fee 10^18 per dollar.
        let mut atto: i128 = 0;
        for &(_, tokens, price) in &self.lines[..self.len] {
            atto = atto.checked_add(scaled(price, 12)?.checked_mul(i128::from(tokens))?)?;
        }
        if let Some(fee) = self.fee {
            atto = atto.checked_add(scaled(fee, 18)?)?;
        }
        // To nano-dollars, half away from zero, as `round` does.
        const ATTO_PER_NANO: i128 = 1_000_000_000;
        let half = ATTO_PER_NANO / 2;
        let nanos = if atto >= 0 {
            (atto + half) / ATTO_PER_NANO
        } else {
            (atto - half) / ATTO_PER_NANO
        };
        i64::try_from(nanos).ok()
    }
}

/// The usage an estimate prices: the input all uncached, the output cap
/// all generated.
fn estimated_usage(input_tokens: u64, max_output_tokens: u64) -> Usage {
    Usage {
        input_tokens,
        output_tokens: max_output_tokens,
        ..Usage::default()
    }
}

/// The prices in force for one request (a tier resolved).
struct Rates {
    input: Decimal,
    output: Decimal,
    cache_read: Option<Decimal>,
    cache_write_5m: Option<Decimal>,
    cache_write_1h: Option<Decimal>,
    reasoning: Option<Decimal>,
}

impl ModelPrice {
    /// The rates for a request whose prompt has `prompt_tokens`.
    fn rates(&self, prompt_tokens: u64) -> (Rates, Option<u64>) {
        let mut rates = Rates {
            input: self.input,
            output: self.output,
            cache_read: self.cache_read,
            cache_write_5m: self.cache_write_5m,
            cache_write_1h: self.cache_write_1h,
            reasoning: self.reasoning,
        };
        let tier = self
            .tiers
            .iter()
            .filter(|t| prompt_tokens > t.above)
            .max_by_key(|t| t.above);
        if let Some(t) = tier {
            rates.input = t.input.unwrap_or(rates.input);
            rates.output = t.output.unwrap_or(rates.output);
            rates.cache_read = t.cache_read.or(rates.cache_read);
            rates.cache_write_5m = t.cache_write_5m.or(rates.cache_write_5m);
            rates.cache_write_1h = t.cache_write_1h.or(rates.cache_write_1h);
            rates.reasoning = t.reasoning.or(rates.reasoning);
        }
        (rates, tier.map(|t| t.above))
    }

    /// The priced parts of `usage` (reported with `semantics`): each kind
    /// with tokens, in line order, then the per-request fee; with the
    /// prompt size and the tier applied. `None` when a token kind the
    /// usage has is not priced.
    pub(super) fn parts(&self, usage: &Usage, semantics: UsageSemantics) -> Option<Parts> {
        let writes = usage.cache_write_tokens;
        let writes_1h = usage.cache_write_1h_tokens.min(writes);
        let writes_5m = writes - writes_1h;
        let reads = usage.cache_read_tokens;
        // Prompt size (for the tier), uncached input, billed output.
        let (prompt, uncached, output) = match semantics {
            UsageSemantics::OpenAi => (
                usage.input_tokens,
                usage.input_tokens.saturating_sub(reads + writes),
                usage.output_tokens,
            ),
            UsageSemantics::Anthropic => (
                usage.input_tokens + reads + writes,
                usage.input_tokens,
                usage.output_tokens,
            ),
            UsageSemantics::Gemini => (
                usage.input_tokens,
                usage.input_tokens.saturating_sub(reads),
                usage.output_tokens + usage.reasoning_tokens,
            ),
        };
        let (rates, tier_above) = self.rates(prompt);
        // Reasoning priced apart comes out of the output it is inside.
        let (output, reasoning) = match rates.reasoning {
            Some(price) if usage.reasoning_tokens > 0 => {
                (output.saturating_sub(usage.reasoning_tokens), Some(price))
            }
            _ => (output, None),
        };
        let mut parts = Parts {
            prompt,
            tier_above,
            lines: [("", 0, Decimal::ZERO); 6],
            len: 0,
            fee: self.per_request,
        };
        for (kind, tokens, price) in [
            ("input", uncached, Some(rates.input)),
            ("cache_read", reads, rates.cache_read),
            ("cache_write_5m", writes_5m, rates.cache_write_5m),
            ("cache_write_1h", writes_1h, rates.cache_write_1h),
            ("output", output, Some(rates.output)),
            (
                "reasoning",
                if reasoning.is_some() {
                    usage.reasoning_tokens
                } else {
                    0
                },
                reasoning,
            ),
        ] {
            if tokens > 0 {
                parts.lines[parts.len] = (kind, tokens, price?);
                parts.len += 1;
            }
        }
        Some(parts)
    }

    /// What `usage` (reported with `semantics`) costs, line by line.
    /// `None` when a token kind the usage has is not priced (for example
    /// cache reads on a model whose cache-read price is unknown).
    pub fn breakdown(&self, usage: &Usage, semantics: UsageSemantics) -> Option<CostBreakdown> {
        let parts = self.parts(usage, semantics)?;
        let mut lines: Vec<CostLine> = parts.lines[..parts.len]
            .iter()
            .map(|&(kind, tokens, price)| CostLine {
                kind,
                tokens,
                price,
                cost: per_million(Decimal::from(tokens) * price),
            })
            .collect();
        if let Some(fee) = parts.fee {
            lines.push(CostLine {
                kind: "request",
                tokens: 1,
                price: fee,
                cost: fee,
            });
        }
        let total = lines.iter().map(|l| l.cost).sum::<Decimal>();
        Some(CostBreakdown {
            prompt_tokens: parts.prompt,
            tier_above: parts.tier_above,
            lines,
            total: round(total),
        })
    }

    /// [`ModelPrice::breakdown`]'s total as whole nano-dollars: the number
    /// [`to_nanos`] makes of it, by integer arithmetic (it runs on every
    /// request), or by the decimal breakdown when a price has more than
    /// twelve decimal places per million tokens (no catalogue price does)
    /// or the integer total overflows. `None` when a kind the usage has is
    /// not priced, or the total passes `i64`.
    pub fn cost_nanos(&self, usage: &Usage, semantics: UsageSemantics) -> Option<i64> {
        let parts = self.parts(usage, semantics)?;
        match parts.integer_nanos() {
            Some(nanos) => Some(nanos),
            None => to_nanos(self.breakdown(usage, semantics)?.total),
        }
    }

    /// An upper estimate before the call: `input_tokens` all uncached at
    /// the input price, `max_output_tokens` at the output price, the tier
    /// chosen by `input_tokens`, plus the per-request fee. (Cache writes,
    /// priced above input, are not foreseen.)
    pub fn estimate(&self, input_tokens: u64, max_output_tokens: u64) -> CostBreakdown {
        let usage = estimated_usage(input_tokens, max_output_tokens);
        // Input and output are always priced, so this is never `None`.
        self.breakdown(&usage, UsageSemantics::OpenAi)
            .unwrap_or_else(|| CostBreakdown {
                prompt_tokens: input_tokens,
                tier_above: None,
                lines: Vec::new(),
                total: Decimal::ZERO,
            })
    }

    /// [`ModelPrice::estimate`]'s total as whole nano-dollars (see
    /// [`ModelPrice::cost_nanos`]); `None` only past `i64` (input and
    /// output are always priced).
    pub fn estimate_nanos(&self, input_tokens: u64, max_output_tokens: u64) -> Option<i64> {
        self.cost_nanos(
            &estimated_usage(input_tokens, max_output_tokens),
            UsageSemantics::OpenAi,
        )
    }
}

/// `d` / 1,000,000, exactly: six more decimal places (a division only
/// when the scale would pass the 28 a `Decimal` holds).
pub(super) fn per_million(d: Decimal) -> Decimal {
    let mut out = d;
    match out.set_scale(d.scale() + 6) {
        Ok(()) => out,
        Err(_) => d / MILLION,
    }
}

/// `d` rounded to [`COST_SCALE`] places (half away from zero), trailing
/// zeros dropped.
pub fn round(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(
        COST_SCALE,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
    .normalize()
}

/// `d` (USD) as whole nano-dollars, for storage. `None` if it does not
/// fit an `i64` (above nine billion dollars).
pub fn to_nanos(d: Decimal) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    (round(d) * Decimal::from(1_000_000_000u64)).to_i64()
}

/// The longest [`usd_text`]: a sign, nineteen digits and a point.
pub const USD_TEXT_MAX: usize = 21;

/// `nanos` nano-dollars as the USD text [`from_nanos`] prints (`0.0075`,
/// `12`, `0`: no trailing zeros), written into `buf` without an
/// allocation (the `x-gproxy-cost` header of every request).
pub fn usd_text(nanos: i64, buf: &mut [u8; USD_TEXT_MAX]) -> &[u8] {
    const NANOS_PER_USD: u64 = 1_000_000_000;
    let n = nanos.unsigned_abs();
    let (whole, mut frac) = (n / NANOS_PER_USD, n % NANOS_PER_USD);
    // Written from the end: the fraction's significant digits, the
    // point, the whole dollars, the sign.
    let mut at = buf.len();
    if frac > 0 {
        let mut places = 9;
        while frac % 10 == 0 {
            frac /= 10;
            places -= 1;
        }
        for _ in 0..places {
            at -= 1;
            buf[at] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        at -= 1;
        buf[at] = b'.';
    }
    let mut w = whole;
    loop {
        at -= 1;
        buf[at] = b'0' + (w % 10) as u8;
        w /= 10;
        if w == 0 {
            break;
        }
    }
    if nanos < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// Nano-dollars back to USD.
pub fn from_nanos(n: i64) -> Decimal {
    Decimal::new(n, COST_SCALE).normalize()
}
