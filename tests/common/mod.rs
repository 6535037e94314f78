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

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
