//! Running the real `hubble-ingest` binary as a child process: stderr is collected in the background, the child
//! is killed (SIGKILL) and reaped on drop, and signals are sent with `kill(1)`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `Command` for the binary under test.
pub fn hubble_ingest() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hubble-ingest"))
}

/// A running child; killed on drop.
pub struct Proc {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    exited: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` with stderr captured (stdout discarded unless the caller set it, stdin null unless set).
    pub fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hubble-ingest");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if let Ok(mut l) = sink.lock() {
                            // Keep the log bounded: a long outage logs every retry.
                            if l.len() > (4 << 20) {
                                let cut = l.len() - (2 << 20);
                                let cut =
                                    (cut..l.len()).find(|&i| l.is_char_boundary(i)).unwrap_or(0);
                                l.drain(..cut);
                            }
                            l.push_str(&line);
                        }
                    }
                }
            }
        });
        Proc {
            child,
            log,
            reader: Some(reader),
            exited: None,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The stdin pipe, if the command was spawned with `Stdio::piped()` stdin.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.exited = Some(st);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            if let Ok(st) = self.child.wait() {
                self.exited = Some(st);
            }
        }
    }

    /// Sends `signal` (`TERM`, `INT`, `HUP`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {} failed", self.pid());
    }

    /// Waits for the child to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return self.exited;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the child wrote to stderr so far (the last few MiB).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The last `n` lines of the log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let l = self.log();
        let lines: Vec<&str> = l.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The address the metrics server bound (from the `serving /metrics` log line), waiting up to `timeout`.
    /// Works with `--log-format json` (`"bound":"127.0.0.1:N"`) and text (`bound=127.0.0.1:N`).
    pub fn metrics_addr(&mut self, timeout: Duration) -> SocketAddr {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            for line in log.lines().filter(|l| l.contains("serving /metrics")) {
                for key in ["\"bound\":\"", "bound="] {
                    if let Some(i) = line.find(key) {
                        let rest = &line[i + key.len()..];
                        let end = rest
                            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                            .unwrap_or(rest.len());
                        if let Ok(a) = rest[..end].parse() {
                            return a;
                        }
                    }
                }
            }
            assert!(
                self.is_running(),
                "daemon exited before serving metrics: {:?}\n{}",
                self.exited,
                self.log_tail(30)
            );
            assert!(
                Instant::now() < deadline,
                "no `serving /metrics` line in the log:\n{}",
                self.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log contains `needle` (true), the child exits or `timeout` passes (false).
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if !self.is_running() || Instant::now() >= deadline {
                return self.log().contains(needle);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory from `/proc/<pid>/status` (VmRSS), in KiB.
    pub fn vm_rss_kib(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
