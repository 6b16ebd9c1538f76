//! Services run as processes of their own — the built binaries, the way an operator runs them — so a
//! test can stop them with a signal (SIGKILL or SIGTERM) and start them again with the same settings.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `scripts/stack.sh ARGS…` and returns its output.
pub(crate) fn stack(args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(root().join("scripts/stack.sh"))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "stack.sh {args:?} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A port, free now, for a process the test starts (and may restart on the same port), from
/// 24000-27999: below 32768, since the kernel lends 32768-60999 to the local ends of outgoing
/// connections, and a port found free there (port 0's answer) may be taken by one before the process
/// listens on it, or while it is down between a kill and a restart. Below that range only another
/// listener can take it. (The scripts' ports, scripts/lib/ports.sh, stay out of this range.) Each test
/// process starts at its own offset, so that concurrent ones rarely try the same ports.
pub(crate) fn free_port() -> u16 {
    const FIRST: u32 = 24_000;
    const COUNT: u32 = 4_000;
    static TRIED: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % COUNT;
    for _ in 0..COUNT {
        let offset = (start + TRIED.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let port = u16::try_from(FIRST + offset).expect("below 28000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 24000-27999");
}

/// A service binary run as a process of its own, which the test can kill with SIGKILL and restart
/// with the same settings (same ports, same database).
pub(crate) struct Process {
    name: &'static str,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    pub(crate) fn start(
        name: &'static str,
        env: Vec<(String, String)>,
        logs: &std::path::Path,
    ) -> Self {
        let mut process = Self {
            name,
            env,
            log: logs.join(format!("{name}.log")),
            child: None,
        };
        process.restart();
        process
    }

    pub(crate) fn restart(&mut self) {
        let bin = std::env::var_os("ROUTE256_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target/debug"))
            .join(self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("a log file");
        let child = Command::new(&bin)
            // The tests' identity provider, unless the test names another.
            .env("AUTH_JWKS", super::auth::jwks_file())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts ({e}): was `just stack-up` run?", bin.display()));
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no flush, whatever was in flight is lost by the process.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL sent");
            child.wait().expect("reaped");
        }
    }
}

impl Process {
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the running process.
    pub(crate) fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the process runs");
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIG{signal} sent to {}", self.name);
    }

    /// SIGTERM, as an orchestrator stops a service; waits for the process to exit and returns how
    /// it did.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the process runs");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent to {}", self.name);
        child.wait().expect("reaped")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
