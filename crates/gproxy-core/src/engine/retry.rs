//! The retry loop around the single upstream attempt, for one provider:
//! circuit admission, credential leases, what each failure class does, and
//! jittered exponential backoff. Never retries once a byte has reached the
//! client: every retry here happens before the answer's body is read.
//!
//! | failure | credential | request | circuit |
//! |---|---|---|---|
//! | 401/403 | disabled (reason, time) | another credential, no budget used; none left: the upstream's answer | — |
//! | 429 local | cooldown (`Retry-After` or default; per model when the limit is) | another credential within the rate-limit budget, else the 429 | — |
//! | 429 global | same | same | sustained past the escalation window: a failure, degraded |
//! | 5xx, 529, timeout, connection | short transient cooldown | backoff, then again within the transient budget, else degraded | one failure when the budget is spent |
//! | first-byte timeout | short transient cooldown | the timeout goes back (504), not retried, no fallback — unless `retry_on_first_byte_timeout`, then as above | one failure |
//! | other 4xx | — | passed on, never retried | — |

use std::time::Duration;

use gproxy_credential::clock::now_ms;
use gproxy_credential::{Admission, CircuitEvent, Lease, NoPick};
use gproxy_provider::FailureClass;
use http::HeaderValue;
use http::header::RETRY_AFTER;

use super::dispatch::{Attempt, FailedAnswer, Served};
use super::plan::Plan;
use super::{Engine, ProxyRequest};
use crate::GatewayError;
use crate::accounting::{Accounting, AttemptEnd, AttemptStart};

/// The request header that asks for test behaviour (when enabled).
pub const TEST_MODE_HEADER: &str = "x-llm-proxy-test-mode";

/// Test behaviour asked for by a request (`test_mode_enabled` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TestMode {
    /// Normal operation.
    Off,
    /// Answer with the degraded signal without calling upstream.
    ForceDegraded,
    /// Fail the first attempt as a transient failure (no upstream call),
    /// then retry normally.
    ForceTransientRecover,
}

impl TestMode {
    pub(super) fn of(req: &ProxyRequest, enabled: bool) -> Self {
        if !enabled {
            return TestMode::Off;
        }
        match req
            .headers
            .get(TEST_MODE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
        {
            Some("force_degraded") => TestMode::ForceDegraded,
            Some("force_transient_recover") => TestMode::ForceTransientRecover,
            _ => TestMode::Off,
        }
    }
}

/// Why a target did not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Retries ran out on transient failures, or a global rate limit escalated.
    Degraded,
    /// Every credential is rate limited.
    RateLimited,
    /// The provider answered a client error (it is healthy).
    ClientError,
    /// The provider has no usable credential (none, or all disabled).
    NoCredential,
    /// The first byte did not come in time and is not retried (the failure
    /// is already recorded for the circuit).
    FirstByteTimeout,
    /// No usable credential, or a failure no retry can help.
    Other,
}

/// A target's failure and whether a model route may try its next target.
pub(super) struct TargetFailure {
    pub(super) error: GatewayError,
    pub(super) fallback: bool,
}

impl Engine {
    /// Runs the request against `plan`'s provider with retries, inside the
    /// provider's circuit.
    pub(super) async fn run_target(
        &self,
        req: &ProxyRequest,
        plan: &Plan<'_>,
        accounting: &mut Accounting,
        test_mode: TestMode,
    ) -> Result<Served, TargetFailure> {
        let provider = &plan.provider;
        if test_mode == TestMode::ForceDegraded {
            return Err(TargetFailure {
                error: self.degraded(plan, "forced by test mode".into()),
                fallback: false,
            });
        }
        let probe = match self.resilience.admit(provider).await {
            Admission::Allowed => false,
            Admission::Probe => {
                tracing::info!(provider = %provider.name, "circuit half open: this request is the probe");
                true
            }
            Admission::Rejected { until_ms } => {
                let secs = until_ms.saturating_sub(now_ms()).div_ceil(1000);
                return Err(TargetFailure {
                    error: self.degraded(plan, format!("circuit open (next probe in {secs} s)")),
                    fallback: true,
                });
            }
        };
        let result = self.retry_loop(req, plan, accounting, test_mode).await;
        let event = match &result {
            Ok(_) | Err((Kind::ClientError, _)) => Some(CircuitEvent::Success),
            // Recorded where it happened.
            Err((Kind::Degraded | Kind::FirstByteTimeout, _)) => None,
            Err((Kind::RateLimited | Kind::NoCredential | Kind::Other, _)) => {
                probe.then_some(CircuitEvent::Release)
            }
        };
        if let Some(event) = event {
            // A success only changes a half-open circuit (or a run of
            // global rate limits, kept locally): share it only from a probe.
            self.resilience.record(provider, event, probe).await;
        }
        result.map_err(|(kind, error)| TargetFailure {
            error,
            fallback: matches!(
                kind,
                Kind::Degraded | Kind::RateLimited | Kind::NoCredential
            ),
        })
    }

    async fn retry_loop(
        &self,
        req: &ProxyRequest,
        plan: &Plan<'_>,
        accounting: &mut Accounting,
        test_mode: TestMode,
    ) -> Result<Served, (Kind, GatewayError)> {
        let settings = self.resilience.settings();
        let provider = &plan.provider;
        let name = provider.name.as_str();
        let mut tried: Vec<i64> = Vec::new();
        let mut transient_left = settings.max_transient_retries;
        let mut rate_limit_left = settings.max_rate_limit_retries;
        let mut transient_retries = 0u32;
        let mut last_rate_limit: Option<GatewayError> = None;
        let mut last_auth: Option<GatewayError> = None;
        let mut attempts = 0u32;
        // An OAuth credential refreshed after a 401 is tried once more.
        let mut again: Option<Lease> = None;
        // The credential refreshed last (its retry follows at once, so one
        // id is enough to refresh each credential at most once in a row).
        let mut refreshed: Option<i64> = None;
        loop {
            let now = now_ms();
            let picked = match again.take() {
                Some(lease) => Ok(lease),
                None => provider.pool.lease(&plan.model, now, &tried),
            };
            let lease: Option<Lease> = match picked {
                Ok(lease) => {
                    if let Some(until) =
                        self.resilience.shared_cooldown(lease.id, &plan.model).await
                    {
                        // Another instance cooled this credential down.
                        lease.health.cool_down(until, Some(plan.model.as_str()));
                        continue;
                    }
                    Some(lease)
                }
                Err(NoPick::Empty) if !provider.provider.requires_credential() => None,
                Err(NoPick::Empty) => {
                    return Err((
                        Kind::NoCredential,
                        GatewayError::NoCredential {
                            provider: name.to_owned(),
                        },
                    ));
                }
                Err(NoPick::CoolingDown { until_ms }) => {
                    let error =
                        last_rate_limit
                            .take()
                            .unwrap_or_else(|| GatewayError::RateLimited {
                                provider: name.to_owned(),
                                retry_after_secs: until_ms
                                    .saturating_sub(now)
                                    .div_ceil(1000)
                                    .max(1),
                            });
                    return Err((Kind::RateLimited, error));
                }
                Err(NoPick::Unusable) => {
                    if let Some(error) = last_rate_limit.take() {
                        return Err((Kind::RateLimited, error));
                    }
                    if let Some(error) = last_auth.take() {
                        // This request disabled the last one: its answer goes back.
                        tracing::warn!(provider = name, "no usable credential left");
                        return Err((Kind::NoCredential, error));
                    }
                    return Err((
                        Kind::NoCredential,
                        GatewayError::NoCredential {
                            provider: name.to_owned(),
                        },
                    ));
                }
            };
            let credential_id = lease.as_ref().map(|l| l.id);
            accounting.log_mut().credential_id = credential_id;
            let synthetic = test_mode == TestMode::ForceTransientRecover && attempts == 0;
            attempts += 1;
            let start = AttemptStart::now();
            let outcome = if synthetic {
                Attempt::Unreachable(GatewayError::UpstreamUnavailable {
                    provider: name.to_owned(),
                    message: "transient failure forced by test mode".into(),
                })
            } else {
                match self.attempt(req, plan, lease.as_deref(), accounting).await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        accounting.attempt(start, name, credential_id, AttemptEnd::failed(&e));
                        return Err((Kind::Other, e));
                    }
                }
            };
            accounting.attempt(start, name, credential_id, attempt_end(&outcome, synthetic));
            let reason = match outcome {
                Attempt::Answered(response, head) => {
                    if let Some(lease) = &lease {
                        lease.health.succeeded();
                    }
                    return Ok(Served {
                        response,
                        head,
                        lease,
                    });
                }
                Attempt::Failed(answer) => match answer.class {
                    FailureClass::Client => {
                        return Err((Kind::ClientError, self.upstream_error(req, plan, answer)));
                    }
                    FailureClass::Auth => {
                        let Some(lease) = lease else {
                            return Err((Kind::Other, self.upstream_error(req, plan, answer)));
                        };
                        // An OAuth token refused (401; a 403 is a ban or a
                        // missing licence, which no refresh mends): one
                        // refresh, one retry.
                        if let (Some(version), false, 401) = (
                            answer.oauth_version,
                            refreshed == Some(lease.id),
                            answer.status.as_u16(),
                        ) {
                            refreshed = Some(lease.id);
                            let refresh = Box::pin(self.oauth.refresh_rejected(
                                lease.id,
                                version,
                                provider.provider.as_ref(),
                                Some(&lease.health),
                            ));
                            match refresh.await {
                                Ok(_) => {
                                    tracing::info!(
                                        provider = name,
                                        credential_id = lease.id,
                                        "OAuth token refused upstream: refreshed; retrying once"
                                    );
                                    again = Some(lease);
                                    continue;
                                }
                                Err(e) => {
                                    tracing::warn!(provider = name, credential_id = lease.id, error = %e, "OAuth token refused upstream and not renewed");
                                }
                            }
                        }
                        let reason = describe(&answer);
                        tracing::warn!(
                            provider = name,
                            credential = %lease.name,
                            credential_id = lease.id,
                            reason,
                            "credential refused upstream: disabled; retrying on another"
                        );
                        // A failed refresh already said why.
                        if !lease.health.is_disabled() {
                            lease.health.disable(reason, now_ms());
                        }
                        tried.push(lease.id);
                        last_auth = Some(self.upstream_error(req, plan, answer));
                        continue;
                    }
                    FailureClass::RateLimit {
                        retry_after,
                        per_model,
                        global,
                    } => {
                        let wait = retry_after.unwrap_or(settings.default_rate_limit_cooldown);
                        let until = now_ms() + millis(wait).max(1);
                        if let Some(lease) = &lease {
                            let model = per_model.then_some(plan.model.as_str());
                            lease.health.cool_down(until, model);
                            self.resilience.share_cooldown(lease.id, model, until).await;
                            tried.push(lease.id);
                        }
                        let mut error = self.upstream_error(req, plan, answer);
                        ensure_retry_after(&mut error, wait);
                        if global {
                            let recorded = self
                                .resilience
                                .record(provider, CircuitEvent::GlobalRateLimit, true)
                                .await;
                            if recorded.escalated {
                                return Err((
                                    Kind::Degraded,
                                    self.degraded(plan, "sustained global rate limit".into()),
                                ));
                            }
                        }
                        if rate_limit_left == 0 || lease.is_none() {
                            return Err((Kind::RateLimited, error));
                        }
                        rate_limit_left -= 1;
                        tracing::info!(
                            provider = name,
                            "rate limited; retrying on another credential"
                        );
                        last_rate_limit = Some(error);
                        continue;
                    }
                    FailureClass::Degraded => describe(&answer),
                },
                Attempt::Unreachable(e)
                    if e.is_first_byte_timeout() && !settings.retry_on_first_byte_timeout =>
                {
                    // The upstream may still be generating (and billing)
                    // this attempt; the client has waited long enough.
                    if let Some(lease) = &lease {
                        lease
                            .health
                            .transient(now_ms() + millis(settings.transient_cooldown));
                    }
                    tracing::warn!(
                        provider = name,
                        error = %e,
                        "first-byte timeout: not retried (retry_on_first_byte_timeout = false)"
                    );
                    self.resilience
                        .record(provider, CircuitEvent::Failure, true)
                        .await;
                    return Err((Kind::FirstByteTimeout, e));
                }
                Attempt::Unreachable(e) => e.to_string(),
            };
            // A transient failure.
            if let (Some(lease), false) = (&lease, synthetic) {
                lease
                    .health
                    .transient(now_ms() + millis(settings.transient_cooldown));
            }
            if transient_left == 0 {
                tracing::warn!(
                    provider = name,
                    reason,
                    attempts,
                    "retries exhausted: provider degraded"
                );
                self.resilience
                    .record(provider, CircuitEvent::Failure, true)
                    .await;
                return Err((Kind::Degraded, self.degraded(plan, reason)));
            }
            transient_left -= 1;
            let delay = backoff(
                settings.backoff_base,
                settings.backoff_max,
                transient_retries,
            );
            transient_retries += 1;
            tracing::info!(
                provider = name,
                reason,
                delay_ms = millis(delay),
                "transient failure; retrying"
            );
            drop(lease);
            tokio::time::sleep(delay).await;
        }
    }

    /// The degraded error for `plan`'s provider.
    fn degraded(&self, plan: &Plan<'_>, reason: String) -> GatewayError {
        GatewayError::ProviderDegraded {
            provider: plan.provider.name.clone(),
            reason,
            signal: self.resilience.settings().signal().to_owned(),
        }
    }
}

/// How an attempt ended, for its attempt row: the status, the provider's
/// classification of an error answer, or why no answer came.
fn attempt_end(outcome: &Attempt, synthetic: bool) -> AttemptEnd {
    match outcome {
        Attempt::Answered(response, _) => AttemptEnd::answered(response.status().as_u16()),
        Attempt::Failed(answer) => AttemptEnd {
            status: Some(answer.status.as_u16()),
            class: Some(match answer.class {
                FailureClass::Auth => "auth",
                FailureClass::RateLimit { .. } => "rate_limit",
                FailureClass::Degraded => "degraded",
                FailureClass::Client => "client",
            }),
            error: Some(describe(answer)),
        },
        Attempt::Unreachable(e) => {
            let mut end = AttemptEnd::failed(e);
            if synthetic {
                end.class = Some("test_mode");
            }
            end
        }
    }
}

/// A failed answer in a few words: status and the start of its message.
fn describe(answer: &FailedAnswer) -> String {
    let message = gproxy_protocol::error::message_of(&answer.body).unwrap_or_default();
    let mut text = format!("upstream answered {}", answer.status);
    if !message.is_empty() {
        text.push_str(": ");
        text.extend(message.chars().take(160));
    }
    text
}

/// Puts `Retry-After` on an upstream 429 passed on without one.
fn ensure_retry_after(error: &mut GatewayError, wait: Duration) {
    if let GatewayError::Upstream(failure) = error
        && !failure.headers.contains_key(RETRY_AFTER)
    {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        failure.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// The wait before transient retry `n` (0-based): `base * 2^n`, at most
/// `max`, jittered to between half and all of it.
pub(crate) fn backoff(base: Duration, max: Duration, n: u32) -> Duration {
    let full = base.saturating_mul(2u32.saturating_pow(n.min(16))).min(max);
    let jitter: f64 = rand::random::<f64>() * 0.5 + 0.5;
    full.mul_f64(jitter)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..50 {
            let d0 = backoff(base, max, 0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= base, "{d0:?}");
            let d2 = backoff(base, max, 2);
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400));
            assert!(backoff(base, max, 30) <= max);
        }
    }
}
