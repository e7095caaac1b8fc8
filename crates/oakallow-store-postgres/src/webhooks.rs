//! The webhook outbox on PostgreSQL: events and their deliveries, written in the transaction of
//! what they announce; claims of due deliveries under a lease (`FOR UPDATE SKIP LOCKED`, so each
//! attempt runs on exactly one node, and only the newest claim records its attempt); attempts
//! and their outcome; listing and manual retries.
//! A transaction that makes deliveries pending announces it, so idle workers on every node
//! look at once.

use std::collections::HashMap;

use oakallow_domain::Timestamp;
use oakallow_domain::id::{DeliveryId, LeaseId, OrgId};
use oakallow_store::{
    AttemptResult, Change, ClaimLimit, ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryFilter, DeliveryLease, DeliveryStatus, Outbox,
    StoreError, StoreResult,
};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, QueryBuilder, Row as _};

use crate::error::map_error;
use crate::notify::Channel;
use crate::rows::bigint;
use crate::runtime_rows::{self, ATTEMPT_COLUMNS, DELIVERY_COLUMN_COUNT, DELIVERY_COLUMNS};

/// Inserts events and, for those with a destination, their pending deliveries, announcing the
/// deliveries (once) when the transaction commits.
pub(crate) async fn insert_outbox(conn: &mut PgConnection, channel: &Channel, outbox: &[Outbox]) -> StoreResult<()> {
    for item in outbox {
        let event = &item.event;
        sqlx::query("INSERT INTO webhook_events (id, org_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(event.id.to_string())
            .bind(event.org_id.to_string())
            .bind(&event.kind)
            .bind(&event.payload)
            .bind(event.created_at.micros())
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
        let Some(delivery) = &item.delivery else { continue };
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, org_id, event_id, url, status, attempts, round_attempts, next_attempt_at,
               created_at, updated_at, channel)
             VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $6, $6, $7)",
        )
        .bind(delivery.id.to_string())
        .bind(event.org_id.to_string())
        .bind(event.id.to_string())
        .bind(&delivery.url)
        .bind(delivery.next_attempt_at.micros())
        .bind(event.created_at.micros())
        .bind(delivery.channel.as_str())
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    }
    if outbox.iter().any(|item| item.delivery.is_some()) {
        channel.announce(conn, &Change::Webhooks).await?;
    }
    Ok(())
}

/// Stores one event (and its delivery) on its own.
pub(crate) async fn enqueue(pool: &PgPool, channel: &Channel, outbox: &Outbox) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    insert_outbox(&mut tx, channel, std::slice::from_ref(outbox)).await?;
    tx.commit().await.map_err(map_error)
}

/// Moves up to `limit` due pending deliveries under `lease` and returns them as they now are, each with its event's body and its org's current secret and redaction setting. Rows another node is claiming
/// at the same moment are skipped, not waited for; a row claimed and committed meanwhile is
/// re-checked against the condition and, no longer due, left out.
pub(crate) async fn claim(pool: &PgPool, now: Timestamp, lease: DeliveryLease, limit: ClaimLimit) -> StoreResult<Vec<ClaimedDelivery>> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    // Each org with pending deliveries (found one index seek at a time) offers its earliest due
    // deliveries up to its share, less those under a live lease, and the claim takes the
    // earliest of the offers: the cost follows the number of such orgs, not the backlog.
    let sql = format!(
        "WITH RECURSIVE pending(org_id) AS (
           (SELECT org_id FROM webhook_deliveries WHERE status = 'pending' ORDER BY org_id LIMIT 1)
           UNION ALL
           SELECT (SELECT w.org_id FROM webhook_deliveries w WHERE w.status = 'pending' AND w.org_id > pending.org_id
                   ORDER BY w.org_id LIMIT 1)
           FROM pending WHERE pending.org_id IS NOT NULL),
         busy AS (
           SELECT org_id, count(*) AS n FROM webhook_deliveries
           WHERE status = 'pending' AND lease_id IS NOT NULL AND next_attempt_at > $1 GROUP BY org_id),
         offered AS (
           SELECT due.id, due.next_attempt_at
           FROM pending LEFT JOIN busy b ON b.org_id = pending.org_id
           CROSS JOIN LATERAL (
             SELECT w.id, w.next_attempt_at FROM webhook_deliveries w
             WHERE w.org_id = pending.org_id AND w.status = 'pending' AND w.next_attempt_at <= $1
             ORDER BY w.next_attempt_at, w.id LIMIT greatest($5 - coalesce(b.n, 0), 0)) AS due
           WHERE pending.org_id IS NOT NULL),
         claimed AS (
           UPDATE webhook_deliveries SET next_attempt_at = $2, lease_id = $4
           WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE id IN (SELECT id FROM offered ORDER BY next_attempt_at, id LIMIT $3)
               AND status = 'pending' AND next_attempt_at <= $1
             FOR UPDATE SKIP LOCKED)
           RETURNING *)
         SELECT {DELIVERY_COLUMNS}, e.payload, o.webhook_secret, coalesce(o.redact_pii, TRUE)
         FROM claimed AS d
         JOIN webhook_events AS e ON e.id = d.event_id
         LEFT JOIN orgs AS o ON o.id = d.org_id
         ORDER BY d.id"
    );
    let found = sqlx::query(AssertSqlSafe(sql))
        .bind(now.micros())
        .bind(lease.until.micros())
        .bind(i64::from(limit.total))
        .bind(lease.id.to_string())
        .bind(i64::from(limit.per_org))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_error)?;
    let mut deliveries: Vec<Delivery> = found.iter().map(runtime_rows::delivery).collect::<Result<_, _>>().map_err(map_error)?;
    attach_attempts(&mut tx, &mut deliveries).await?;
    let mut claimed = Vec::with_capacity(deliveries.len());
    for (row, delivery) in found.iter().zip(deliveries) {
        let payload = row.try_get(DELIVERY_COLUMN_COUNT).map_err(map_error)?;
        let secret = row.try_get(DELIVERY_COLUMN_COUNT + 1).map_err(map_error)?;
        let redact_pii = row.try_get(DELIVERY_COLUMN_COUNT + 2).map_err(map_error)?;
        claimed.push(ClaimedDelivery { delivery, payload, secret, redact_pii });
    }
    tx.commit().await.map_err(map_error)?;
    Ok(claimed)
}

/// Records an attempt and moves the delivery on (delivered, pending again at a later time, or
/// failed for good), if `lease` is still the delivery's claim; answers whether it was.
pub(crate) async fn finish_attempt(
    pool: &PgPool,
    id: DeliveryId,
    lease: LeaseId,
    attempt: &DeliveryAttempt,
    result: AttemptResult,
) -> StoreResult<bool> {
    let (status, next_attempt_at, delivered_at, failed) = match result {
        AttemptResult::Delivered => (DeliveryStatus::Delivered, None, Some(attempt.at.micros()), false),
        AttemptResult::RetryAt(at) => (DeliveryStatus::Pending, Some(at.micros()), None, true),
        AttemptResult::Failed => (DeliveryStatus::Failed, None, None, true),
    };
    let mut tx = pool.begin().await.map_err(map_error)?;
    let changed = sqlx::query(
        "UPDATE webhook_deliveries SET
           status = $2, attempts = $3, last_status = $4, last_error = $5, updated_at = $6,
           round_attempts = CASE WHEN $7 THEN round_attempts + 1 ELSE round_attempts END,
           next_attempt_at = $8, delivered_at = coalesce($9, delivered_at), lease_id = NULL
         WHERE id = $1 AND lease_id = $10 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(status.as_str())
    .bind(count(attempt.attempt))
    .bind(attempt.status_code.map(i32::from))
    .bind(&attempt.error)
    .bind(attempt.at.micros())
    .bind(failed)
    .bind(next_attempt_at)
    .bind(delivered_at)
    .bind(lease.to_string())
    .execute(&mut *tx)
    .await
    .map_err(map_error)?;
    if changed.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, response_excerpt, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.to_string())
    .bind(count(attempt.attempt))
    .bind(attempt.at.micros())
    .bind(attempt.status_code.map(i32::from))
    .bind(bigint(attempt.latency_ms))
    .bind(&attempt.response_excerpt)
    .bind(&attempt.error)
    .execute(&mut *tx)
    .await
    .map_err(map_error)?;
    tx.commit().await.map_err(map_error)?;
    Ok(true)
}

/// The org's deliveries matching `filter`, newest first, with their attempts.
pub(crate) async fn list(pool: &PgPool, org: OrgId, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
    let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await.map_err(map_error)?;
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries AS d JOIN webhook_events AS e ON e.id = d.event_id WHERE d.org_id = "
    ));
    sql.push_bind(org.to_string());
    if let Some(status) = filter.status {
        sql.push(" AND d.status = ").push_bind(status.as_str());
    }
    if let Some(before) = filter.before {
        sql.push(" AND d.id < ").push_bind(before.to_string());
    }
    sql.push(" ORDER BY d.id DESC LIMIT ").push_bind(i64::from(filter.limit));
    let found = sql.build().fetch_all(&mut *tx).await.map_err(map_error)?;
    let mut deliveries: Vec<Delivery> = found.iter().map(runtime_rows::delivery).collect::<Result<_, _>>().map_err(map_error)?;
    attach_attempts(&mut tx, &mut deliveries).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(deliveries)
}

/// Makes the org's delivery pending again, due at `now`, at the start of its retry schedule
/// (a claim still in flight keeps its lease: its attempt is the redelivery), and returns it. [`StoreError::NotFound`] if the org has no such delivery.
pub(crate) async fn retry(pool: &PgPool, channel: &Channel, org: OrgId, id: DeliveryId, now: Timestamp) -> StoreResult<Delivery> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let changed = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', round_attempts = 0, updated_at = $3,
           next_attempt_at = CASE WHEN status = 'pending' AND lease_id IS NOT NULL AND next_attempt_at > $3
                                  THEN next_attempt_at ELSE $3 END,
           lease_id = CASE WHEN status = 'pending' AND next_attempt_at > $3 THEN lease_id END
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org.to_string())
    .bind(id.to_string())
    .bind(now.micros())
    .execute(&mut *tx)
    .await
    .map_err(map_error)?;
    if changed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    channel.announce(&mut tx, &Change::Webhooks).await?;
    let sql =
        format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries AS d JOIN webhook_events AS e ON e.id = d.event_id WHERE d.id = $1");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(&mut *tx).await.map_err(map_error)?;
    let mut deliveries = vec![runtime_rows::delivery(&row).map_err(map_error)?];
    attach_attempts(&mut tx, &mut deliveries).await?;
    tx.commit().await.map_err(map_error)?;
    deliveries.pop().ok_or(StoreError::NotFound)
}

/// Fills in the attempts of `deliveries`, oldest first, with one query.
async fn attach_attempts(conn: &mut PgConnection, deliveries: &mut [Delivery]) -> StoreResult<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = deliveries.iter().map(|d| d.id.to_string()).collect();
    let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(&ids).fetch_all(&mut *conn).await.map_err(map_error)?;
    let mut by_delivery: HashMap<String, Vec<DeliveryAttempt>> = HashMap::new();
    for row in &found {
        let (delivery, attempt) = runtime_rows::attempt(row).map_err(map_error)?;
        by_delivery.entry(delivery).or_default().push(attempt);
    }
    for (delivery, id) in deliveries.iter_mut().zip(ids) {
        delivery.attempt_log = by_delivery.remove(&id).unwrap_or_default();
    }
    Ok(())
}

/// An attempt number or count for an INTEGER column (saturating; real ones are tiny).
fn count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
