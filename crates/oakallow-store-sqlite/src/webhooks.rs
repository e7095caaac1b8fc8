//! The webhook outbox on SQLite: events and their deliveries (written in the transaction of
//! what they announce), leased claims for the delivery worker (only the newest claim of a
//! delivery records its attempt), attempts and their outcomes, listings, and manual retries.

use std::collections::HashMap;

use oakallow_domain::Timestamp;
use oakallow_domain::id::{DeliveryId, LeaseId, OrgId};
use oakallow_store::{
    AttemptResult, ClaimLimit, ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryFilter, DeliveryLease, Outbox, StoreError, StoreResult,
};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::conn::map_error;
use crate::runtime_rows::{self, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, DELIVERY_FROM, DELIVERY_WIDTH, id_list, sql_int};

/// Inserts each event and, when it has one, its pending delivery, within `tx`.
pub(crate) fn insert_outbox(tx: &Transaction<'_>, outbox: &[Outbox]) -> StoreResult<()> {
    for item in outbox {
        let event = &item.event;
        tx.prepare_cached("INSERT INTO webhook_events (id, org_id, type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(map_error)?
            .execute(params![event.id.to_string(), event.org_id.to_string(), event.kind, event.payload, event.created_at.micros()])
            .map_err(map_error)?;
        if let Some(delivery) = &item.delivery {
            tx.prepare_cached(
                "INSERT INTO webhook_deliveries (id, org_id, event_id, url, status, attempts, round_attempts, next_attempt_at,
                   created_at, updated_at, channel)
                 VALUES (?1, ?2, ?3, ?4, 'pending', 0, 0, ?5, ?6, ?6, ?7)",
            )
            .map_err(map_error)?
            .execute(params![
                delivery.id.to_string(),
                event.org_id.to_string(),
                event.id.to_string(),
                delivery.url,
                delivery.next_attempt_at.micros(),
                event.created_at.micros(),
                delivery.channel.as_str()
            ])
            .map_err(map_error)?;
        }
    }
    Ok(())
}

/// Stores one event (and its delivery) on its own.
pub(crate) fn enqueue(conn: &mut Connection, outbox: &Outbox) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    insert_outbox(&tx, std::slice::from_ref(outbox))?;
    tx.commit().map_err(map_error)
}

/// Leases up to `limit` due pending deliveries under `lease` and answers them as stored after
/// the claim, with their event's body and their org's current secret and redaction setting.
pub(crate) fn claim(conn: &mut Connection, now: Timestamp, lease: DeliveryLease, limit: ClaimLimit) -> StoreResult<Vec<ClaimedDelivery>> {
    let tx = conn.transaction().map_err(map_error)?;
    let taken = due_shares(&tx, now, limit)?;
    let mut claimed = Vec::with_capacity(taken.len());
    {
        let mut read = tx
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS}, e.payload, o.webhook_secret, coalesce(o.redact_pii, 1)
                 FROM {DELIVERY_FROM} LEFT JOIN orgs o ON o.id = d.org_id WHERE d.id = ?1"
            ))
            .map_err(map_error)?;
        let mut take =
            tx.prepare_cached("UPDATE webhook_deliveries SET next_attempt_at = ?2, lease_id = ?3 WHERE id = ?1").map_err(map_error)?;
        for (_, id) in taken {
            let mut item = read
                .query_row([&id], |row| {
                    Ok(ClaimedDelivery {
                        delivery: runtime_rows::delivery(row)?,
                        payload: row.get(DELIVERY_WIDTH)?,
                        secret: row.get(DELIVERY_WIDTH + 1)?,
                        redact_pii: row.get(DELIVERY_WIDTH + 2)?,
                    })
                })
                .map_err(map_error)?;
            take.execute(params![id, lease.until.micros(), lease.id.to_string()]).map_err(map_error)?;
            item.delivery.next_attempt_at = Some(lease.until);
            claimed.push(item);
        }
    }
    attach_attempts(&tx, claimed.iter_mut().map(|item| &mut item.delivery))?;
    tx.commit().map_err(map_error)?;
    Ok(claimed)
}

/// The `(next_attempt_at, id)` of the deliveries a claim takes, earliest first: each org's
/// earliest due deliveries up to its share (`per_org` less its deliveries under a live lease),
/// and of those the earliest `total`. It walks the orgs with pending deliveries one index seek
/// at a time, so its cost follows the number of such orgs, not the size of their backlog.
fn due_shares(tx: &Transaction<'_>, now: Timestamp, limit: ClaimLimit) -> StoreResult<Vec<(i64, String)>> {
    let busy: HashMap<String, i64> = tx
        .prepare_cached(
            "SELECT org_id, count(*) FROM webhook_deliveries
             WHERE status = 'pending' AND lease_id IS NOT NULL AND next_attempt_at > ?1 GROUP BY org_id",
        )
        .map_err(map_error)?
        .query_map([now.micros()], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(map_error)?
        .collect::<Result<_, _>>()
        .map_err(map_error)?;
    let mut next_org = tx
        .prepare_cached("SELECT org_id FROM webhook_deliveries WHERE status = 'pending' AND org_id > ?1 ORDER BY org_id LIMIT 1")
        .map_err(map_error)?;
    let mut org_due = tx
        .prepare_cached(
            "SELECT next_attempt_at, id FROM webhook_deliveries
             WHERE org_id = ?1 AND status = 'pending' AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3",
        )
        .map_err(map_error)?;
    let (total, per_org) = (i64::from(limit.total), i64::from(limit.per_org));
    let mut taken = Vec::new();
    let mut org = String::new();
    while let Some(next) = next_org.query_row([&org], |row| row.get::<_, String>(0)).optional().map_err(map_error)? {
        org = next;
        let share = per_org.saturating_sub(busy.get(&org).copied().unwrap_or(0)).min(total);
        if share > 0 {
            let rows = org_due.query_map(params![org, now.micros(), share], |row| Ok((row.get(0)?, row.get(1)?))).map_err(map_error)?;
            for row in rows {
                taken.push(row.map_err(map_error)?);
            }
        }
    }
    taken.sort_unstable();
    taken.truncate(usize::try_from(limit.total).unwrap_or(usize::MAX));
    Ok(taken)
}

/// Records an attempt and moves the delivery on (delivered, due again at a time, or failed), if
/// `lease` is still the delivery's claim; answers whether it was.
pub(crate) fn finish(
    conn: &mut Connection,
    id: DeliveryId,
    lease: LeaseId,
    attempt: &DeliveryAttempt,
    result: AttemptResult,
) -> StoreResult<bool> {
    let (status, failed, next_attempt_at, delivered_at) = match result {
        AttemptResult::Delivered => ("delivered", 0, None, Some(attempt.at)),
        AttemptResult::RetryAt(at) => ("pending", 1, Some(at), None),
        AttemptResult::Failed => ("failed", 1, None, None),
    };
    let tx = conn.transaction().map_err(map_error)?;
    let changed = tx
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, round_attempts = round_attempts + ?4, next_attempt_at = ?5,
               last_status = ?6, last_error = ?7, updated_at = ?8, delivered_at = coalesce(?9, delivered_at), lease_id = NULL
             WHERE id = ?1 AND lease_id = ?10 AND status = 'pending'",
        )
        .map_err(map_error)?
        .execute(params![
            id.to_string(),
            status,
            attempt.attempt,
            failed,
            next_attempt_at.map(Timestamp::micros),
            attempt.status_code,
            attempt.error,
            attempt.at.micros(),
            delivered_at.map(Timestamp::micros),
            lease.to_string()
        ])
        .map_err(map_error)?;
    if changed == 0 {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, response_excerpt, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(map_error)?
    .execute(params![
        id.to_string(),
        attempt.attempt,
        attempt.at.micros(),
        attempt.status_code,
        sql_int(attempt.latency_ms),
        attempt.response_excerpt,
        attempt.error
    ])
    .map_err(map_error)?;
    tx.commit().map_err(map_error)?;
    Ok(true)
}

/// The org's deliveries matching `filter`, newest first, each with its attempts.
pub(crate) fn list(conn: &mut Connection, org: OrgId, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
    let tx = conn.transaction().map_err(map_error)?;
    let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.org_id = ?");
    let mut args: Vec<Sql> = vec![Sql::Text(org.to_string())];
    if let Some(status) = filter.status {
        sql.push_str(" AND d.status = ?");
        args.push(Sql::Text(status.as_str().into()));
    }
    if let Some(before) = filter.before {
        sql.push_str(" AND d.id < ?");
        args.push(Sql::Text(before.to_string()));
    }
    sql.push_str(" ORDER BY d.id DESC LIMIT ?");
    args.push(Sql::Integer(i64::from(filter.limit)));
    let mut deliveries = {
        let mut statement = tx.prepare_cached(&sql).map_err(map_error)?;
        let rows = statement.query_map(rusqlite::params_from_iter(args), runtime_rows::delivery).map_err(map_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_error)?
    };
    attach_attempts(&tx, deliveries.iter_mut())?;
    Ok(deliveries)
}

/// Makes a delivery of the org pending again, due at `now`, with a fresh retry schedule; a
/// claim still in flight keeps its lease (its attempt is the redelivery).
pub(crate) fn retry(conn: &mut Connection, org: OrgId, id: DeliveryId, now: Timestamp) -> StoreResult<Delivery> {
    let tx = conn.transaction().map_err(map_error)?;
    let changed = tx
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = 'pending', round_attempts = 0, updated_at = ?3,
               next_attempt_at = CASE WHEN status = 'pending' AND lease_id IS NOT NULL AND next_attempt_at > ?3
                                      THEN next_attempt_at ELSE ?3 END,
               lease_id = CASE WHEN status = 'pending' AND next_attempt_at > ?3 THEN lease_id END
             WHERE org_id = ?1 AND id = ?2",
        )
        .map_err(map_error)?
        .execute(params![org.to_string(), id.to_string(), now.micros()])
        .map_err(map_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    let mut delivery = tx
        .prepare_cached(&format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.org_id = ?1 AND d.id = ?2"))
        .map_err(map_error)?
        .query_row(params![org.to_string(), id.to_string()], runtime_rows::delivery)
        .optional()
        .map_err(map_error)?
        .ok_or(StoreError::NotFound)?;
    attach_attempts(&tx, std::iter::once(&mut delivery))?;
    tx.commit().map_err(map_error)?;
    Ok(delivery)
}

/// Fills in the attempt log of each delivery, oldest first, with one query for all of them.
fn attach_attempts<'a>(conn: &Connection, deliveries: impl IntoIterator<Item = &'a mut Delivery>) -> StoreResult<()> {
    let deliveries: Vec<&mut Delivery> = deliveries.into_iter().collect();
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(?1))
             ORDER BY delivery_id, attempt"
        ))
        .map_err(map_error)?;
    let rows = statement.query_map([id_list(deliveries.iter().map(|d| d.id))], runtime_rows::attempt).map_err(map_error)?;
    let mut by_delivery: HashMap<DeliveryId, Vec<DeliveryAttempt>> = HashMap::new();
    for row in rows {
        let (id, attempt) = row.map_err(map_error)?;
        by_delivery.entry(id).or_default().push(attempt);
    }
    for delivery in deliveries {
        delivery.attempt_log = by_delivery.remove(&delivery.id).unwrap_or_default();
    }
    Ok(())
}
