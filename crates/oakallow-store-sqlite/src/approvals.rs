//! Approvals on SQLite: creation with its idempotency claim, audit entry and webhook events;
//! reads with their level decisions; listings; conditional transitions; and the expiry sweep's
//! list of due approvals.

use std::collections::HashMap;

use oakallow_domain::Timestamp;
use oakallow_domain::approval::{Approval, ApprovalStatus, LevelDecision};
use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_store::{ApprovalFilter, ApprovalTransition, Charge, CreateOutcome, IdempotencyClaim, NewApproval, StoreError, StoreResult};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::activity::append_in;
use crate::billing::Billing;
use crate::conn::map_error;
use crate::rows::to_json;
use crate::runtime_rows::{self, APPROVAL_COLUMNS, DECISION_COLUMNS, id_list};
use crate::webhooks;

/// Stores a new approval and pays for it with `charge`, or answers what its idempotency key
/// already stands for, or that the account cannot pay (writing nothing then; a replay is not
/// charged). [`StoreError::NotFound`] for an unknown org; [`StoreError::Conflict`] for a
/// reference the org already used.
pub(crate) fn create(conn: &mut Connection, new: &NewApproval, charge: Option<Charge>) -> StoreResult<CreateOutcome> {
    let tx = conn.transaction().map_err(map_error)?;
    let approval = &new.approval;
    let known: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)")
        .map_err(map_error)?
        .query_row([approval.org_id.to_string()], |row| row.get(0))
        .map_err(map_error)?;
    if !known {
        return Err(StoreError::NotFound);
    }
    if let Some(claim) = &new.idempotency
        && let Some(outcome) = claimed(&tx, approval, claim)?
    {
        return Ok(outcome);
    }
    // The approval is charged when it is created.
    let mut billing = Billing::new(approval.created_at);
    if let Some(charge) = &charge
        && !billing.can_pay(&tx, charge)?
    {
        return Ok(CreateOutcome::InsufficientCredits);
    }
    insert(&tx, approval)?;
    for decision in &approval.decisions {
        insert_decision(&tx, approval.id, decision)?;
    }
    if let Some(claim) = &new.idempotency {
        tx.prepare_cached(
            "INSERT INTO approval_idempotency (org_id, key, fingerprint, approval_id, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (org_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, approval_id = excluded.approval_id,
               expires_at = excluded.expires_at",
        )
        .map_err(map_error)?
        .execute(params![approval.org_id.to_string(), claim.key, claim.fingerprint, approval.id.to_string(), claim.expires_at.micros()])
        .map_err(map_error)?;
    }
    append_in(&tx, std::slice::from_ref(&new.activity))?;
    webhooks::insert_outbox(&tx, &new.outbox)?;
    if let Some(charge) = &charge {
        billing.pay(charge)?;
    }
    billing.finish(&tx)?;
    tx.commit().map_err(map_error)?;
    Ok(CreateOutcome::Created)
}

/// What a live claim of the key (one that outlasts the approval's creation) answers, if any.
fn claimed(tx: &Transaction<'_>, approval: &Approval, claim: &IdempotencyClaim) -> StoreResult<Option<CreateOutcome>> {
    let live: Option<(String, String)> = tx
        .prepare_cached("SELECT fingerprint, approval_id FROM approval_idempotency WHERE org_id = ?1 AND key = ?2 AND expires_at > ?3")
        .map_err(map_error)?
        .query_row(params![approval.org_id.to_string(), claim.key, approval.created_at.micros()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(map_error)?;
    let Some((fingerprint, approval_id)) = live else {
        return Ok(None);
    };
    if fingerprint != claim.fingerprint {
        return Ok(Some(CreateOutcome::KeyReused));
    }
    let corrupt = || StoreError::Corrupt("an idempotency key names a missing approval".into());
    let id: ApprovalId = approval_id.parse().map_err(|_| corrupt())?;
    let first = get_in(tx, approval.org_id, id)?.ok_or_else(corrupt)?;
    Ok(Some(CreateOutcome::Replayed(first)))
}

fn insert(tx: &Transaction<'_>, a: &Approval) -> StoreResult<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO approvals ({APPROVAL_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
    ))
    .map_err(map_error)?
    .execute(params![
        a.id.to_string(),
        a.org_id.to_string(),
        a.reference,
        a.status.as_str(),
        a.level,
        a.required_levels,
        a.tool,
        a.tenant,
        a.resource,
        a.method,
        a.params.as_ref().map(to_json),
        a.params_sha256,
        a.reason,
        a.context.as_ref().map(to_json),
        a.reference_id,
        a.check_id.map(|id| id.to_string()),
        a.created_at.micros(),
        a.expires_at.micros(),
        a.decided_at.map(Timestamp::micros),
        a.decided_by,
        a.note
    ])
    .map_err(map_error)?;
    Ok(())
}

fn insert_decision(tx: &Transaction<'_>, approval: ApprovalId, d: &LevelDecision) -> StoreResult<()> {
    let (kind, id) = (d.decider.as_ref().map(|who| who.kind.as_str()), d.decider.as_ref().map(|who| &who.id));
    tx.prepare_cached(&format!("INSERT INTO approval_decisions ({DECISION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"))
        .map_err(map_error)?
        .execute(params![approval.to_string(), d.level, d.decision.as_str(), d.decided_by, d.note, d.decided_at.micros(), kind, id])
        .map_err(map_error)?;
    Ok(())
}

/// One approval of the org with its decisions, read in one snapshot.
pub(crate) fn get(conn: &mut Connection, org: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>> {
    let tx = conn.transaction().map_err(map_error)?;
    get_in(&tx, org, id)
}

fn get_in(conn: &Connection, org: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>> {
    let approval = conn
        .prepare_cached(&format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE org_id = ?1 AND id = ?2"))
        .map_err(map_error)?
        .query_row([org.to_string(), id.to_string()], runtime_rows::approval)
        .optional()
        .map_err(map_error)?;
    let mut approvals: Vec<Approval> = approval.into_iter().collect();
    attach_decisions(conn, &mut approvals)?;
    Ok(approvals.pop())
}

/// The org's approvals matching `filter` (statuses as of `filter.now`), newest first.
pub(crate) fn list(conn: &mut Connection, org: OrgId, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>> {
    let tx = conn.transaction().map_err(map_error)?;
    let mut sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE org_id = ?");
    let mut args: Vec<Sql> = vec![Sql::Text(org.to_string())];
    let now = Sql::Integer(filter.now.micros());
    match filter.status {
        None => {}
        Some(ApprovalStatus::Pending) => {
            sql.push_str(" AND status = 'pending' AND expires_at > ?");
            args.push(now);
        }
        Some(ApprovalStatus::Expired) => {
            sql.push_str(" AND (status = 'expired' OR (status = 'pending' AND expires_at <= ?))");
            args.push(now);
        }
        Some(status) => {
            sql.push_str(" AND status = ?");
            args.push(Sql::Text(status.as_str().into()));
        }
    }
    if let Some(tool) = &filter.tool {
        sql.push_str(" AND tool = ?");
        args.push(Sql::Text(tool.clone()));
    }
    if let Some(tenant) = &filter.tenant {
        sql.push_str(" AND tenant = ?");
        args.push(Sql::Text(tenant.clone()));
    }
    if let Some(before) = filter.before {
        sql.push_str(" AND id < ?");
        args.push(Sql::Text(before.to_string()));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(Sql::Integer(i64::from(filter.limit)));
    let mut approvals = {
        let mut statement = tx.prepare_cached(&sql).map_err(map_error)?;
        let rows = statement.query_map(rusqlite::params_from_iter(args), runtime_rows::approval).map_err(map_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_error)?
    };
    attach_decisions(&tx, &mut approvals)?;
    Ok(approvals)
}

/// Applies the transition if the approval is still pending at the expected level and on the
/// right side of its deadline; answers whether it did (nothing is written otherwise).
pub(crate) fn transition(conn: &mut Connection, t: &ApprovalTransition) -> StoreResult<bool> {
    let deadline = if t.after.status == ApprovalStatus::Expired { "expires_at <= ?9" } else { "expires_at > ?9" };
    let tx = conn.transaction().map_err(map_error)?;
    let changed = tx
        .prepare_cached(&format!(
            "UPDATE approvals SET status = ?1, level = ?2, decided_at = ?3, decided_by = ?4, note = ?5
             WHERE org_id = ?6 AND id = ?7 AND status = 'pending' AND level = ?8 AND {deadline}"
        ))
        .map_err(map_error)?
        .execute(params![
            t.after.status.as_str(),
            t.after.level,
            t.after.decided_at.map(Timestamp::micros),
            t.after.decided_by,
            t.after.note,
            t.org_id.to_string(),
            t.id.to_string(),
            t.expected_level,
            t.now.micros()
        ])
        .map_err(map_error)?;
    if changed != 1 {
        return Ok(false);
    }
    if let Some(decision) = &t.decision {
        insert_decision(&tx, t.id, decision)?;
    }
    append_in(&tx, std::slice::from_ref(&t.activity))?;
    webhooks::insert_outbox(&tx, &t.outbox)?;
    tx.commit().map_err(map_error)?;
    Ok(true)
}

/// Pending approvals of every org whose deadline passed at `now`, oldest deadline first.
pub(crate) fn due(conn: &mut Connection, now: Timestamp, limit: u32) -> StoreResult<Vec<Approval>> {
    let tx = conn.transaction().map_err(map_error)?;
    let mut approvals = {
        let mut statement = tx
            .prepare_cached(&format!(
                "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE status = 'pending' AND expires_at <= ?1 ORDER BY expires_at, id LIMIT ?2"
            ))
            .map_err(map_error)?;
        let rows = statement.query_map(params![now.micros(), i64::from(limit)], runtime_rows::approval).map_err(map_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_error)?
    };
    attach_decisions(&tx, &mut approvals)?;
    Ok(approvals)
}

/// Fills in each approval's decisions, by level, with one query for all of them.
fn attach_decisions(conn: &Connection, approvals: &mut [Approval]) -> StoreResult<()> {
    if approvals.is_empty() {
        return Ok(());
    }
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {DECISION_COLUMNS} FROM approval_decisions WHERE approval_id IN (SELECT value FROM json_each(?1))
             ORDER BY approval_id, level"
        ))
        .map_err(map_error)?;
    let rows = statement.query_map([id_list(approvals.iter().map(|a| a.id))], runtime_rows::decision).map_err(map_error)?;
    let mut by_approval: HashMap<ApprovalId, Vec<LevelDecision>> = HashMap::new();
    for row in rows {
        let (id, decision) = row.map_err(map_error)?;
        by_approval.entry(id).or_default().push(decision);
    }
    for approval in approvals {
        approval.decisions = by_approval.remove(&approval.id).unwrap_or_default();
    }
    Ok(())
}
