//! AK/SK signing agrees with the official SDK signer on every committed vector, verification
//! accepts what a client really sends and refuses every one-byte change, and no refusal shows a
//! secret.

use std::time::Duration;

use batchconf::exchange::{Headers, Request};
use batchconf::sign::{sign, sign_request, verify, Lax, VerifyError};
use chrono::{DateTime, NaiveDateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// What a client escapes in a path segment or a query part (Python's `quote(s, safe='~')`).
const WIRE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sdk-hmac-sha256.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading `{path}`: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing `{path}`: {e}"))
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("vector field `{k}` is not a string")).to_string()
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

/// The path and query the way a client puts them on the wire (in the vector's order, unsorted).
fn raw(v: &Value) -> (String, Option<String>) {
    let path =
        s(v, "path").split('/').map(|seg| utf8_percent_encode(seg, WIRE).to_string()).collect::<Vec<_>>().join("/");
    let q = query(v);
    let query = (!q.is_empty()).then(|| {
        q.iter()
            .map(|(k, x)| format!("{}={}", utf8_percent_encode(k, WIRE), utf8_percent_encode(x, WIRE)))
            .collect::<Vec<_>>()
            .join("&")
    });
    (path, query)
}

/// One vector as received by a server: everything `verify` takes, ready to be altered.
#[derive(Clone)]
struct Received {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    ak: String,
    sk: String,
    now: DateTime<Utc>,
}

impl Received {
    fn of(v: &Value) -> Received {
        let (path, query) = raw(v);
        let mut headers = headers(v);
        headers.push(("Authorization".into(), s(v, "authorization")));
        Received {
            method: s(v, "method"),
            path,
            query,
            headers,
            body: s(v, "body").into_bytes(),
            ak: s(v, "ak"),
            sk: s(v, "sk"),
            now: date(v),
        }
    }

    fn verify(&self) -> Result<String, VerifyError> {
        let (ak, sk) = (self.ak.clone(), self.sk.clone());
        let secret = move |k: &str| (k == ak).then(|| sk.clone());
        verify(
            &self.method,
            &self.path,
            self.query.as_deref(),
            &self.headers,
            &self.body,
            &secret,
            self.now,
            MAX_SKEW,
            Lax::default(),
        )
    }

    fn header_mut(&mut self, name: &str) -> &mut String {
        &mut self.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap().1
    }
}

/// Replaces the first letter or digit of `text` by another one: a one-byte change that trimming
/// cannot undo.
fn change_one_byte(text: &mut String) {
    let i = text.find(|c: char| c.is_ascii_alphanumeric()).expect("something to change");
    let new = if &text[i..i + 1] == "0" { "1" } else { "0" };
    text.replace_range(i..i + 1, new);
}

#[test]
fn every_vector_signs_like_the_official_signer() {
    let vs = vectors();
    assert_eq!(vs.len(), 7, "the committed vectors changed: update this test");
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
fn host_comes_from_the_argument_when_no_header_gives_it() {
    for v in &vectors() {
        let without_host: Vec<_> = headers(v).into_iter().filter(|(n, _)| !n.eq_ignore_ascii_case("host")).collect();
        let sig = sign(
            &s(v, "ak"),
            &s(v, "sk"),
            &s(v, "method"),
            &s(v, "host"),
            &s(v, "path"),
            &query(v),
            &without_host,
            s(v, "body").as_bytes(),
        );
        assert_eq!(sig.authorization, s(v, "authorization"), "{}", s(v, "name"));
    }
}

#[test]
fn every_vector_verifies() {
    for v in &vectors() {
        assert_eq!(Received::of(v).verify(), Ok(s(v, "ak")), "{}", s(v, "name"));
    }
}

#[test]
fn every_one_byte_change_fails() {
    for v in &vectors() {
        let name = s(v, "name");
        let ok = Received::of(v);

        let mut r = ok.clone();
        r.body.push(b' ');
        assert_eq!(r.verify(), Err(VerifyError::Mismatch), "{name}: body grown");
        if !ok.body.is_empty() {
            let mut r = ok.clone();
            r.body[1] ^= 0x01;
            assert_eq!(r.verify(), Err(VerifyError::Mismatch), "{name}: body byte");
        }

        let mut r = ok.clone();
        change_one_byte(&mut r.path);
        assert_eq!(r.verify(), Err(VerifyError::Mismatch), "{name}: path");

        if let Some(q) = &ok.query {
            let mut r = ok.clone();
            let mut q = q.clone();
            change_one_byte(&mut q);
            r.query = Some(q);
            assert_eq!(r.verify(), Err(VerifyError::Mismatch), "{name}: query");
        }

        let mut r = ok.clone();
        r.method = "PUT".into();
        assert_eq!(r.verify(), Err(VerifyError::Mismatch), "{name}: method");

        // Every signed header, one at a time (X-Sdk-Date moves by at most a few years here, so
        // it trips the skew check instead: also a refusal).
        for signed in s(v, "signed_headers").split(';') {
            let mut r = ok.clone();
            change_one_byte(r.header_mut(signed));
            let verdict = r.verify();
            if signed == "x-sdk-date" {
                assert!(verdict.is_err(), "{name}: {signed}");
            } else {
                assert_eq!(verdict, Err(VerifyError::Mismatch), "{name}: signed header {signed}");
            }
        }

        let mut r = ok.clone();
        let auth = r.header_mut("Authorization");
        let last = auth.pop().unwrap();
        auth.push(if last == '0' { '1' } else { '0' });
        assert_eq!(r.verify(), Err(VerifyError::Mismatch), "{name}: signature");
    }
}

#[test]
fn unsigned_headers_change_nothing() {
    for v in &vectors() {
        let name = s(v, "name");
        let mut r = Received::of(v);
        // Added on the way by the HTTP stack or a proxy.
        r.headers.push(("Via".into(), "1.1 proxy".into()));
        r.headers.push(("Accept".into(), "*/*".into()));
        r.headers.push(("Content-Length".into(), r.body.len().to_string()));
        if let Some((_, trace)) = r.headers.iter_mut().find(|(n, _)| n == "X_Custom_Trace") {
            trace.push_str("-changed");
        }
        assert!(r.verify().is_ok(), "{name}: {:?}", r.verify());
    }
}

#[test]
fn dates_within_the_skew_pass_and_beyond_it_fail() {
    let ok = Received::of(&vectors()[0]);
    let at = |minutes: i64| {
        let mut r = ok.clone();
        r.now = ok.now + chrono::Duration::minutes(minutes);
        r.verify()
    };
    assert!(at(14).is_ok() && at(-14).is_ok(), "{:?} {:?}", at(14), at(-14));
    assert!(matches!(at(16), Err(VerifyError::Skew { .. })), "{:?}", at(16));
    assert!(matches!(at(-16), Err(VerifyError::Skew { .. })), "{:?}", at(-16));
}

#[test]
fn refusals_before_the_signature_is_compared() {
    let ok = Received::of(&vectors()[0]);

    let mut r = ok.clone();
    r.headers.retain(|(n, _)| n != "X-Sdk-Date");
    assert_eq!(r.verify(), Err(VerifyError::MissingDate));

    let mut r = ok.clone();
    *r.header_mut("X-Sdk-Date") = "2026-11-28T01:02:03Z".into();
    assert!(matches!(r.verify(), Err(VerifyError::BadDate(_))), "{:?}", r.verify());

    let mut r = ok.clone();
    r.ak = "SOMEONE-ELSE".into();
    assert_eq!(r.verify(), Err(VerifyError::UnknownKey));

    let mut r = ok.clone();
    r.headers.retain(|(n, _)| n != "Authorization");
    assert_eq!(r.verify(), Err(VerifyError::Missing));

    let mut r = ok.clone();
    *r.header_mut("Authorization") = "Basic dXNlcjpwYXNz".into();
    assert!(matches!(r.verify(), Err(VerifyError::Malformed(_))), "{:?}", r.verify());

    let mut r = ok.clone();
    let auth = r.header_mut("Authorization");
    *auth = auth.replace("SignedHeaders=content-type;host;x-sdk-date", "SignedHeaders=content-type;x-sdk-date");
    assert_eq!(r.verify(), Err(VerifyError::UnsignedRequiredHeader("host".into())));

    let mut r = ok.clone();
    let auth = r.header_mut("Authorization");
    *auth = auth.replace("SignedHeaders=content-type;host;x-sdk-date", "SignedHeaders=content-type;host");
    assert_eq!(r.verify(), Err(VerifyError::UnsignedRequiredHeader("x-sdk-date".into())));

    let mut r = ok.clone();
    r.headers.retain(|(n, _)| n != "Content-Type");
    assert_eq!(r.verify(), Err(VerifyError::MissingSignedHeader("content-type".into())));
}

/// A request signed by `sign_request`, as the server receives it when it is not sent at all:
/// path and query read back from the URL, `Host` as an HTTP client writes it.
#[test]
fn sign_request_round_trips_through_verify() {
    let now = Utc::now();
    let mut req = Request {
        method: "GET".into(),
        url: "http://127.0.0.1:8080/v1/p%201/digital-assets/a%20b%2Bc%40d?limit=10&asset_state=ACTIVED%2CUNACTIVED"
            .into(),
        headers: Headers::from([("Content-Type", "application/json"), ("X-App-UserId", "用户")]),
        body: b"{}".to_vec(),
    };
    sign_request(&mut req, "AK1", "secret-key-1", now);
    assert_eq!(req.headers.get("X-Sdk-Date"), Some(now.format("%Y%m%dT%H%M%SZ").to_string().as_str()));
    let auth = req.headers.get("Authorization").unwrap();
    assert!(
        auth.starts_with("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=content-type;host;x-app-userid;x-sdk-date, "),
        "{auth}"
    );
    let url = url::Url::parse(&req.url).unwrap();
    let mut wire: Vec<(String, String)> = req.headers.0.clone();
    wire.push(("Host".into(), "127.0.0.1:8080".into()));
    let check = |sk: &'static str, host: &str| {
        let secret = move |k: &str| (k == "AK1").then(|| sk.to_string());
        let mut wire = wire.clone();
        wire.last_mut().unwrap().1 = host.to_string();
        verify("GET", url.path(), url.query(), &wire, &req.body, &secret, now, MAX_SKEW, Lax::default())
    };
    assert_eq!(check("secret-key-1", "127.0.0.1:8080"), Ok("AK1".into()));
    assert_eq!(check("secret-key-2", "127.0.0.1:8080"), Err(VerifyError::Mismatch));
    // The port is part of the signed host.
    assert_eq!(check("secret-key-1", "127.0.0.1"), Err(VerifyError::Mismatch));
}

#[test]
fn sign_request_leaves_out_the_default_port_and_replaces_an_old_signature() {
    let now = Utc::now();
    let mut req = Request {
        method: "POST".into(),
        url: "https://metastudio.example.com:443/v1/p/digital-assets/batch-action".into(),
        headers: Headers::from([("Authorization", "SDK-HMAC-SHA256 Access=OLD, SignedHeaders=host, Signature=00")]),
        body: b"{}".to_vec(),
    };
    sign_request(&mut req, "AK1", "SK1", now);
    sign_request(&mut req, "AK1", "SK1", now);
    assert_eq!(req.headers.get_all("Authorization").count(), 1);
    let wire = {
        let mut h = req.headers.0.clone();
        h.push(("Host".into(), "metastudio.example.com".into()));
        h
    };
    let secret = |k: &str| (k == "AK1").then(|| "SK1".to_string());
    let path = "/v1/p/digital-assets/batch-action";
    assert_eq!(verify("POST", path, None, &wire, &req.body, &secret, now, MAX_SKEW, Lax::default()), Ok("AK1".into()));
}

/// Sent for real by reqwest to a local server: headers the HTTP client adds after signing
/// (`accept`, `content-length`, ...) and the path and query as they arrive do not trip
/// verification; a tampered request still does.
#[tokio::test]
async fn a_real_http_request_verifies_on_the_server() {
    use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let now = Utc::now();
    Mock::given(any())
        .respond_with(move |r: &wiremock::Request| {
            let headers = Headers::from(&r.headers).0;
            let secret = |k: &str| (k == "AK1").then(|| "secret-key-1".to_string());
            match verify(
                r.method.as_str(),
                r.url.path(),
                r.url.query(),
                &headers,
                &r.body,
                &secret,
                now,
                MAX_SKEW,
                Lax::default(),
            ) {
                Ok(ak) => ResponseTemplate::new(200).set_body_string(ak),
                Err(e) => ResponseTemplate::new(401).set_body_string(e.to_string()),
            }
        })
        .mount(&server)
        .await;

    let client = reqwest::Client::builder().user_agent("batchconf-test").build().unwrap();
    let send = |req: Request| {
        let client = client.clone();
        async move {
            let mut b = client.request(req.method.parse().unwrap(), &req.url).body(req.body.clone());
            for (n, v) in &req.headers.0 {
                b = b.header(n.as_str(), v.as_str());
            }
            let resp = b.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let signed = |url: String| {
        let mut req = Request {
            method: "POST".into(),
            url,
            headers: Headers::from([("Content-Type", "application/json"), ("X-App-UserId", "user-42")]),
            body: "{\"action\":\"DELETE\",\"asset_ids\":[\"资产-1\"]}".as_bytes().to_vec(),
        };
        sign_request(&mut req, "AK1", "secret-key-1", now);
        req
    };

    let url =
        format!("{}/v1/p%201/digital-assets/a%20b%2Bc%40d?limit=10&asset_state=ACTIVED%2CUNACTIVED", server.uri());
    assert!(server.uri().starts_with("http://127.0.0.1:"), "{}", server.uri());
    assert_eq!(send(signed(url.clone())).await, (200, "AK1".to_string()));

    let mut tampered = signed(url.clone());
    tampered.body[3] ^= 0x01;
    assert_eq!(send(tampered).await, (401, "the signature does not match the request".to_string()));

    let mut moved = signed(url.clone());
    moved.url = moved.url.replace("limit=10", "limit=11");
    assert_eq!(send(moved).await.0, 401);
}

#[test]
fn no_refusal_shows_the_secret_or_the_expected_signature() {
    let v = &vectors()[0];
    let ok = Received::of(v);
    let expected_signature = s(v, "authorization").rsplit('=').next().unwrap().to_string();
    let mut cases = Vec::new();
    let mut push = |r: Received| cases.push(r.verify().expect_err("a refusal"));

    let mut r = ok.clone();
    r.body.push(b'!');
    push(r);
    let mut r = ok.clone();
    *r.header_mut("Authorization") = "SDK-HMAC-SHA256 Access=ABCDEFGHIJKLMNOPQRST, Signature=ff".into();
    push(r);
    let mut r = ok.clone();
    // A client that put its secret where the signature goes.
    *r.header_mut("Authorization") = format!("SDK-HMAC-SHA256 {}", ok.sk);
    push(r);
    let mut r = ok.clone();
    r.ak = "nobody".into();
    push(r);
    let mut r = ok.clone();
    r.headers.retain(|(n, _)| n != "X-Sdk-Date");
    push(r);
    let mut r = ok.clone();
    *r.header_mut("X-Sdk-Date") = "yesterday".into();
    push(r);
    let mut r = ok.clone();
    r.now += chrono::Duration::hours(2);
    push(r);
    let mut r = ok.clone();
    let auth = r.header_mut("Authorization");
    *auth = auth.replace("content-type;host;", "content-type;");
    push(r);
    let mut r = ok.clone();
    r.headers.retain(|(n, _)| n != "Content-Type");
    push(r);
    let mut r = ok.clone();
    r.headers.retain(|(n, _)| n != "Authorization");
    push(r);

    let kinds: std::collections::BTreeSet<String> =
        cases.iter().map(|e| format!("{e:?}").split(['(', ' ']).next().unwrap().to_string()).collect();
    assert_eq!(kinds.len(), 9, "every kind of refusal is exercised: {kinds:?}");
    let has_hex_run = |text: &str| text.as_bytes().windows(32).any(|w| w.iter().all(|b| b.is_ascii_hexdigit()));
    for e in &cases {
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains(&ok.sk) && !shown.contains(&expected_signature), "{shown}");
            // No signature at all, the expected one included.
            assert!(!has_hex_run(&shown), "{shown}");
        }
        let message = e.to_string();
        assert!(!message.starts_with(|c: char| c.is_uppercase()), "messages are lower-case fragments: {message}");
    }
}
