//! Services run as processes of their own — the built binaries, the way an operator runs them — so a
//! test can stop them with a signal (SIGKILL or SIGTERM) and start them again with the same settings.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

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

pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
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
