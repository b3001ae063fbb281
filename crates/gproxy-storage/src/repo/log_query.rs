//! Reading request logs: filtered, newest-first pages with an opaque
//! cursor ([`Storage::query_request_logs`]), and the retention purge
//! ([`Storage::purge_request_logs_before`]).
//!
//! Pages are ordered by `id` descending and continue with `id < cursor`,
//! so a page never repeats or skips a row while new rows arrive. Filters
//! read a `(column, id)` index where one exists (user, provider, model,
//! time, errors; see the `m20261204_000002_request_detail` and
//! `m20261204_000003_log_write_cost` migrations); a key filter goes through
//! its owner's index, and the protocol filter walks the primary key.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, TransactionTrait,
};
use serde::Serialize;

use super::portable;
use super::request_logs::RequestLogRow;
use crate::entities::{request_attempts, request_bodies, request_logs, user_keys};
use crate::{Result, Storage, StorageError};

/// Largest page.
pub const MAX_PAGE: u64 = 500;
/// Log rows deleted per purge batch (each batch is one short transaction).
const PURGE_BATCH: u64 = 1000;

/// A request-log query: every set filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Rows created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Rows created before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Rows of this user.
    pub user_id: Option<i64>,
    /// Rows sent with this user key.
    pub key_id: Option<i64>,
    /// Rows routed to this provider.
    pub provider: Option<String>,
    /// Rows for this upstream model.
    pub model: Option<String>,
    /// Rows in this client protocol (e.g. `openai.chat`).
    pub protocol: Option<String>,
    /// Rows with this request id.
    pub request_id: Option<String>,
    /// Rows whose status is in this class: 2 is 200..=299, 4 is 400..=499...
    /// (1 to 5).
    pub status_class: Option<u16>,
    /// Where the previous page ended ([`LogPage::next_cursor`]).
    pub cursor: Option<String>,
    /// Rows per page, 1 to [`MAX_PAGE`].
    pub limit: u64,
}

/// One page of request logs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogPage {
    /// The rows.
    pub items: Vec<RequestLogRow>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The cursor continuing after the row with `id`. Opaque to clients.
pub(crate) fn encode_cursor(id: i64) -> String {
    format!("{id:x}")
}

/// The row id a cursor continues after; a cursor this crate did not make is
/// an [`StorageError::InvalidValue`] naming `cursor`.
pub(crate) fn decode_cursor(cursor: &str) -> Result<i64> {
    i64::from_str_radix(cursor, 16)
        .ok()
        .filter(|id| *id > 0 && cursor.len() <= 16)
        .ok_or_else(|| StorageError::invalid("cursor", "not a cursor from a previous page"))
}

/// Fails unless `limit` is 1 to [`MAX_PAGE`].
pub(crate) fn check_limit(limit: u64) -> Result<()> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(StorageError::invalid(
            "limit",
            format!("{limit}: must be 1 to {MAX_PAGE}"),
        ));
    }
    Ok(())
}

/// The conditions every page shares: after `cursor` (by `id`), created
/// within `[from, to)`.
pub(crate) fn page_condition<C: ColumnTrait>(
    id: C,
    created_at: C,
    cursor: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Condition> {
    let mut cond = Condition::all();
    if let Some(cursor) = cursor {
        cond = cond.add(id.lt(decode_cursor(cursor)?));
    }
    if let Some(from) = from {
        cond = cond.add(created_at.gte(from));
    }
    if let Some(to) = to {
        cond = cond.add(created_at.lt(to));
    }
    Ok(cond)
}

/// `cond` plus `column = value` for each set value.
pub(crate) fn with_equal<C: ColumnTrait>(
    mut cond: Condition,
    filters: impl IntoIterator<Item = (C, Option<sea_orm::Value>)>,
) -> Condition {
    for (col, value) in filters {
        if let Some(v) = value {
            cond = cond.add(col.eq(v));
        }
    }
    cond
}

/// How a page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Walk `id` backwards and filter: ideal when matches are among the
    /// newest rows (no time window, or one reaching to now).
    Newest,
    /// Read the `created_at` window through its index and sort by `id`:
    /// for a window far behind the newest rows, which `Newest` would have
    /// to walk past first. `ORDER BY id + 0` keeps the planners from
    /// choosing the primary key walk.
    Window,
}

/// Up to `limit + 1` rows of `E` matching `cond`, newest (highest `id`)
/// first, with timestamps bound portably.
pub(crate) async fn fetch_page<E: EntityTrait>(
    db: &sea_orm::DatabaseConnection,
    cond: Condition,
    id: E::Column,
    limit: u64,
    scan: Scan,
) -> Result<Vec<E::Model>> {
    let select = E::find().filter(cond);
    let select = match scan {
        Scan::Newest => select.order_by_desc(id),
        Scan::Window => select.order_by_desc(sea_orm::sea_query::Expr::col(id).add(0)),
    };
    let stmt = select.limit(limit + 1).build(db.get_database_backend());
    Ok(E::find().from_raw_sql(portable(stmt)).all(db).await?)
}

/// The id of the first log row created at or after `at` (in
/// `(created_at, id)` order; one index probe), or `None` when there is
/// none.
async fn first_id_at(db: &sea_orm::DatabaseConnection, at: DateTime<Utc>) -> Result<Option<i64>> {
    use request_logs::Column;
    let stmt = request_logs::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::CreatedAt.gte(at))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .limit(1)
        .build(db.get_database_backend());
    let row = db.query_one(portable(stmt)).await?;
    Ok(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?)
}

/// How to read a log page with this time window: [`Scan::Window`] when
/// more rows were created after `to` than inside the window (estimated
/// from ids at the window's edges: three index probes), else
/// [`Scan::Newest`]. Either way the rows are the same; only the cost
/// differs.
async fn log_scan(
    db: &sea_orm::DatabaseConnection,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Scan> {
    let Some(to) = to else {
        return Ok(Scan::Newest);
    };
    let Some(end) = first_id_at(db, to).await? else {
        return Ok(Scan::Newest); // nothing after the window
    };
    let start = match from {
        Some(from) => first_id_at(db, from).await?.unwrap_or(end),
        None => 0,
    };
    let newest = request_logs::Entity::find()
        .select_only()
        .column_as(request_logs::Column::Id.max(), "max_id")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(end);
    let after = newest.saturating_sub(end);
    let inside = end.saturating_sub(start);
    Ok(if after > inside {
        Scan::Window
    } else {
        Scan::Newest
    })
}

/// The user owning key `key`, when the key still exists.
async fn key_owner<C: ConnectionTrait>(db: &C, key: i64) -> Result<Option<i64>> {
    Ok(user_keys::Entity::find_by_id(key)
        .select_only()
        .column(user_keys::Column::UserId)
        .into_tuple::<i64>()
        .one(db)
        .await?)
}

/// Splits `rows` (fetched with one extra) into the page and its next cursor.
pub(crate) fn page_of<T>(
    mut rows: Vec<T>,
    limit: u64,
    id: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|r| encode_cursor(id(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

impl Storage {
    /// One page of request logs matching `q`, newest first.
    ///
    /// Errors: `limit` outside 1..=500, `status_class` outside 1..=5, or a
    /// `cursor` not from a previous page ([`StorageError::InvalidValue`]
    /// naming the field).
    pub async fn query_request_logs(&self, q: &LogQuery) -> Result<LogPage> {
        use request_logs::Column;
        check_limit(q.limit)?;
        let cond = page_condition(
            Column::Id,
            Column::CreatedAt,
            q.cursor.as_deref(),
            q.from,
            q.to,
        )?;
        let db = self.connection();
        let text = |v: &Option<String>| v.as_deref().map(sea_orm::Value::from);
        // `key_id` has no index of its own: the key's owner narrows the
        // scan to `(user_id, id)`. A deleted key's rows are still found,
        // by the slower walk.
        let key_owner = match (q.key_id, q.user_id) {
            (Some(key), None) => key_owner(db, key).await?,
            _ => None,
        };
        let mut cond = with_equal(
            cond,
            [
                (
                    Column::UserId,
                    q.user_id.or(key_owner).map(sea_orm::Value::from),
                ),
                (Column::KeyId, q.key_id.map(sea_orm::Value::from)),
                (Column::Provider, text(&q.provider)),
                (Column::Model, text(&q.model)),
                (Column::Protocol, text(&q.protocol)),
                (Column::RequestId, text(&q.request_id)),
            ],
        );
        if let Some(class) = q.status_class {
            if !(1..=5).contains(&class) {
                return Err(StorageError::invalid(
                    "status_class",
                    format!("{class}: must be 1 to 5"),
                ));
            }
            let low = i32::from(class) * 100;
            cond = cond.add(Column::Status.between(low, low + 99));
            if low >= 400 {
                // The literal predicate of the partial errors index, which
                // SQLite only uses when the query repeats it.
                cond = cond.add(Column::Status.gte(400));
            }
        }
        let scan = log_scan(db, q.from, q.to).await?;
        let rows = fetch_page::<request_logs::Entity>(db, cond, Column::Id, q.limit, scan)
            .await?
            .into_iter()
            .map(RequestLogRow::try_from)
            .collect::<Result<Vec<_>>>()?;
        let (items, next_cursor) = page_of(rows, q.limit, |r| r.id);
        Ok(LogPage { items, next_cursor })
    }

    /// Deletes request logs created before `cutoff`, with their attempts and
    /// captured bodies, in batches of 1000 rows (one short transaction
    /// each, so writers are never held up for long). Returns the number of
    /// log rows deleted.
    pub async fn purge_request_logs_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        let db = self.connection();
        let backend = db.get_database_backend();
        let mut deleted = 0u64;
        loop {
            let stmt = request_logs::Entity::find()
                .select_only()
                .column(request_logs::Column::Id)
                .column(request_logs::Column::RequestId)
                .filter(request_logs::Column::CreatedAt.lt(cutoff))
                .order_by_asc(request_logs::Column::Id)
                .limit(PURGE_BATCH)
                .build(backend);
            let batch = db
                .query_all(portable(stmt))
                .await?
                .iter()
                .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
                .collect::<std::result::Result<Vec<(i64, String)>, sea_orm::DbErr>>()?;
            if batch.is_empty() {
                return Ok(deleted);
            }
            let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
            let mut request_ids: Vec<&str> = batch.iter().map(|(_, r)| r.as_str()).collect();
            request_ids.sort_unstable();
            request_ids.dedup();
            let txn = db.begin().await?;
            super::execute(
                &txn,
                &request_attempts::Entity::delete_many()
                    .filter(request_attempts::Column::RequestId.is_in(request_ids.clone()))
                    .filter(request_attempts::Column::CreatedAt.lt(cutoff)),
            )
            .await?;
            super::execute(
                &txn,
                &request_bodies::Entity::delete_many()
                    .filter(request_bodies::Column::RequestId.is_in(request_ids))
                    .filter(request_bodies::Column::CreatedAt.lt(cutoff)),
            )
            .await?;
            deleted += super::execute(
                &txn,
                &request_logs::Entity::delete_many().filter(request_logs::Column::Id.is_in(ids)),
            )
            .await?;
            txn.commit().await?;
            if batch.len() < PURGE_BATCH as usize {
                return Ok(deleted);
            }
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        for id in [1, 255, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)).ok(), Some(id));
        }
        for bad in ["", "zz", "-1", "0", "00000000000000001", "1 "] {
            let err = decode_cursor(bad).err();
            assert!(
                matches!(
                    err,
                    Some(StorageError::InvalidValue {
                        field: "cursor",
                        ..
                    })
                ),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn pages_split_at_the_limit() {
        let (items, next) = page_of(vec![9, 8, 7], 2, |v| *v);
        assert_eq!(items, vec![9, 8]);
        assert_eq!(next.as_deref(), Some("8"));
        let (items, next) = page_of(vec![9, 8], 2, |v| *v);
        assert_eq!(items, vec![9, 8]);
        assert_eq!(next, None);
    }
}
