//! `[cors]`: which browser origins may call the proxy routes directly.

use serde::{Deserialize, Serialize};

/// `[cors]` as written. Absent fields keep their defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the proxy routes from a browser, exactly as
    /// the browser sends them (`https://app.example.com`,
    /// `http://localhost:3000`), or `"*"` for any. Default: none (CORS off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Whether the browser may send cookies and HTTP auth along
    /// (`Access-Control-Allow-Credentials: true`). Default false. Not with
    /// `"*"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    /// How long a browser may cache a preflight answer, in seconds
    /// (0 to 86400). Default 600.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_secs: Option<u64>,
}

/// Longest preflight cache the config accepts (a day).
pub const MAX_CORS_AGE_SECS: u64 = 86_400;

impl CorsConfig {
    /// `self` with every field `other` sets replaced.
    pub fn overlaid(mut self, other: CorsConfig) -> Self {
        if other.allowed_origins.is_some() {
            self.allowed_origins = other.allowed_origins;
        }
        if other.allow_credentials.is_some() {
            self.allow_credentials = other.allow_credentials;
        }
        if other.max_age_secs.is_some() {
            self.max_age_secs = other.max_age_secs;
        }
        self
    }

    /// Checks every value; the error names the field (`allowed_origins[1]`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let origins = self.allowed_origins.as_deref().unwrap_or_default();
        for (i, origin) in origins.iter().enumerate() {
            check_origin(origin).map_err(|m| (format!("allowed_origins[{i}]"), m))?;
        }
        if self.allow_credentials == Some(true) && origins.iter().any(|o| o == "*") {
            return Err((
                "allow_credentials".into(),
                "cannot be true with the `*` origin (browsers refuse it); list the origins".into(),
            ));
        }
        if self.max_age_secs.is_some_and(|s| s > MAX_CORS_AGE_SECS) {
            return Err((
                "max_age_secs".into(),
                format!("at most {MAX_CORS_AGE_SECS}"),
            ));
        }
        Ok(())
    }
}

/// `*`, or `scheme://host[:port]` with no path, query or trailing slash.
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!(
            "`{origin}` is not an origin (`https://host[:port]` or `*`)"
        ));
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(format!("`{origin}` has no valid scheme"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '@']) {
        return Err(format!(
            "`{origin}` must be scheme://host[:port] only: no path, query, user or trailing slash"
        ));
    }
    if let Some((_, port)) = rest.rsplit_once(':')
        && !rest.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("`{origin}` has an invalid port"));
    }
    Ok(())
}

/// The CORS policy in force.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cors {
    /// Allowed origins (lowercase); empty: CORS off.
    pub origins: Vec<String>,
    /// Any origin (`*`).
    pub any: bool,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// Preflight cache time.
    pub max_age_secs: u64,
}

impl Cors {
    /// The policy of `config` over the defaults.
    pub fn from_config(config: &CorsConfig) -> Self {
        let origins: Vec<String> = config
            .allowed_origins
            .iter()
            .flatten()
            .map(|o| o.to_ascii_lowercase())
            .collect();
        Cors {
            any: origins.iter().any(|o| o == "*"),
            origins: origins.into_iter().filter(|o| o != "*").collect(),
            allow_credentials: config.allow_credentials.unwrap_or(false),
            max_age_secs: config.max_age_secs.unwrap_or(600),
        }
    }

    /// The config form, every field set.
    pub fn to_config(&self) -> CorsConfig {
        let mut origins = self.origins.clone();
        if self.any {
            origins.insert(0, "*".into());
        }
        CorsConfig {
            allowed_origins: Some(origins),
            allow_credentials: Some(self.allow_credentials),
            max_age_secs: Some(self.max_age_secs),
        }
    }

    /// Whether any origin is allowed at all.
    pub fn enabled(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    /// Whether `origin` may call.
    pub fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_with_their_index() {
        let ok = CorsConfig {
            allowed_origins: Some(vec![
                "https://a.example".into(),
                "http://localhost:3000".into(),
                "http://[::1]:8080".into(),
            ]),
            ..CorsConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        for bad in [
            "a.example",
            "https://a.example/",
            "https://a.example/x",
            "https://a:99999",
            "https://u@a",
        ] {
            let c = CorsConfig {
                allowed_origins: Some(vec!["*".into(), bad.into()]),
                ..CorsConfig::default()
            };
            assert_eq!(c.validate().unwrap_err().0, "allowed_origins[1]", "{bad}");
        }
        let c = CorsConfig {
            allowed_origins: Some(vec!["*".into()]),
            allow_credentials: Some(true),
            ..CorsConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "allow_credentials");
    }

    #[test]
    fn policy_matches_origins_case_insensitively() {
        let p = Cors::from_config(&CorsConfig {
            allowed_origins: Some(vec!["https://App.example".into()]),
            ..CorsConfig::default()
        });
        assert!(
            p.enabled() && p.allows("https://app.example") && !p.allows("https://evil.example")
        );
        assert!(!Cors::default().enabled());
        assert_eq!(Cors::from_config(&p.to_config()), p);
    }
}
