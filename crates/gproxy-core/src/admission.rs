//! The rate limits and the budgets, checked before the upstream call. With
//! both kept in one Redis, both checks are one script call ([`JOINT`]):
//! one round trip, and the request is counted on the limits and reserved
//! on the budgets only when both have room, so a refusal by either takes
//! nothing that must be given back (the settlements of earlier requests
//! ride along, see [`crate::redis_link`]).

use std::sync::Arc;

use crate::budget::Budgeter;
use crate::ratelimit::lease::{BudgetAsk, BudgetShare, Took};
use crate::ratelimit::{RateLimiter, estimate_tokens};
use crate::redis_link::Reply;

/// The limit check and the budget check in one Lua script, for a group
/// of requests (see [`crate::redis_link::Group`]): each request is checked
/// in turn, seeing what the ones before it took; what they read and write
/// is read once and written once for all (`state` and `flush`, in
/// `sum_lua!`), so a group costs Redis little more than one request.
///
/// KEYS: each request's limit keys then budget keys, request after
/// request. ARGV: the number of requests, then per request how many limit
/// keys, limit arguments, budget keys and budget arguments it has, then
/// its limit arguments and its budget arguments. Returns per request {the
/// limit check's reply, the budget check's (`{0}` when the limits
/// refused)}; a request is counted and reserved only when neither refuses
/// (nor has a budget line without a counter).
pub(crate) const JOINT: &str = concat!(
    crate::ratelimit::redis::sum_lua!(),
    crate::ratelimit::redis::rate_lua!(),
    crate::budget::redis::budget_lua!(),
    crate::ratelimit::redis::now_lua!(),
    r"
local out = {}
local ki, ai = 0, 1
for q = 1, tonumber(ARGV[1]) do
  local nk, na = num(ARGV[ai+1]), num(ARGV[ai+2])
  local nbk, nba = num(ARGV[ai+3]), num(ARGV[ai+4])
  local a = ai + 4
  local rout, rcommit = rate_check(KEYS, ki, nk, ARGV, a, now)
  if rout[1] ~= 0 then
    out[q] = {rout, {0}}
  else
    local bout, bcommit, broom = budget_check(KEYS, ki + nk, nbk, ARGV, a + na, now)
    if bout[1] == 0 then
      local g = math.min(rout[4], broom)
      if g < LEASE_MIN then g = 0 end
      rout[4] = g
      rcommit(g)
      bcommit(g)
    else
      rout[4] = 0
    end
    out[q] = {rout, bout}
  end
  ki = ki + nk + nbk
  ai = a + na + nba
end
flush()
return out
"
);

impl crate::Engine {
    /// Checks the rate limits, then reserves on the budgets, of
    /// `principal`'s request to `provider`'s (of `kind`) `model` with a
    /// body of `bytes` bytes asking for at most `output_cap` output tokens
    /// (`None`: not said); on admission `accounting` holds the permit and
    /// the reservation.
    #[expect(clippy::too_many_arguments, reason = "the planned target, named")]
    pub(crate) async fn admit_limits(
        &self,
        principal: &crate::state::Principal,
        provider: &str,
        kind: &'static str,
        model: &str,
        output_cap: Option<u64>,
        bytes: u64,
        accounting: &mut crate::accounting::Accounting,
    ) -> Result<(), crate::GatewayError> {
        let limiter = self.rate_limiter.load_full();
        let budgets = self.budgets.load_full();
        if let (Some(limiter), Some(budgets)) = (&limiter, &budgets)
            && let Some(done) = self
                .admit_both_on_redis(
                    limiter, budgets, principal, provider, kind, model, output_cap, bytes,
                    accounting,
                )
                .await
        {
            return done;
        }
        if limiter.is_some() {
            self.admit_rate(principal, provider, model, bytes, accounting)
                .await?;
        }
        if budgets.is_some() {
            self.admit_budget(
                principal, provider, kind, model, output_cap, bytes, accounting,
            )
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
        budgets: &Arc<Budgeter>,
        principal: &crate::state::Principal,
        provider: &str,
        kind: &'static str,
        model: &str,
        output_cap: Option<u64>,
        bytes: u64,
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
            .budget_amount(budgets, provider, kind, model, output_cap, bytes)
            .ok()?;
        let tokens = estimate_tokens(bytes);
        let ask = BudgetAsk {
            budgets,
            lines: &lines,
            amount,
        };
        let want = match limiter.joint_lease(&scopes, tokens, &ask) {
            Took::Admitted(leased) => {
                let hold = budgets.leased_hold(
                    lines.clone(),
                    leased.id,
                    amount,
                    0,
                    self.observe.clone(),
                    Some(leased.lease.clone()),
                );
                accounting.hold_permit(limiter.leased_permit(scopes, &leased, tokens));
                accounting.hold_budget(hold, false);
                return Some(Ok(()));
            }
            Took::Ask(want) => want,
        };
        let mut budget_check = budgets.redis_check_parts(&lines, amount)?;
        let (ask, part, group) =
            limiter.redis_joint_admission(&scopes, tokens, want, &mut budget_check)?;
        let budget_per = budget_check.per;
        let rate_id = ask.id;
        let timeout = limiter.timeout().max(budgets.timeout());
        let (rate_reply, budget_reply) = match group.call(link, part, timeout).await {
            Ok(Reply::Array(replies)) => match <[Reply; 2]>::try_from(replies) {
                Ok([rate, budget]) => (Ok(rate), Ok(budget)),
                Err(_) => {
                    let e = "the admission script's reply is not two lists".to_owned();
                    (Err(e.clone()), Err(e))
                }
            },
            Ok(other) => {
                let e = format!("the admission script replied {}", other.kind());
                (Err(e.clone()), Err(e))
            }
            Err(e) => (Err(e.clone()), Err(e)),
        };
        let timed_out = matches!(&rate_reply, Err(e) if e == crate::redis_link::TIMED_OUT);
        // What Redis leased (0 unless both checks passed).
        let granted = match &rate_reply {
            Ok(Reply::Array(items)) => items
                .get(3)
                .and_then(Reply::as_int)
                .map_or(0, |g| g.max(0).unsigned_abs()),
            _ => 0,
        };
        let scopes_kept = (ask.want > 0).then(|| scopes.clone());
        // The budget side of the answer (lines not yet seeded are seeded).
        let hold_of = |reply| {
            budgets.redis_admitted(lines.clone(), rate_id, amount, reply, self.observe.clone())
        };
        // The admitted request's headers, when both checks passed.
        let mut admitted = None;
        let outcome = 'checked: {
            if rate_reply.is_err() {
                // No answer: each check decides (fail open or closed), and
                // one that timed out queues the release of what the script
                // may have taken; both run before either refusal is
                // returned.
                let permit = limiter.redis_admitted(scopes, rate_id, tokens, rate_reply);
                let hold = hold_of(budget_reply).await;
                break 'checked Some(match (permit, hold) {
                    (Err(refusal), _) => Err(self.rate_refused(refusal)),
                    (_, Err(refusal)) => Err(self.budget_refused(refusal)),
                    (Ok(permit), Ok(hold)) => {
                        accounting.hold_permit(permit);
                        accounting.hold_budget(hold, false);
                        Ok(())
                    }
                });
            }
            let permit = match limiter.redis_admitted(scopes, rate_id, tokens, rate_reply) {
                Ok(permit) => permit,
                Err(refusal) => break 'checked Some(Err(self.rate_refused(refusal))),
            };
            if let Ok(reply) = &budget_reply
                && Budgeter::redis_unseeded(reply)
            {
                // Nothing was counted or reserved: the budget counters are
                // seeded on the usual path, which then checks both.
                permit.forget();
                break 'checked None;
            }
            match hold_of(budget_reply).await {
                Ok(hold) => {
                    admitted = Some((permit.headers, granted));
                    accounting.hold_permit(permit);
                    accounting.hold_budget(hold, false);
                    Some(Ok(()))
                }
                Err(refusal) => {
                    // The script counted nothing on the limits.
                    permit.forget();
                    Some(Err(self.budget_refused(refusal)))
                }
            }
        };
        if let Some(scopes) = scopes_kept {
            let share = BudgetShare {
                budgets: budgets.clone(),
                lines,
                per: budget_per,
                observe: self.observe.clone(),
            };
            limiter.lease_answered(&ask, &scopes, admitted, timed_out, Some(share));
        }
        outcome
    }
}
