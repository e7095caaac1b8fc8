//! A real SMTP server on loopback for tests: Python's `aiosmtpd`, on a port of `127.0.0.1` the
//! operating system picks. Each message it receives is parsed with Python's MIME parser
//! (`email.message_from_bytes`, decoding any transfer encoding) and written as one JSON file; a
//! test waits for messages with [`SmtpServer::wait_for`], on the event itself: the server prints
//! the number of messages so far after writing each one, a thread reads those lines into a
//! channel, and the wait ends when the count is reached (or fails at a deadline). The server is
//! killed when the value is dropped, and exits by itself if the test process dies (its stdin
//! closes).
//!
//! Tests that use it are `#[cfg_attr(not(python_aiosmtpd), ignore = "...")]`.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oakallow_service::config::EmailConfig;
use serde_json::Value;
use tokio::sync::watch;

/// Why a test needing the server is skipped.
pub const NO_AIOSMTPD: &str = "needs Python's aiosmtpd: pip install aiosmtpd";

/// The address links in e-mails point at in tests (the dashboard's configured public address).
pub const DASHBOARD_URL: &str = "https://oakallow.test";

/// The server: binds port 0, prints the port, writes each message to `<dir>/<n>.json` and then
/// prints `<n>`.
const SCRIPT: &str = r#"
import asyncio, email, json, os, sys
from email import policy
from aiosmtpd.smtp import SMTP

out = sys.argv[1]

class Handler:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.count += 1
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "content_type": message.get_content_type(),
            "transfer_encoding": str(message.get("Content-Transfer-Encoding", "")),
            "body": body.get_content() if body is not None else None,
            "seven_bit": all(b < 128 for b in envelope.original_content),
        }
        path = os.path.join(out, "%04d.json" % Handler.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        print(Handler.count, flush=True)
        return "250 OK"

async def main():
    loop = asyncio.get_running_loop()
    handler = Handler()
    server = await loop.create_server(lambda: SMTP(handler, hostname="smtp.test"), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"#;

/// One message as received and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The envelope's recipients.
    pub rcpt_tos: Vec<String>,
    /// The `From` header.
    pub from: String,
    /// The `Subject` header.
    pub subject: String,
    /// The MIME type (`text/plain`).
    pub content_type: String,
    /// `Content-Transfer-Encoding` as sent (`7bit`, or `quoted-printable` for long lines).
    pub transfer_encoding: String,
    /// Whether the message as sent was 7-bit ASCII throughout (safe for any SMTP server).
    pub seven_bit: bool,
    /// The plain-text body, decoded.
    pub body: String,
}

impl Mail {
    /// The first line of the body starting with `prefix` (a link, say), trimmed.
    pub fn line_starting(&self, prefix: &str) -> Option<String> {
        self.body.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(str::to_owned)
    }
}

/// A running server.
pub struct SmtpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
    /// How many messages have been written, as the server announced.
    arrived: watch::Receiver<usize>,
}

impl SmtpServer {
    /// Starts the server and waits until it listens.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the SMTP server did not start ({NO_AIOSMTPD}): {line:?}"));
        let (announce, arrived) = watch::channel(0);
        // Ends when the server exits (its stdout closes).
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(count) = line.trim().parse() {
                    let _ = announce.send(count);
                }
            }
        });
        Self { port, dir, child, arrived }
    }

    /// Settings that send to this server (plain SMTP on loopback) with links to [`DASHBOARD_URL`].
    pub fn email_config(&self) -> EmailConfig {
        EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{}", self.port),
            password: None,
            from: "oakallow <oakallow@test.example>".into(),
            dashboard_url: DASHBOARD_URL.into(),
            code_lifetime: Duration::from_secs(600),
            code_attempts: 3,
            timeout: Duration::from_secs(5),
        }
    }

    /// Every message received so far, in order.
    pub fn received(&self) -> Vec<Mail> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names.iter().map(|n| parse(&std::fs::read_to_string(self.dir.path().join(n)).unwrap())).collect()
    }

    /// Waits (up to 10 s) until the server has announced at least `count` messages; answers
    /// them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let mut arrived = self.arrived.clone();
        let waited = tokio::time::timeout(Duration::from_secs(10), arrived.wait_for(|n| *n >= count)).await;
        assert!(matches!(waited, Ok(Ok(_))), "{} messages arrived, not {count}", self.received().len());
        self.received()
    }
}

fn parse(text: &str) -> Mail {
    let value: Value = serde_json::from_str(text).unwrap();
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    Mail {
        rcpt_tos: value["rcpt_tos"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        from: text("from"),
        subject: text("subject"),
        content_type: text("content_type"),
        transfer_encoding: text("transfer_encoding"),
        seven_bit: value["seven_bit"].as_bool().unwrap(),
        body: text("body"),
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
