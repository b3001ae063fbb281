//! Cache entries in Redis: one string per entry under `{prefix}{key}`, its
//! metadata as one JSON line, then the answer's bytes; expiring with the
//! entry (`PX`).

use std::time::Duration;

use bytes::Bytes;

use super::Entry;

/// Entries in Redis.
pub(super) struct RedisCache {
    link: crate::redis_link::RedisLink,
    prefix: String,
}

impl RedisCache {
    pub(super) fn new(url: &str, prefix: &str) -> Result<Self, String> {
        Ok(RedisCache {
            link: crate::redis_link::RedisLink::new(url)?,
            prefix: prefix.to_owned(),
        })
    }

    pub(super) async fn get(&self, key: &str, timeout: Duration) -> Result<Option<Entry>, String> {
        let value: Option<Vec<u8>> = self
            .link
            .query(
                redis::cmd("GET").arg(format!("{}{key}", self.prefix)),
                timeout,
            )
            .await?;
        let Some(value) = value else { return Ok(None) };
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
        let _: () = self
            .link
            .query(
                redis::cmd("SET")
                    .arg(format!("{}{key}", self.prefix))
                    .arg(value)
                    .arg("PX")
                    .arg(entry.ttl_ms.max(1)),
                timeout,
            )
            .await?;
        Ok(())
    }

    /// Deletes every key under the prefix (SCAN in batches).
    pub(super) async fn purge(&self, timeout: Duration) -> Result<u64, String> {
        let pattern = format!("{}*", self.prefix.replace('*', "\\*"));
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .link
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500),
                    timeout,
                )
                .await?;
            if !keys.is_empty() {
                let n: u64 = self
                    .link
                    .query(redis::cmd("DEL").arg(&keys), timeout)
                    .await?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}
