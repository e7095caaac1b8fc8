//! The chromedriver process: started on a port it picks itself (`--port=0`, read back from its
//! announcement, so no other process can take the port between a probe and the bind), awaited
//! until `/status` says it is ready, and killed with every browser it started when dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::sync::oneshot;

/// The WebDriver server the harness runs.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to announce its port and then to answer ready.
const STARTUP: Duration = Duration::from_secs(20);

/// A running chromedriver, in a process group of its own that also holds the browsers it starts.
pub(super) struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts chromedriver and answers once it accepts new sessions.
    pub(super) async fn start() -> Self {
        let mut command = Command::new(CHROMEDRIVER);
        command.arg("--port=0").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        let stdout = child.stdout.take().expect("chromedriver's stdout is piped");
        let (announced, port) = oneshot::channel();
        std::thread::spawn(move || read_port(stdout, announced));
        // Owned from here on, so that a failed start still kills the process.
        let mut driver = Self { child, port: 0 };
        driver.port = match tokio::time::timeout(STARTUP, port).await {
            Ok(Ok(port)) => port,
            Ok(Err(_)) => panic!("{CHROMEDRIVER} exited before announcing its port"),
            Err(_) => panic!("{CHROMEDRIVER} announced no port within {STARTUP:?}"),
        };
        driver.wait_ready().await;
        driver
    }

    /// `http://127.0.0.1:<port>`.
    pub(super) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Checks that the driver, which announced its port once listening, answers `/status` with
    /// `ready: true`.
    async fn wait_ready(&self) {
        let status = format!("{}/status", self.url());
        let answer = tokio::time::timeout(STARTUP, async { reqwest::get(&status).await?.json::<serde_json::Value>().await }).await;
        match answer {
            Ok(Ok(body)) => assert_eq!(body["value"]["ready"], true, "{CHROMEDRIVER} is not ready: {body}"),
            Ok(Err(e)) => panic!("{CHROMEDRIVER} does not answer {status}: {e}"),
            Err(_) => panic!("{CHROMEDRIVER} did not answer {status} within {STARTUP:?}"),
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // Killing chromedriver alone would leave its Chromium running (orphans keep the group).
        #[cfg(unix)]
        let _ = rustix::process::kill_process_group(rustix::process::Pid::from_child(&self.child), rustix::process::Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads chromedriver's output, sends the port of its "started successfully on port N." line,
/// then drains the rest so that chromedriver never blocks on a full pipe.
fn read_port(stdout: impl Read, announced: oneshot::Sender<u16>) {
    let mut announced = Some(announced);
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let port = line.split_once("started successfully on port ").and_then(|(_, rest)| rest.trim_end_matches('.').parse().ok());
        if let Some(port) = port
            && let Some(sender) = announced.take()
        {
            let _ = sender.send(port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_announced_port_among_other_lines() {
        let output = "Starting ChromeDriver 156.0 on port 0\nOnly local connections are allowed.\n\
                      ChromeDriver was started successfully on port 33229.\nlater noise\n";
        let (sender, mut receiver) = oneshot::channel();
        read_port(output.as_bytes(), sender);
        assert_eq!(receiver.try_recv().ok(), Some(33229));
    }

    #[test]
    fn announces_nothing_when_the_line_never_comes() {
        let (sender, mut receiver) = oneshot::channel();
        read_port("Starting ChromeDriver on port 0\n".as_bytes(), sender);
        assert!(receiver.try_recv().is_err());
    }
}
