//! Reading domain types out of SQLite rows, column by column, with every stored value checked.

use std::str::FromStr;

use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityEntry, ActivityRecord, ActivityType, Actor, ActorKind};
use oakallow_domain::keys::KeyTier;
use oakallow_domain::org::{Account, ApiKey, Org, TokenSigning};
use oakallow_domain::permission::{Permission, ResolvedFrom, RiskLevel};
use oakallow_domain::policy::{Category, Method, Resource, Rule, RuleScope, Tenant, Tool};
use oakallow_store::CheckRecord;
use rusqlite::Row;
use rusqlite::types::Type;
use serde_json::Value;

/// A conversion error for column `idx`, naming what it should have held.
pub(crate) fn invalid(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, format!("not a valid {what}").into())
}

/// A text column parsed with `FromStr` (ids).
pub(crate) fn parsed<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    text.parse().map_err(|_| invalid(idx, "id"))
}

/// A nullable text column parsed with `FromStr`.
pub(crate) fn parsed_opt<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| t.parse().map_err(|_| invalid(idx, "id"))).transpose()
}

/// A text column decoded by a wire-name parser.
pub(crate) fn named<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| invalid(idx, "enum value"))
}

/// A nullable text column decoded by a wire-name parser.
pub(crate) fn named_opt<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| parse(&t).ok_or_else(|| invalid(idx, "enum value"))).transpose()
}

/// A nullable JSON text column.
pub(crate) fn json_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Value>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| serde_json::from_str(&t).map_err(|_| invalid(idx, "JSON value"))).transpose()
}

/// A JSON text column decoded into `T`.
pub(crate) fn json_as<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|_| invalid(idx, "JSON value"))
}

/// A timestamp column.
pub(crate) fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    row.get(idx).map(Timestamp::from_micros)
}

/// A nullable timestamp column.
pub(crate) fn time_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    row.get::<_, Option<i64>>(idx).map(|t| t.map(Timestamp::from_micros))
}

/// A nullable non-negative integer column.
pub(crate) fn u32_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u32>> {
    let value: Option<i64> = row.get(idx)?;
    value.map(|v| u32::try_from(v).map_err(|_| invalid(idx, "count"))).transpose()
}

/// Serializes a JSON-able value for a text column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

pub(crate) const ACCOUNT_COLUMNS: &str = "id, email, name, created_at";

pub(crate) fn account(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account { id: parsed(row, 0)?, email: row.get(1)?, name: row.get(2)?, created_at: time(row, 3)? })
}

pub(crate) const ORG_COLUMNS: &str = "id, account_id, name, approval_timeout_seconds, webhook_url, webhook_events, token_signing, redact_pii, created_at, updated_at, \
     require_second_factor_for_approvers";

pub(crate) fn org(row: &Row<'_>) -> rusqlite::Result<Org> {
    let events: Option<String> = row.get(5)?;
    Ok(Org {
        id: parsed(row, 0)?,
        account_id: parsed(row, 1)?,
        name: row.get(2)?,
        approval_timeout_seconds: u32_opt(row, 3)?,
        webhook_url: row.get(4)?,
        webhook_events: events.map(|e| serde_json::from_str(&e).map_err(|_| invalid(5, "event list"))).transpose()?,
        token_signing: named(row, 6, TokenSigning::parse)?,
        redact_pii: row.get(7)?,
        created_at: time(row, 8)?,
        updated_at: time(row, 9)?,
        require_second_factor_for_approvers: row.get(10)?,
    })
}

pub(crate) const KEY_COLUMNS: &str = "id, org_id, name, tier, prefix, created_at, revoked_at";

pub(crate) fn api_key(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: parsed(row, 0)?,
        org_id: parsed(row, 1)?,
        name: row.get(2)?,
        tier: named(row, 3, KeyTier::parse)?,
        prefix: row.get(4)?,
        created_at: time(row, 5)?,
        revoked_at: time_opt(row, 6)?,
    })
}

pub(crate) const CATEGORY_COLUMNS: &str = "id, name, description, default_permission, created_at, updated_at";

pub(crate) fn category(row: &Row<'_>) -> rusqlite::Result<Category> {
    Ok(Category {
        id: parsed(row, 0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        default_permission: named_opt(row, 3, Permission::parse)?,
        created_at: time(row, 4)?,
        updated_at: time(row, 5)?,
    })
}

pub(crate) const TOOL_COLUMNS: &str = "id, name, description, category_id, risk_level, parameters_schema, default_permission, approved, \
     enabled, approval_timeout_seconds, requires_second_approval, annotations, tags, created_at, updated_at";

pub(crate) fn tool(row: &Row<'_>) -> rusqlite::Result<Tool> {
    Ok(Tool {
        id: parsed(row, 0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        category: parsed_opt(row, 3)?,
        risk_level: named(row, 4, RiskLevel::parse)?,
        parameters_schema: json_opt(row, 5)?,
        default_permission: named_opt(row, 6, Permission::parse)?,
        approved: row.get(7)?,
        enabled: row.get(8)?,
        approval_timeout_seconds: u32_opt(row, 9)?,
        requires_second_approval: row.get(10)?,
        annotations: json_as(row, 11)?,
        tags: json_as(row, 12)?,
        created_at: time(row, 13)?,
        updated_at: time(row, 14)?,
    })
}

pub(crate) const TENANT_COLUMNS: &str = "id, external_id, name, created_at, updated_at";

pub(crate) fn tenant(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant { id: parsed(row, 0)?, external_id: row.get(1)?, name: row.get(2)?, created_at: time(row, 3)?, updated_at: time(row, 4)? })
}

pub(crate) const NAMED_COLUMNS: &str = "id, name, description, created_at, updated_at";

pub(crate) fn resource(row: &Row<'_>) -> rusqlite::Result<Resource> {
    Ok(Resource { id: parsed(row, 0)?, name: row.get(1)?, description: row.get(2)?, created_at: time(row, 3)?, updated_at: time(row, 4)? })
}

pub(crate) fn method(row: &Row<'_>) -> rusqlite::Result<Method> {
    Ok(Method { id: parsed(row, 0)?, name: row.get(1)?, description: row.get(2)?, created_at: time(row, 3)?, updated_at: time(row, 4)? })
}

pub(crate) const RULE_COLUMNS: &str = "id, tenant_id, resource_id, tool_id, method_id, permission, note, created_at, updated_at";

pub(crate) fn rule(row: &Row<'_>) -> rusqlite::Result<Rule> {
    Ok(Rule {
        id: parsed(row, 0)?,
        scope: RuleScope {
            tenant: parsed_opt(row, 1)?,
            resource: parsed_opt(row, 2)?,
            tool: parsed_opt(row, 3)?,
            method: parsed_opt(row, 4)?,
        },
        permission: named(row, 5, Permission::parse)?,
        note: row.get(6)?,
        created_at: time(row, 7)?,
        updated_at: time(row, 8)?,
    })
}

pub(crate) const CHECK_COLUMNS: &str = "id, org_id, tool, tenant, resource, method, permission, resolved_from, params_sha256, created_at";

pub(crate) fn check(row: &Row<'_>) -> rusqlite::Result<CheckRecord> {
    Ok(CheckRecord {
        id: parsed(row, 0)?,
        org_id: parsed(row, 1)?,
        tool: row.get(2)?,
        tenant: row.get(3)?,
        resource: row.get(4)?,
        method: row.get(5)?,
        permission: named(row, 6, Permission::parse)?,
        resolved_from: named(row, 7, ResolvedFrom::parse)?,
        params_sha256: row.get(8)?,
        created_at: time(row, 9)?,
    })
}

pub(crate) const ACTIVITY_COLUMNS: &str = "id, org_id, seq, at, type, actor_kind, actor_id, actor_label, tenant, resource, tool, method, \
     permission, resolved_from, rule_id, params, reason, result, duration_ms, token_jti, approval_id, check_id, details, prev_hash, hash";

pub(crate) fn activity(row: &Row<'_>) -> rusqlite::Result<ActivityEntry> {
    let seq: i64 = row.get(2)?;
    let duration: Option<i64> = row.get(18)?;
    let record = ActivityRecord {
        id: parsed(row, 0)?,
        org_id: parsed(row, 1)?,
        at: time(row, 3)?,
        kind: named(row, 4, ActivityType::parse)?,
        actor: Actor { kind: named(row, 5, ActorKind::parse)?, id: row.get(6)?, label: row.get(7)? },
        tenant: row.get(8)?,
        resource: row.get(9)?,
        tool: row.get(10)?,
        method: row.get(11)?,
        permission: named_opt(row, 12, Permission::parse)?,
        resolved_from: named_opt(row, 13, ResolvedFrom::parse)?,
        rule_id: parsed_opt(row, 14)?,
        params: json_opt(row, 15)?,
        reason: row.get(16)?,
        result: row.get(17)?,
        duration_ms: duration.map(|d| u64::try_from(d).map_err(|_| invalid(18, "duration"))).transpose()?,
        token_jti: row.get(19)?,
        approval_id: parsed_opt(row, 20)?,
        check_id: parsed_opt(row, 21)?,
        details: json_opt(row, 22)?,
    };
    Ok(ActivityEntry { record, seq: u64::try_from(seq).map_err(|_| invalid(2, "seq"))?, prev_hash: row.get(23)?, hash: row.get(24)? })
}
