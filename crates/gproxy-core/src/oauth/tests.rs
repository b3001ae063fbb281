//! The refresh machinery against a real database and the Claude Code
//! vendor mock: another instance's live claim is waited for and its token
//! adopted, a stale claim (a crashed refresher) is taken over, and a dead
//! refresh token is stored and disables.

use std::time::Duration;

use gproxy_credential::oauth::{OAuthCredential, TokenSet};
use gproxy_credential::seal::{MasterKey, Sealer};
use gproxy_credential::{CredentialHealth, Secret};
use gproxy_provider::builtin::ClaudeCode;
use gproxy_storage::{NewCredential, NewProvider, Storage};
use gproxy_testkit::MockUpstream;

use super::*;
use crate::upstream::UpstreamConfig;

struct Fixture {
    mock: MockUpstream,
    storage: Storage,
    sealer: Arc<Sealer>,
    manager: OAuthManager,
    provider: ClaudeCode,
    id: i64,
}

/// A claudecode credential for a fresh mock account whose access token
/// expired a minute ago.
async fn fixture() -> (Fixture, gproxy_testkit::claude_oauth::ClaudeTokens) {
    let mock = MockUpstream::start().await.unwrap();
    let storage = Storage::connect("sqlite::memory:").await.unwrap();
    storage.migrate().await.unwrap();
    let sealer = Arc::new(Sealer::new(&MasterKey::generate()));
    let upstream = UpstreamClient::new(&UpstreamConfig::new(Duration::from_secs(5), None)).unwrap();
    let manager = OAuthManager::new(upstream, sealer.clone());
    manager.set_storage(storage.clone());
    let provider = ClaudeCode::from_settings(&serde_json::json!({
        "token_url": mock.claude_token_url(),
        "refresh_lead_secs": 60,
    }))
    .unwrap();
    let provider_row = storage
        .upsert_provider(&NewProvider {
            name: "claudecode".into(),
            kind: "claudecode".into(),
            base_url: Some(mock.base_url()),
            settings: serde_json::json!({}),
            enabled: true,
            credential_strategy: "round_robin".into(),
        })
        .await
        .unwrap();
    let tokens = mock.claude_issue("claim@example.com");
    let credential = OAuthCredential::new(
        TokenSet {
            access_token: Secret::new(tokens.access_token.clone()),
            refresh_token: Some(Secret::new(tokens.refresh_token.clone())),
            expires_at_ms: now_ms() - 60_000,
            scope: None,
        },
        serde_json::Map::new(),
    );
    let row = storage
        .create_credential(&NewCredential {
            provider_id: provider_row.id,
            name: "c".into(),
            kind: "oauth".into(),
            secret: sealer.seal_json(&credential.to_json()),
            enabled: true,
            weight: 1,
        })
        .await
        .unwrap();
    let fixture = Fixture {
        mock,
        storage,
        sealer,
        manager,
        provider,
        id: row.id,
    };
    (fixture, tokens)
}

impl Fixture {
    async fn stored(&self) -> OAuthCredential {
        let row = self.storage.get_credential(self.id).await.unwrap().unwrap();
        let mut c =
            OAuthCredential::from_json(&self.sealer.open_json(&row.secret).unwrap()).unwrap();
        c.version = row.version;
        c
    }

    async fn write(&self, c: &OAuthCredential) {
        let swapped = self
            .storage
            .swap_credential_secret(self.id, c.version, &self.sealer.seal_json(&c.to_json()))
            .await
            .unwrap();
        assert!(swapped);
    }
}

#[tokio::test]
async fn another_instances_live_claim_is_waited_for_and_its_token_adopted() {
    let (f, _) = fixture().await;
    let snapshot = f.stored().await;
    // Another instance claims the row...
    let mut claimed = snapshot.clone();
    claimed.refresh_lock_until_ms = Some(now_ms() + 10_000);
    f.write(&claimed).await;
    // ...and stores its refreshed token 300 ms later.
    let mut theirs = claimed.clone();
    theirs.version += 1;
    theirs.refresh_lock_until_ms = None;
    theirs.tokens.access_token = Secret::new("sk-ant-oat01-theirs".into());
    theirs.tokens.expires_at_ms = now_ms() + 3_600_000;
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        f.write(&theirs).await;
    };
    let (resolved, ()) = tokio::join!(
        f.manager.resolve(f.id, &snapshot, &f.provider, None),
        writer
    );
    let resolved = resolved.unwrap();
    assert_eq!(resolved.tokens.access_token.expose(), "sk-ant-oat01-theirs");
    assert_eq!(f.mock.claude_refreshes(), 0, "no second refresh");
    assert_eq!(f.manager.report().adopted, 1);
}

#[tokio::test]
async fn a_stale_claim_is_taken_over_and_the_new_pair_stored_before_use() {
    let (f, tokens) = fixture().await;
    let snapshot = f.stored().await;
    // A refresher that crashed: its claim ran out.
    let mut stale = snapshot.clone();
    stale.refresh_lock_until_ms = Some(now_ms() - 1);
    f.write(&stale).await;
    let resolved = f
        .manager
        .resolve(f.id, &snapshot, &f.provider, None)
        .await
        .unwrap();
    assert_eq!(f.mock.claude_refreshes(), 1);
    assert_ne!(resolved.tokens.access_token.expose(), tokens.access_token);
    let stored = f.stored().await;
    assert_eq!(stored.tokens, resolved.tokens, "the row holds what is used");
    assert_eq!(stored.refresh_lock_until_ms, None, "the claim is released");
    assert_eq!(stored.version, resolved.version);
    // The next request finds it fresh: no refresh.
    let again = f
        .manager
        .resolve(f.id, &snapshot, &f.provider, None)
        .await
        .unwrap();
    assert_eq!(again.tokens, resolved.tokens);
    assert_eq!(f.mock.claude_refreshes(), 1);
}

#[tokio::test]
async fn a_dead_refresh_token_is_stored_and_disables() {
    let (f, tokens) = fixture().await;
    f.mock.claude_revoke_refresh(&tokens.refresh_token);
    let snapshot = f.stored().await;
    let health = CredentialHealth::new();
    let err = f
        .manager
        .resolve(f.id, &snapshot, &f.provider, Some(&health))
        .await
        .unwrap_err();
    let RefreshError::Permanent(reason) = err else {
        panic!("not permanent: {err:?}");
    };
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert!(health.is_disabled());
    let stored = f.stored().await;
    assert_eq!(stored.disabled_reason.as_deref(), Some(reason.as_str()));
    assert_eq!(stored.refresh_lock_until_ms, None);
    // Asked again: the stored reason, no call to the vendor.
    let again = f
        .manager
        .refresh_rejected(f.id, stored.version, &f.provider, None)
        .await
        .unwrap_err();
    assert_eq!(again, RefreshError::Permanent(reason));
}

#[test]
fn account_facts_merge_without_blanks() {
    let mut account = serde_json::Map::new();
    account.insert("email".into(), serde_json::json!("a@b.c"));
    let mut fresh = serde_json::Map::new();
    fresh.insert("email".into(), serde_json::json!(""));
    fresh.insert("plan".into(), serde_json::json!("pro"));
    fresh.insert("account_id".into(), serde_json::Value::Null);
    merge_account(&mut account, fresh);
    assert_eq!(account["email"], "a@b.c");
    assert_eq!(account["plan"], "pro");
    assert!(!account.contains_key("account_id"));
}
