//! Sealing secrets at rest: XChaCha20-Poly1305 under a 32-byte master key,
//! a random 24-byte nonce per seal, and associated data naming the purpose,
//! so a sealed value cannot be moved to another use. Pure functions; where
//! the key comes from is the caller's business.
//!
//! Form: `v1:` + base64 (standard, padded) of `nonce ‖ ciphertext+tag`.
//! In the credentials table the secret JSON becomes `{"sealed": "v1:..."}`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// The version prefix of a sealed value.
const PREFIX: &str = "v1:";
/// Nonce length of XChaCha20-Poly1305.
const NONCE_LEN: usize = 24;
/// The associated data of a credential secret.
pub const CREDENTIAL_SECRET: &[u8] = b"gproxy/credential-secret/v1";
/// The associated data of the key check value.
pub const KEY_CHECK: &[u8] = b"gproxy/master-key-check/v1";

/// Why a value could not be sealed or opened. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The master key text is not 32 bytes in base64 or hex.
    #[error("the master key must be 32 bytes, as 64 hex digits or base64 ({0})")]
    BadKey(String),
    /// Not a value this version seals (`v1:` + base64).
    #[error("not a sealed value")]
    Malformed,
    /// Authentication failed: another master key, another purpose, or
    /// tampered bytes.
    #[error("cannot be opened with this master key (another key sealed it, or it was altered)")]
    WrongKey,
    /// The opened bytes are not the JSON that was sealed.
    #[error("opened, but not JSON: {0}")]
    NotJson(String),
}

/// A 32-byte master key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// A new random key (from the thread-local CSPRNG).
    pub fn generate() -> Self {
        MasterKey(rand::random())
    }

    /// Parses 64 hex digits or base64 (standard or URL-safe, padded or not)
    /// of 32 bytes; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let mut out = [0u8; 32];
        if text.len() == 64 && hex::decode_to_slice(text, &mut out).is_ok() {
            return Ok(MasterKey(out));
        }
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(bytes) = engine.decode(text) {
                return <[u8; 32]>::try_from(bytes.as_slice())
                    .map(MasterKey)
                    .map_err(|_| SealError::BadKey(format!("{} bytes", bytes.len())));
            }
        }
        Err(SealError::BadKey("neither hex nor base64".into()))
    }

    /// The key as base64, for the key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

/// Seals and opens values under one master key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// A sealer under `key`.
    pub fn new(key: &MasterKey) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(&key.0.into()),
        }
    }

    /// Seals `plaintext` for `purpose` (the associated data).
    pub fn seal(&self, plaintext: &[u8], purpose: &[u8]) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose,
                },
            )
            // XChaCha20-Poly1305 fails only past 256 GiB of plaintext.
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(bytes))
    }

    /// Opens a value [`Sealer::seal`] made for `purpose`.
    pub fn open(&self, sealed: &str, purpose: &[u8]) -> Result<Vec<u8>, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
        let bytes = STANDARD.decode(body).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: purpose,
                },
            )
            .map_err(|_| SealError::WrongKey)
    }

    /// A credential's secret JSON as stored: `{"sealed": "v1:..."}`.
    pub fn seal_json(&self, secret: &serde_json::Value) -> serde_json::Value {
        let text = secret.to_string();
        serde_json::json!({ "sealed": self.seal(text.as_bytes(), CREDENTIAL_SECRET) })
    }

    /// The secret JSON of a stored one: opened when sealed, as it is when
    /// plaintext (a row from before sealing, sealed at the next start).
    pub fn open_json(&self, stored: &serde_json::Value) -> Result<serde_json::Value, SealError> {
        let Some(sealed) = sealed_text(stored) else {
            return Ok(stored.clone());
        };
        let bytes = self.open(sealed, CREDENTIAL_SECRET)?;
        serde_json::from_slice(&bytes).map_err(|e| SealError::NotJson(e.to_string()))
    }
}

/// The sealed string of a stored secret JSON, when it is sealed.
pub fn sealed_text(stored: &serde_json::Value) -> Option<&str> {
    let obj = stored.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.get("sealed")?.as_str()
}

/// Whether a stored secret JSON is sealed.
pub fn is_sealed(stored: &serde_json::Value) -> bool {
    sealed_text(stored).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sealer() -> Sealer {
        Sealer::new(&MasterKey::parse(&"ab".repeat(32)).unwrap())
    }

    #[test]
    fn round_trip_and_fresh_nonces() {
        let s = sealer();
        let secret = json!({"api_key": "sk-live-0123456789"});
        let a = s.seal_json(&secret);
        let b = s.seal_json(&secret);
        assert_ne!(a, b, "a new nonce every time");
        assert!(is_sealed(&a));
        assert!(!a.to_string().contains("sk-live"));
        assert_eq!(s.open_json(&a).unwrap(), secret);
        // Plaintext rows pass through (sealed at the next start).
        assert_eq!(s.open_json(&secret).unwrap(), secret);
    }

    #[test]
    fn wrong_key_purpose_or_tampering_fail() {
        let s = sealer();
        let other = Sealer::new(&MasterKey::generate());
        let sealed = s.seal(b"hello", CREDENTIAL_SECRET);
        assert_eq!(
            other.open(&sealed, CREDENTIAL_SECRET),
            Err(SealError::WrongKey)
        );
        assert_eq!(s.open(&sealed, KEY_CHECK), Err(SealError::WrongKey));
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(bytes));
        assert_eq!(
            s.open(&tampered, CREDENTIAL_SECRET),
            Err(SealError::WrongKey)
        );
        assert_eq!(
            s.open("v2:abc", CREDENTIAL_SECRET),
            Err(SealError::Malformed)
        );
        assert_eq!(
            s.open("v1:!!", CREDENTIAL_SECRET),
            Err(SealError::Malformed)
        );
        assert_eq!(
            s.open("v1:AAAA", CREDENTIAL_SECRET),
            Err(SealError::Malformed)
        );
        assert_eq!(s.open(&sealed, CREDENTIAL_SECRET).unwrap(), b"hello");
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let k = MasterKey::generate();
        assert_eq!(MasterKey::parse(&k.to_base64()).unwrap(), k);
        assert_eq!(
            MasterKey::parse(&format!(" {}\n", k.to_base64())).unwrap(),
            k
        );
        let hex_text = "0f".repeat(32);
        assert!(MasterKey::parse(&hex_text).is_ok());
        assert!(matches!(
            MasterKey::parse("short"),
            Err(SealError::BadKey(_))
        ));
        assert!(matches!(
            MasterKey::parse(&STANDARD.encode([1u8; 16])),
            Err(SealError::BadKey(_))
        ));
        assert_eq!(format!("{k:?}"), "MasterKey(***)");
        assert_eq!(format!("{:?}", Sealer::new(&k)), "Sealer(***)");
    }

    #[test]
    fn opening_never_panics_on_garbage() {
        let s = sealer();
        for text in [
            "",
            "v1:",
            "v1:====",
            "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "{\"sealed\":1}",
        ] {
            let _ = s.open(text, CREDENTIAL_SECRET);
            let _ = s.open_json(&json!({"sealed": text}));
        }
        assert!(
            s.open_json(&json!({"sealed": 5})).is_ok(),
            "not a sealed form: passed through"
        );
    }
}
