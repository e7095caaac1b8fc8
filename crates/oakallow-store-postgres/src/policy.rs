//! Policy objects on PostgreSQL: loading an org's whole policy from one snapshot, and
//! committing a change set guarded by the org's policy version (and announcing the new version
//! to the other nodes).

use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::OrgId;
use oakallow_domain::policy::{Category, Method, PolicyChange, PolicyParts, Resource, Rule, Tenant, Tool};
use oakallow_store::{Change, Outbox, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::chain;
use crate::error::map_error;
use crate::notify::Channel;
use crate::rows::{self, CATEGORY_COLUMNS, NAMED_COLUMNS, RULE_COLUMNS, RowResult, TENANT_COLUMNS, TOOL_COLUMNS};

async fn load_all<T>(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    org: &str,
    read: fn(&PgRow) -> RowResult<T>,
) -> StoreResult<Vec<T>> {
    let sql = format!("SELECT {columns} FROM {table} WHERE org_id = $1 ORDER BY id");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(org).fetch_all(conn).await.map_err(map_error)?;
    found.iter().map(read).collect::<Result<_, _>>().map_err(map_error)
}

/// The org's policy and version from one read-only snapshot.
pub(crate) async fn load(pool: &PgPool, org: OrgId) -> StoreResult<(u64, PolicyParts)> {
    let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await.map_err(map_error)?;
    let org_text = org.to_string();
    let version = version_in(&mut *tx, &org_text).await?.unwrap_or(0);
    let parts = PolicyParts {
        categories: load_all(&mut tx, "categories", CATEGORY_COLUMNS, &org_text, rows::category).await?,
        tools: load_all(&mut tx, "tools", TOOL_COLUMNS, &org_text, rows::tool).await?,
        tenants: load_all(&mut tx, "tenants", TENANT_COLUMNS, &org_text, rows::tenant).await?,
        resources: load_all(&mut tx, "resources", NAMED_COLUMNS, &org_text, rows::resource).await?,
        methods: load_all(&mut tx, "methods", NAMED_COLUMNS, &org_text, rows::method).await?,
        rules: load_all(&mut tx, "rules", RULE_COLUMNS, &org_text, rows::rule).await?,
    };
    tx.commit().await.map_err(map_error)?;
    Ok((version, parts))
}

async fn version_in<'c>(conn: impl sqlx::PgExecutor<'c>, org: &str) -> StoreResult<Option<u64>> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT policy_version FROM orgs WHERE id = $1").bind(org).fetch_optional(conn).await.map_err(map_error)?;
    Ok(version.map(|v| u64::try_from(v).unwrap_or(0)))
}

/// The org's policy version (0 for an unknown org).
pub(crate) async fn version(pool: &PgPool, org: OrgId) -> StoreResult<u64> {
    Ok(version_in(pool, &org.to_string()).await?.unwrap_or(0))
}

/// Applies a change set if the version still matches. The version bump locks the org's row, so
/// concurrent commits to one org (from any node) take turns and all but one see the conflict.
pub(crate) async fn commit(
    pool: &PgPool,
    channel: &Channel,
    org: OrgId,
    expected: u64,
    changes: &[PolicyChange],
    activity: &[ActivityRecord],
    outbox: &[Outbox],
) -> StoreResult<u64> {
    let expected_sql = i64::try_from(expected).map_err(|_| StoreError::VersionConflict)?;
    let org_text = org.to_string();
    let mut tx = pool.begin().await.map_err(map_error)?;
    let bumped = sqlx::query("UPDATE orgs SET policy_version = policy_version + 1 WHERE id = $1 AND policy_version = $2")
        .bind(&org_text)
        .bind(expected_sql)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    if bumped.rows_affected() == 0 {
        return Err(match version_in(&mut *tx, &org_text).await? {
            Some(_) => StoreError::VersionConflict,
            None => StoreError::NotFound,
        });
    }
    for change in changes {
        apply(&mut tx, &org_text, change).await?;
    }
    channel.announce(&mut tx, &Change::Policy(org, expected + 1)).await?;
    chain::append(&mut tx, activity).await?;
    crate::webhooks::insert_outbox(&mut tx, channel, outbox).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(expected + 1)
}

/// Writes one change; it must touch exactly one row of this org.
async fn apply(conn: &mut PgConnection, org: &str, change: &PolicyChange) -> StoreResult<()> {
    let changed = match change {
        PolicyChange::PutCategory(c) => put_category(conn, org, c).await?,
        PolicyChange::PutTool(t) => put_tool(conn, org, t).await?,
        PolicyChange::PutTenant(t) => put_tenant(conn, org, t).await?,
        PolicyChange::PutResource(r) => put_resource(conn, org, r).await?,
        PolicyChange::PutMethod(m) => put_method(conn, org, m).await?,
        PolicyChange::PutRule(r) => put_rule(conn, org, r).await?,
        PolicyChange::DeleteRule(id) => delete(conn, "rules", org, id.to_string()).await?,
        PolicyChange::DeleteTool(id) => delete(conn, "tools", org, id.to_string()).await?,
        PolicyChange::DeleteTenant(id) => delete(conn, "tenants", org, id.to_string()).await?,
        PolicyChange::DeleteResource(id) => delete(conn, "resources", org, id.to_string()).await?,
        PolicyChange::DeleteMethod(id) => delete(conn, "methods", org, id.to_string()).await?,
        PolicyChange::DeleteCategory(id) => delete(conn, "categories", org, id.to_string()).await?,
    };
    if changed == 1 { Ok(()) } else { Err(StoreError::NotFound) }
}

/// Runs a write; returns the number of rows it changed.
async fn rows_changed(
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    conn: &mut PgConnection,
) -> StoreResult<u64> {
    Ok(query.execute(conn).await.map_err(map_error)?.rows_affected())
}

async fn delete(conn: &mut PgConnection, table: &str, org: &str, id: String) -> StoreResult<u64> {
    let sql = format!("DELETE FROM {table} WHERE org_id = $1 AND id = $2");
    rows_changed(sqlx::query(AssertSqlSafe(sql)).bind(org).bind(id), conn).await
}

// Every upsert below updates an existing row only if it belongs to the same org: an id of
// another org changes nothing, and the commit fails as `NotFound`.

async fn put_category(conn: &mut PgConnection, org: &str, c: &Category) -> StoreResult<u64> {
    let query = sqlx::query(
        "INSERT INTO categories (id, org_id, name, description, default_permission, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
           default_permission = excluded.default_permission, updated_at = excluded.updated_at
         WHERE categories.org_id = excluded.org_id",
    )
    .bind(c.id.to_string())
    .bind(org)
    .bind(&c.name)
    .bind(&c.description)
    .bind(c.default_permission.map(|p| p.as_str()))
    .bind(c.created_at.micros())
    .bind(c.updated_at.micros());
    rows_changed(query, conn).await
}

async fn put_tool(conn: &mut PgConnection, org: &str, t: &Tool) -> StoreResult<u64> {
    let query = sqlx::query(
        "INSERT INTO tools (id, org_id, name, description, category_id, risk_level, parameters_schema, default_permission,
           approved, enabled, approval_timeout_seconds, requires_second_approval, annotations, tags, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
           category_id = excluded.category_id, risk_level = excluded.risk_level,
           parameters_schema = excluded.parameters_schema, default_permission = excluded.default_permission,
           approved = excluded.approved, enabled = excluded.enabled,
           approval_timeout_seconds = excluded.approval_timeout_seconds,
           requires_second_approval = excluded.requires_second_approval, annotations = excluded.annotations,
           tags = excluded.tags, updated_at = excluded.updated_at
         WHERE tools.org_id = excluded.org_id",
    )
    .bind(t.id.to_string())
    .bind(org)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.category.map(|c| c.to_string()))
    .bind(t.risk_level.as_str())
    .bind(t.parameters_schema.as_ref().map(rows::to_json))
    .bind(t.default_permission.map(|p| p.as_str()))
    .bind(t.approved)
    .bind(t.enabled)
    .bind(t.approval_timeout_seconds.map(i64::from))
    .bind(t.requires_second_approval)
    .bind(rows::to_json(&t.annotations))
    .bind(rows::to_json(&t.tags))
    .bind(t.created_at.micros())
    .bind(t.updated_at.micros());
    rows_changed(query, conn).await
}

async fn put_tenant(conn: &mut PgConnection, org: &str, t: &Tenant) -> StoreResult<u64> {
    let query = sqlx::query(
        "INSERT INTO tenants (id, org_id, external_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET external_id = excluded.external_id, name = excluded.name, updated_at = excluded.updated_at
         WHERE tenants.org_id = excluded.org_id",
    )
    .bind(t.id.to_string())
    .bind(org)
    .bind(&t.external_id)
    .bind(&t.name)
    .bind(t.created_at.micros())
    .bind(t.updated_at.micros());
    rows_changed(query, conn).await
}

/// The columns of a resource or a method.
struct Named<'a> {
    id: String,
    name: &'a str,
    description: Option<&'a str>,
    created: i64,
    updated: i64,
}

async fn put_resource(conn: &mut PgConnection, org: &str, r: &Resource) -> StoreResult<u64> {
    let (created, updated) = (r.created_at.micros(), r.updated_at.micros());
    let row = Named { id: r.id.to_string(), name: &r.name, description: r.description.as_deref(), created, updated };
    put_named(conn, "resources", org, row).await
}

async fn put_method(conn: &mut PgConnection, org: &str, m: &Method) -> StoreResult<u64> {
    let (created, updated) = (m.created_at.micros(), m.updated_at.micros());
    let row = Named { id: m.id.to_string(), name: &m.name, description: m.description.as_deref(), created, updated };
    put_named(conn, "methods", org, row).await
}

async fn put_named(conn: &mut PgConnection, table: &str, org: &str, row: Named<'_>) -> StoreResult<u64> {
    let sql = format!(
        "INSERT INTO {table} (id, org_id, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, updated_at = excluded.updated_at
         WHERE {table}.org_id = excluded.org_id"
    );
    let query =
        sqlx::query(AssertSqlSafe(sql)).bind(row.id).bind(org).bind(row.name).bind(row.description).bind(row.created).bind(row.updated);
    rows_changed(query, conn).await
}

async fn put_rule(conn: &mut PgConnection, org: &str, r: &Rule) -> StoreResult<u64> {
    let query = sqlx::query(
        "INSERT INTO rules (id, org_id, tenant_id, resource_id, tool_id, method_id, permission, note, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, resource_id = excluded.resource_id,
           tool_id = excluded.tool_id, method_id = excluded.method_id, permission = excluded.permission,
           note = excluded.note, updated_at = excluded.updated_at
         WHERE rules.org_id = excluded.org_id",
    )
    .bind(r.id.to_string())
    .bind(org)
    .bind(r.scope.tenant.map(|id| id.to_string()))
    .bind(r.scope.resource.map(|id| id.to_string()))
    .bind(r.scope.tool.map(|id| id.to_string()))
    .bind(r.scope.method.map(|id| id.to_string()))
    .bind(r.permission.as_str())
    .bind(&r.note)
    .bind(r.created_at.micros())
    .bind(r.updated_at.micros());
    rows_changed(query, conn).await
}
