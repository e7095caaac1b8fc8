//! Reading the runtime workflow's records out of SQLite rows: signing keys, tokens, approvals
//! and their decisions, webhook deliveries and their attempts.

use oakallow_domain::approval::{Approval, ApprovalStatus, Decider, LevelDecision, Verdict};
use oakallow_domain::audit::ActorKind;
use oakallow_domain::id::{ApprovalId, DeliveryId};
use oakallow_domain::token::Algorithm;
use oakallow_store::{Delivery, DeliveryAttempt, DeliveryChannel, DeliveryStatus, StoredSigningKey, TokenRecord};
use rusqlite::Row;

use crate::rows::{invalid, json_opt, named, named_opt, parsed, parsed_opt, time, time_opt, to_json};

/// An integer column that must fit `T` (levels, counts, status codes, durations).
pub(crate) fn int<T: TryFrom<i64>>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let value: i64 = row.get(idx)?;
    T::try_from(value).map_err(|_| invalid(idx, "number"))
}

/// A nullable integer column that must fit `T`.
pub(crate) fn int_opt<T: TryFrom<i64>>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let value: Option<i64> = row.get(idx)?;
    value.map(|v| T::try_from(v).map_err(|_| invalid(idx, "number"))).transpose()
}

/// An unsigned count or duration for an INTEGER column (saturating; SQLite integers are i64).
pub(crate) fn sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A JSON array of ids, for `IN (SELECT value FROM json_each(?))`: one statement for a whole page.
pub(crate) fn id_list<T: ToString>(ids: impl IntoIterator<Item = T>) -> String {
    to_json(&ids.into_iter().map(|id| id.to_string()).collect::<Vec<_>>())
}

pub(crate) const SIGNING_KEY_COLUMNS: &str = "org_id, kid, algorithm, secret, created_at";

pub(crate) fn signing_key(row: &Row<'_>) -> rusqlite::Result<StoredSigningKey> {
    let secret: Vec<u8> = row.get(3)?;
    Ok(StoredSigningKey {
        org_id: parsed(row, 0)?,
        kid: row.get(1)?,
        algorithm: named(row, 2, Algorithm::parse)?,
        secret: secret.try_into().map_err(|_| invalid(3, "32-byte key"))?,
        created_at: time(row, 4)?,
    })
}

pub(crate) const TOKEN_COLUMNS: &str =
    "jti, org_id, kid, src, tool, tenant, resource, method, params_sha256, issued_at, expires_at, consumed_at";

pub(crate) fn token(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        jti: row.get(0)?,
        org_id: parsed(row, 1)?,
        kid: row.get(2)?,
        src: row.get(3)?,
        tool: row.get(4)?,
        tenant: row.get(5)?,
        resource: row.get(6)?,
        method: row.get(7)?,
        params_sha256: row.get(8)?,
        issued_at: time(row, 9)?,
        expires_at: time(row, 10)?,
        consumed_at: time_opt(row, 11)?,
    })
}

pub(crate) const APPROVAL_COLUMNS: &str = "id, org_id, reference, status, level, required_levels, tool, tenant, resource, method, \
     params, params_sha256, reason, context, reference_id, check_id, created_at, expires_at, decided_at, decided_by, note";

/// An approval without its decisions (they are loaded separately).
pub(crate) fn approval(row: &Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: parsed(row, 0)?,
        org_id: parsed(row, 1)?,
        reference: row.get(2)?,
        status: named(row, 3, ApprovalStatus::parse)?,
        level: int(row, 4)?,
        required_levels: int(row, 5)?,
        tool: row.get(6)?,
        tenant: row.get(7)?,
        resource: row.get(8)?,
        method: row.get(9)?,
        params: json_opt(row, 10)?,
        params_sha256: row.get(11)?,
        reason: row.get(12)?,
        context: json_opt(row, 13)?,
        reference_id: row.get(14)?,
        check_id: parsed_opt(row, 15)?,
        created_at: time(row, 16)?,
        expires_at: time(row, 17)?,
        decided_at: time_opt(row, 18)?,
        decided_by: row.get(19)?,
        note: row.get(20)?,
        decisions: Vec::new(),
    })
}

pub(crate) const DECISION_COLUMNS: &str = "approval_id, level, decision, decided_by, note, decided_at, decider_kind, decider_id";

pub(crate) fn decision(row: &Row<'_>) -> rusqlite::Result<(ApprovalId, LevelDecision)> {
    let decision = LevelDecision {
        level: int(row, 1)?,
        decision: named(row, 2, Verdict::parse)?,
        decided_by: row.get(3)?,
        note: row.get(4)?,
        decided_at: time(row, 5)?,
        decider: decider(row, 6)?,
    };
    Ok((parsed(row, 0)?, decision))
}

/// The verified decider in columns `idx` (kind) and `idx + 1` (id): both set, or both null for
/// a decision recorded before deciders were.
fn decider(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Decider>> {
    match (named_opt(row, idx, ActorKind::parse)?, row.get::<_, Option<String>>(idx + 1)?) {
        (Some(kind), Some(id)) => Ok(Some(Decider { kind, id })),
        (None, None) => Ok(None),
        _ => Err(invalid(idx, "decider")),
    }
}

/// Delivery columns, read from [`DELIVERY_FROM`] (the event type comes from the event).
pub(crate) const DELIVERY_COLUMNS: &str = "d.id, d.org_id, d.event_id, e.type, d.url, d.status, d.attempts, d.round_attempts, \
     d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at, d.delivered_at, d.channel";

/// How many columns [`DELIVERY_COLUMNS`] has (extra columns of a query follow them).
pub(crate) const DELIVERY_WIDTH: usize = 15;

/// Deliveries joined with their events.
pub(crate) const DELIVERY_FROM: &str = "webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

/// A delivery without its attempts (they are loaded separately).
pub(crate) fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: parsed(row, 0)?,
        org_id: parsed(row, 1)?,
        event_id: parsed(row, 2)?,
        event_type: row.get(3)?,
        channel: named(row, 14, DeliveryChannel::parse)?,
        url: row.get(4)?,
        status: named(row, 5, DeliveryStatus::parse)?,
        attempts: int(row, 6)?,
        round_attempts: int(row, 7)?,
        next_attempt_at: time_opt(row, 8)?,
        last_status: int_opt(row, 9)?,
        last_error: row.get(10)?,
        created_at: time(row, 11)?,
        updated_at: time(row, 12)?,
        delivered_at: time_opt(row, 13)?,
        attempt_log: Vec::new(),
    })
}

pub(crate) const ATTEMPT_COLUMNS: &str = "delivery_id, attempt, at, status_code, latency_ms, response_excerpt, error";

pub(crate) fn attempt(row: &Row<'_>) -> rusqlite::Result<(DeliveryId, DeliveryAttempt)> {
    let attempt = DeliveryAttempt {
        attempt: int(row, 1)?,
        at: time(row, 2)?,
        status_code: int_opt(row, 3)?,
        latency_ms: int(row, 4)?,
        response_excerpt: row.get(5)?,
        error: row.get(6)?,
    };
    Ok((parsed(row, 0)?, attempt))
}
