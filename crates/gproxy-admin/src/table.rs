//! Every admin route: method, path, who may call it, its audit action,
//! whether it changes the running state, its types and its handler.

use crate::auth::Role::{Admin, User, Viewer};
use crate::handlers::{
    budgets, config, credentials as cred, logs, meta, model_routes as mr, pricing,
    providers as prov, session, settings, users,
};
use crate::route;
use crate::routes::Access::{Public, Role};
use crate::routes::RouteDef;

/// The table. Order matters only where two patterns match one path
/// (literal segments are listed before `{param}` ones).
pub fn routes() -> Vec<RouteDef> {
    let mut openapi = route!(GET "/openapi.json", Public, "", false, "meta",
        "The OpenAPI document of this API", (), (), 200, (), meta::openapi);
    openapi.response_type = Some("application/json");
    vec![
        openapi,
        route!(GET "/health", Role(Viewer), "", false, "meta",
            "Everything `/health` shows with the admin key: providers with their circuit and credential states, the shared store, change propagation, the usage sink, the edge counters",
            (), (), 200, (gproxy_core::health::HealthDetail), meta::health),
        route!(GET "/setup", Public, "", false, "session",
            "Whether the install still needs its first admin user", (), (), 200, (session::SetupView), session::setup),
        route!(POST "/session", Public, "session.login", false, "session",
            "Sign in with user name and password (sets the session and CSRF cookies)",
            (session::LoginInput), (), 200, (session::SessionView), session::login),
        route!(GET "/session", Role(User), "", false, "session",
            "Who is calling", (), (), 200, (session::SessionView), session::current),
        route!(DELETE "/session", Role(User), "session.logout", false, "session",
            "Sign out", (), (), 204, (), session::logout),
        // Providers.
        route!(GET "/providers", Role(Viewer), "", false, "providers",
            "List providers", (), (), 200, (Vec<prov::ProviderView>), prov::list),
        route!(POST "/providers", Role(Admin), "provider.create", true, "providers",
            "Create a provider", (prov::ProviderInput), (), 201, (prov::ProviderView), prov::create),
        route!(GET "/providers/{name}", Role(Viewer), "", false, "providers",
            "Read a provider", (), (), 200, (prov::ProviderView), prov::get),
        route!(PATCH "/providers/{name}", Role(Admin), "provider.update", true, "providers",
            "Change a provider's settings", (prov::ProviderPatch), (), 200, (prov::ProviderView), prov::update),
        route!(DELETE "/providers/{name}", Role(Admin), "provider.delete", true, "providers",
            "Delete a provider (not a built-in one) with its credentials", (), (), 204, (), prov::delete),
        route!(POST "/providers/{name}/enable", Role(Admin), "provider.enable", true, "providers",
            "Enable a provider", (), (), 200, (prov::ProviderView), prov::enable),
        route!(POST "/providers/{name}/disable", Role(Admin), "provider.disable", true, "providers",
            "Disable a provider", (), (), 200, (prov::ProviderView), prov::disable),
        // Credentials.
        route!(GET "/providers/{name}/credentials", Role(Viewer), "", false, "credentials",
            "List a provider's credentials (secrets masked)", (), (), 200, (Vec<cred::CredentialView>), cred::list_of_provider),
        route!(POST "/providers/{name}/credentials", Role(Admin), "credential.create", true, "credentials",
            "Add a credential", (cred::CredentialInput), (), 201, (cred::CredentialView), cred::create),
        route!(POST "/providers/{name}/credentials/import", Role(Admin), "credential.import", true, "credentials",
            "Import many credentials (API keys one per line, or a JSON array)",
            (cred::ImportInput), (), 201, (cred::ImportResult), cred::import),
        route!(GET "/credentials", Role(Viewer), "", false, "credentials",
            "List every credential (secrets masked)", (), (), 200, (Vec<cred::CredentialView>), cred::list_all),
        route!(GET "/credentials/{id}", Role(Viewer), "", false, "credentials",
            "Read a credential (secret masked)", (), (), 200, (cred::CredentialView), cred::get),
        route!(PATCH "/credentials/{id}", Role(Admin), "credential.update", true, "credentials",
            "Change a credential's name, weight, enabled flag or secret",
            (cred::CredentialPatchInput), (), 200, (cred::CredentialView), cred::update),
        route!(DELETE "/credentials/{id}", Role(Admin), "credential.delete", true, "credentials",
            "Delete a credential", (), (), 204, (), cred::delete),
        route!(POST "/credentials/{id}/test", Role(Admin), "credential.test", false, "credentials",
            "Test a credential with one cheap upstream call (the model list)", (), (), 200, (cred::TestResult), cred::test),
        route!(GET "/credentials/{id}/state", Role(Viewer), "", false, "credentials",
            "A credential's runtime state (cooldowns, in flight, disabled)", (), (), 200, (cred::CredentialState), cred::state),
        route!(POST "/credentials/{id}/enable", Role(Admin), "credential.reenable", false, "credentials",
            "Clear a run-time disable and the cooldowns of a credential", (), (), 200, (cred::CredentialState), cred::enable),
        // Users and keys.
        route!(GET "/users", Role(Viewer), "", false, "users",
            "List users", (), (), 200, (Vec<users::UserView>), users::list),
        route!(POST "/users", Role(Admin), "user.create", true, "users",
            "Create a user", (users::UserInput), (), 201, (users::UserView), users::create),
        route!(GET "/users/{id}", Role(Viewer), "", false, "users",
            "Read a user", (), (), 200, (users::UserView), users::get),
        route!(PATCH "/users/{id}", Role(Admin), "user.update", true, "users",
            "Change a user's name, role, password or enabled flag",
            (users::UserPatchInput), (), 200, (users::UserView), users::update),
        route!(DELETE "/users/{id}", Role(Admin), "user.delete", true, "users",
            "Delete a user with their keys and sessions", (), (), 204, (), users::delete),
        route!(GET "/users/{id}/keys", Role(Viewer), "", false, "keys",
            "List a user's keys", (), (), 200, (Vec<users::KeyView>), users::list_keys),
        route!(POST "/users/{id}/keys", Role(Admin), "key.create", true, "keys",
            "Create a key for a user (the key is in this answer only)",
            (users::KeyInput), (), 201, (users::KeyCreated), users::create_key),
        route!(GET "/keys/{id}", Role(Viewer), "", false, "keys",
            "Read a key", (), (), 200, (users::KeyView), users::get_key),
        route!(PATCH "/keys/{id}", Role(Admin), "key.update", true, "keys",
            "Change a key's label, expiry, allow-lists or enabled flag",
            (users::KeyPatchInput), (), 200, (users::KeyView), users::update_key),
        route!(DELETE "/keys/{id}", Role(Admin), "key.delete", true, "keys",
            "Delete a key", (), (), 204, (), users::delete_key),
        // Self-service.
        route!(GET "/me", Role(User), "", false, "me",
            "The caller's user", (), (), 200, (users::UserView), users::me),
        route!(GET "/me/keys", Role(User), "", false, "me",
            "The caller's keys", (), (), 200, (Vec<users::KeyView>), users::my_keys),
        route!(POST "/me/keys", Role(User), "key.create", true, "me",
            "Create a key for oneself (the key is in this answer only)",
            (users::KeyInput), (), 201, (users::KeyCreated), users::create_my_key),
        route!(PATCH "/me/keys/{id}", Role(User), "key.update", true, "me",
            "Change one's own key", (users::KeyPatchInput), (), 200, (users::KeyView), users::update_my_key),
        route!(DELETE "/me/keys/{id}", Role(User), "key.delete", true, "me",
            "Delete one's own key", (), (), 204, (), users::delete_my_key),
        route!(GET "/me/logs", Role(User), "", false, "me",
            "The caller's own requests", (), (logs::LogFilter), 200, (logs::LogPageView), logs::my_logs),
        route!(GET "/me/usage", Role(User), "", false, "me",
            "The caller's own usage", (), (logs::UsageFilter), 200, (Vec<logs::UsageView>), logs::my_usage),
        // Logs, usage, audit.
        route!(GET "/logs", Role(Viewer), "", false, "logs",
            "Request logs, newest first, filtered, cursor-paged", (), (logs::LogFilter), 200, (logs::LogPageView), logs::list),
        {
            let mut r = route!(GET "/logs/live", Role(User), "", false, "logs",
                "Finished requests as they happen (Server-Sent Events: `event: request` with one summary, `event: lagged` with `{\"missed\": n}` when the viewer read too slowly); role user: their own only",
                (), (logs::LiveQuery), 200, (gproxy_core::observe::live::LiveRequest), logs::live);
            r.response_type = Some("text/event-stream");
            r
        },
        route!(GET "/logs/{request_id}", Role(User), "", false, "logs",
            "One request with every upstream attempt (role user: their own only)", (), (), 200, (logs::LogDetailView), logs::detail),
        route!(GET "/usage", Role(Viewer), "", false, "usage",
            "Usage aggregates by provider, model, credential, user, key and time bucket",
            (), (logs::UsageFilter), 200, (Vec<logs::UsageView>), logs::usage),
        route!(GET "/audit", Role(Viewer), "", false, "audit",
            "The audit log of admin writes, newest first", (), (logs::AuditFilter), 200, (logs::AuditPageView), logs::audit),
        // Model routes.
        route!(GET "/routes", Role(Viewer), "", false, "routes",
            "List model routes", (), (), 200, (Vec<mr::RouteView>), mr::list),
        route!(POST "/routes", Role(Admin), "route.create", true, "routes",
            "Create a model route", (mr::RouteInput), (), 201, (mr::RouteView), mr::create),
        route!(GET "/routes/{name}", Role(Viewer), "", false, "routes",
            "Read a model route", (), (), 200, (mr::RouteView), mr::get),
        route!(PUT "/routes/{name}", Role(Admin), "route.update", true, "routes",
            "Replace a model route's targets", (mr::RouteInput), (), 200, (mr::RouteView), mr::replace),
        route!(DELETE "/routes/{name}", Role(Admin), "route.delete", true, "routes",
            "Delete a model route", (), (), 204, (), mr::delete),
        // Settings.
        route!(GET "/settings", Role(Viewer), "", false, "settings",
            "Every live setting", (), (), 200, (settings::SettingsView), settings::get),
        route!(PATCH "/settings", Role(Admin), "settings.update", true, "settings",
            "Change live settings", (settings::SettingsPatch), (), 200, (settings::SettingsView), settings::update),
        route!(GET "/pricing", Role(Viewer), "", false, "pricing",
            "The price catalogue in force (version, sources, models) and the overrides over it",
            (), (), 200, (pricing::PricingView), pricing::get),
        route!(PUT "/pricing", Role(Admin), "pricing.update", true, "pricing",
            "Replace the price overrides and the catalogue refresh settings (applied live on every instance)",
            (pricing::PricingInput), (), 200, (pricing::PricingView), pricing::put),
        route!(GET "/budgets", Role(Viewer), "", false, "budgets",
            "Every configured budget (users by name, keys by prefix) per period: amount, spend, reservations in flight, what is left, when it resets, the soft threshold",
            (), (), 200, (gproxy_core::budget::BudgetsView), budgets::list),
        // Export and import.
        {
            let mut r = route!(GET "/config/export", Role(Admin), "", false, "config",
                "The whole state as the config file's TOML (secrets sealed, keys hashed)",
                (), (), 200, (String), config::export);
            r.response_type = Some("application/toml");
            r
        },
        route!(POST "/config/import", Role(Admin), "config.import", true, "config",
            "Apply a config document (as exported); nothing is deleted",
            (config::ImportInput), (), 200, (config::ImportView), config::import),
    ]
}
