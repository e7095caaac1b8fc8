//! Running the real `oakallow` binary in tests: one-shot commands and `serve` processes that
//! report their address, stop on SIGTERM, and can be killed with SIGKILL.

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]
// Each test binary uses a different part of this module, and `expect` would fail in those that
// use all of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_oakallow");

/// Runs `oakallow <args>` to completion.
pub fn oakallow(args: &[&str]) -> Output {
    oakallow_with_env(args, &[])
}

/// Runs `oakallow <args>` to completion with extra environment.
pub fn oakallow_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN).args(args).env_remove("RUST_LOG").envs(env.iter().copied()).output().unwrap()
}

/// Runs `oakallow <args>` to completion with `input` on its standard input.
pub fn oakallow_with_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `oakallow admin accounts <args…>` on `database` to completion.
pub fn admin_accounts(args: &[&str], database: &[&str]) -> Output {
    let mut all = vec!["admin", "accounts"];
    all.extend_from_slice(args);
    all.extend_from_slice(database);
    oakallow(&all)
}

/// The standard output of a command that had to succeed (its standard error in the failure).
pub fn stdout_of(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `oakallow admin bootstrap … --json` on `database` and answers its JSON.
pub fn bootstrap(database: &[&str], email: &str) -> Value {
    let mut args = vec!["admin", "bootstrap", "--email", email, "--org", "demo", "--json"];
    args.extend_from_slice(database);
    let output = oakallow(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A running `oakallow serve` and its address.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Every line the server wrote to stderr so far.
    log: Arc<Mutex<Vec<String>>>,
    drain: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts `oakallow serve` on port 0 with `database` flags and extra environment.
    pub fn start(database: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.args(["serve", "--listen", "127.0.0.1:0"]).args(database);
        Self::spawn(command, env)
    }

    /// Like [`Server::start`], with the process limited to `open_files` file descriptors (soft
    /// and hard limit, so the server cannot raise it).
    pub fn start_with_open_files(database: &[&str], env: &[(&str, &str)], open_files: u32) -> Self {
        let mut command = Command::new("sh");
        let script = format!("ulimit -n {open_files} && exec \"$0\" \"$@\"");
        command.args(["-c", &script, BIN, "serve", "--listen", "127.0.0.1:0"]).args(database);
        Self::spawn(command, env)
    }

    fn spawn(mut command: Command, env: &[(&str, &str)]) -> Self {
        command.env("OAKALLOW_LOG__FORMAT", "json").env_remove("RUST_LOG").stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let address = loop {
            let line = lines.next().expect("the server exits before listening").unwrap();
            log.lock().unwrap().push(line.clone());
            let Ok(event) = serde_json::from_str::<Value>(&line) else { continue };
            if let Some(address) = event["fields"]["address"].as_str() {
                break address.to_owned();
            }
        };
        // Keep reading the log so the server never blocks on a full pipe.
        let kept = Arc::clone(&log);
        let drain = std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| kept.lock().unwrap().push(line)));
        Self { child, base: format!("http://{address}"), log, drain: Some(drain) }
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate();
        self.wait_for_exit()
    }

    /// Sends SIGTERM, waits for the exit, and answers the exit status and every line the server
    /// wrote to stderr in its whole life.
    pub fn stop_with_log(mut self) -> (std::process::ExitStatus, Vec<String>) {
        self.terminate();
        let status = self.wait_for_exit();
        if let Some(drain) = self.drain.take() {
            drain.join().unwrap();
        }
        (status, std::mem::take(&mut *self.log.lock().unwrap()))
    }

    /// Waits (at most 10 s) for the exit status.
    fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM without waiting.
    pub fn terminate(&mut self) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
    }

    /// Kills the process at once (SIGKILL), as a crash.
    pub fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
