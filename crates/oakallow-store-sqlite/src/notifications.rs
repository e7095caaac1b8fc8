//! Notification channels on SQLite ([`NotificationStore`]): each org's settings document, Slack
//! links, and the Slack message of each approval. Every write goes through the single writer.

use async_trait::async_trait;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_store::{NotificationStore, SlackLink, SlackMessage, StoreError, StoreResult, StoredChannels};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::activity::append_in as append;
use crate::conn::map_error;
use crate::rows::{parsed, time};

const LINK_COLUMNS: &str = "org_id, team_id, user_id, account_id, created_at";

fn link(row: &Row<'_>) -> rusqlite::Result<SlackLink> {
    Ok(SlackLink {
        org_id: parsed(row, 0)?,
        team_id: row.get(1)?,
        user_id: row.get(2)?,
        account_id: parsed(row, 3)?,
        created_at: time(row, 4)?,
    })
}

fn set_channels(conn: &mut Connection, org: OrgId, channels: &StoredChannels, activity: &ActivityRecord) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    tx.execute(
        "INSERT INTO notification_channels (org_id, settings, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        params![org.to_string(), channels.settings, channels.updated_at.micros()],
    )
    .map_err(map_error)?;
    append(&tx, std::slice::from_ref(activity))?;
    tx.commit().map_err(map_error)
}

fn put_link(conn: &mut Connection, link: &SlackLink, activity: &ActivityRecord) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    tx.execute(
        &format!(
            "INSERT INTO slack_links ({LINK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (org_id, team_id, user_id) DO UPDATE SET account_id = excluded.account_id, created_at = excluded.created_at"
        ),
        params![link.org_id.to_string(), link.team_id, link.user_id, link.account_id.to_string(), link.created_at.micros()],
    )
    .map_err(map_error)?;
    append(&tx, std::slice::from_ref(activity))?;
    tx.commit().map_err(map_error)
}

fn delete_link(conn: &mut Connection, org: OrgId, team: &str, user: &str, activity: &ActivityRecord) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    let deleted = tx
        .execute("DELETE FROM slack_links WHERE org_id = ?1 AND team_id = ?2 AND user_id = ?3", params![org.to_string(), team, user])
        .map_err(map_error)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    append(&tx, std::slice::from_ref(activity))?;
    tx.commit().map_err(map_error)
}

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn notification_channels(&self, org: OrgId) -> StoreResult<Option<StoredChannels>> {
        self.readers
            .run(move |conn| {
                conn.query_row("SELECT settings, updated_at FROM notification_channels WHERE org_id = ?1", [org.to_string()], |row| {
                    Ok(StoredChannels { settings: row.get(0)?, updated_at: time(row, 1)? })
                })
                .optional()
                .map_err(map_error)
            })
            .await
    }

    async fn set_notification_channels(&self, org: OrgId, channels: &StoredChannels, activity: ActivityRecord) -> StoreResult<()> {
        let channels = channels.clone();
        self.writer.run(move |conn| set_channels(conn, org, &channels, &activity)).await
    }

    async fn slack_link(&self, org: OrgId, team_id: &str, user_id: &str) -> StoreResult<Option<SlackLink>> {
        let (team, user) = (team_id.to_owned(), user_id.to_owned());
        self.readers
            .run(move |conn| {
                conn.query_row(
                    &format!("SELECT {LINK_COLUMNS} FROM slack_links WHERE org_id = ?1 AND team_id = ?2 AND user_id = ?3"),
                    params![org.to_string(), team, user],
                    link,
                )
                .optional()
                .map_err(map_error)
            })
            .await
    }

    async fn put_slack_link(&self, link: &SlackLink, activity: ActivityRecord) -> StoreResult<()> {
        let link = link.clone();
        self.writer.run(move |conn| put_link(conn, &link, &activity)).await
    }

    async fn delete_slack_link(&self, org: OrgId, team_id: &str, user_id: &str, activity: ActivityRecord) -> StoreResult<()> {
        let (team, user) = (team_id.to_owned(), user_id.to_owned());
        self.writer.run(move |conn| delete_link(conn, org, &team, &user, &activity)).await
    }

    async fn slack_links(&self, org: OrgId) -> StoreResult<Vec<SlackLink>> {
        self.readers
            .run(move |conn: &mut Connection| {
                let mut statement = conn
                    .prepare_cached(&format!(
                        "SELECT {LINK_COLUMNS} FROM slack_links WHERE org_id = ?1 ORDER BY created_at, team_id, user_id"
                    ))
                    .map_err(map_error)?;
                let rows = statement.query_map([org.to_string()], link).map_err(map_error)?;
                rows.collect::<Result<_, _>>().map_err(map_error)
            })
            .await
    }

    async fn slack_message(&self, org: OrgId, approval: ApprovalId) -> StoreResult<Option<SlackMessage>> {
        self.readers
            .run(move |conn| {
                conn.query_row(
                    "SELECT org_id, approval_id, channel, ts FROM slack_messages WHERE org_id = ?1 AND approval_id = ?2",
                    params![org.to_string(), approval.to_string()],
                    |row| Ok(SlackMessage { org_id: parsed(row, 0)?, approval_id: parsed(row, 1)?, channel: row.get(2)?, ts: row.get(3)? }),
                )
                .optional()
                .map_err(map_error)
            })
            .await
    }

    async fn put_slack_message(&self, message: &SlackMessage) -> StoreResult<()> {
        let message = message.clone();
        self.writer
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO slack_messages (org_id, approval_id, channel, ts) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (org_id, approval_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts",
                    params![message.org_id.to_string(), message.approval_id.to_string(), message.channel, message.ts],
                )
                .map_err(map_error)?;
                Ok(())
            })
            .await
    }
}
