//! Users with roles and passwords, keys with labels, expiry, allow-lists
//! and scopes, admin sessions, and the CRUD the admin API uses, on every
//! backend.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::Ctx;
use gproxy_storage::{
    CredentialPatch, NewCredential, NewProvider, NewUser, NewUserKey, SessionRow, StorageError,
    UserKeyPatch, UserPatch,
};
use serde_json::json;

backend_tests!(
    users_have_roles_passwords_and_unique_names,
    keys_keep_their_fields_and_patches,
    sessions_expire_and_end,
    credentials_and_providers_crud,
);

async fn users_have_roles_passwords_and_unique_names(ctx: Ctx) {
    let s = &ctx.storage;
    let alice = s
        .create_user(&NewUser {
            name: "alice".into(),
            role: "viewer".into(),
            password_hash: Some("$argon2id$x".into()),
            enabled: true,
        })
        .await
        .unwrap();
    assert_eq!(alice.role, "viewer");
    assert_eq!(alice.password_hash.as_deref(), Some("$argon2id$x"));
    let dup = s
        .create_user(&NewUser {
            name: "alice".into(),
            role: "user".into(),
            password_hash: None,
            enabled: true,
        })
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict { .. })), "{dup:?}");
    // upsert_user (bootstrap's) leaves an existing user as it is.
    assert_eq!(s.upsert_user("alice").await.unwrap().role, "viewer");
    assert_eq!(s.upsert_user("bob").await.unwrap().role, "user");

    let patched = s
        .update_user(
            alice.id,
            &UserPatch {
                role: Some("admin".into()),
                password_hash: Some(None),
                enabled: Some(false),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.role, "admin");
    assert_eq!(patched.password_hash, None);
    assert!(!patched.enabled);
    assert_eq!(patched.name, "alice", "untouched fields stay");
    let renamed = s
        .update_user(
            alice.id,
            &UserPatch {
                name: Some("bob".into()),
                ..UserPatch::default()
            },
        )
        .await;
    assert!(
        matches!(renamed, Err(StorageError::Conflict { .. })),
        "{renamed:?}"
    );
    assert!(
        s.update_user(999_999, &UserPatch::default())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.find_user_by_name("alice").await.unwrap().unwrap().id,
        alice.id
    );
    assert!(s.delete_user(alice.id).await.unwrap());
    assert!(!s.delete_user(alice.id).await.unwrap());
    assert!(s.get_user(alice.id).await.unwrap().is_none());
}

async fn keys_keep_their_fields_and_patches(ctx: Ctx) {
    let s = &ctx.storage;
    let user = s.upsert_user("carol").await.unwrap();
    let expires = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let key = s
        .create_user_key(&NewUserKey {
            user_id: user.id,
            key_hash: "a".repeat(64),
            key_prefix: "sk-gp-ab".into(),
            label: Some("laptop".into()),
            expires_at: Some(expires),
            allowed_providers: Some(vec!["openai".into()]),
            allowed_models: Some(vec!["gpt-4o*".into(), "smart".into()]),
            max_cost_nano_usd: None,
            scope: "admin".into(),
            enabled: true,
        })
        .await
        .unwrap();
    assert_eq!(key.label.as_deref(), Some("laptop"));
    assert_eq!(key.expires_at, Some(expires));
    assert_eq!(key.allowed_providers, Some(vec!["openai".to_owned()]));
    assert_eq!(key.allowed_models.as_ref().unwrap().len(), 2);
    assert_eq!(key.scope, "admin");
    let same_hash = s
        .create_user_key(&NewUserKey {
            user_id: user.id,
            key_hash: "a".repeat(64),
            key_prefix: "x".into(),
            label: None,
            expires_at: None,
            allowed_providers: None,
            allowed_models: None,
            max_cost_nano_usd: None,
            scope: "proxy".into(),
            enabled: true,
        })
        .await;
    assert!(
        matches!(same_hash, Err(StorageError::Conflict { .. })),
        "{same_hash:?}"
    );
    // Keys from the config file (bootstrap's upsert) are proxy keys.
    let plain = s
        .upsert_user_key(user.id, &"b".repeat(64), "sk-b")
        .await
        .unwrap();
    assert_eq!(plain.scope, "proxy");
    assert_eq!(plain.allowed_models, None);

    let patched = s
        .update_user_key(
            key.id,
            &UserKeyPatch {
                label: Some(None),
                expires_at: Some(None),
                allowed_providers: Some(None),
                enabled: Some(false),
                ..UserKeyPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.label, None);
    assert_eq!(patched.expires_at, None);
    assert_eq!(patched.allowed_providers, None);
    assert_eq!(
        patched.allowed_models.as_ref().unwrap().len(),
        2,
        "untouched"
    );
    assert!(!patched.enabled);
    assert_eq!(s.list_keys_of_user(user.id).await.unwrap().len(), 2);
    assert_eq!(
        s.find_user_key_by_hash(&"b".repeat(64))
            .await
            .unwrap()
            .unwrap()
            .id,
        plain.id
    );
    assert!(s.delete_user_key(key.id).await.unwrap());
    assert!(s.get_user_key(key.id).await.unwrap().is_none());
    // Deleting the user deletes their keys.
    s.delete_user(user.id).await.unwrap();
    assert!(s.get_user_key(plain.id).await.unwrap().is_none());
}

async fn sessions_expire_and_end(ctx: Ctx) {
    let s = &ctx.storage;
    let user = s.upsert_user("dora").await.unwrap();
    let now = Utc::now();
    let session = |hash: &str, ends| SessionRow {
        token_hash: hash.into(),
        user_id: user.id,
        csrf_token: "c".repeat(64),
        created_at: now,
        expires_at: ends,
    };
    s.create_session(&session(&"1".repeat(64), now + Duration::hours(1)))
        .await
        .unwrap();
    s.create_session(&session(&"2".repeat(64), now - Duration::seconds(1)))
        .await
        .unwrap();
    s.create_session(&session(&"3".repeat(64), now + Duration::hours(1)))
        .await
        .unwrap();
    let found = s.find_session(&"1".repeat(64), now).await.unwrap().unwrap();
    assert_eq!(found.csrf_token, "c".repeat(64));
    assert_eq!(found.user_id, user.id);
    assert!(
        s.find_session(&"2".repeat(64), now)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert_eq!(s.delete_expired_sessions(now).await.unwrap(), 1);
    assert!(s.delete_session(&"1".repeat(64)).await.unwrap());
    assert!(
        s.find_session(&"1".repeat(64), now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.delete_sessions_of(user.id).await.unwrap(), 1);
    assert!(
        s.find_session(&"3".repeat(64), now)
            .await
            .unwrap()
            .is_none()
    );
}

async fn credentials_and_providers_crud(ctx: Ctx) {
    let s = &ctx.storage;
    let p = s
        .upsert_provider(&NewProvider {
            name: "mine".into(),
            kind: "custom".into(),
            base_url: Some("http://x".into()),
            settings: json!({"protocol": "openai_chat"}),
            enabled: true,
            credential_strategy: "round_robin".into(),
        })
        .await
        .unwrap();
    assert_eq!(s.get_provider("mine").await.unwrap().unwrap().id, p.id);
    let new = |name: &str| NewCredential {
        provider_id: p.id,
        name: name.into(),
        kind: "api_key".into(),
        secret: json!({"sealed": "v1:abc"}),
        enabled: true,
        weight: 1,
    };
    let c = s.create_credential(&new("k1")).await.unwrap();
    let dup = s.create_credential(&new("k1")).await;
    assert!(matches!(dup, Err(StorageError::Conflict { .. })), "{dup:?}");
    s.create_credential(&new("k2")).await.unwrap();
    let patched = s
        .update_credential(
            c.id,
            &CredentialPatch {
                weight: Some(7),
                secret: Some(("api_key".into(), json!({"sealed": "v1:def"}))),
                ..CredentialPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.weight, 7);
    assert_eq!(patched.secret, json!({"sealed": "v1:def"}));
    assert_eq!(patched.name, "k1");
    let clash = s
        .update_credential(
            c.id,
            &CredentialPatch {
                name: Some("k2".into()),
                ..CredentialPatch::default()
            },
        )
        .await;
    assert!(
        matches!(clash, Err(StorageError::Conflict { .. })),
        "{clash:?}"
    );
    assert_eq!(s.list_credentials_of(p.id).await.unwrap().len(), 2);
    assert!(s.delete_credential(c.id).await.unwrap());
    assert!(s.get_credential(c.id).await.unwrap().is_none());
    // Deleting the provider deletes its credentials.
    assert!(s.delete_provider("mine").await.unwrap());
    assert!(s.list_credentials().await.unwrap().is_empty());
    assert!(!s.delete_provider("mine").await.unwrap());
}
