//! A target that hangs, resets, lies about lengths, streams without end, or answers garbage:
//! each is reported as a divergence of that request, never a hang, a panic or unbounded memory;
//! an unreachable target is exit 3 at once. Every server here is on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Output, Stdio};

mod common;
use std::time::{Duration, Instant};

/// Serves every connection with `answer` on its own thread, forever (the test process ends it).
fn misbehaving(answer: fn(TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

/// Reads the request head (enough for these servers: they answer before the body matters).
fn read_head(s: &mut TcpStream) {
    let mut buf = [0u8; 8192];
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.read(&mut buf);
}

/// Runs the binary with a deadline: a harness that hangs fails the test instead of hanging it.
fn batchconf(args: &[&str]) -> Output {
    let mut child = common::batchconf().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("batchconf did not finish: {}", String::from_utf8_lossy(&out.stdout));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_against(port: u16) -> (i32, String, String) {
    let target = format!("http://127.0.0.1:{port}");
    let out = batchconf(&[
        "run",
        "--target",
        &target,
        "--project-id",
        "p",
        "--token",
        "tok-secret-1234",
        "--timeout-ms",
        "1000",
        "--seed",
        "1",
        "example::published-example-corrected",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stdout.contains("tok-secret-1234") && !stderr.contains("tok-secret-1234"), "the token leaked");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn assert_diverges(port: u16, check: &str) {
    let (code, stdout, stderr) = run_against(port);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("{check} at")), "expected `{check}` in:\n{stdout}");
}

/// A target that never says anything cannot be tested: exit 3, one sentence, not a pass.
fn assert_untestable(port: u16, why: &str) {
    let (code, stdout, stderr) = run_against(port);
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("the target cannot be tested") && stderr.contains(why), "{stderr}");
}

#[test]
fn a_hanging_target_cannot_be_tested() {
    let port = misbehaving(|mut s| {
        read_head(&mut s);
        std::thread::sleep(Duration::from_secs(300));
    });
    assert_untestable(port, "no answer");
}

#[test]
fn a_target_that_resets_every_connection_cannot_be_tested() {
    let port = misbehaving(|mut s| {
        read_head(&mut s);
        // Closing with unread data makes the kernel send a reset.
        drop(s);
    });
    assert_untestable(port, "no answer");
}

#[test]
fn an_endless_body_is_cut_off() {
    let port = misbehaving(|mut s| {
        read_head(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("{:x}\r\n{}\r\n", 65536, "x".repeat(65536));
        while s.write_all(chunk.as_bytes()).is_ok() {}
    });
    assert_diverges(port, "connection");
}

#[test]
fn a_wrong_content_length_is_a_divergence() {
    let port = misbehaving(|mut s| {
        read_head(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: r1\r\nContent-Length: 1000\r\n\r\n{\"results\":[]}");
        let _ = s.flush();
        // Closing before the promised bytes arrive.
    });
    assert_diverges(port, "connection");
}

#[test]
fn an_answer_that_is_not_http_is_a_divergence() {
    let port = misbehaving(|mut s| {
        read_head(&mut s);
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
    });
    assert_diverges(port, "connection");
}

#[test]
fn invalid_utf8_is_a_body_that_is_not_json() {
    let port = misbehaving(|mut s| {
        read_head(&mut s);
        let body: &[u8] = b"{\"results\": [\xff\xfe]}";
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: r-utf8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body);
    });
    assert_diverges(port, "response_schema");
}

#[test]
fn an_unreachable_target_is_exit_3_at_once() {
    // Nothing listens on a port we bound and released.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, stderr) = run_against(port);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("unreachable") && stderr.contains("the target cannot be tested"), "{stderr}");
}

#[test]
fn a_target_that_throttles_everything_cannot_be_tested() {
    let port = misbehaving(|mut s| {
        read_head(&mut s);
        let body = r#"{"error_code":"APIGW.0308","error_msg":"too many requests"}"#;
        let head = format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
    });
    let (code, stdout, stderr) = run_against(port);
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("throttled") && stderr.contains("--rate"), "{stderr}");
    assert!(stdout.contains("429 after retries"), "{stdout}");
}

/// Every hostile mode above, against a whole run (every trial, not one example) at
/// `--timeout-ms 2000`: each ends within 20 s, with its verdict (a divergence, or "cannot be
/// tested"). A target whose every answer is broken the same way gives its verdict once the first
/// answers of a few trials say so, instead of breaking thousands of requests one by one.
#[test]
fn every_hostile_mode_ends_a_whole_run_within_20_s() {
    fn not_utf8_then_close(mut s: TcpStream) {
        read_head(&mut s);
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: r\r\n\r\n{\"results\": [\xff\xfe]}",
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    type Answer = fn(TcpStream);
    let modes: [(&str, Answer, i32); 6] = [
        ("a body that is not UTF-8, then a close after 0.2 s", not_utf8_then_close, 1),
        (
            "a hang",
            |mut s| {
                read_head(&mut s);
                std::thread::sleep(Duration::from_secs(300));
            },
            3,
        ),
        (
            "a reset",
            |mut s| {
                read_head(&mut s);
                drop(s);
            },
            3,
        ),
        (
            "an endless body",
            |mut s| {
                read_head(&mut s);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                );
                let chunk = format!("{:x}\r\n{}\r\n", 65536, "x".repeat(65536));
                while s.write_all(chunk.as_bytes()).is_ok() {}
            },
            1,
        ),
        (
            "a wrong Content-Length",
            |mut s| {
                read_head(&mut s);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: r1\r\nContent-Length: 1000\r\n\r\n{\"results\":[]}");
            },
            1,
        ),
        (
            "an answer that is not HTTP",
            |mut s| {
                read_head(&mut s);
                let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
            },
            1,
        ),
    ];
    for (what, answer, code) in modes {
        let port = misbehaving(answer);
        let target = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let o =
            batchconf(&["run", "--target", &target, "--project-id", "p", "--token", "t0ken", "--timeout-ms", "2000"]);
        let took = started.elapsed();
        let out = common::text(&o);
        assert_eq!(o.status.code(), Some(code), "{what}: {out}");
        assert!(took < Duration::from_secs(20), "{what}: the whole run took {took:?}");
        assert!(!out.contains("panicked"), "{what}: {out}");
    }
}
