//! Policy objects on SQLite: loading an org's whole policy and committing a change set.

use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::OrgId;
use oakallow_domain::policy::{PolicyChange, PolicyParts};
use oakallow_store::{Outbox, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::activity::append_in;
use crate::conn::map_error;
use crate::rows::{self, CATEGORY_COLUMNS, NAMED_COLUMNS, RULE_COLUMNS, TENANT_COLUMNS, TOOL_COLUMNS};

fn load_all<T>(
    tx: &Transaction<'_>,
    table: &str,
    columns: &str,
    org: &str,
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = tx.prepare_cached(&format!("SELECT {columns} FROM {table} WHERE org_id = ?1 ORDER BY id")).map_err(map_error)?;
    let objects = statement.query_map([org], read).map_err(map_error)?;
    objects.collect::<Result<_, _>>().map_err(map_error)
}

/// The org's policy and version from one read transaction.
pub(crate) fn load(conn: &mut Connection, org: OrgId) -> StoreResult<(u64, PolicyParts)> {
    let tx = conn.transaction().map_err(map_error)?;
    let org_text = org.to_string();
    let version = version_in(&tx, &org_text)?.unwrap_or(0);
    let parts = PolicyParts {
        categories: load_all(&tx, "categories", CATEGORY_COLUMNS, &org_text, rows::category)?,
        tools: load_all(&tx, "tools", TOOL_COLUMNS, &org_text, rows::tool)?,
        tenants: load_all(&tx, "tenants", TENANT_COLUMNS, &org_text, rows::tenant)?,
        resources: load_all(&tx, "resources", NAMED_COLUMNS, &org_text, rows::resource)?,
        methods: load_all(&tx, "methods", NAMED_COLUMNS, &org_text, rows::method)?,
        rules: load_all(&tx, "rules", RULE_COLUMNS, &org_text, rows::rule)?,
    };
    Ok((version, parts))
}

fn version_in(conn: &Connection, org: &str) -> StoreResult<Option<u64>> {
    let version: Option<i64> =
        conn.query_row("SELECT policy_version FROM orgs WHERE id = ?1", [org], |row| row.get(0)).optional().map_err(map_error)?;
    Ok(version.map(|v| u64::try_from(v).unwrap_or(0)))
}

/// The org's policy version (0 for an unknown org).
pub(crate) fn version(conn: &Connection, org: OrgId) -> StoreResult<u64> {
    Ok(version_in(conn, &org.to_string())?.unwrap_or(0))
}

/// Applies a change set if the version still matches.
pub(crate) fn commit(
    conn: &mut Connection,
    org: OrgId,
    expected: u64,
    changes: &[PolicyChange],
    activity: &[ActivityRecord],
    outbox: &[Outbox],
) -> StoreResult<u64> {
    let tx = conn.transaction().map_err(map_error)?;
    let org_text = org.to_string();
    let expected_sql = i64::try_from(expected).map_err(|_| StoreError::VersionConflict)?;
    let bumped = tx
        .execute(
            "UPDATE orgs SET policy_version = policy_version + 1 WHERE id = ?1 AND policy_version = ?2",
            params![org_text, expected_sql],
        )
        .map_err(map_error)?;
    if bumped == 0 {
        return Err(match version_in(&tx, &org_text)? {
            Some(_) => StoreError::VersionConflict,
            None => StoreError::NotFound,
        });
    }
    for change in changes {
        apply(&tx, &org_text, change)?;
    }
    append_in(&tx, activity)?;
    crate::webhooks::insert_outbox(&tx, outbox)?;
    tx.commit().map_err(map_error)?;
    Ok(expected + 1)
}

fn exactly_one(changed: usize) -> StoreResult<()> {
    if changed == 1 { Ok(()) } else { Err(StoreError::NotFound) }
}

fn delete(tx: &Transaction<'_>, table: &str, org: &str, id: String) -> StoreResult<()> {
    let sql = format!("DELETE FROM {table} WHERE org_id = ?1 AND id = ?2");
    exactly_one(tx.prepare_cached(&sql).map_err(map_error)?.execute(params![org, id]).map_err(map_error)?)
}

/// Writes one change. Upserts only ever touch a row of the same org.
fn apply(tx: &Transaction<'_>, org: &str, change: &PolicyChange) -> StoreResult<()> {
    let changed = match change {
        PolicyChange::PutCategory(c) => tx
            .prepare_cached(
                "INSERT INTO categories (id, org_id, name, description, default_permission, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
                   default_permission = excluded.default_permission, updated_at = excluded.updated_at
                 WHERE categories.org_id = excluded.org_id",
            )
            .map_err(map_error)?
            .execute(params![
                c.id.to_string(),
                org,
                c.name,
                c.description,
                c.default_permission.map(|p| p.as_str()),
                c.created_at.micros(),
                c.updated_at.micros()
            ]),
        PolicyChange::PutTool(t) => tx
            .prepare_cached(
                "INSERT INTO tools (id, org_id, name, description, category_id, risk_level, parameters_schema, default_permission,
                   approved, enabled, approval_timeout_seconds, requires_second_approval, annotations, tags, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
                   category_id = excluded.category_id, risk_level = excluded.risk_level,
                   parameters_schema = excluded.parameters_schema, default_permission = excluded.default_permission,
                   approved = excluded.approved, enabled = excluded.enabled,
                   approval_timeout_seconds = excluded.approval_timeout_seconds,
                   requires_second_approval = excluded.requires_second_approval, annotations = excluded.annotations,
                   tags = excluded.tags, updated_at = excluded.updated_at
                 WHERE tools.org_id = excluded.org_id",
            )
            .map_err(map_error)?
            .execute(params![
                t.id.to_string(),
                org,
                t.name,
                t.description,
                t.category.map(|c| c.to_string()),
                t.risk_level.as_str(),
                t.parameters_schema.as_ref().map(rows::to_json),
                t.default_permission.map(|p| p.as_str()),
                t.approved,
                t.enabled,
                t.approval_timeout_seconds,
                t.requires_second_approval,
                rows::to_json(&t.annotations),
                rows::to_json(&t.tags),
                t.created_at.micros(),
                t.updated_at.micros()
            ]),
        PolicyChange::PutTenant(t) => tx
            .prepare_cached(
                "INSERT INTO tenants (id, org_id, external_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET external_id = excluded.external_id, name = excluded.name, updated_at = excluded.updated_at
                 WHERE tenants.org_id = excluded.org_id",
            )
            .map_err(map_error)?
            .execute(params![t.id.to_string(), org, t.external_id, t.name, t.created_at.micros(), t.updated_at.micros()]),
        PolicyChange::PutResource(r) => put_named(
            tx,
            "resources",
            org,
            r.id.to_string(),
            &r.name,
            r.description.as_deref(),
            r.created_at.micros(),
            r.updated_at.micros(),
        ),
        PolicyChange::PutMethod(m) => {
            put_named(tx, "methods", org, m.id.to_string(), &m.name, m.description.as_deref(), m.created_at.micros(), m.updated_at.micros())
        }
        PolicyChange::PutRule(r) => tx
            .prepare_cached(
                "INSERT INTO rules (id, org_id, tenant_id, resource_id, tool_id, method_id, permission, note, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, resource_id = excluded.resource_id,
                   tool_id = excluded.tool_id, method_id = excluded.method_id, permission = excluded.permission,
                   note = excluded.note, updated_at = excluded.updated_at
                 WHERE rules.org_id = excluded.org_id",
            )
            .map_err(map_error)?
            .execute(params![
                r.id.to_string(),
                org,
                r.scope.tenant.map(|id| id.to_string()),
                r.scope.resource.map(|id| id.to_string()),
                r.scope.tool.map(|id| id.to_string()),
                r.scope.method.map(|id| id.to_string()),
                r.permission.as_str(),
                r.note,
                r.created_at.micros(),
                r.updated_at.micros()
            ]),
        PolicyChange::DeleteRule(id) => return delete(tx, "rules", org, id.to_string()),
        PolicyChange::DeleteTool(id) => return delete(tx, "tools", org, id.to_string()),
        PolicyChange::DeleteTenant(id) => return delete(tx, "tenants", org, id.to_string()),
        PolicyChange::DeleteResource(id) => return delete(tx, "resources", org, id.to_string()),
        PolicyChange::DeleteMethod(id) => return delete(tx, "methods", org, id.to_string()),
        PolicyChange::DeleteCategory(id) => return delete(tx, "categories", org, id.to_string()),
    };
    exactly_one(changed.map_err(map_error)?)
}

#[expect(clippy::too_many_arguments, reason = "one argument per column")]
fn put_named(
    tx: &Transaction<'_>,
    table: &str,
    org: &str,
    id: String,
    name: &str,
    description: Option<&str>,
    created: i64,
    updated: i64,
) -> rusqlite::Result<usize> {
    let sql = format!(
        "INSERT INTO {table} (id, org_id, name, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, updated_at = excluded.updated_at
         WHERE {table}.org_id = excluded.org_id"
    );
    tx.prepare_cached(&sql)?.execute(params![id, org, name, description, created, updated])
}
