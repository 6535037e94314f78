//! Helpers shared by the reference server's tests: start a server, send requests (by token or
//! signed), read answers.

#![allow(dead_code)]

use std::time::Duration;

use batchconf::exchange::{Headers, Request};
use batchconf::server::{RefServer, ServerConfig};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token";
pub const AK: &str = "TESTAK00000000000001";
pub const SK: &str = "test-secret-key-0123456789";
pub const PROJECT: &str = "p1";
pub const FIXTURES: [&str; 6] = ["a1", "a2", "a3", "a4", "a5", "a6"];

pub fn config(fault: Option<&str>, variants: &[&str]) -> ServerConfig {
    ServerConfig {
        tokens: vec![TOKEN.into()],
        aksk: vec![(AK.into(), SK.into())],
        fixtures: FIXTURES.iter().map(|s| s.to_string()).collect(),
        fault: fault.map(|f| f.parse().expect("a known fault")),
        variants: variants.iter().map(|v| v.parse().expect("a known variant")).collect(),
        request_id_seed: None,
        rate_limit: None,
        port: 0,
        log: false,
        token_ttl_requests: None,
    }
}

pub async fn start(fault: Option<&str>, variants: &[&str]) -> RefServer {
    RefServer::start(config(fault, variants)).await.expect("server starts")
}

/// What came back, with the body parsed when it is JSON (`Value::String` of the text otherwise).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Value,
    pub elapsed: Duration,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The ids of each group, keyed by `ret_status` (and the error code for FAILED groups).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.body["results"]
            .as_array()
            .map(|groups| {
                groups
                    .iter()
                    .map(|g| {
                        let mut key = g["ret_status"].as_str().unwrap_or("?").to_string();
                        if let Some(code) = g["error_info"]["error_code"].as_str() {
                            key = format!("{key} {code}");
                        }
                        let ids = g["asset_ids"]
                            .as_array()
                            .map(|ids| ids.iter().map(|i| i.as_str().unwrap_or("?").to_string()).collect())
                            .unwrap_or_default();
                        (key, ids)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Panics unless this is a 400 with a conformant error body of this code.
    pub fn assert_error(&self, status: u16, code: &str) -> &str {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(self.body["error_code"], code, "error code of {self:?}");
        let msg = self.body["error_msg"].as_str();
        assert!(msg.is_some_and(|m| !m.is_empty()), "error_msg of {self:?}");
        assert!(self.body.as_object().is_some_and(|o| o.len() == 2), "only the two fields: {self:?}");
        msg.unwrap_or_default()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client")
}

pub fn batch_url(server: &RefServer) -> String {
    format!("{}/v1/{PROJECT}/digital-assets/batch-action", server.uri())
}

pub fn lookup_url(server: &RefServer, id: &str) -> String {
    format!("{}/v1/{PROJECT}/digital-assets/{id}", server.uri())
}

/// An authenticated (by token) JSON POST of `body` to the batch path.
pub fn batch_request(server: &RefServer, body: &Value) -> Request {
    Request {
        method: "POST".into(),
        url: batch_url(server),
        headers: Headers::from([("Content-Type", "application/json"), ("X-Auth-Token", TOKEN)]),
        body: body.to_string().into_bytes(),
    }
}

/// The same request, signed with AK/SK at `now` instead of carrying a token.
pub fn signed(mut req: Request, now: DateTime<Utc>) -> Request {
    req.headers.remove("X-Auth-Token");
    batchconf::sign::sign_request(&mut req, AK, SK, now);
    req
}

pub async fn send(http: &reqwest::Client, req: &Request) -> Answer {
    try_send(http, req).await.unwrap_or_else(|e| panic!("{} {}: {e}", req.method, req.url))
}

pub async fn try_send(http: &reqwest::Client, req: &Request) -> Result<Answer, reqwest::Error> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
    let mut builder = http.request(method, &req.url).body(req.body.clone());
    for (name, value) in req.headers.iter() {
        builder = builder.header(name, value);
    }
    let started = std::time::Instant::now();
    let resp = builder.send().await?;
    let status = resp.status().as_u16();
    let headers = Headers::from(resp.headers());
    let bytes = resp.bytes().await?;
    let elapsed = started.elapsed();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok(Answer { status, headers, body, elapsed })
}

/// An action on ids, by token.
pub async fn act(http: &reqwest::Client, server: &RefServer, action: &str, ids: &[&str]) -> Answer {
    send(http, &batch_request(server, &json!({"action": action, "asset_ids": ids}))).await
}

pub fn lookup_request(server: &RefServer, id: &str) -> Request {
    Request {
        method: "GET".into(),
        url: lookup_url(server, id),
        headers: Headers::from([("X-Auth-Token", TOKEN)]),
        body: vec![],
    }
}

/// The asset's state as the lookup shows it; `None` when it answers 404.
pub async fn state_of(http: &reqwest::Client, server: &RefServer, id: &str) -> Option<String> {
    let a = send(http, &lookup_request(server, id)).await;
    match a.status {
        200 => Some(a.body["asset_state"].as_str().expect("asset_state").to_string()),
        404 => {
            a.assert_error(404, "MSS.00000003");
            None
        }
        other => panic!("lookup of {id} answered {other}: {a:?}"),
    }
}
