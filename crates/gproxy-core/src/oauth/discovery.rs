//! Google Code Assist project discovery, run once at login or import
//! (geminicli, antigravity): the account's e-mail from the user-info
//! endpoint, then `loadCodeAssist`; when it names no project,
//! `onboardUser` with the default tier, polled until its long-running
//! operation is done. The project and tier are stored with the
//! credential; requests never pay for discovery.

use std::time::Duration;

use gproxy_credential::clock::now_ms;
use gproxy_credential::oauth::OAuthCredential;
use gproxy_provider::Provider;
use gproxy_provider::oauth::CodeAssistDiscovery;
use http::Method;
use serde_json::{Value, json};

use super::{LoginError, OAuthManager};

impl OAuthManager {
    /// Fills in what the kind learns after the tokens (Code Assist:
    /// e-mail, project, tier). Other kinds: nothing.
    pub(crate) async fn discover(
        &self,
        provider: &dyn Provider,
        base_url: &str,
        credential: &mut OAuthCredential,
    ) -> Result<(), LoginError> {
        let Some(discovery) = provider.code_assist_discovery() else {
            return Ok(());
        };
        // An imported token may have expired: renew it first.
        if let Some(spec) = provider.oauth()
            && credential.tokens.needs_refresh(now_ms(), 60_000)
        {
            let (tokens, account) = self
                .call_refresh(0, spec, &credential.tokens, provider)
                .await
                .map_err(|e| LoginError::Upstream(format!("refreshing the imported token: {e:?}")))?;
            credential.tokens = tokens;
            super::merge_account(&mut credential.account, account);
        }
        let bearer = format!("Bearer {}", credential.tokens.access_token.expose());
        let mut headers: Vec<(&str, &str)> = discovery
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers.push(("authorization", &bearer));

        if credential.account_str("email").is_none() && !discovery.userinfo_url.is_empty() {
            match self
                .call(Method::GET, &discovery.userinfo_url, &headers, None)
                .await
            {
                Ok((status, _, body)) if status.is_success() => {
                    if let Some(email) = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("email").and_then(Value::as_str).map(str::to_owned))
                    {
                        credential.account.insert("email".into(), Value::from(email));
                    }
                }
                Ok((status, _, _)) => {
                    tracing::warn!(%status, "user info refused; the account's e-mail stays unknown")
                }
                Err(e) => tracing::warn!(error = %e, "user info unreachable"),
            }
        }
        if credential.account_str("project_id").is_some() {
            return Ok(());
        }
        let base = if discovery.load_base_url.is_empty() {
            base_url
        } else {
            &discovery.load_base_url
        };
        let load = self
            .post_json(
                &format!("{}/v1internal:loadCodeAssist", base.trim_end_matches('/')),
                &headers,
                &json!({ "metadata": discovery.metadata }),
            )
            .await?;
        if let Some(tier) = tier_of(&load) {
            credential.account.insert("plan".into(), Value::from(tier));
        }
        if let Some(project) = project_of(load.get("cloudaicompanionProject")) {
            credential
                .account
                .insert("project_id".into(), Value::from(project));
            return Ok(());
        }
        if let Some(reason) = ineligible(&load) {
            return Err(LoginError::Upstream(format!(
                "the account cannot use Code Assist: {reason}"
            )));
        }
        let tier = default_tier(&load).unwrap_or_else(|| discovery.fallback_tier.clone());
        let project = self
            .onboard(&discovery, base_url, &headers, &tier)
            .await?;
        credential
            .account
            .insert("project_id".into(), Value::from(project));
        credential
            .account
            .entry("plan")
            .or_insert_with(|| Value::from(tier));
        Ok(())
    }

    /// `onboardUser`, polled until done; the project it gives.
    async fn onboard(
        &self,
        discovery: &CodeAssistDiscovery,
        base_url: &str,
        headers: &[(&str, &str)],
        tier: &str,
    ) -> Result<String, LoginError> {
        let base = if discovery.onboard_base_url.is_empty() {
            base_url
        } else {
            &discovery.onboard_base_url
        };
        let base = base.trim_end_matches('/');
        let body = if discovery.snake_case {
            json!({ "tier_id": tier, "metadata": discovery.metadata })
        } else {
            json!({ "tierId": tier, "metadata": discovery.metadata })
        };
        let url = format!("{base}/v1internal:onboardUser");
        let mut answer = self.post_json(&url, headers, &body).await?;
        for _ in 0..discovery.max_polls.max(1) {
            if answer.get("done").and_then(Value::as_bool) == Some(true) {
                return project_of(answer.pointer("/response/cloudaicompanionProject"))
                    .ok_or_else(|| {
                        LoginError::Upstream(
                            "onboarding finished without a project; set the provider's `project`"
                                .into(),
                        )
                    });
            }
            tokio::time::sleep(Duration::from_millis(discovery.poll_interval_ms)).await;
            answer = match answer.get("name").and_then(Value::as_str) {
                // A named operation is read back; else onboardUser again.
                Some(name) => {
                    let (status, _, body) = self
                        .call(
                            Method::GET,
                            &format!("{base}/v1internal/{name}"),
                            headers,
                            None,
                        )
                        .await
                        .map_err(LoginError::Upstream)?;
                    if !status.is_success() {
                        return Err(LoginError::Upstream(format!(
                            "polling the onboarding answered {status}"
                        )));
                    }
                    serde_json::from_slice(&body).unwrap_or(Value::Null)
                }
                None => self.post_json(&url, headers, &body).await?,
            };
        }
        Err(LoginError::Upstream(format!(
            "onboarding was not done after {} polls; try again",
            discovery.max_polls
        )))
    }

    async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Result<Value, LoginError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let (status, _, answer) = self
            .call(Method::POST, url, headers, Some((bytes, "application/json")))
            .await
            .map_err(LoginError::Upstream)?;
        if !status.is_success() {
            return Err(LoginError::Upstream(format!(
                "{url} answered {status}: {}",
                String::from_utf8_lossy(&answer).chars().take(300).collect::<String>()
            )));
        }
        serde_json::from_slice(&answer)
            .map_err(|_| LoginError::Upstream(format!("{url} answered something that is not JSON")))
    }
}

/// A project as a string or `{id}`.
fn project_of(v: Option<&Value>) -> Option<String> {
    let v = v?;
    v.as_str()
        .or_else(|| v.get("id").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The current tier's id (the paid tier first).
fn tier_of(load: &Value) -> Option<String> {
    load.pointer("/paidTier/id")
        .or_else(|| load.pointer("/currentTier/id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The tier marked default among the allowed ones.
fn default_tier(load: &Value) -> Option<String> {
    load.get("allowedTiers")?
        .as_array()?
        .iter()
        .find(|t| t.get("isDefault").and_then(Value::as_bool) == Some(true))
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .map(str::to_owned)
}

/// Why the account is not eligible, when no tier is allowed.
fn ineligible(load: &Value) -> Option<String> {
    let allowed = load
        .get("allowedTiers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if allowed || load.get("currentTier").is_some() {
        return None;
    }
    let first = load.get("ineligibleTiers")?.as_array()?.first()?;
    let code = first.get("reasonCode").and_then(Value::as_str).unwrap_or("");
    let message = first
        .get("reasonMessage")
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(format!("{code}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_tiers_and_eligibility_are_read() {
        assert_eq!(project_of(Some(&json!("p-1"))).as_deref(), Some("p-1"));
        assert_eq!(project_of(Some(&json!({"id": "p-2"}))).as_deref(), Some("p-2"));
        assert_eq!(project_of(Some(&json!(""))), None);
        let load = json!({
            "allowedTiers": [{"id": "free-tier"}, {"id": "standard-tier", "isDefault": true}],
            "currentTier": {"id": "standard-tier"}
        });
        assert_eq!(default_tier(&load).as_deref(), Some("standard-tier"));
        assert_eq!(tier_of(&load).as_deref(), Some("standard-tier"));
        assert_eq!(ineligible(&load), None);
        let refused = json!({"ineligibleTiers": [{"reasonCode": "UNSUPPORTED_CLIENT", "reasonMessage": "migrate"}]});
        assert_eq!(
            ineligible(&refused).as_deref(),
            Some("UNSUPPORTED_CLIENT: migrate")
        );
    }
}
