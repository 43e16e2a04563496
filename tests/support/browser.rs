//! A real headless Chromium, driven over the DevTools protocol (CDP): the
//! browser is started with `--remote-debugging-port=0`, its WebSocket
//! address read from `DevToolsActivePort` in a throw-away profile, and
//! commands and events travel as JSON over one WebSocket (tokio-tungstenite).
//! Pages are targets attached in flat mode (`sessionId` on each message).
//! CDP rather than WebDriver, because pushing to a service worker needs its
//! registration id, which only arrives as an event.
//!
//! Chromium is `WALKOUT_CHROMIUM` or `/usr/bin/chromium` (`make setup`
//! installs it); without it, [`Browser::launch_or_skip`] says so and the
//! browser tests skip.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long one command may take (a 2-core machine under load is slow).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Replies waiting for their command, and every event received.
#[derive(Default)]
struct Inbox {
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    events: Mutex<Vec<Value>>,
    arrived: Notify,
}

pub struct Browser {
    child: std::process::Child,
    outgoing: mpsc::UnboundedSender<Message>,
    inbox: Arc<Inbox>,
    next_id: AtomicU64,
    profile: tempfile::TempDir,
}

/// The Chromium to run, if there is one: `WALKOUT_CHROMIUM` when set (a
/// path that does not exist skips the browser tests), else Debian's.
pub fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("WALKOUT_CHROMIUM") {
        Some(path) => vec![path.into()],
        None => ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].map(PathBuf::from).into(),
    };
    candidates.into_iter().find(|p| p.is_file())
}

impl Browser {
    /// A running browser, or `None` (printed) where Chromium is not installed.
    pub async fn launch_or_skip(test: &str) -> Option<Browser> {
        let Some(path) = chromium() else {
            println!("SKIPPED {test}: Chromium not found (run `make setup`, or set WALKOUT_CHROMIUM)");
            return None;
        };
        Some(Browser::launch(&path).await.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    pub async fn launch(path: &std::path::Path) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = std::fs::File::create(profile.path().join("chromium.log")).map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new(path)
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            .args(["--no-first-run", "--no-default-browser-check", "--disable-background-networking"])
            .args(["--disable-component-update", "--disable-sync", "--remote-debugging-port=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--window-size=412,915", "about:blank"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start: {e}"))?;
        let url = match devtools_url(&mut child, &profile).await {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.map_err(|e| format!("{url}: {e}"))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = queue.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let inbox = Arc::new(Inbox::default());
        let reader = inbox.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                match value["id"].as_u64() {
                    Some(id) => {
                        if let Some(reply) = reader.pending.lock().unwrap().remove(&id) {
                            let _ = reply.send(value);
                        }
                    }
                    None => {
                        reader.events.lock().unwrap().push(value);
                        reader.arrived.notify_waiters();
                    }
                }
            }
        });
        Ok(Browser { child, outgoing, inbox, next_id: AtomicU64::new(1), profile })
    }

    /// Sends a command (to a page when `session` is given) and returns its result.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.inbox.pending.lock().unwrap().insert(id, tx);
        self.outgoing.send(Message::text(message.to_string())).map_err(|_| format!("{method}: browser gone"))?;
        let reply = tokio::time::timeout(COMMAND_TIMEOUT, rx)
            .await
            .map_err(|_| format!("{method}: no reply in {COMMAND_TIMEOUT:?}"))?
            .map_err(|_| format!("{method}: browser gone"))?;
        match reply.get("error") {
            Some(error) => Err(format!("{method}: {error}")),
            None => Ok(reply["result"].clone()),
        }
    }

    /// A new tab, attached, with the Page and Runtime domains on.
    pub async fn new_page(&self) -> Result<Page<'_>, String> {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"})).await?;
        self.attach(target).await
    }

    /// A tab in a browser context of its own (its own cookies and storage:
    /// another person's browser), attached like [`Browser::new_page`].
    pub async fn new_isolated_page(&self) -> Result<Page<'_>, String> {
        let context = self.call(None, "Target.createBrowserContext", json!({})).await?;
        let params = json!({"url": "about:blank", "browserContextId": context["browserContextId"]});
        let target = self.call(None, "Target.createTarget", params).await?;
        self.attach(target).await
    }

    async fn attach(&self, target: Value) -> Result<Page<'_>, String> {
        let attached =
            self.call(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true})).await?;
        let session = attached["sessionId"].as_str().ok_or("no sessionId")?.to_owned();
        let page = Page { browser: self, session };
        page.call("Page.enable", json!({})).await?;
        page.call("Runtime.enable", json!({})).await?;
        Ok(page)
    }

    /// Waits for an event `matching`, received at any time so far or within `timeout`.
    pub async fn wait_event(&self, matching: impl Fn(&Value) -> bool, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inbox.arrived.notified();
            if let Some(e) = self.inbox.events.lock().unwrap().iter().find(|e| matching(e)) {
                return Ok(e.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                return Err(format!("no such event in {timeout:?}"));
            }
        }
    }

    /// What the browser printed on stderr so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default()
    }

    /// Console messages and uncaught exceptions of a page, one line each.
    pub fn console(&self, session: &str) -> Vec<String> {
        let events = self.inbox.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e["sessionId"] == session)
            .filter_map(|e| match e["method"].as_str() {
                Some("Runtime.consoleAPICalled") => Some(format!(
                    "console.{}: {}",
                    e["params"]["type"].as_str().unwrap_or("?"),
                    e["params"]["args"].as_array().map_or(String::new(), |a| {
                        let text =
                            |v: &Value| v["value"].as_str().map_or_else(|| v["description"].to_string(), str::to_owned);
                        a.iter().map(text).collect::<Vec<_>>().join(" ")
                    })
                )),
                Some("Runtime.exceptionThrown") => Some(format!("exception: {}", e["params"]["exceptionDetails"])),
                _ => None,
            })
            .collect()
    }
}

/// Reads the DevTools WebSocket address Chromium writes into its profile.
async fn devtools_url(child: &mut std::process::Child, profile: &tempfile::TempDir) -> Result<String, String> {
    let file = profile.path().join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some((port, path)) = text.split_once('\n')
            && !path.trim().is_empty()
        {
            return Ok(format!("ws://127.0.0.1:{}{}", port.trim(), path.trim()));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(profile.path().join("chromium.log")).unwrap_or_default();
            return Err(format!("exited with {status} before opening DevTools:\n{log}"));
        }
        if Instant::now() > deadline {
            return Err("no DevToolsActivePort after 90 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
pub struct Page<'a> {
    pub browser: &'a Browser,
    pub session: String,
}

impl Page<'_> {
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.browser.call(Some(&self.session), method, params).await
    }

    /// A phone-sized viewport (412 x 915 CSS pixels, one device pixel each).
    pub async fn phone_viewport(&self) -> Result<(), String> {
        let metrics = json!({"width": 412, "height": 915, "deviceScaleFactor": 1, "mobile": true});
        self.call("Emulation.setDeviceMetricsOverride", metrics).await.map(drop)
    }

    /// Navigates and waits until the new document has replaced the old one.
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        let _ = self.eval("window.__leaving = true").await;
        let answer = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(e) = answer.get("errorText") {
            return Err(format!("{url}: {e}"));
        }
        let arrived = "!window.__leaving && document.readyState !== 'loading'";
        self.wait_for(url, arrived, COMMAND_TIMEOUT).await.map(drop)
    }

    /// Evaluates JavaScript (awaiting a promise) and returns its JSON value.
    pub async fn eval(&self, expression: &str) -> Result<Value, String> {
        let params =
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true, "userGesture": true});
        let answer = self.call("Runtime.evaluate", params).await?;
        if let Some(details) = answer.get("exceptionDetails") {
            let text = details["exception"]["description"].as_str().map_or_else(|| details.to_string(), str::to_owned);
            return Err(format!("{expression}: {text}"));
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Polls `expression` until it is truthy (errors while a page loads are
    /// retried) and returns its value; fails after `timeout` with the last answer.
    pub async fn wait_for(&self, what: &str, expression: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.eval(expression).await;
            match &last {
                Ok(v) if !(v.is_null() || *v == json!(false) || *v == json!("") || *v == json!(0)) => {
                    return Ok(v.clone());
                }
                _ => {}
            }
            if Instant::now() > deadline {
                let text = self.eval("document.body ? document.body.innerText : ''").await.unwrap_or_default();
                let console = self.browser.console(&self.session).join("\n");
                return Err(format!(
                    "{what}: not after {timeout:?} (last: {last:?})\npage: {text}\nconsole:\n{console}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>, String> {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| e.to_string())
    }
}
