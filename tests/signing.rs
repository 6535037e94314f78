//! AK/SK signing agrees with the official SDK signer on every committed vector, and verification
//! refuses every one-byte change.

use std::time::Duration;

use batchconf::exchange::{Headers, Request};
use batchconf::sign::{sign, sign_request, verify, VerifyError};
use chrono::{DateTime, NaiveDateTime, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sdk-hmac-sha256.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

fn headers(v: &Value) -> Vec<(String, String)> {
    v["headers"].as_object().unwrap().iter().map(|(k, x)| (k.clone(), x.as_str().unwrap().to_string())).collect()
}

fn query(v: &Value) -> Vec<(String, String)> {
    v["query"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
        .collect()
}

fn date(v: &Value) -> DateTime<Utc> {
    let d = v["headers"]["X-Sdk-Date"].as_str().unwrap();
    NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ").unwrap().and_utc()
}

/// The path and query the way a client puts them on the wire.
fn raw(v: &Value) -> (String, Option<String>) {
    const SEG: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    let path =
        s(v, "path").split('/').map(|seg| utf8_percent_encode(seg, SEG).to_string()).collect::<Vec<_>>().join("/");
    let q = query(v);
    let query = (!q.is_empty()).then(|| {
        q.iter()
            .map(|(k, x)| format!("{}={}", utf8_percent_encode(k, SEG), utf8_percent_encode(x, SEG)))
            .collect::<Vec<_>>()
            .join("&")
    });
    (path, query)
}

fn check(
    v: &Value,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<String, VerifyError> {
    let sk = s(v, "sk");
    let ak = s(v, "ak");
    let secret = move |k: &str| (k == ak).then(|| sk.clone());
    verify(method, path, query, headers, body, &secret, date(v), Duration::from_secs(900))
}

fn with_auth(v: &Value) -> Vec<(String, String)> {
    let mut h = headers(v);
    h.push(("Authorization".into(), s(v, "authorization")));
    h
}

#[test]
fn every_vector_signs_like_the_official_signer() {
    let vs = vectors();
    assert_eq!(vs.len(), 7);
    for v in &vs {
        let sig = sign(
            &s(v, "ak"),
            &s(v, "sk"),
            &s(v, "method"),
            &s(v, "host"),
            &s(v, "path"),
            &query(v),
            &headers(v),
            s(v, "body").as_bytes(),
        );
        let name = s(v, "name");
        assert_eq!(sig.signed_headers, s(v, "signed_headers"), "{name}");
        assert_eq!(sig.canonical_request, s(v, "canonical_request"), "{name}");
        assert_eq!(sig.string_to_sign, s(v, "string_to_sign"), "{name}");
        assert_eq!(sig.authorization, s(v, "authorization"), "{name}");
    }
}

#[test]
fn every_vector_verifies_and_every_one_byte_change_fails() {
    for v in &vectors() {
        let name = s(v, "name");
        let (path, q) = raw(v);
        let body = s(v, "body").into_bytes();
        let h = with_auth(v);
        let method = s(v, "method");
        assert_eq!(check(v, &method, &path, q.as_deref(), &h, &body), Ok(s(v, "ak")), "{name}");

        let mut b = body.clone();
        b.push(b' ');
        assert_eq!(check(v, &method, &path, q.as_deref(), &h, &b), Err(VerifyError::Mismatch), "{name}: body");
        let mut p = path.clone();
        p.push('x');
        assert_eq!(check(v, &method, &p, q.as_deref(), &h, &body), Err(VerifyError::Mismatch), "{name}: path");
        let mut hh = h.clone();
        let host = hh.iter_mut().find(|(n, _)| n == "Host").unwrap();
        host.1.push('1');
        assert_eq!(
            check(v, &method, &path, q.as_deref(), &hh, &body),
            Err(VerifyError::Mismatch),
            "{name}: signed header"
        );
        let mut hs = h.clone();
        let auth = hs.iter_mut().find(|(n, _)| n == "Authorization").unwrap();
        let last = auth.1.pop().unwrap();
        auth.1.push(if last == '0' { '1' } else { '0' });
        assert_eq!(check(v, &method, &path, q.as_deref(), &hs, &body), Err(VerifyError::Mismatch), "{name}: signature");
        // An unsigned header (added by a proxy, or with `_`) changes nothing.
        let mut extra = h.clone();
        extra.push(("Via".into(), "1.1 proxy".into()));
        assert!(check(v, &method, &path, q.as_deref(), &extra, &body).is_ok(), "{name}: unsigned header");
    }
}

#[test]
fn date_rules() {
    let v = &vectors()[0];
    let (path, _) = raw(v);
    let body = s(v, "body").into_bytes();
    let h = with_auth(v);
    let sk = s(v, "sk");
    let secret = move |_: &str| Some(sk.clone());
    let at = |minutes: i64| {
        verify(
            "POST",
            &path,
            None,
            &h,
            &body,
            &secret,
            date(v) + chrono::Duration::minutes(minutes),
            Duration::from_secs(900),
        )
    };
    assert!(at(14).is_ok() && at(-14).is_ok());
    assert!(matches!(at(16), Err(VerifyError::Skew { .. })));
    assert!(matches!(at(-16), Err(VerifyError::Skew { .. })));
    let no_date: Vec<(String, String)> = h.iter().filter(|(n, _)| n != "X-Sdk-Date").cloned().collect();
    let sk = s(v, "sk");
    let secret = move |_: &str| Some(sk.clone());
    assert_eq!(
        verify("POST", &path, None, &no_date, &body, &secret, date(v), Duration::from_secs(900)),
        Err(VerifyError::MissingDate)
    );
    let none = |_: &str| None;
    assert_eq!(
        verify("POST", &path, None, &h, &body, &none, date(v), Duration::from_secs(900)),
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(
        verify("POST", &path, None, &[], &body, &none, date(v), Duration::from_secs(900)),
        Err(VerifyError::Missing)
    );
}

#[test]
fn sign_request_round_trips_through_verify() {
    let now = Utc::now();
    let mut req = Request {
        method: "GET".into(),
        url: "http://127.0.0.1:8080/v1/p%201/digital-assets/a%20b%2Bc?limit=10&asset_state=ACTIVED%2CUNACTIVED".into(),
        headers: Headers::from([("Content-Type", "application/json"), ("X-App-UserId", "用户")]),
        body: b"{}".to_vec(),
    };
    sign_request(&mut req, "AK1", "secret-key-1", now);
    let url = url::Url::parse(&req.url).unwrap();
    let mut wire: Vec<(String, String)> = req.headers.0.clone();
    wire.push(("Host".into(), "127.0.0.1:8080".into()));
    let secret = |k: &str| (k == "AK1").then(|| "secret-key-1".to_string());
    let ok = verify("GET", url.path(), url.query(), &wire, &req.body, &secret, now, Duration::from_secs(900));
    assert_eq!(ok, Ok("AK1".into()));
    let bad = |k: &str| (k == "AK1").then(|| "secret-key-2".to_string());
    assert_eq!(
        verify("GET", url.path(), url.query(), &wire, &req.body, &bad, now, Duration::from_secs(900)),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn errors_never_show_secrets() {
    let errors = [
        VerifyError::Missing,
        VerifyError::Malformed("x".into()),
        VerifyError::UnknownKey,
        VerifyError::MissingDate,
        VerifyError::BadDate("d".into()),
        VerifyError::Skew { seconds: 1000, max: 900 },
        VerifyError::UnsignedRequiredHeader("host".into()),
        VerifyError::MissingSignedHeader("x".into()),
        VerifyError::Mismatch,
    ];
    let v = &vectors()[0];
    for e in errors {
        let shown = e.to_string();
        assert!(!shown.contains(&s(v, "sk")) && !shown.contains("3fd9227d"), "{shown}");
    }
}
