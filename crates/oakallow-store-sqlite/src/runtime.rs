//! Group-committed runtime writes on SQLite: a whole batch in one transaction, one disk sync.

use oakallow_domain::id::{CheckId, OrgId};
use oakallow_store::{CheckRecord, RuntimeWrite, StoreResult};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::activity::Chains;
use crate::conn::map_error;
use crate::rows::{self, CHECK_COLUMNS};

/// Commits the batch, or nothing of it.
pub(crate) fn commit(conn: &mut Connection, batch: &[RuntimeWrite]) -> StoreResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let tx = conn.transaction().map_err(map_error)?;
    let mut chains = Chains::default();
    for write in batch {
        if let RuntimeWrite::Check { check, .. } = write {
            insert_check(&tx, check)?;
        }
        chains.append(&tx, write.activity())?;
    }
    chains.save(&tx)?;
    tx.commit().map_err(map_error)
}

fn insert_check(tx: &Transaction<'_>, c: &CheckRecord) -> StoreResult<()> {
    tx.prepare_cached(&format!("INSERT INTO checks ({CHECK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))
        .map_err(map_error)?
        .execute(params![
            c.id.to_string(),
            c.org_id.to_string(),
            c.tool,
            c.tenant,
            c.resource,
            c.method,
            c.permission.as_str(),
            c.resolved_from.as_str(),
            c.params_sha256,
            c.created_at.micros()
        ])
        .map_err(map_error)?;
    Ok(())
}

pub(crate) fn check(conn: &Connection, org: OrgId, id: CheckId) -> StoreResult<Option<CheckRecord>> {
    conn.prepare_cached(&format!("SELECT {CHECK_COLUMNS} FROM checks WHERE org_id = ?1 AND id = ?2"))
        .map_err(map_error)?
        .query_row([org.to_string(), id.to_string()], rows::check)
        .optional()
        .map_err(map_error)
}
