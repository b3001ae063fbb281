//! Cost before the call: `POST /v1/gproxy/cost-estimate`, and the
//! per-request ceiling (`x-gproxy-max-cost`) that refuses a request whose
//! estimate is above it before it goes upstream.
//!
//! The estimate counts the request's input tokens locally (`o200k_base`,
//! [`crate::count::local`]) and takes the output at the request's own
//! maximum (`max_tokens`, `max_completion_tokens`, `max_output_tokens`,
//! `generationConfig.maxOutputTokens`), all at the prices in force for
//! the resolved provider and upstream model (see docs/cost.md).

use std::sync::Arc;

use bytes::Bytes;
use gproxy_protocol::Protocol;
use gproxy_protocol::convert;
use gproxy_protocol::json_edit::RawObject;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cost::{CostBreakdown, ModelPrice, PriceOrigin};
use crate::engine::{Operation, ProxyRequest, ProxyRoute};
use crate::state::Principal;
use crate::{Engine, GatewayError};

/// Request header: the most the request may cost, USD (a decimal).
pub const MAX_COST_HEADER: &str = "x-gproxy-max-cost";

/// `POST /v1/gproxy/cost-estimate`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// The protocol of `body`: `openai_chat`, `openai_responses`,
    /// `claude` or `gemini`.
    pub protocol: Protocol,
    /// The target, as on the aggregate routes: `provider/model` or a
    /// model route's name. Default: `body`'s `model`.
    #[serde(default)]
    pub model: Option<String>,
    /// The request body the client would send.
    pub body: serde_json::Value,
}

/// The estimate: what was counted, the prices, the arithmetic.
#[derive(Debug, Serialize)]
pub struct EstimateView {
    /// The provider that would serve.
    pub provider: String,
    /// Its kind.
    pub kind: &'static str,
    /// The upstream model.
    pub model: String,
    /// Input tokens, counted locally (`o200k_base`).
    pub input_tokens: u64,
    /// How they were counted (`local`).
    pub input_counted: &'static str,
    /// The request's maximum output tokens; `None` when it sets none (the
    /// estimate then covers the input only).
    pub max_output_tokens: Option<u64>,
    /// The prices applied (USD per million tokens), `None` when unknown.
    pub prices: Option<ModelPrice>,
    /// Where they came from.
    pub priced_by: Option<PriceOrigin>,
    /// The catalogue version.
    pub price_version: String,
    /// The estimate's lines (`tokens × price / 1e6`) and total.
    pub breakdown: Option<CostBreakdown>,
    /// The estimated cost, USD (a decimal string); `None` when the price
    /// is unknown.
    pub cost: Option<String>,
    /// The arithmetic, written out.
    pub arithmetic: Option<String>,
}

/// Where a request of `protocol` sets its output cap: the object (a path
/// of keys from the top) and its keys, in order of precedence.
fn output_cap_keys(protocol: Protocol) -> (&'static [&'static str], &'static [&'static str]) {
    match protocol {
        Protocol::OpenAiChat => (&[], &["max_completion_tokens", "max_tokens"]),
        Protocol::OpenAiResponses => (&[], &["max_output_tokens"]),
        Protocol::Claude => (&[], &["max_tokens"]),
        Protocol::Gemini => (&["generationConfig"], &["maxOutputTokens"]),
    }
}

/// The request's own output cap from its raw `body`, by one scan that
/// parses nothing (in full only when the scan gives up).
pub(crate) fn max_output_of(protocol: Protocol, body: &[u8]) -> Option<u64> {
    let (parents, keys) = output_cap_keys(protocol);
    match gproxy_protocol::json_edit::u64_at_first(body, parents, keys) {
        Some(cap) => cap,
        None => max_output(protocol, &serde_json::from_slice(body).ok()?),
    }
}

/// The request's own output cap from its top level `object`, already
/// parsed (the plan's): no second scan of the body.
pub(crate) fn max_output_in(protocol: Protocol, object: &RawObject<'_>) -> Option<u64> {
    let (parents, keys) = output_cap_keys(protocol);
    let number = |raw: &serde_json::value::RawValue| raw.get().trim().parse::<u64>().ok();
    match parents {
        [] => keys.iter().find_map(|key| object.get(key).and_then(number)),
        [parent, rest @ ..] => {
            let inner = object.get(parent)?.get().as_bytes();
            match gproxy_protocol::json_edit::u64_at_first(inner, rest, keys) {
                Some(cap) => cap,
                None => {
                    let value: serde_json::Value = serde_json::from_slice(inner).ok()?;
                    let nested = rest.iter().try_fold(&value, |v, key| v.get(*key))?;
                    keys.iter()
                        .find_map(|key| nested.get(*key).and_then(serde_json::Value::as_u64))
                }
            }
        }
    }
}

/// The output cap of a parsed request `body`.
fn max_output(protocol: Protocol, body: &serde_json::Value) -> Option<u64> {
    let (parents, keys) = output_cap_keys(protocol);
    let object = parents.iter().try_fold(body, |v, key| v.get(*key))?;
    keys.iter()
        .find_map(|key| object.get(*key).and_then(serde_json::Value::as_u64))
}

/// A breakdown written out: `9 × 2.5 / 1e6 + 100 × 10 / 1e6 = 0.0010225`.
fn arithmetic(b: &CostBreakdown) -> String {
    let terms: Vec<String> = b
        .lines
        .iter()
        .map(|l| match l.kind {
            "request" => format!("{} (per request)", l.price),
            _ => format!("{} × {} / 1e6", l.tokens, l.price),
        })
        .collect();
    let terms = if terms.is_empty() {
        "0".to_owned()
    } else {
        terms.join(" + ")
    };
    format!("{terms} = {}", b.total)
}

/// What an estimate needs: the resolved target and the counts.
struct Counted {
    provider: String,
    kind: &'static str,
    model: String,
    input_tokens: u64,
    max_output_tokens: Option<u64>,
}

impl Engine {
    /// Counts `body` (in `protocol`) locally, off the async threads.
    async fn count_input(protocol: Protocol, body: Bytes) -> Result<u64, GatewayError> {
        let canonical = convert::decode_request(protocol, &body)
            .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
        tokio::task::spawn_blocking(move || crate::count::local::count_request(&canonical))
            .await
            .map_err(|e| GatewayError::Internal(format!("counting tokens: {e}")))
    }

    /// Answers `POST /v1/gproxy/cost-estimate` for `principal`.
    pub async fn cost_estimate(
        &self,
        principal: Arc<Principal>,
        body: &[u8],
    ) -> Result<EstimateView, GatewayError> {
        let input: EstimateRequest = serde_json::from_slice(body)
            .map_err(|e| GatewayError::BadRequest(format!("invalid estimate request: {e}")))?;
        let client_model = match (&input.model, input.body.get("model")) {
            (Some(m), _) => m.clone(),
            (None, Some(serde_json::Value::String(m))) => m.clone(),
            _ => {
                return Err(GatewayError::BadRequest(
                    "`model` is required (here or in `body`)".into(),
                ));
            }
        };
        let req = ProxyRequest {
            request_id: String::new(),
            route: ProxyRoute {
                protocol: input.protocol,
                provider: None,
                gemini: None,
                operation: Operation::Generate,
            },
            method: http::Method::POST,
            path: String::new(),
            headers: http::HeaderMap::new(),
            body: Bytes::from(input.body.to_string()),
            principal,
            started: std::time::Instant::now(),
        };
        let mut log = gproxy_storage::RequestLog::default();
        let resolved =
            self.resolve_model(&req, client_model, Operation::Generate, &[], &mut log)?;
        let counted = Counted {
            provider: resolved.provider.name.clone(),
            kind: resolved.provider.provider.kind(),
            model: resolved.model,
            input_tokens: Self::count_input(input.protocol, req.body.clone()).await?,
            max_output_tokens: max_output(input.protocol, &input.body),
        };
        Ok(self.estimate_view(counted))
    }

    fn estimate_view(&self, c: Counted) -> EstimateView {
        let book = self.prices();
        let found = book.lookup(&c.provider, c.kind, &c.model);
        let breakdown = found.map(|m| {
            m.price
                .estimate(c.input_tokens, c.max_output_tokens.unwrap_or(0))
        });
        EstimateView {
            prices: found.map(|m| m.price.clone()),
            priced_by: found.map(|m| m.origin()),
            price_version: found.map_or_else(|| book.version().to_owned(), |m| book.version_of(&m)),
            cost: breakdown.as_ref().map(|b| b.total.to_string()),
            arithmetic: breakdown.as_ref().map(arithmetic),
            breakdown,
            provider: c.provider,
            kind: c.kind,
            model: c.model,
            input_tokens: c.input_tokens,
            input_counted: "local",
            max_output_tokens: c.max_output_tokens,
        }
    }

    /// The request's cost ceiling: the lower of the `x-gproxy-max-cost`
    /// header and the key's `max_cost`, if any. A header that is not a
    /// non-negative decimal is a 400.
    pub(crate) fn max_cost(req: &ProxyRequest) -> Result<Option<Decimal>, GatewayError> {
        let key = req.principal.max_cost_nano_usd.map(crate::cost::from_nanos);
        let Some(v) = req.headers.get(MAX_COST_HEADER) else {
            return Ok(key);
        };
        let parsed = v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<Decimal>().ok())
            .filter(|d| !d.is_sign_negative());
        match parsed {
            Some(d) => Ok(Some(key.map_or(d, |k| k.min(d)))),
            None => Err(GatewayError::BadRequest(format!(
                "`{MAX_COST_HEADER}` must be a non-negative decimal amount in USD"
            ))),
        }
    }

    /// Refuses the request before it goes upstream when its estimate on
    /// `provider` (of `kind`) for upstream `model` is above `limit`, or
    /// cannot be made (the price is unknown).
    pub(crate) async fn check_max_cost(
        &self,
        req: &ProxyRequest,
        limit: Decimal,
        provider: &str,
        kind: &'static str,
        model: &str,
    ) -> Result<(), GatewayError> {
        let protocol = req.route.protocol;
        let input_tokens = Self::count_input(protocol, req.body.clone()).await?;
        let view = self.estimate_view(Counted {
            provider: provider.to_owned(),
            kind,
            model: model.to_owned(),
            input_tokens,
            max_output_tokens: max_output_of(protocol, &req.body),
        });
        let Some(b) = view.breakdown else {
            return Err(GatewayError::CostLimitExceeded(format!(
                "the price of `{model}` on `{provider}` is unknown, so the maximum cost of {limit} USD cannot be guaranteed"
            )));
        };
        if b.total > limit {
            return Err(GatewayError::CostLimitExceeded(format!(
                "the estimated cost of {} USD ({}) exceeds the maximum of {limit} USD per request",
                b.total,
                arithmetic(&b),
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_cap_is_read_by_scan_and_by_parse_alike() {
        let cases: [(Protocol, &str, Option<u64>); 11] = [
            (
                Protocol::OpenAiChat,
                r#"{"max_tokens":5,"max_completion_tokens":9}"#,
                Some(9),
            ),
            (Protocol::OpenAiChat, r#"{"max_tokens":5}"#, Some(5)),
            (Protocol::OpenAiChat, r#"{"messages":[]}"#, None),
            (
                Protocol::OpenAiResponses,
                r#"{"max_output_tokens":7}"#,
                Some(7),
            ),
            (
                Protocol::Claude,
                r#"{"max_tokens":16,"max_output_tokens":1}"#,
                Some(16),
            ),
            (
                Protocol::Gemini,
                r#"{"generationConfig":{"maxOutputTokens":64}}"#,
                Some(64),
            ),
            (Protocol::Gemini, r#"{"maxOutputTokens":64}"#, None),
            // An escaped top-level key makes the scan give up: parsed in full.
            (Protocol::Claude, r#"{"\u006dax_tokens":3}"#, Some(3)),
            (
                Protocol::OpenAiChat,
                r#"{"max_completion_tokens":null,"max_tokens":4}"#,
                Some(4),
            ),
            (Protocol::OpenAiChat, r#"{"max_tokens":1.5}"#, None),
            (
                Protocol::Gemini,
                r#"{"generationConfig":{"\u006daxOutputTokens":8}}"#,
                Some(8),
            ),
        ];
        for (protocol, body, cap) in cases {
            assert_eq!(max_output_of(protocol, body.as_bytes()), cap, "{body}");
            let value: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(max_output(protocol, &value), cap, "{body}");
            let object = RawObject::parse(body.as_bytes()).unwrap();
            assert_eq!(max_output_in(protocol, &object), cap, "{body}");
        }
    }
}
