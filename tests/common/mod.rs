//! What the tests that run the `batchconf` binary share: a command with a clean environment (a
//! user's exported credentials or target must not change what a test tests), a `batchconf serve`
//! process on 127.0.0.1, and the text a run printed.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// `batchconf` with none of the variables the README tells users to export: tests are hermetic.
pub fn batchconf() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_batchconf"));
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("BATCHCONF_") || n.starts_with("HUAWEICLOUD_SDK_") {
            c.env_remove(&name);
        }
    }
    c
}

/// stdout then stderr, as one text.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A `batchconf serve` process accepting `token`, stopped when dropped.
pub struct Serve {
    child: Child,
    pub url: String,
}

impl Serve {
    pub fn start(token: &str, extra: &[&str]) -> Serve {
        let args = [&["--token", token, "--fixtures", "f1,f2"][..], extra].concat();
        let (child, url) = serve(&args, Stdio::null());
        Serve { child, url }
    }
}

/// `batchconf serve --port 0 ARGS` with stderr going to `stderr`, once it listens: the process
/// and its URL (the first line on stdout).
pub fn serve(args: &[&str], stderr: Stdio) -> (Child, String) {
    let mut child =
        batchconf().args(["serve", "--port", "0"]).args(args).stdout(Stdio::piped()).stderr(stderr).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    (child, url)
}

impl Serve {
    /// One HTTP/1.0 exchange with the server, authenticated with `token`: the status and the
    /// JSON body.
    pub fn http(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://").to_string();
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        (status, serde_json::from_str(body).unwrap_or_else(|_| panic!("{answer}")))
    }

    /// The whole lookup of each asset (project `p`).
    pub fn lookups(&self, token: &str, ids: &[&str]) -> Vec<serde_json::Value> {
        ids.iter()
            .map(|id| {
                let (status, body) = self.http(token, "GET", &format!("/v1/p/digital-assets/{id}"), None);
                assert_eq!(status, 200, "{id}: {body}");
                body
            })
            .collect()
    }

    /// One batch (project `p`), which must be answered 200.
    pub fn batch(&self, token: &str, action: &str, ids: &[&str]) {
        let body = serde_json::json!({"action": action, "asset_ids": ids});
        let (status, answer) = self.http(token, "POST", "/v1/p/digital-assets/batch-action", Some(body));
        assert_eq!(status, 200, "{answer}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
