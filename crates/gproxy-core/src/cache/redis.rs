//! Cache entries in Redis: one string per entry under `{prefix}{key}`, its
//! metadata as one JSON line, then the answer's bytes; expiring with the
//! entry (`PX`).

use std::time::Duration;

use bytes::Bytes;

use super::Entry;
use crate::redis_link::{Cmd, RedisLink, Reply};

/// Entries in Redis.
pub(super) struct RedisCache {
    link: std::sync::Arc<RedisLink>,
    prefix: String,
}

impl RedisCache {
    pub(super) fn new(url: &str, prefix: &str) -> Result<Self, String> {
        Ok(RedisCache {
            link: RedisLink::shared(url)?,
            prefix: prefix.to_owned(),
        })
    }

    pub(super) async fn get(&self, key: &str, timeout: Duration) -> Result<Option<Entry>, String> {
        let mut get = Cmd::new("GET");
        get.parts(&[self.prefix.as_bytes(), key.as_bytes()]);
        let value = match self.link.query(get, timeout).await? {
            Reply::Data(value) => value,
            Reply::Nil => return Ok(None),
            other => return Err(format!("GET answered {}", other.kind())),
        };
        let Some(newline) = memchr::memchr(b'\n', &value) else {
            return Err("a malformed entry".into());
        };
        let mut entry: Entry =
            serde_json::from_slice(&value[..newline]).map_err(|e| e.to_string())?;
        entry.body = Bytes::copy_from_slice(&value[newline + 1..]);
        Ok(Some(entry))
    }

    pub(super) async fn put(
        &self,
        key: &str,
        entry: &Entry,
        timeout: Duration,
    ) -> Result<(), String> {
        let mut value = serde_json::to_vec(entry).map_err(|e| e.to_string())?;
        value.push(b'\n');
        value.extend_from_slice(&entry.body);
        let mut set = Cmd::new("SET");
        set.parts(&[self.prefix.as_bytes(), key.as_bytes()])
            .arg(&value)
            .arg(b"PX")
            .int(entry.ttl_ms.max(1));
        self.link.query(set, timeout).await?;
        Ok(())
    }

    /// Deletes every key under the prefix (SCAN in batches).
    pub(super) async fn purge(&self, timeout: Duration) -> Result<u64, String> {
        let pattern = format!("{}*", self.prefix.replace('*', "\\*"));
        // The cursor is an unsigned 64-bit number, passed back as given.
        let mut cursor: Vec<u8> = b"0".to_vec();
        let mut removed = 0;
        loop {
            let mut scan = Cmd::new("SCAN");
            scan.arg(&cursor)
                .arg(b"MATCH")
                .arg(pattern.as_bytes())
                .arg(b"COUNT")
                .int(500);
            let reply = self.link.query(scan, timeout).await?;
            let Reply::Array(parts) = reply else {
                return Err(format!("SCAN answered {}", reply.kind()));
            };
            let Ok([Reply::Data(next), Reply::Array(keys)]) = <[Reply; 2]>::try_from(parts) else {
                return Err("SCAN answered an unexpected shape".into());
            };
            if !keys.is_empty() {
                let mut del = Cmd::new("DEL");
                for key in &keys {
                    if let Reply::Data(k) = key {
                        del.arg(k);
                    }
                }
                removed += self
                    .link
                    .query(del, timeout)
                    .await?
                    .as_int()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0);
            }
            if next == b"0" {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}
