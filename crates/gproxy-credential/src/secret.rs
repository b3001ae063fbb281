//! A string that never prints itself.

use std::fmt;
use std::sync::OnceLock;

use http::HeaderValue;

/// A secret value (API key, token). `Debug`, `Display` and `Serialize` print
/// `***`; only [`Secret::expose`] reveals it.
#[derive(Clone)]
pub struct Secret {
    value: String,
    /// The secret as a header value after a prefix (`Bearer `), made the
    /// first time it is sent: a credential goes out with its provider's
    /// one prefix on every request.
    header: OnceLock<(Box<str>, HeaderValue)>,
}

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Secret {
            value,
            header: OnceLock::new(),
        }
    }

    /// The secret itself. Call only where it is sent or stored.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// `prefix` and the secret as a sensitive header value (`None` when the
    /// secret holds characters a header cannot), made once and kept for
    /// the next request that sends it with the same prefix.
    pub fn header(&self, prefix: &str) -> Option<HeaderValue> {
        if let Some((kept, value)) = self.header.get()
            && **kept == *prefix
        {
            return Some(value.clone());
        }
        let mut value = HeaderValue::try_from(format!("{prefix}{}", self.value)).ok()?;
        value.set_sensitive(true);
        let _ = self.header.set((prefix.into(), value.clone()));
        Some(value)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("sk-live-123".into());
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn its_header_is_made_once_per_prefix() {
        let s = Secret::new("sk-live-123".into());
        let first = s.header("Bearer ").unwrap();
        assert_eq!(first, "Bearer sk-live-123");
        assert!(first.is_sensitive());
        // Kept: the same bytes come back, not a new value.
        let again = s.header("Bearer ").unwrap();
        assert_eq!(again.as_bytes().as_ptr(), first.as_bytes().as_ptr());
        // Another prefix is made apart and is right too.
        assert_eq!(s.header("").unwrap(), "sk-live-123");
        assert_eq!(s.header("Bearer ").unwrap(), "Bearer sk-live-123");
        // A copy keeps it; equality is the secret's alone.
        assert_eq!(s.clone(), Secret::new("sk-live-123".into()));
        assert!(Secret::new("bad\nkey".into()).header("Bearer ").is_none());
    }
}
