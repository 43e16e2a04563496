//! A real SMTP server for tests: Debian's `python3-aiosmtpd` on a free
//! loopback port, storing what it receives in a Maildir; killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    child: Child,
    maildir: PathBuf,
    pub port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first Python that has aiosmtpd (the pyenv shim may shadow Debian's).
pub fn aiosmtpd_python() -> Option<String> {
    let candidates =
        std::env::var("WALKOUT_TEST_PYTHON").into_iter().chain(["python3".into(), "/usr/bin/python3".into()]);
    candidates.into_iter().find(|py| {
        Command::new(py)
            .args(["-m", "aiosmtpd", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpServer {
    /// Starts aiosmtpd with its Maildir handler on `port` and waits until it accepts connections.
    pub async fn start(python: &str, port: u16, dir: &Path) -> Self {
        let maildir = dir.join("maildir");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd");
        let server = Self { child, maildir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start listening on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// The messages received so far, as stored (headers with the envelope, then the message).
    pub fn received(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return vec![] };
        entries.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect()
    }
}

/// Skips (returns None) when aiosmtpd is not installed; `make` installs it.
pub fn python_or_skip(test: &str) -> Option<String> {
    let python = aiosmtpd_python();
    if python.is_none() {
        println!("SKIPPED: {test}: `python3 -m aiosmtpd` is missing (apt-get install python3-aiosmtpd)");
    }
    python
}
