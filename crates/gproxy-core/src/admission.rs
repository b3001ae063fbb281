//! The rate limits and the budgets, checked before the upstream call. With
//! both kept in one Redis, both checks go out in one write and come back
//! in one round trip (the settlements of earlier requests ride along, see
//! [`crate::redis_link`]).

use std::sync::Arc;

use crate::budget::Budgeter;
use crate::ratelimit::{RateLimiter, estimate_tokens};

impl crate::Engine {
    /// Checks the rate limits, then reserves on the budgets, of
    /// `principal`'s request to `provider`'s (of `kind`) `model` with
    /// `body` in `protocol`; on admission `accounting` holds the permit
    /// and the reservation.
    #[expect(clippy::too_many_arguments, reason = "the planned target, named")]
    pub(crate) async fn admit_limits(
        &self,
        principal: &crate::state::Principal,
        provider: &str,
        kind: &'static str,
        model: &str,
        protocol: gproxy_protocol::Protocol,
        body: &[u8],
        accounting: &mut crate::accounting::Accounting,
    ) -> Result<(), crate::GatewayError> {
        let limiter = self.rate_limiter.load_full();
        let budgets = self.budgets.load_full();
        if let (Some(limiter), Some(budgets)) = (&limiter, &budgets)
            && let Some(done) = self
                .admit_both_on_redis(
                    limiter, budgets, principal, provider, kind, model, protocol, body, accounting,
                )
                .await
        {
            return done;
        }
        if limiter.is_some() {
            self.admit_rate(principal, provider, model, body.len() as u64, accounting)
                .await?;
        }
        if budgets.is_some() {
            self.admit_budget(principal, provider, kind, model, protocol, body, accounting)
                .await?;
        }
        Ok(())
    }

    /// Both checks in one round trip when `limiter` and `budgets` keep
    /// their counters in the same Redis and both apply to the request;
    /// `None` otherwise (checked one after the other, as before).
    #[expect(clippy::too_many_arguments, reason = "the planned target, named")]
    async fn admit_both_on_redis(
        &self,
        limiter: &RateLimiter,
        budgets: &Budgeter,
        principal: &crate::state::Principal,
        provider: &str,
        kind: &'static str,
        model: &str,
        protocol: gproxy_protocol::Protocol,
        body: &[u8],
        accounting: &mut crate::accounting::Accounting,
    ) -> Option<Result<(), crate::GatewayError>> {
        let (Some(link), Some(other)) = (limiter.redis_link(), budgets.redis_link()) else {
            return None;
        };
        if !Arc::ptr_eq(link, other) {
            return None;
        }
        let scopes = limiter.scopes(&principal.user_name, &principal.key_prefix, provider, model);
        let lines = budgets.lines_of(principal);
        if scopes.is_empty() || lines.is_empty() {
            return None;
        }
        // A request whose cost cannot be counted: the usual order decides
        // which refusal it gets (a rate limit's first).
        let amount = self
            .budget_amount(budgets, provider, kind, model, protocol, body)
            .ok()?;
        let tokens = estimate_tokens(body.len() as u64);
        let (_, rate_id, rate_cmd) = limiter.redis_admission(&scopes, tokens)?;
        let (_, budget_id, budget_cmd) = budgets.redis_admission(&lines, amount)?;
        let mut cmds = [rate_cmd, budget_cmd];
        let timeout = limiter.timeout().max(budgets.timeout());
        let (rate_reply, budget_reply) = match link.query_each(&mut cmds, timeout).await {
            Ok(replies) => match <[_; 2]>::try_from(replies) {
                Ok([rate, budget]) => (rate, budget),
                Err(_) => (Err("no reply".into()), Err("no reply".into())),
            },
            Err(e) => (Err(e.clone()), Err(e)),
        };
        let permit = limiter.redis_admitted(scopes, rate_id, tokens, rate_reply);
        let hold = budgets
            .redis_admitted(lines, budget_id, amount, budget_reply, self.observe.clone())
            .await;
        // A refusal drops what the other check took, which gives it back.
        match permit {
            Ok(permit) => accounting.hold_permit(permit),
            Err(refusal) => return Some(Err(self.rate_refused(refusal))),
        }
        match hold {
            Ok(hold) => accounting.hold_budget(hold, false),
            Err(refusal) => return Some(Err(self.budget_refused(refusal))),
        }
        Some(Ok(()))
    }
}
