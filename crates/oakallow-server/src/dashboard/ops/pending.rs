//! The pending part of the approvals queue: who waited longest first, each with what it asks,
//! its two-level progress and, for a member of the approver group of its level, the form that
//! decides it. The page and the live stream render this same template, so they never differ.

use std::collections::{HashMap, HashSet};

use askama::Template;
use oakallow_domain::approval::{ApprovalStatus, LevelDecision};
use oakallow_service::Service;
use oakallow_service::approvals::{ApprovalQuery, ApprovalView};
use oakallow_service::error::ServiceResult;
use oakallow_service::manage::Tools;
use oakallow_service::page::{MAX_LIMIT, PageRequest};
use oakallow_service::people::OrgMember;

use super::names::Names;
use super::text;

/// Most approvals shown in the queue (the ones that waited longest).
const SHOWN: usize = 50;
/// Most pending approvals read to find the ones that waited longest, in pages of [`MAX_LIMIT`].
const READ_PAGES: usize = 10;

/// One pending approval as the queue shows it.
pub(super) struct PendingItem {
    /// The approval as of now.
    pub(super) view: ApprovalView,
    /// Its tool's risk level, if the tool is registered.
    pub(super) risk: Option<&'static str>,
    /// Its params as compact JSON.
    pub(super) params: Option<String>,
    /// When it was asked for.
    pub(super) requested: String,
    /// When it expires.
    pub(super) expires: String,
    /// The levels decided so far.
    pub(super) earlier: Vec<LevelDecision>,
    /// Whether the visitor may decide the level it waits at.
    pub(super) may_decide: bool,
}

impl PendingItem {
    /// `approval` for `member`, with its tool's risk from `risks`.
    pub(super) fn new(view: ApprovalView, member: &OrgMember, risks: &HashMap<String, &'static str>) -> Self {
        let earlier = view.decisions.iter().filter(|d| d.level < view.level).cloned().collect();
        Self {
            risk: risks.get(&view.tool).copied(),
            params: view.params.as_ref().map(text::compact),
            requested: text::time(view.created_at),
            expires: text::time(view.expires_at),
            may_decide: view.status == ApprovalStatus::Pending && member.approver().may_decide(view.level),
            earlier,
            view,
        }
    }
}

/// The pending approvals, rendered on the queue page and sent by its live stream.
#[derive(Template)]
#[template(path = "ops_approvals_pending.html")]
pub(super) struct PendingList {
    org_id: String,
    csrf: String,
    items: Vec<PendingItem>,
    /// Pending approvals read (at most [`READ_PAGES`] pages).
    total: usize,
    /// Whether there are more than were read.
    more: bool,
}

impl PendingList {
    /// The queue of `member`'s org, with forms carrying `csrf`.
    pub(super) async fn load(service: &Service, member: &OrgMember, csrf: String) -> ServiceResult<Self> {
        let (mut views, more) = read_pending(service, member).await?;
        let total = views.len();
        // Read newest first; shown oldest first.
        views.reverse();
        views.truncate(SHOWN);
        let risks = risks(service, member, views.iter().map(|v| v.tool.as_str()).collect()).await?;
        let names = Names::load(service, member).await?;
        let items = views.into_iter().map(|view| PendingItem::new(names.approval(view), member, &risks)).collect();
        Ok(Self { org_id: member.org_id().to_string(), csrf, items, total, more })
    }

    /// The fragment as one event's data.
    pub(super) fn html(&self) -> String {
        self.render().unwrap_or_else(|error| {
            tracing::error!(%error, "the pending approvals failed to render");
            "<p class=\"error\">The queue could not be shown; reload the page.</p>".to_owned()
        })
    }
}

async fn read_pending(service: &Service, member: &OrgMember) -> ServiceResult<(Vec<ApprovalView>, bool)> {
    let reader = member.approval_reader();
    let mut query = ApprovalQuery { status: Some(ApprovalStatus::Pending), limit: Some(MAX_LIMIT), ..ApprovalQuery::default() };
    let mut views = Vec::new();
    for _ in 0..READ_PAGES {
        let page = service.list_approvals(&reader, &query).await?;
        views.extend(page.data);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok((views, false)),
        }
    }
    Ok((views, true))
}

/// The risk level of each tool in `names` (from the org's in-memory policy).
pub(super) async fn risks(service: &Service, member: &OrgMember, names: HashSet<&str>) -> ServiceResult<HashMap<String, &'static str>> {
    let mut risks = HashMap::new();
    if names.is_empty() {
        return Ok(risks);
    }
    let reader = member.reader();
    let mut page = PageRequest { limit: Some(MAX_LIMIT), cursor: None };
    loop {
        let tools = service.list_objects::<Tools>(&reader, &page).await?;
        for tool in tools.data.into_iter().filter(|t| names.contains(t.spec.name.as_str())) {
            risks.insert(tool.spec.name, tool.spec.risk_level.unwrap_or_default().as_str());
        }
        match tools.next_cursor {
            Some(cursor) if risks.len() < names.len() => page.cursor = Some(cursor),
            _ => return Ok(risks),
        }
    }
}
