//! The `walkout` binary as a user runs it: help, bad configuration, an
//! unreachable database, `migrate`, `demo`, and `serve` shutting down on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn walkout() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_walkout"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("WALKOUT_")) {
        c.env_remove(k);
    }
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn help_lists_the_commands() {
    let (ok, stdout, _) = run(walkout().arg("--help"));
    assert!(ok);
    for cmd in ["serve", "demo", "migrate"] {
        assert!(stdout.contains(cmd), "{cmd} missing from --help:\n{stdout}");
    }
}

#[test]
fn malformed_config_names_the_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[database]\nconnect_timeout_s = \"soon\"\n").unwrap();
    let (ok, _, stderr) = run(walkout().arg("--config").arg(&path).arg("migrate"));
    assert!(!ok);
    assert!(stderr.contains("connect_timeout_s") && stderr.contains("line 2"), "{stderr}");
}

#[test]
fn unreachable_postgres_fails_clearly_within_five_seconds() {
    let started = Instant::now();
    let (ok, _, stderr) = run(walkout()
        .env("WALKOUT_DATABASE_URL", "postgres://walkout:secret@127.0.0.1:1/none")
        .env("WALKOUT_DATABASE_CONNECT_TIMEOUT_S", "3")
        .arg("migrate"));
    assert!(!ok);
    assert!(stderr.contains("cannot connect to the database at postgres://walkout@127.0.0.1:1/none"), "{stderr}");
    assert!(!stderr.contains("secret"), "the password must not be printed: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn migrate_applies_then_reports_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db", dir.path().display());
    let (ok, first, stderr) = run(walkout().env("WALKOUT_DATABASE_URL", &url).arg("migrate"));
    assert!(ok, "{stderr}");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["applied"], serde_json::json!([1, 2, 3]));
    let (ok, second, _) = run(walkout().env("WALKOUT_DATABASE_URL", &url).arg("migrate"));
    assert!(ok);
    let second: serde_json::Value = serde_json::from_str(&second).unwrap();
    assert_eq!(second["applied"], serde_json::json!([]));
    assert_eq!(second["schema_version"], 3);
}

#[test]
fn demo_loads_the_demo_store_into_the_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/demo.db", dir.path().display());
    let (ok, stdout, stderr) = run(walkout().env("WALKOUT_DATABASE_URL", &url).arg("demo"));
    assert!(ok, "demo failed: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["database"], "sqlite");
    assert!(report["products"].as_u64().unwrap() >= 200, "{report}");
    assert!(report["plates"].as_u64().unwrap() >= 200, "{report}");
    assert!(report["age_restricted"].as_u64().unwrap() > 0, "{report}");
    assert!(report["onnxruntime"].as_str().unwrap().starts_with("1.3"), "{report}");
}

#[test]
fn serve_answers_and_shuts_down_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mqtt_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = walkout()
        .env("WALKOUT_DATABASE_URL", format!("sqlite://{}/s.db", dir.path().display()))
        .env("WALKOUT_HTTP_LISTEN", "127.0.0.1:0")
        .env("WALKOUT_MQTT_PORT", mqtt_port.to_string())
        .env("WALKOUT_PAYMENTS_SANDBOX_LEDGER", dir.path().join("sandbox.db"))
        .env("WALKOUT_NOTIFY_OUTBOX_DIR", dir.path().join("outbox"))
        .env("WALKOUT_NOTIFY_VAPID_KEY_FILE", dir.path().join("vapid.pem"))
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("local=").nth(1).map(|a| a.split_whitespace().next().unwrap().to_owned()))
        .expect("serve logs its address");
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut stream, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut stream, &mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("walkout stopped")), "{rest:?}");
}
