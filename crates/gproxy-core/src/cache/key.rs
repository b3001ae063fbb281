//! Cache key derivation: which requests may be cached, and the exact-match key.
//!
//! The key is a SHA-256 over length-prefixed fields, so no field can bleed
//! into the next one:
//! - a format version (`v1`), bumped whenever normalisation changes;
//! - the tenant partition ([`CachePartition`]);
//! - the client's protocol (answers are stored in the client's shape);
//! - the provider name and the upstream model (after routing);
//! - the operation ([`CacheOperation`]: generate non-stream, generate stream,
//!   embeddings), because a stream and an answer are stored differently;
//! - the request body after rewriting, in canonical JSON.
//!
//! Canonical JSON: object keys sorted by their UTF-8 bytes (at every depth),
//! no insignificant whitespace, strings re-escaped the way `serde_json`
//! writes them (so `"\u0041"` and `"A"` are the same key), numbers as
//! `serde_json` renders them (so `1` and `1.0` stay different: the upstream
//! may treat them differently). Array order is kept. Nothing else is removed
//! or rewritten: a field that is not understood is part of the key.
//!
//! A request is uncacheable ([`Uncacheable`]) when its body is not a JSON
//! object, or when its answer depends on state kept by the upstream:
//! OpenAI Responses `store: true`, `previous_response_id`, `background: true`,
//! `conversation`; Gemini `cachedContent`.
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Version of the key format; part of every key.
const KEY_VERSION: &[u8] = b"v1";

/// Whose entries a request may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePartition {
    /// One partition per API key (by its id).
    Key(String),
    /// One partition per user (by their id).
    User(String),
    /// Every tenant shares entries; only when configured so.
    Shared,
}

/// The kind of call, which decides the stored shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOperation {
    /// A generate call answered as one body.
    Generate,
    /// A generate call answered as a stream.
    GenerateStream,
    /// An embeddings call.
    Embeddings,
}

/// Everything that goes into a key.
#[derive(Debug, Clone, Copy)]
pub struct CacheKeyInput<'a> {
    /// Tenant partition.
    pub partition: &'a CachePartition,
    /// The client's protocol (`openai_chat`...): the stored answer is in
    /// its shape.
    pub protocol: &'a str,
    /// Provider name.
    pub provider: &'a str,
    /// Upstream model, after routing.
    pub upstream_model: &'a str,
    /// Kind of call.
    pub operation: CacheOperation,
    /// The client's request body.
    pub body: &'a [u8],
}

/// Why a request is not cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Uncacheable {
    /// The body is not JSON.
    #[error("request body is not JSON")]
    NotJson,
    /// The body is JSON but not an object.
    #[error("request body is not a JSON object")]
    NotObject,
    /// The answer depends on state held by the upstream (the named field).
    #[error("request depends on upstream state (`{0}`)")]
    UpstreamState(&'static str),
}

/// A derived key: lowercase hex SHA-256, prefixed with the format version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key as stored (e.g. the Redis key suffix).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Derives the key, or says why the request must not be cached.
pub fn cache_key(input: &CacheKeyInput<'_>) -> Result<CacheKey, Uncacheable> {
    let body: Value = serde_json::from_slice(input.body).map_err(|_| Uncacheable::NotJson)?;
    let Value::Object(fields) = &body else {
        return Err(Uncacheable::NotObject);
    };
    if let Some(field) = upstream_state_field(fields) {
        return Err(Uncacheable::UpstreamState(field));
    }
    let mut canonical = Vec::with_capacity(input.body.len());
    write_canonical(&body, &mut canonical);

    let mut hash = Sha256::new();
    field(&mut hash, KEY_VERSION);
    match input.partition {
        CachePartition::Key(id) => {
            field(&mut hash, b"key");
            field(&mut hash, id.as_bytes());
        }
        CachePartition::User(id) => {
            field(&mut hash, b"user");
            field(&mut hash, id.as_bytes());
        }
        CachePartition::Shared => field(&mut hash, b"shared"),
    }
    field(&mut hash, input.protocol.as_bytes());
    field(&mut hash, input.provider.as_bytes());
    field(&mut hash, input.upstream_model.as_bytes());
    field(
        &mut hash,
        match input.operation {
            CacheOperation::Generate => b"generate",
            CacheOperation::GenerateStream => b"stream",
            CacheOperation::Embeddings => b"embeddings",
        },
    );
    field(&mut hash, &canonical);
    Ok(CacheKey(format!("v1:{}", hex::encode(hash.finalize()))))
}

/// Feeds one length-prefixed field.
fn field(hash: &mut Sha256, bytes: &[u8]) {
    hash.update((bytes.len() as u64).to_be_bytes());
    hash.update(bytes);
}

/// The first top-level field whose presence makes the answer depend on
/// upstream state, if any.
fn upstream_state_field(fields: &serde_json::Map<String, Value>) -> Option<&'static str> {
    if fields.get("store") == Some(&Value::Bool(true)) {
        return Some("store");
    }
    if fields.get("background") == Some(&Value::Bool(true)) {
        return Some("background");
    }
    ["previous_response_id", "conversation", "cachedContent"]
        .into_iter()
        .find(|name| fields.get(*name).is_some_and(|value| !value.is_null()))
}

/// Writes `value` as canonical JSON (sorted keys, no whitespace).
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(fields) => {
            let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (index, (name, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(name.clone()), out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// Writes a string, number, bool or null the way `serde_json` does.
fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Writing a scalar into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(partition: &CachePartition, operation: CacheOperation, body: &str) -> CacheKey {
        cache_key(&CacheKeyInput {
            protocol: "openai_chat",
            partition,
            provider: "openai",
            upstream_model: "gpt-4o",
            operation,
            body: body.as_bytes(),
        })
        .expect("cacheable")
    }

    fn generate(body: &str) -> CacheKey {
        key(
            &CachePartition::Key("1".into()),
            CacheOperation::Generate,
            body,
        )
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a = generate(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}"#,
        );
        let b = generate(
            "{ \"temperature\": 0,\n \"messages\": [ {\"content\": \"hi\", \"role\": \"user\"} ],\n \"model\": \"m\" }",
        );
        assert_eq!(a, b);
    }

    #[test]
    fn string_escapes_are_normalised() {
        assert_eq!(
            generate(r#"{"messages":"\u0041\/b"}"#),
            generate(r#"{"messages":"A/b"}"#)
        );
    }

    #[test]
    fn array_order_values_and_number_forms_matter() {
        let base = generate(r#"{"messages":["a","b"],"temperature":1}"#);
        assert_ne!(base, generate(r#"{"messages":["b","a"],"temperature":1}"#));
        assert_ne!(
            base,
            generate(r#"{"messages":["a","b"],"temperature":1.0}"#)
        );
        assert_ne!(
            base,
            generate(r#"{"messages":["a","b"],"temperature":1,"x":null}"#)
        );
    }

    #[test]
    fn partition_provider_model_and_operation_are_in_the_key() {
        let body = r#"{"input":"x"}"#;
        let by_key = key(
            &CachePartition::Key("1".into()),
            CacheOperation::Generate,
            body,
        );
        assert_ne!(
            by_key,
            key(
                &CachePartition::Key("2".into()),
                CacheOperation::Generate,
                body
            )
        );
        // Same id, different partition kind.
        assert_ne!(
            by_key,
            key(
                &CachePartition::User("1".into()),
                CacheOperation::Generate,
                body
            )
        );
        assert_ne!(
            by_key,
            key(&CachePartition::Shared, CacheOperation::Generate, body)
        );
        assert_ne!(
            by_key,
            key(
                &CachePartition::Key("1".into()),
                CacheOperation::GenerateStream,
                body
            )
        );
        assert_ne!(
            by_key,
            key(
                &CachePartition::Key("1".into()),
                CacheOperation::Embeddings,
                body
            )
        );
        let at = |provider: &str, model: &str| {
            cache_key(&CacheKeyInput {
                protocol: "openai_chat",
                partition: &CachePartition::Key("1".into()),
                provider,
                upstream_model: model,
                operation: CacheOperation::Generate,
                body: body.as_bytes(),
            })
            .unwrap()
        };
        assert_eq!(by_key, at("openai", "gpt-4o"));
        assert_ne!(by_key, at("openai", "gpt-4o-mini"));
        assert_ne!(by_key, at("openai2", "gpt-4o"));
    }

    #[test]
    fn fields_do_not_bleed_into_each_other() {
        let at = |provider: &str, model: &str| {
            cache_key(&CacheKeyInput {
                protocol: "openai_chat",
                partition: &CachePartition::Shared,
                provider,
                upstream_model: model,
                operation: CacheOperation::Generate,
                body: b"{}",
            })
            .unwrap()
        };
        let (a, b) = (at("ab", "c"), at("a", "bc"));
        assert_ne!(a, b);
    }

    #[test]
    fn key_is_stable_and_versioned() {
        let k = generate("{}");
        assert!(k.as_str().starts_with("v1:"));
        assert_eq!(k.as_str().len(), 3 + 64);
        assert_eq!(k, generate("{ }"));
    }

    #[test]
    fn uncacheable_requests() {
        let check = |body: &str| {
            cache_key(&CacheKeyInput {
                protocol: "openai_chat",
                partition: &CachePartition::Shared,
                provider: "p",
                upstream_model: "m",
                operation: CacheOperation::Generate,
                body: body.as_bytes(),
            })
        };
        assert_eq!(check("not json"), Err(Uncacheable::NotJson));
        assert_eq!(check("[1]"), Err(Uncacheable::NotObject));
        assert_eq!(
            check(r#"{"store":true}"#),
            Err(Uncacheable::UpstreamState("store"))
        );
        assert_eq!(
            check(r#"{"background":true}"#),
            Err(Uncacheable::UpstreamState("background"))
        );
        assert_eq!(
            check(r#"{"previous_response_id":"resp_1"}"#),
            Err(Uncacheable::UpstreamState("previous_response_id"))
        );
        assert_eq!(
            check(r#"{"conversation":"conv_1"}"#),
            Err(Uncacheable::UpstreamState("conversation"))
        );
        assert_eq!(
            check(r#"{"cachedContent":"cachedContents/x"}"#),
            Err(Uncacheable::UpstreamState("cachedContent"))
        );
        // Explicitly off or null is cacheable.
        assert!(check(r#"{"store":false,"background":false,"previous_response_id":null}"#).is_ok());
    }
}
