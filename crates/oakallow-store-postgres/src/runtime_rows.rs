//! Reading the runtime workflow's records out of PostgreSQL rows (tokens, signing keys,
//! approvals, deliveries), and the column lists the queries select, in the order the readers
//! expect. The shared column decoders are in `rows`.

use oakallow_domain::approval::{Approval, ApprovalStatus, Decider, LevelDecision, Verdict};
use oakallow_domain::audit::ActorKind;
use oakallow_domain::id::ApprovalId;
use oakallow_domain::token::Algorithm;
use oakallow_store::{Delivery, DeliveryAttempt, DeliveryChannel, DeliveryStatus, StoredSigningKey, TokenRecord};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use crate::rows::{RowResult, invalid, json_opt, named, named_opt, parsed, parsed_opt, time, time_opt};

/// A small non-negative INTEGER column (levels, attempt counts).
fn small<T: TryFrom<i32>>(row: &PgRow, idx: usize) -> RowResult<T> {
    let value: i32 = row.try_get(idx)?;
    T::try_from(value).map_err(|_| invalid(idx, "count"))
}

/// A nullable HTTP status INTEGER column.
fn status_code(row: &PgRow, idx: usize) -> RowResult<Option<u16>> {
    let value: Option<i32> = row.try_get(idx)?;
    value.map(|v| u16::try_from(v).map_err(|_| invalid(idx, "HTTP status"))).transpose()
}

/// A non-negative BIGINT duration column.
fn millis(row: &PgRow, idx: usize) -> RowResult<u64> {
    let value: i64 = row.try_get(idx)?;
    u64::try_from(value).map_err(|_| invalid(idx, "duration"))
}

pub(crate) const TOKEN_COLUMNS: &str =
    "jti, org_id, kid, src, tool, tenant, resource, method, params_sha256, issued_at, expires_at, consumed_at";

pub(crate) fn token(row: &PgRow) -> RowResult<TokenRecord> {
    Ok(TokenRecord {
        jti: row.try_get(0)?,
        org_id: parsed(row, 1)?,
        kid: row.try_get(2)?,
        src: row.try_get(3)?,
        tool: row.try_get(4)?,
        tenant: row.try_get(5)?,
        resource: row.try_get(6)?,
        method: row.try_get(7)?,
        params_sha256: row.try_get(8)?,
        issued_at: time(row, 9)?,
        expires_at: time(row, 10)?,
        consumed_at: time_opt(row, 11)?,
    })
}

pub(crate) const SIGNING_KEY_COLUMNS: &str = "org_id, kid, algorithm, secret, created_at";

pub(crate) fn signing_key(row: &PgRow) -> RowResult<StoredSigningKey> {
    let secret: Vec<u8> = row.try_get(3)?;
    Ok(StoredSigningKey {
        org_id: parsed(row, 0)?,
        kid: row.try_get(1)?,
        algorithm: named(row, 2, Algorithm::parse)?,
        secret: secret.try_into().map_err(|_| invalid(3, "32-byte key"))?,
        created_at: time(row, 4)?,
    })
}

pub(crate) const APPROVAL_COLUMNS: &str = "id, org_id, reference, status, level, required_levels, tool, tenant, resource, method, \
     params, params_sha256, reason, context, reference_id, check_id, created_at, expires_at, decided_at, decided_by, note";

/// An approval without its decisions (they are read separately, see `approvals`).
pub(crate) fn approval(row: &PgRow) -> RowResult<Approval> {
    Ok(Approval {
        id: parsed(row, 0)?,
        org_id: parsed(row, 1)?,
        reference: row.try_get(2)?,
        status: named(row, 3, ApprovalStatus::parse)?,
        level: small(row, 4)?,
        required_levels: small(row, 5)?,
        tool: row.try_get(6)?,
        tenant: row.try_get(7)?,
        resource: row.try_get(8)?,
        method: row.try_get(9)?,
        params: json_opt(row, 10)?,
        params_sha256: row.try_get(11)?,
        reason: row.try_get(12)?,
        context: json_opt(row, 13)?,
        reference_id: row.try_get(14)?,
        check_id: parsed_opt(row, 15)?,
        created_at: time(row, 16)?,
        expires_at: time(row, 17)?,
        decided_at: time_opt(row, 18)?,
        decided_by: row.try_get(19)?,
        note: row.try_get(20)?,
        decisions: Vec::new(),
    })
}

pub(crate) const DECISION_COLUMNS: &str = "approval_id, level, decision, decided_by, note, decided_at, decider_kind, decider_id";

/// A level decision and the approval it belongs to.
pub(crate) fn decision(row: &PgRow) -> RowResult<(ApprovalId, LevelDecision)> {
    let decision = LevelDecision {
        level: small(row, 1)?,
        decision: named(row, 2, Verdict::parse)?,
        decided_by: row.try_get(3)?,
        note: row.try_get(4)?,
        decided_at: time(row, 5)?,
        decider: decider(row, 6)?,
    };
    Ok((parsed(row, 0)?, decision))
}

/// The verified decider in columns `idx` (kind) and `idx + 1` (id): both set, or both null for
/// a decision recorded before deciders were.
fn decider(row: &PgRow, idx: usize) -> RowResult<Option<Decider>> {
    match (named_opt(row, idx, ActorKind::parse)?, row.try_get::<Option<String>, _>(idx + 1)?) {
        (Some(kind), Some(id)) => Ok(Some(Decider { kind, id })),
        (None, None) => Ok(None),
        _ => Err(invalid(idx, "decider")),
    }
}

/// Columns of `webhook_deliveries AS d JOIN webhook_events AS e`.
pub(crate) const DELIVERY_COLUMNS: &str = "d.id, d.org_id, d.event_id, e.type, d.url, d.status, d.attempts, d.round_attempts, \
     d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at, d.delivered_at, d.channel";

/// How many columns [`delivery`] reads; a query may select more after them.
pub(crate) const DELIVERY_COLUMN_COUNT: usize = 15;

/// A delivery without its attempts (they are read separately, see `webhooks`).
pub(crate) fn delivery(row: &PgRow) -> RowResult<Delivery> {
    Ok(Delivery {
        id: parsed(row, 0)?,
        org_id: parsed(row, 1)?,
        event_id: parsed(row, 2)?,
        event_type: row.try_get(3)?,
        channel: named(row, 14, DeliveryChannel::parse)?,
        url: row.try_get(4)?,
        status: named(row, 5, DeliveryStatus::parse)?,
        attempts: small(row, 6)?,
        round_attempts: small(row, 7)?,
        next_attempt_at: time_opt(row, 8)?,
        last_status: status_code(row, 9)?,
        last_error: row.try_get(10)?,
        created_at: time(row, 11)?,
        updated_at: time(row, 12)?,
        delivered_at: time_opt(row, 13)?,
        attempt_log: Vec::new(),
    })
}

pub(crate) const ATTEMPT_COLUMNS: &str = "delivery_id, attempt, at, status_code, latency_ms, response_excerpt, error";

/// An attempt and the id of its delivery (as text, the key attempts are grouped by).
pub(crate) fn attempt(row: &PgRow) -> RowResult<(String, DeliveryAttempt)> {
    let attempt = DeliveryAttempt {
        attempt: small(row, 1)?,
        at: time(row, 2)?,
        status_code: status_code(row, 3)?,
        latency_ms: millis(row, 4)?,
        response_excerpt: row.try_get(5)?,
        error: row.try_get(6)?,
    };
    Ok((row.try_get(0)?, attempt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_column_count_matches_the_list() {
        assert_eq!(DELIVERY_COLUMNS.split(',').count(), DELIVERY_COLUMN_COUNT);
    }
}
