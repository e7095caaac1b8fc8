//! E-mail over SMTP (lettre): plain-text messages to one person, handed to the configured server
//! within a bounded time. A failure is reported as [`SendFailed`], whose text names no server
//! detail and no secret (the SMTP password, a code or a link never reach a log or a page).

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::EmailConfig;

/// A message could not be handed to the SMTP server (unreachable, too slow, refused it, or the
/// address was refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendFailed;

impl fmt::Display for SendFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the e-mail could not be sent (the mail server could not be reached or did not accept it)")
    }
}

/// Checks settings at start: the URL is one lettre reads, `from` is an address and
/// `dashboard_url` an http(s) URL. The error never repeats the URL (it may hold a password).
pub fn check(config: &EmailConfig) -> Result<(), &'static str> {
    transport(config).map_err(|()| "email.smtp_url must be smtp://host[:port] or smtps://host[:port] (see DEPLOYMENT.md)")?;
    config.from.parse::<Mailbox>().map_err(|_| "email.from must be an e-mail address, optionally with a name: Name <a@b.example>")?;
    let dashboard = url::Url::parse(&config.dashboard_url).map_err(|_| "email.dashboard_url must be the dashboard's public URL")?;
    if !matches!(dashboard.scheme(), "http" | "https") || dashboard.host_str().is_none() {
        return Err("email.dashboard_url must be the dashboard's public http(s) URL");
    }
    Ok(())
}

/// The dashboard's public address without a trailing `/`, for links in e-mails.
pub(crate) fn dashboard_url(config: &EmailConfig) -> &str {
    config.dashboard_url.trim_end_matches('/')
}

fn transport(config: &EmailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, ()> {
    let mut url = url::Url::parse(&config.smtp_url).map_err(|_| ())?;
    if let Some(password) = &config.password {
        url.set_password(Some(password))?;
    }
    let hello =
        url::Url::parse(&config.dashboard_url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "localhost".into());
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str()).map_err(|_| ())?;
    Ok(builder.hello_name(ClientId::Domain(hello)).timeout(Some(config.timeout)).build())
}

/// Sends a plain-text message to `to`, giving up after the configured timeout.
pub(crate) async fn send(config: &EmailConfig, to: &str, subject: &str, body: String) -> Result<(), SendFailed> {
    let message = Message::builder()
        .from(config.from.parse().map_err(|_| SendFailed)?)
        .to(to.parse().map_err(|_| SendFailed)?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|_| SendFailed)?;
    let transport = transport(config).map_err(|()| SendFailed)?;
    // lettre's timeout is per socket operation; this one bounds the whole exchange.
    let whole = config.timeout.saturating_mul(2).max(Duration::from_secs(1));
    match tokio::time::timeout(whole, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => {
            // lettre's errors carry the server's reply and the I/O error, never the credentials.
            tracing::warn!(error = %error, "an e-mail was not accepted by the SMTP server");
            Err(SendFailed)
        }
        Err(_) => {
            tracing::warn!(timeout_ms = whole.as_millis(), "the SMTP server did not take an e-mail in time");
            Err(SendFailed)
        }
    }
}

impl crate::Service {
    /// E-mails an invitation link just made by `member` to `to` (checked as an address first:
    /// [`crate::ServiceError::InvalidRequest`] if it is not one). The address is not stored:
    /// the invitation is the link, whoever opens it. `Ok(Err(SendFailed))` if the mail server
    /// did not take the message within the timeout; the link still works and can be passed on.
    pub async fn email_invite(
        &self,
        member: &super::OrgMember,
        created: &super::team::CreatedInvite,
        to: &str,
    ) -> crate::ServiceResult<Result<(), SendFailed>> {
        let config = self.config.email.as_ref().ok_or(crate::ServiceError::NotFound { what: "e-mail" })?;
        let to = crate::bootstrap::normalize_email(to)?;
        let days = self.config.accounts.invite_lifetime.as_secs().div_ceil(86_400);
        let body = format!(
            "{} invites you to join the organization \"{}\" on oakallow as {}.\r\n\r\n\
             Open this link to accept (it works once, for {days} days):\r\n\r\n{}/invites/{}\r\n\r\n\
             If you do not know {0}, ignore this message.\r\n",
            member.account.name,
            member.org.name,
            created.invite.role.as_str(),
            dashboard_url(config),
            created.secret.expose(),
        );
        Ok(send(config, &to, &format!("Join {} on oakallow", member.org.name), body).await)
    }
}
