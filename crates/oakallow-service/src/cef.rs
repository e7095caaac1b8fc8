//! The activity trail in ArcSight's Common Event Format (CEF, revision 25), one event per line,
//! for SIEMs that read syslog-style security events: `GET /v1/activity/export?format=cef`.
//!
//! `CEF:0|oakallow|oakallow|<version>|<type>|<name>|<severity>|<extension>`. The header holds
//! only fixed text (vendor, product, version, the entry type, a name derived from it, a
//! severity), so no header escaping is ever needed; everything the entry says goes in the
//! extension, escaped as CEF requires (`\` → `\\`, `=` → `\=`, line breaks → `\n`, `\r`).
//! Which extension key carries what is in docs/API.md ("SIEM export").

use oakallow_domain::audit::{ActivityEntry, ActivityType};
use oakallow_domain::canonical::to_canonical_string;
use oakallow_domain::permission::Permission;

/// CEF severity (0–10) of an entry: how much a security team should care.
fn severity(entry: &ActivityEntry) -> u8 {
    let record = &entry.record;
    match record.kind {
        ActivityType::PermissionChecked => match record.permission {
            Some(Permission::Allowed) => 1,
            Some(Permission::RequiresApproval) => 4,
            Some(Permission::Disabled) | None => 6,
        },
        ActivityType::TokenRejected => 7,
        ActivityType::KeyCreated | ActivityType::KeyRevoked | ActivityType::ConfigChanged => 5,
        ActivityType::ApprovalDecided if record.result.as_deref() == Some("denied") => 4,
        ActivityType::ExecutionLogged if record.result.as_deref() != Some("success") => 5,
        ActivityType::ApprovalPolled | ActivityType::ParamsValidated => 0,
        _ => 2,
    }
}

/// `permission.checked` → `Permission checked`.
fn name(kind: ActivityType) -> String {
    let text = kind.as_str().replace(['.', '_'], " ");
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Escapes an extension value: backslash, equals sign, and line breaks (CEF rev. 25).
fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// One CEF line (ending in `\n`) for `entry`.
pub(crate) fn line(entry: &ActivityEntry) -> String {
    let record = &entry.record;
    let mut out = format!(
        "CEF:0|oakallow|oakallow|{}|{}|{}|{}|",
        env!("CARGO_PKG_VERSION"),
        record.kind.as_str(),
        name(record.kind),
        severity(entry)
    );
    let mut first = true;
    let mut field = |key: &str, value: Option<&str>| {
        let Some(value) = value else { return };
        if !first {
            out.push(' ');
        }
        first = false;
        out.push_str(key);
        out.push('=');
        escape(value, &mut out);
    };
    let rt = (record.at.micros() / 1000).to_string();
    let seq = entry.seq.to_string();
    let duration = record.duration_ms.map(|ms| ms.to_string());
    let params = record.params.as_ref().map(to_canonical_string);
    let details = record.details.as_ref().map(to_canonical_string);
    field("rt", Some(&rt));
    field("externalId", Some(&record.id.to_string()));
    field("deviceExternalId", Some(&record.org_id.to_string()));
    field("suid", Some(&record.actor.id));
    field("suser", Some(&record.actor.label));
    field("sourceServiceName", Some(record.actor.kind.as_str()));
    field("act", record.permission.map(Permission::as_str));
    field("outcome", record.result.as_deref());
    field("reason", record.reason.as_deref());
    field("cs1Label", record.tool.as_ref().map(|_| "tool"));
    field("cs1", record.tool.as_deref());
    field("cs2Label", record.tenant.as_ref().map(|_| "tenant"));
    field("cs2", record.tenant.as_deref());
    field("cs3Label", record.resource.as_ref().map(|_| "resource"));
    field("cs3", record.resource.as_deref());
    field("cs4Label", record.method.as_ref().map(|_| "method"));
    field("cs4", record.method.as_deref());
    field("cs5Label", record.resolved_from.map(|_| "resolved_from"));
    field("cs5", record.resolved_from.map(|step| step.as_str()));
    field("cs6Label", Some("hash"));
    field("cs6", Some(&entry.hash));
    field("cn1Label", Some("seq"));
    field("cn1", Some(&seq));
    field("cn2Label", duration.as_ref().map(|_| "duration_ms"));
    field("cn2", duration.as_deref());
    field("flexString1Label", params.as_ref().map(|_| "params"));
    field("flexString1", params.as_deref());
    field("flexString2Label", details.as_ref().map(|_| "details"));
    field("flexString2", details.as_deref());
    field("oakallowRuleId", record.rule_id.map(|id| id.to_string()).as_deref());
    field("oakallowCheckId", record.check_id.map(|id| id.to_string()).as_deref());
    field("oakallowApprovalId", record.approval_id.map(|id| id.to_string()).as_deref());
    field("oakallowTokenJti", record.token_jti.as_deref());
    field("oakallowPrevHash", Some(&entry.prev_hash));
    out.push('\n');
    out
}
