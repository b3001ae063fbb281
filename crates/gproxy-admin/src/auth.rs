//! Who is calling the admin API, and what they may do.
//!
//! - The admin key or a personal admin token (a user key of scope `admin`)
//!   as `Authorization: Bearer` (scripts).
//! - A session cookie from `POST /admin/api/session` (people); writes made
//!   with the cookie must echo the session's CSRF token in `X-CSRF-Token`.
//!
//! Secrets are never compared as text: keys and tokens are looked up by
//! their SHA-256 digest, the CSRF token is compared with `subtle`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::Utc;
use gproxy_core::state::{ADMIN_USER, KEY_SCOPE_ADMIN, hash_key};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::context::AdminContext;
use crate::error::ApiError;
use crate::request::AdminRequest;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gproxy_session";
/// The CSRF cookie's name (readable by the page's script, unlike the session).
pub const CSRF_COOKIE: &str = "gproxy_csrf";
/// The header cookie-authenticated writes carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts. 12 hours.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per user name and client address in
/// [`LOGIN_WINDOW`] before further tries are refused (429).
pub const LOGIN_MAX_FAILURES: u32 = 5;
/// The window failed logins are counted in. 15 minutes.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A person's or script's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Self-service: their own keys and usage only.
    User,
    /// Reads everything except secrets; every write is refused.
    Viewer,
    /// Everything.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    /// From the stored name; unknown names are the least privileged role.
    pub fn parse(s: &str) -> Role {
        match s {
            "admin" => Role::Admin,
            "viewer" => Role::Viewer,
            _ => Role::User,
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The gateway's admin key.
    AdminKey,
    /// A personal admin token.
    Token,
    /// A session cookie, with the session's CSRF token.
    Session {
        /// SHA-256 (hex) of the session token.
        token_hash: String,
        /// The CSRF token writes must echo.
        csrf: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub user_id: i64,
    /// User name (`admin` for the admin key).
    pub name: String,
    /// Role.
    pub role: Role,
    /// How they authenticated.
    pub via: Via,
}

impl Caller {
    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        match self.via {
            Via::AdminKey => "admin-key".to_owned(),
            Via::Token | Via::Session { .. } => self.name.clone(),
        }
    }
}

/// Authenticates `req`: a bearer credential first, else the session
/// cookie. Writes authenticated by cookie must carry the CSRF token.
pub async fn authenticate(ctx: &AdminContext, req: &AdminRequest) -> Result<Caller, ApiError> {
    if let Some(token) = bearer(req) {
        return bearer_caller(ctx, &token).await;
    }
    let Some(session) = req.cookie(SESSION_COOKIE) else {
        return Err(ApiError::unauthorized(
            "sign in (POST /admin/api/session) or send `Authorization: Bearer <admin key or admin token>`",
        ));
    };
    let token_hash = hex::encode(hash_key(&session));
    let Some(row) = ctx.storage.find_session(&token_hash, Utc::now()).await? else {
        return Err(ApiError::unauthorized(
            "session expired or signed out; sign in again",
        ));
    };
    let Some(user) = ctx
        .storage
        .get_user(row.user_id)
        .await?
        .filter(|u| u.enabled)
    else {
        return Err(ApiError::unauthorized("this account is disabled"));
    };
    let caller = Caller {
        user_id: user.id,
        name: user.name,
        role: Role::parse(&user.role),
        via: Via::Session {
            token_hash,
            csrf: row.csrf_token,
        },
    };
    if req.method != http::Method::GET && req.method != http::Method::HEAD {
        check_csrf(req, &caller)?;
    }
    Ok(caller)
}

fn bearer(req: &AdminRequest) -> Option<String> {
    let value = req
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

async fn bearer_caller(ctx: &AdminContext, token: &str) -> Result<Caller, ApiError> {
    // The admin key is in the snapshot, as for proxy calls: one lookup of
    // its SHA-256, no database round trip.
    if let Some(admin) = ctx
        .engine
        .state()
        .load()
        .authenticate(token)
        .filter(|p| p.is_admin)
    {
        return Ok(Caller {
            user_id: admin.user_id,
            name: ADMIN_USER.to_owned(),
            role: Role::Admin,
            via: Via::AdminKey,
        });
    }
    let digest = hex::encode(hash_key(token));
    // A lookup by the SHA-256 digest: the database compares digests, never
    // the token itself.
    let key = ctx.storage.find_user_key_by_hash(&digest).await?;
    let invalid = || ApiError::unauthorized("invalid admin key or token");
    let Some(key) = key.filter(|k| k.enabled && k.scope == KEY_SCOPE_ADMIN) else {
        return Err(invalid());
    };
    if key.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::unauthorized("admin token expired"));
    }
    let Some(user) = ctx
        .storage
        .get_user(key.user_id)
        .await?
        .filter(|u| u.enabled)
    else {
        return Err(invalid());
    };
    Ok(Caller {
        user_id: user.id,
        name: user.name,
        role: Role::parse(&user.role),
        via: Via::Token,
    })
}

fn check_csrf(req: &AdminRequest, caller: &Caller) -> Result<(), ApiError> {
    let Via::Session { csrf, .. } = &caller.via else {
        return Ok(());
    };
    let sent = req
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(csrf.as_bytes())) {
        return Err(ApiError::forbidden(
            "missing or wrong X-CSRF-Token header (send the value of the gproxy_csrf cookie)",
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(ApiError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches the stored argon2 PHC string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks a new password: 8 to 256 characters.
pub fn validate_password(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < 8 {
        return Err(ApiError::field(field, "at least 8 characters"));
    }
    if n > 256 {
        return Err(ApiError::field(field, "at most 256 characters"));
    }
    Ok(())
}

/// Counts failed logins per (user name, client address) in a sliding
/// window, so guessing is slow. Per instance, in memory.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<LoginKey, (u32, Instant)>>,
}

/// Failed sign-ins are counted per user name and client address.
type LoginKey = (String, Option<IpAddr>);

impl LoginLimiter {
    /// `Err(seconds to wait)` when this name and address are locked out.
    pub fn check(&self, name: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        let Ok(map) = self.failures.lock() else {
            return Ok(());
        };
        match map.get(&(name.to_owned(), ip)) {
            Some((count, since)) if *count >= LOGIN_MAX_FAILURES => {
                let left = LOGIN_WINDOW.saturating_sub(since.elapsed());
                if left.is_zero() {
                    Ok(())
                } else {
                    Err(left.as_secs().max(1))
                }
            }
            _ => Ok(()),
        }
    }

    /// Records a failed login.
    pub fn failed(&self, name: &str, ip: Option<IpAddr>) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() > 10_000 {
            map.retain(|_, (_, since)| since.elapsed() < LOGIN_WINDOW);
        }
        let entry = map
            .entry((name.to_owned(), ip))
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= LOGIN_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Forgets the failures after a successful login.
    pub fn succeeded(&self, name: &str, ip: Option<IpAddr>) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&(name.to_owned(), ip));
        }
    }
}

/// A new random token: 32 bytes as 64 hex digits.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn limiter_locks_out_after_failures() {
        let l = LoginLimiter::default();
        for _ in 0..LOGIN_MAX_FAILURES {
            assert!(l.check("a", None).is_ok());
            l.failed("a", None);
        }
        assert!(l.check("a", None).is_err());
        assert!(l.check("b", None).is_ok());
        l.succeeded("a", None);
        assert!(l.check("a", None).is_ok());
    }

    #[test]
    fn roles_order_by_privilege() {
        assert!(Role::Admin > Role::Viewer && Role::Viewer > Role::User);
        assert_eq!(Role::parse("nope"), Role::User);
    }
}
