//! A small WebDriver client for driving the real app window through tauri-driver
//! (which speaks WebDriver and starts WebKitWebDriver and the app).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::bins::{free_port, wait_for};
use crate::desktop::Desktop;

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    base: String,
    session: String,
    child: Child,
}

impl Driver {
    /// Starts tauri-driver in `desktop` and opens a session running `app args…`.
    ///
    /// The ports are picked free and then handed to tauri-driver, so a parallel test
    /// can take one in between; a session that fails that way is tried again on new
    /// ports (at most three times, each failure kept for the panic message).
    pub fn start(desktop: &Desktop, app: &Path, args: &[&str]) -> Driver {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Driver::try_start(desktop, app, args) {
                Ok(d) => return d,
                Err(e) => {
                    // Said even when a later try works: a flaky app must show up.
                    eprintln!("WebDriver session attempt failed: {e}");
                    failures.push(e)
                }
            }
        }
        panic!("WebDriver session failed: {}", failures.join("; then "));
    }

    fn try_start(desktop: &Desktop, app: &Path, args: &[&str]) -> Result<Driver, String> {
        let port = free_port();
        let native = free_port();
        let log = std::fs::File::create(desktop.dir().join(format!("tauri-driver-{port}.log")))
            .expect("log file");
        let driver = which("tauri-driver");
        let child = desktop
            .command(&driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (make test installs it)",
                    driver.display()
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        // No browserName: tauri-driver matches on tauri:options.
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "tauri:options": {"application": app.display().to_string(), "args": args}
                }
            }
        });
        // From here on, dropping `d` stops this tauri-driver.
        let mut d = Driver {
            base,
            session: String::new(),
            child,
        };
        wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .ok_or_else(|| format!("tauri-driver did not listen on {port} within 20 s"))?;
        let v = d
            .request("POST", "/session", Some(caps))
            .map_err(|e| format!("port {port}: {e}"))?;
        d.session = v["sessionId"]
            .as_str()
            .or_else(|| v["value"]["sessionId"].as_str())
            .ok_or_else(|| format!("port {port}: no session id in {v}"))?
            .to_string();
        Ok(d)
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let resp = match method {
            "GET" => agent.get(&url).call(),
            "DELETE" => agent.delete(&url).call(),
            _ => agent.post(&url).send_json(body.unwrap_or(json!({}))),
        };
        let mut resp = resp.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let v: Value = resp.body_mut().read_json().map_err(|e| e.to_string())?;
        if status >= 400 {
            return Err(format!("{status}: {}", v["value"]));
        }
        Ok(v.get("value").cloned().unwrap_or(v))
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{}", self.session, rest)
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        let v = self
            .request(
                "POST",
                &self.s("/element"),
                Some(json!({"using": "css selector", "value": css})),
            )
            .ok()?;
        v[ELEMENT_KEY].as_str().map(String::from)
    }

    pub fn find_all(&self, css: &str) -> Vec<String> {
        match self.request(
            "POST",
            &self.s("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        ) {
            Ok(Value::Array(a)) => a
                .iter()
                .filter_map(|e| e[ELEMENT_KEY].as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn text(&self, element: &str) -> Option<String> {
        self.request("GET", &self.s(&format!("/element/{element}/text")), None)
            .ok()?
            .as_str()
            .map(String::from)
    }

    pub fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.request(
            "GET",
            &self.s(&format!("/element/{element}/attribute/{name}")),
            None,
        )
        .ok()?
        .as_str()
        .map(String::from)
    }

    pub fn click(&self, element: &str) -> Result<(), String> {
        self.request(
            "POST",
            &self.s(&format!("/element/{element}/click")),
            Some(json!({})),
        )
        .map(|_| ())
    }

    /// Text of the first element matching `css`, waiting until it exists and `accept`
    /// returns true for it.
    pub fn wait_text(
        &self,
        css: &str,
        timeout: Duration,
        accept: impl Fn(&str) -> bool,
    ) -> Option<String> {
        wait_for(timeout, || {
            let t = self.text(&self.find(css)?)?;
            accept(&t).then_some(t)
        })
    }

    /// Types `text` into an element it focuses first (a space toggles a checkbox and
    /// presses a button). Unlike a click it aims at no point of the page, so content
    /// that grows above the element while it is pressed (a new alert row) cannot make
    /// it miss.
    pub fn press(&self, element: &str, text: &str) -> Result<(), String> {
        self.request(
            "POST",
            &self.s(&format!("/element/{element}/value")),
            Some(
                json!({"text": text, "value": text.chars().map(String::from).collect::<Vec<_>>()}),
            ),
        )
        .map(|_| ())
    }

    /// Replaces the value of an input as a user would (clear, then type).
    pub fn set_value(&self, element: &str, text: &str) -> Result<(), String> {
        self.request(
            "POST",
            &self.s(&format!("/element/{element}/clear")),
            Some(json!({})),
        )?;
        self.press(element, text)
    }

    /// The current value property of an input.
    pub fn value(&self, element: &str) -> Option<String> {
        self.request(
            "GET",
            &self.s(&format!("/element/{element}/property/value")),
            None,
        )
        .ok()?
        .as_str()
        .map(String::from)
    }

    /// A DOM property of an element (`checked`, `disabled`), as JSON.
    pub fn property(&self, element: &str, name: &str) -> Option<Value> {
        self.request(
            "GET",
            &self.s(&format!("/element/{element}/property/{name}")),
            None,
        )
        .ok()
    }

    pub fn execute(&self, script: &str) -> Result<Value, String> {
        self.request(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Runs an asynchronous script; it ends by calling its last argument with a value.
    pub fn execute_async(&self, script: &str) -> Result<Value, String> {
        self.request(
            "POST",
            &self.s("/execute/async"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Saves a PNG screenshot of the window.
    pub fn screenshot(&self, to: &Path) -> Result<(), String> {
        let v = self.request("GET", &self.s("/screenshot"), None)?;
        let b64 = v.as_str().ok_or("no screenshot data")?;
        let bytes = decode_base64(b64).ok_or("bad base64")?;
        std::fs::write(to, bytes).map_err(|e| e.to_string())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &self.s(""), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds a program on PATH or in ~/.cargo/bin (where `cargo install` puts tauri-driver).
pub fn which(name: &str) -> std::path::PathBuf {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        dirs.push(std::path::PathBuf::from(h).join("bin"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        dirs.push(std::path::PathBuf::from(h).join(".cargo/bin"));
    }
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| std::path::PathBuf::from(name))
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        } as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}
