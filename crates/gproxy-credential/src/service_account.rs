//! Google service-account keys: the JSON key file, and the signed JWT
//! (RS256) exchanged for an OAuth access token. Pure functions, no IO: the
//! exchange itself lives in the core.
//!
//! Signing uses `ring` (already linked for TLS), which takes the key as
//! PKCS#8 DER: the PEM armour Google's key files carry is removed here.
//! (The `rsa` crate it replaces has an unfixed timing side channel,
//! RUSTSEC-2023-0071.)

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::{Deserialize, Serialize};

use crate::{CredentialError, Secret};

/// The OAuth scope asked for: all of Google Cloud, as Vertex AI requires.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The grant type of a JWT-bearer token request (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long the asserted JWT is valid (Google's maximum).
pub const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// Google's token endpoint, used when a key file names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A Google service-account key, as in the JSON key file Google issues.
/// The private key is a [`Secret`] and never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    /// The Google Cloud project the account belongs to.
    pub project_id: String,
    /// Id of the key pair, sent as the JWT's `kid`.
    pub private_key_id: String,
    /// The RSA private key, PKCS#8 PEM.
    pub private_key: Secret,
    /// The account's e-mail: the JWT's `iss`.
    pub client_email: String,
    /// Where the JWT is exchanged for an access token: the JWT's `aud`.
    pub token_uri: String,
}

/// The key file's fields we use; others (`client_id`, `auth_uri`, ...) are
/// ignored, as Google adds fields over time.
#[derive(Deserialize, Serialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    project_id: String,
    private_key_id: String,
    private_key: String,
    client_email: String,
    #[serde(default)]
    token_uri: Option<String>,
}

fn invalid(reason: impl Into<String>) -> CredentialError {
    CredentialError::InvalidSecret {
        kind: "service_account",
        reason: reason.into(),
    }
}

impl ServiceAccountKey {
    /// Reads a key file's JSON text. Checks every field, including that the
    /// private key is a PKCS#8 RSA key. Errors never contain the key.
    pub fn from_json_str(text: &str) -> Result<Self, CredentialError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "not JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        Self::from_json(&value)
    }

    /// Reads a key file's JSON value (see [`ServiceAccountKey::from_json_str`]).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, CredentialError> {
        // serde's messages quote values for some errors; report only the shape.
        let file = KeyFile::deserialize(value).map_err(|e| {
            let message = e.to_string();
            let field = [
                "type",
                "project_id",
                "private_key_id",
                "private_key",
                "client_email",
            ]
            .into_iter()
            .find(|f| message.contains(&format!("`{f}`")));
            match field {
                Some(f) => invalid(format!("field `{f}` is missing or not a string")),
                None => invalid("not a service-account key file"),
            }
        })?;
        if file.kind != "service_account" {
            return Err(invalid(format!(
                "`type` is `{}`, expected `service_account`",
                file.kind
            )));
        }
        for (name, value) in [
            ("project_id", &file.project_id),
            ("private_key_id", &file.private_key_id),
            ("client_email", &file.client_email),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(format!("`{name}` must not be empty")));
            }
        }
        let token_uri = file
            .token_uri
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        if !(token_uri.starts_with("https://") || token_uri.starts_with("http://")) {
            return Err(invalid("`token_uri` must be an http(s) URL"));
        }
        let key = ServiceAccountKey {
            project_id: file.project_id,
            private_key_id: file.private_key_id,
            private_key: Secret::new(file.private_key),
            client_email: file.client_email,
            token_uri,
        };
        key.rsa_key()?;
        Ok(key)
    }

    /// The stored form: the key file's fields.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key.expose(),
            "client_email": self.client_email,
            "token_uri": self.token_uri,
        })
    }

    fn rsa_key(&self) -> Result<RsaKeyPair, CredentialError> {
        let not_pkcs8 = || invalid("`private_key` is not a PKCS#8 PEM RSA private key");
        let der = pem_body(self.private_key.expose(), "PRIVATE KEY").ok_or_else(not_pkcs8)?;
        RsaKeyPair::from_pkcs8(&der).map_err(|_| not_pkcs8())
    }

    /// The JWT to exchange for an access token, issued at `now` (Unix
    /// seconds): header `{"alg":"RS256","typ":"JWT","kid":private_key_id}`,
    /// claims `iss`, `scope`, `aud` (the token URI), `iat` and `exp`
    /// ([`ASSERTION_LIFETIME_SECS`] later), signed RS256.
    pub fn signed_jwt(&self, now: u64) -> Result<String, CredentialError> {
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "kid": self.private_key_id,
        });
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": CLOUD_PLATFORM_SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let key = self.rsa_key()?;
        let mut signature = vec![0; key.public().modulus_len()];
        // PKCS#1 v1.5 padding is deterministic: the RNG is not used for it.
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            jwt.as_bytes(),
            &mut signature,
        )
        .map_err(|_| invalid("signing the JWT failed"))?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jwt)
    }

    /// The form body of the token request for `jwt`.
    pub fn token_request_body(jwt: &str) -> String {
        // The grant type's `:` are form-encoded; a JWT is URL-safe base64 and dots.
        format!(
            "grant_type={}&assertion={jwt}",
            JWT_BEARER_GRANT.replace(':', "%3A")
        )
    }
}

/// The DER bytes inside the first `-----BEGIN {label}-----` block of
/// `pem`, or `None` when there is no such block or its base64 is broken.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let text: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    const PRIVATE: &str =
        include_str!("../../gproxy-testkit/fixtures/test-only-service-account.key.pem");
    const PUBLIC: &str =
        include_str!("../../gproxy-testkit/fixtures/test-only-service-account.pub.pem");

    fn key_json() -> serde_json::Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": "proj-1",
            "private_key_id": "kid-1",
            "private_key": PRIVATE,
            "client_email": "sa@proj-1.iam.gserviceaccount.com",
            "client_id": "123",
            "token_uri": "https://oauth2.googleapis.com/token"
        })
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn jwt_has_the_documented_header_and_claims_and_verifies() {
        let key = ServiceAccountKey::from_json(&key_json()).unwrap();
        let jwt = key.signed_jwt(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode(parts[0]),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
        );
        assert_eq!(
            decode(parts[1]),
            serde_json::json!({
                "iss": "sa@proj-1.iam.gserviceaccount.com",
                "scope": CLOUD_PLATFORM_SCOPE,
                "aud": "https://oauth2.googleapis.com/token",
                "iat": 1_700_000_000u64,
                "exp": 1_700_003_600u64,
            })
        );
        // Verified with the fixture's public key (SubjectPublicKeyInfo).
        let spki = pem_body(PUBLIC, "PUBLIC KEY").unwrap();
        let verifier = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public_key(&spki));
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        verifier.verify(signed.as_bytes(), &signature).unwrap();
        assert!(verifier.verify(b"tampered", &signature).is_err());
        // RS256 with PKCS#1 v1.5 is deterministic: the same JWT each time.
        assert_eq!(key.signed_jwt(1_700_000_000).unwrap(), jwt);
    }

    /// The RSAPublicKey inside an RSA SubjectPublicKeyInfo: the BIT STRING
    /// that ends it (its unused-bits byte dropped).
    fn rsa_public_key(spki: &[u8]) -> &[u8] {
        // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING }: the
        // algorithm identifier of RSA is always these 15 bytes.
        let algorithm = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let at = spki
            .windows(algorithm.len())
            .position(|w| w == algorithm)
            .unwrap();
        let bits = &spki[at + algorithm.len()..];
        assert_eq!(bits[0], 0x03, "a BIT STRING follows");
        let header = match bits[1] {
            n if n < 0x80 => 2,
            n => 2 + usize::from(n & 0x7f),
        };
        &bits[header + 1..]
    }

    #[test]
    fn round_trips_through_the_stored_form() {
        let key = ServiceAccountKey::from_json(&key_json()).unwrap();
        assert_eq!(ServiceAccountKey::from_json(&key.to_json()).unwrap(), key);
    }

    #[test]
    fn bad_key_files_are_refused_without_leaking_the_key() {
        let mut no_email = key_json();
        no_email.as_object_mut().unwrap().remove("client_email");
        let mut wrong_type = key_json();
        wrong_type["type"] = "authorized_user".into();
        let mut bad_pem = key_json();
        bad_pem["private_key"] = "-----BEGIN PRIVATE KEY-----\nsecretstuff\n".into();
        let mut not_a_key = key_json();
        not_a_key["private_key"] =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0c3R1ZmY=\n-----END PRIVATE KEY-----\n".into();
        let mut pkcs1 = key_json();
        pkcs1["private_key"] = PRIVATE.replace("PRIVATE KEY", "RSA PRIVATE KEY").into();
        for (value, expect) in [
            (no_email, "client_email"),
            (wrong_type, "authorized_user"),
            (bad_pem, "PKCS#8"),
            (not_a_key, "PKCS#8"),
            (pkcs1, "PKCS#8"),
        ] {
            let err = ServiceAccountKey::from_json(&value)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{err}");
            assert!(
                !err.contains("secretstuff") && !err.contains("MII"),
                "{err}"
            );
        }
        let err = ServiceAccountKey::from_json_str("{ not json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not JSON"), "{err}");
    }

    #[test]
    fn the_token_uri_defaults_to_google() {
        let mut value = key_json();
        value.as_object_mut().unwrap().remove("token_uri");
        let key = ServiceAccountKey::from_json(&value).unwrap();
        assert_eq!(key.token_uri, DEFAULT_TOKEN_URI);
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let key = ServiceAccountKey::from_json(&key_json()).unwrap();
        assert!(!format!("{key:?}").contains("PRIVATE KEY"));
    }
}
