//! Signing in and out with a user name and password, the current
//! session, and whether the install still needs its first admin.

use chrono::Utc;
use gproxy_core::state::hash_key;
use gproxy_storage::SessionRow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::{
    CSRF_COOKIE, Caller, Role, SESSION_COOKIE, SESSION_TTL, Via, random_token, verify_password,
};
use crate::error::ApiError;
use crate::json::parse;
use crate::request::Reply;
use crate::routes::Call;

/// `POST /session`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionView {
    /// User id.
    pub user_id: i64,
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// `session`, `admin_key` or `token`.
    pub via: String,
    /// The CSRF token cookie-authenticated writes send in `X-CSRF-Token`
    /// (also in the `gproxy_csrf` cookie); null for bearer callers.
    pub csrf_token: Option<String>,
}

/// Whether the install still needs its first admin user.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SetupView {
    /// True until a user with role `admin` and a password exists.
    pub needs_admin_user: bool,
}

fn session_view(caller: &Caller) -> SessionView {
    let (via, csrf) = match &caller.via {
        Via::AdminKey => ("admin_key", None),
        Via::Token => ("token", None),
        Via::Session { csrf, .. } => ("session", Some(csrf.clone())),
    };
    SessionView {
        user_id: caller.user_id,
        username: caller.name.clone(),
        role: caller.role,
        via: via.to_owned(),
        csrf_token: csrf,
    }
}

fn cookie(call: &Call, name: &str, value: &str, http_only: bool, max_age: u64) -> String {
    let mut c = format!("{name}={value}; Path=/; SameSite=Strict; Max-Age={max_age}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if call.req.is_https() {
        c.push_str("; Secure");
    }
    c
}

/// `POST /session`: signs in. Failed tries are limited per name and
/// address ([`crate::auth::LOGIN_MAX_FAILURES`] per 15 minutes).
pub async fn login(call: Call) -> Result<Reply, ApiError> {
    let input: LoginInput = parse(&call.req.body)?;
    let ip = call.req.client_ip;
    if let Err(wait) = call.ctx.logins.check(&input.username, ip) {
        return Err(ApiError::too_many(format!(
            "too many failed sign-ins; try again in {wait} s"
        )));
    }
    let user = call.ctx.storage.find_user_by_name(&input.username).await?;
    let ok = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
        Some(hash) => verify_password(&input.password, hash),
        None => {
            // Spend the same time as a real check, so a missing user is
            // not told apart from a wrong password by timing.
            let _ = verify_password(&input.password, &DUMMY_HASH);
            false
        }
    };
    let Some(user) = user.filter(|u| ok && u.enabled) else {
        call.ctx.logins.failed(&input.username, ip);
        return Err(ApiError::unauthorized("wrong user name or password"));
    };
    call.ctx.logins.succeeded(&input.username, ip);
    let token = random_token();
    let csrf = random_token();
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(SESSION_TTL).map_err(ApiError::internal)?;
    call.ctx
        .storage
        .create_session(&SessionRow {
            token_hash: hex::encode(hash_key(&token)),
            user_id: user.id,
            csrf_token: csrf.clone(),
            created_at: now,
            expires_at: now + ttl,
        })
        .await?;
    // Expired sessions are swept at every sign-in.
    call.ctx.storage.delete_expired_sessions(now).await?;
    let caller = Caller {
        user_id: user.id,
        name: user.name,
        role: Role::parse(&user.role),
        via: Via::Session {
            token_hash: String::new(),
            csrf: csrf.clone(),
        },
    };
    let max_age = SESSION_TTL.as_secs();
    Ok(Reply::ok(&session_view(&caller))?
        .with_cookie(cookie(&call, SESSION_COOKIE, &token, true, max_age))
        .with_cookie(cookie(&call, CSRF_COOKIE, &csrf, false, max_age)))
}

/// An argon2id hash of a random password, for constant-time misses.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::auth::hash_password(&random_token()).unwrap_or_default());

/// `GET /session`: the caller.
pub async fn current(call: Call) -> Result<Reply, ApiError> {
    Reply::ok(&session_view(call.caller()?))
}

/// `DELETE /session`: signs out (the session ends on every instance).
pub async fn logout(call: Call) -> Result<Reply, ApiError> {
    if let Via::Session { token_hash, .. } = &call.caller()?.via {
        call.ctx.storage.delete_session(token_hash).await?;
    }
    Ok(Reply::no_content()
        .with_cookie(cookie(&call, SESSION_COOKIE, "", true, 0))
        .with_cookie(cookie(&call, CSRF_COOKIE, "", false, 0)))
}

/// `GET /setup`: public, so the UI knows to offer the first-admin step
/// (done with the generated admin key through `POST /users`).
pub async fn setup(call: Call) -> Result<Reply, ApiError> {
    let users = call.ctx.storage.list_users().await?;
    let has_admin = users
        .iter()
        .any(|u| u.role == "admin" && u.password_hash.is_some() && u.enabled);
    Reply::ok(&SetupView {
        needs_admin_user: !has_admin,
    })
}
