//! Approvals on PostgreSQL: creation with its idempotency claim, reads with their decisions,
//! listings, and transitions. Every race between nodes is settled by one statement: the
//! idempotency claim by `INSERT ... ON CONFLICT DO UPDATE ... WHERE` (only an expired claim is
//! taken over), a transition by an `UPDATE` conditional on the state it was planned from.
//! Creating an approval is charged (see `billing`); an applied transition is announced to the
//! other nodes, whose long-polls look again.

use std::collections::HashMap;

use oakallow_domain::Timestamp;
use oakallow_domain::approval::{Approval, ApprovalStatus, LevelDecision};
use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_store::{
    ApprovalFilter, ApprovalTransition, Change, Charge, CreateOutcome, IdempotencyClaim, NewApproval, StoreError, StoreResult,
};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::billing::Billing;
use crate::error::map_error;
use crate::notify::Channel;
use crate::runtime_rows::{self, APPROVAL_COLUMNS, DECISION_COLUMNS};
use crate::{chain, rows, webhooks};

/// Snapshot reads: an approval and its decisions as of one moment.
const READ_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// Stores a new approval with everything that goes with it, and pays for it, unless its
/// idempotency key is claimed (answering the earlier approval, or that the key was reused, free
/// of charge) or the account cannot pay (writing nothing), in one transaction. The key is
/// claimed before the account is locked, and the account before the chain's head. Credit is
/// judged, and the ledger dated, at the approval's creation time.
pub(crate) async fn create(pool: &PgPool, channel: &Channel, new: &NewApproval, charge: Option<Charge>) -> StoreResult<CreateOutcome> {
    let approval = &new.approval;
    let mut tx = pool.begin().await.map_err(map_error)?;
    if let Some(claim) = &new.idempotency
        && let Some(earlier) = claim_key(&mut tx, approval, claim).await?
    {
        // Nothing was written; dropping the transaction rolls it back.
        return Ok(earlier);
    }
    let payer: Vec<_> = charge.iter().map(|charge| charge.account_id).collect();
    let mut billing = Billing::open(&mut tx, &payer, approval.created_at).await?;
    if let Some(charge) = &charge {
        if !billing.can_pay(charge)? {
            // Dropping the transaction rolls back the idempotency claim too.
            return Ok(CreateOutcome::InsufficientCredits);
        }
        billing.pay(charge)?;
    }
    insert_approval(&mut tx, approval).await?;
    for decision in &approval.decisions {
        insert_decision(&mut tx, approval.id, decision).await?;
    }
    webhooks::insert_outbox(&mut tx, channel, &new.outbox).await?;
    billing.finish(&mut tx).await?;
    chain::append(&mut tx, [&new.activity]).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(CreateOutcome::Created)
}

/// Claims the idempotency key for `approval`: `None` if this request now owns it (it was free,
/// or its earlier claim had expired), else what to answer. A concurrent claim of the same key
/// makes the insert wait for that transaction; the read that follows sees what it committed.
async fn claim_key(conn: &mut PgConnection, approval: &Approval, claim: &IdempotencyClaim) -> StoreResult<Option<CreateOutcome>> {
    let org = approval.org_id.to_string();
    let owned: Option<String> = sqlx::query_scalar(
        "INSERT INTO approval_idempotency (org_id, key, fingerprint, approval_id, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (org_id, key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, approval_id = EXCLUDED.approval_id, expires_at = EXCLUDED.expires_at
           WHERE approval_idempotency.expires_at <= $6
         RETURNING approval_id",
    )
    .bind(&org)
    .bind(&claim.key)
    .bind(&claim.fingerprint)
    .bind(approval.id.to_string())
    .bind(claim.expires_at.micros())
    .bind(approval.created_at.micros())
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_error)?;
    if owned.is_some() {
        return Ok(None);
    }
    let (fingerprint, earlier): (String, String) =
        sqlx::query_as("SELECT fingerprint, approval_id FROM approval_idempotency WHERE org_id = $1 AND key = $2")
            .bind(&org)
            .bind(&claim.key)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_error)?;
    if fingerprint != claim.fingerprint {
        return Ok(Some(CreateOutcome::KeyReused));
    }
    let earlier: ApprovalId =
        earlier.parse().map_err(|_| StoreError::Corrupt("an idempotency claim names an invalid approval id".into()))?;
    let found = read(conn, approval.org_id, earlier).await?;
    let earlier = found.ok_or_else(|| StoreError::Corrupt("an idempotency claim names a missing approval".into()))?;
    Ok(Some(CreateOutcome::Replayed(earlier)))
}

async fn insert_approval(conn: &mut PgConnection, a: &Approval) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO approvals ({APPROVAL_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(a.id.to_string())
        .bind(a.org_id.to_string())
        .bind(&a.reference)
        .bind(a.status.as_str())
        .bind(i32::from(a.level))
        .bind(i32::from(a.required_levels))
        .bind(&a.tool)
        .bind(&a.tenant)
        .bind(&a.resource)
        .bind(&a.method)
        .bind(a.params.as_ref().map(rows::to_json))
        .bind(&a.params_sha256)
        .bind(&a.reason)
        .bind(a.context.as_ref().map(rows::to_json))
        .bind(&a.reference_id)
        .bind(a.check_id.map(|id| id.to_string()))
        .bind(a.created_at.micros())
        .bind(a.expires_at.micros())
        .bind(a.decided_at.map(Timestamp::micros))
        .bind(&a.decided_by)
        .bind(&a.note)
        .execute(conn)
        .await
        .map_err(map_error)?;
    Ok(())
}

async fn insert_decision(conn: &mut PgConnection, approval: ApprovalId, d: &LevelDecision) -> StoreResult<()> {
    let sql = format!("INSERT INTO approval_decisions ({DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    sqlx::query(AssertSqlSafe(sql))
        .bind(approval.to_string())
        .bind(i32::from(d.level))
        .bind(d.decision.as_str())
        .bind(&d.decided_by)
        .bind(&d.note)
        .bind(d.decided_at.micros())
        .bind(d.decider.as_ref().map(|who| who.kind.as_str()))
        .bind(d.decider.as_ref().map(|who| who.id.as_str()))
        .execute(conn)
        .await
        .map_err(map_error)?;
    Ok(())
}

/// One approval of the org with its decisions.
pub(crate) async fn get(pool: &PgPool, org: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>> {
    let mut tx = pool.begin_with(READ_SNAPSHOT).await.map_err(map_error)?;
    let found = read(&mut tx, org, id).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(found)
}

async fn read(conn: &mut PgConnection, org: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>> {
    let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE org_id = $1 AND id = $2");
    let found =
        sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(map_error)?;
    let Some(row) = found else { return Ok(None) };
    let mut approvals = vec![runtime_rows::approval(&row).map_err(map_error)?];
    attach_decisions(conn, &mut approvals).await?;
    Ok(approvals.pop())
}

/// The org's approvals matching `filter`, newest first; statuses are judged as of `filter.now`.
pub(crate) async fn list(pool: &PgPool, org: OrgId, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>> {
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE org_id = "));
    sql.push_bind(org.to_string());
    let now = filter.now.micros();
    match filter.status {
        None => {}
        Some(ApprovalStatus::Pending) => {
            sql.push(" AND status = 'pending' AND expires_at > ").push_bind(now);
        }
        Some(ApprovalStatus::Expired) => {
            sql.push(" AND (status = 'expired' OR (status = 'pending' AND expires_at <= ").push_bind(now).push("))");
        }
        Some(status) => {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
    }
    if let Some(tool) = &filter.tool {
        sql.push(" AND tool = ").push_bind(tool.clone());
    }
    if let Some(tenant) = &filter.tenant {
        sql.push(" AND tenant = ").push_bind(tenant.clone());
    }
    if let Some(before) = filter.before {
        sql.push(" AND id < ").push_bind(before.to_string());
    }
    sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit));
    read_many(pool, sql).await
}

/// Pending approvals of every org whose deadline has passed at `now`, oldest deadline first.
pub(crate) async fn due(pool: &PgPool, now: Timestamp, limit: u32) -> StoreResult<Vec<Approval>> {
    let mut sql =
        QueryBuilder::<Postgres>::new(format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE status = 'pending' AND expires_at <= "));
    sql.push_bind(now.micros());
    sql.push(" ORDER BY expires_at, id LIMIT ").push_bind(i64::from(limit));
    read_many(pool, sql).await
}

/// Runs a query of approvals and reads their decisions, in one snapshot.
async fn read_many(pool: &PgPool, mut sql: QueryBuilder<Postgres>) -> StoreResult<Vec<Approval>> {
    let mut tx = pool.begin_with(READ_SNAPSHOT).await.map_err(map_error)?;
    let found = sql.build().fetch_all(&mut *tx).await.map_err(map_error)?;
    let mut approvals: Vec<Approval> = found.iter().map(runtime_rows::approval).collect::<Result<_, _>>().map_err(map_error)?;
    attach_decisions(&mut tx, &mut approvals).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(approvals)
}

/// Fills in the decisions of `approvals`, by level, with one query.
async fn attach_decisions(conn: &mut PgConnection, approvals: &mut [Approval]) -> StoreResult<()> {
    if approvals.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = approvals.iter().map(|a| a.id.to_string()).collect();
    let sql = format!("SELECT {DECISION_COLUMNS} FROM approval_decisions WHERE approval_id = ANY($1) ORDER BY approval_id, level");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(&ids).fetch_all(&mut *conn).await.map_err(map_error)?;
    let mut by_approval: HashMap<ApprovalId, Vec<LevelDecision>> = HashMap::new();
    for row in &found {
        let (approval, decision) = runtime_rows::decision(row).map_err(map_error)?;
        by_approval.entry(approval).or_default().push(decision);
    }
    for approval in approvals {
        approval.decisions = by_approval.remove(&approval.id).unwrap_or_default();
    }
    Ok(())
}

/// Applies the transition if the approval is still pending at the expected level, before its
/// deadline (or, for an expiry, at or after it), with everything that goes with it. The
/// conditional update settles races: of several nodes deciding or expiring the same approval,
/// exactly one changes it; the others change nothing and write nothing.
pub(crate) async fn transition(pool: &PgPool, channel: &Channel, t: &ApprovalTransition) -> StoreResult<bool> {
    let deadline = if t.after.status == ApprovalStatus::Expired { "expires_at <= $9" } else { "expires_at > $9" };
    let sql = format!(
        "UPDATE approvals SET status = $4, level = $5, decided_at = $6, decided_by = $7, note = $8
         WHERE org_id = $1 AND id = $2 AND status = 'pending' AND level = $3 AND {deadline}"
    );
    let mut tx = pool.begin().await.map_err(map_error)?;
    let changed = sqlx::query(AssertSqlSafe(sql))
        .bind(t.org_id.to_string())
        .bind(t.id.to_string())
        .bind(i32::from(t.expected_level))
        .bind(t.after.status.as_str())
        .bind(i32::from(t.after.level))
        .bind(t.after.decided_at.map(Timestamp::micros))
        .bind(&t.after.decided_by)
        .bind(&t.after.note)
        .bind(t.now.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    if changed.rows_affected() != 1 {
        // Nothing was written; dropping the transaction rolls it back.
        return Ok(false);
    }
    if let Some(decision) = &t.decision {
        insert_decision(&mut tx, t.id, decision).await?;
    }
    webhooks::insert_outbox(&mut tx, channel, &t.outbox).await?;
    channel.announce(&mut tx, &Change::Approval(t.id)).await?;
    chain::append(&mut tx, [&t.activity]).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(true)
}
