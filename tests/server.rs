//! The reference server over real HTTP on 127.0.0.1: the lifecycle, authentication (tokens, the
//! official signer's vectors, tampering, skew), every bad-request rule, routing, headers,
//! concurrency, and `batchconf serve` as a process.

mod server_support;

use std::collections::BTreeMap;
use std::time::Duration;

use batchconf::exchange::{Headers, Request};
use batchconf::server::{RefServer, ServerConfig, FAULTS, VARIANTS};
use chrono::Utc;
use serde_json::{json, Value};
use server_support::*;

fn groups(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs.iter().map(|(k, ids)| (k.to_string(), ids.iter().map(|s| s.to_string()).collect())).collect()
}

// ---- lifecycle -------------------------------------------------------------------------------

#[tokio::test]
async fn delete_moves_to_deleting_and_restore_brings_back_the_state_before() {
    let (server, http) = (start(None, &[]).await, client());
    assert_eq!(act(&http, &server, "DELETE", &["a1"]).await.groups(), groups(&[("SUCCESS", &["a1"])]));
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("DELETING"));
    assert_eq!(act(&http, &server, "RESTORE", &["a1"]).await.groups(), groups(&[("SUCCESS", &["a1"])]));
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("ACTIVED"));

    act(&http, &server, "UNACTIVE", &["a2"]).await;
    act(&http, &server, "DELETE", &["a2"]).await;
    act(&http, &server, "RESTORE", &["a2"]).await;
    assert_eq!(state_of(&http, &server, "a2").await.as_deref(), Some("UNACTIVED"), "restored to what it was");

    let again = act(&http, &server, "RESTORE", &["a2"]).await;
    assert_eq!(again.groups(), groups(&[("FAILED MSS.00000005", &["a2"])]), "nothing to restore");
    assert_eq!(again.body["results"][0]["error_info"]["error_msg"], "Asset state does not allow RESTORE");
    server.stop().await;
}

#[tokio::test]
async fn delete_force_is_final() {
    let (server, http) = (start(None, &[]).await, client());
    act(&http, &server, "DELETE_FORCE", &["a1"]).await;
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("DELETED"));
    for action in ["RESTORE", "ACTIVE", "UNACTIVE", "DELETE", "DELETE_FORCE", "SHARE", "UNSHARE"] {
        let a = act(&http, &server, action, &["a1"]).await;
        assert_eq!(a.groups(), groups(&[("FAILED MSS.00000005", &["a1"])]), "{action} on a DELETED asset");
    }
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("DELETED"));

    // From the recycle bin too.
    act(&http, &server, "DELETE", &["a2"]).await;
    assert_eq!(act(&http, &server, "DELETE_FORCE", &["a2"]).await.groups(), groups(&[("SUCCESS", &["a2"])]));
    assert_eq!(state_of(&http, &server, "a2").await.as_deref(), Some("DELETED"));
    server.stop().await;
}

#[tokio::test]
async fn active_and_unactive_set_the_state_and_deleting_assets_refuse_them() {
    let (server, http) = (start(None, &[]).await, client());
    act(&http, &server, "UNACTIVE", &["a1"]).await;
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("UNACTIVED"));
    assert_eq!(act(&http, &server, "UNACTIVE", &["a1"]).await.groups(), groups(&[("SUCCESS", &["a1"])]));
    act(&http, &server, "ACTIVE", &["a1"]).await;
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("ACTIVED"));
    act(&http, &server, "DELETE", &["a1"]).await;
    for action in ["ACTIVE", "UNACTIVE", "SHARE", "UNSHARE", "DELETE"] {
        let a = act(&http, &server, action, &["a1"]).await;
        assert_eq!(a.groups(), groups(&[("FAILED MSS.00000005", &["a1"])]), "{action} on a DELETING asset");
    }
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("DELETING"));
    server.stop().await;
}

#[tokio::test]
async fn share_and_unshare_toggle_the_shared_flag() {
    let (server, http) = (start(None, &[]).await, client());
    let shared = |a: Answer| a.body["shared"].as_bool();
    assert_eq!(shared(send(&http, &lookup_request(&server, "a1")).await), Some(false));
    act(&http, &server, "SHARE", &["a1"]).await;
    assert_eq!(shared(send(&http, &lookup_request(&server, "a1")).await), Some(true));
    act(&http, &server, "UNSHARE", &["a1"]).await;
    assert_eq!(shared(send(&http, &lookup_request(&server, "a1")).await), Some(false));
    server.stop().await;
}

#[tokio::test]
async fn every_id_in_exactly_one_group_successes_first_failures_by_error() {
    let (server, http) = (start(None, &[]).await, client());
    act(&http, &server, "DELETE", &["a3"]).await;
    let a = act(&http, &server, "DELETE", &["x1", "a1", "a3", "a1", "x2", "a2", "x1"]).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"results": [
            {"ret_status": "SUCCESS", "asset_ids": ["a1", "a2"]},
            {"ret_status": "FAILED", "asset_ids": ["x1", "x2"],
             "error_info": {"error_code": "MSS.00000003", "error_msg": "Asset not found"}},
            {"ret_status": "FAILED", "asset_ids": ["a3"],
             "error_info": {"error_code": "MSS.00000005", "error_msg": "Asset state does not allow DELETE"}},
        ]})
    );
    assert_eq!(act(&http, &server, "SHARE", &[]).await.body, json!({"results": []}), "empty batch: no groups");
    let odd = ["", " ", "资产", "a/b", "\u{0}", &"x".repeat(5000)];
    let a = act(&http, &server, "SHARE", &odd).await;
    assert_eq!(a.groups()[0].1.len(), odd.len(), "any string is an id (all unknown here): {a:?}");
    server.stop().await;
}

#[tokio::test]
async fn lookup_of_an_unknown_asset_is_a_404_with_an_error_body() {
    let (server, http) = (start(None, &[]).await, client());
    let a = send(&http, &lookup_request(&server, "nope")).await;
    assert_eq!(a.assert_error(404, "MSS.00000003"), "Asset not found");
    let a = send(&http, &lookup_request(&server, "a%20b")).await;
    a.assert_error(404, "MSS.00000003");
    let ok = send(&http, &lookup_request(&server, "a1")).await;
    assert_eq!(ok.body, json!({"asset_id": "a1", "asset_state": "ACTIVED", "shared": false}));
    server.stop().await;
}

// ---- authentication --------------------------------------------------------------------------

fn unauthorized(a: &Answer) {
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.body, json!({"error_code": "MSS.00000001", "error_msg": "Unauthorized"}), "{a:?}");
}

#[tokio::test]
async fn tokens_configured_wrong_and_missing() {
    let (server, http) = (start(None, &[]).await, client());
    let body = json!({"action": "SHARE", "asset_ids": ["a1"]});
    assert_eq!(send(&http, &batch_request(&server, &body)).await.status, 200);

    let mut wrong = batch_request(&server, &body);
    wrong.headers.insert("X-Auth-Token", format!("{TOKEN}x"));
    unauthorized(&send(&http, &wrong).await);
    wrong.headers.insert("X-Auth-Token", "");
    unauthorized(&send(&http, &wrong).await);
    let mut missing = batch_request(&server, &body);
    missing.headers.remove("X-Auth-Token");
    unauthorized(&send(&http, &missing).await);

    // Lookups need credentials too; credentials come before the body is read.
    let mut lookup = lookup_request(&server, "a1");
    lookup.headers.remove("X-Auth-Token");
    unauthorized(&send(&http, &lookup).await);
    missing.body = b"not json".to_vec();
    unauthorized(&send(&http, &missing).await);
    server.stop().await;
}

#[tokio::test]
async fn an_empty_configuration_accepts_nobody() {
    let server = RefServer::start(ServerConfig { fixtures: vec!["a1".into()], ..Default::default() }).await.unwrap();
    let http = client();
    let body = json!({"action": "SHARE", "asset_ids": ["a1"]});
    unauthorized(&send(&http, &batch_request(&server, &body)).await);
    unauthorized(&send(&http, &signed(batch_request(&server, &body), Utc::now())).await);
    server.stop().await;
}

#[tokio::test]
async fn signed_requests_pass_and_one_changed_byte_fails() {
    let (server, http) = (start(None, &[]).await, client());
    let mut base = batch_request(&server, &json!({"action": "SHARE", "asset_ids": ["a1", "a2"]}));
    base.headers.insert("X-App-UserId", "user-1");
    let good = signed(base, Utc::now());
    assert!(good.headers.get("Authorization").is_some_and(|a| a.starts_with("SDK-HMAC-SHA256 Access=")));
    let a = send(&http, &good).await;
    assert_eq!(a.groups(), groups(&[("SUCCESS", &["a1", "a2"])]));

    let lookup = signed(lookup_request(&server, "a1"), Utc::now());
    assert_eq!(send(&http, &lookup).await.body["asset_state"], "ACTIVED");

    let mut tampered: Vec<(&str, Request)> = Vec::new();
    let mut r = good.clone();
    r.body[3] ^= 1;
    tampered.push(("body", r));
    let mut r = good.clone();
    r.headers.insert("X-App-UserId", "user-2");
    tampered.push(("signed header", r));
    let mut r = good.clone();
    r.url = r.url.replace(&format!("/v1/{PROJECT}/"), "/v1/p2/");
    tampered.push(("path", r));
    let mut r = good.clone();
    let auth = r.headers.get("Authorization").unwrap().to_string();
    let last = auth.chars().last().unwrap();
    let flipped = format!("{}{}", &auth[..auth.len() - 1], if last == '0' { '1' } else { '0' });
    r.headers.insert("Authorization", flipped);
    tampered.push(("signature", r));
    let mut r = good.clone();
    r.headers.insert("Authorization", auth.replace(AK, "TESTAK00000000000002"));
    tampered.push(("access key", r));
    let mut r = good.clone();
    r.headers.remove("X-Sdk-Date");
    tampered.push(("no X-Sdk-Date", r));
    let mut r = good.clone();
    r.headers.insert("Authorization", "SDK-HMAC-SHA256 garbage");
    tampered.push(("malformed", r));
    let mut r = good.clone();
    r.headers.insert("X-Auth-Token", "wrong");
    tampered.push(("a wrong token beside a good signature", r));
    for (what, req) in &tampered {
        let a = send(&http, req).await;
        assert_eq!(a.status, 400, "tampered {what}: {a:?}");
        unauthorized(&a);
    }
    let mut both = good.clone();
    both.headers.insert("X-Auth-Token", TOKEN);
    assert_eq!(send(&http, &both).await.status, 200, "a good token beside a good signature");
    server.stop().await;
}

#[tokio::test]
async fn x_sdk_date_may_be_at_most_15_minutes_off() {
    let (server, http) = (start(None, &[]).await, client());
    let body = json!({"action": "SHARE", "asset_ids": ["a1"]});
    for (minutes, ok) in [(-16, false), (-14, true), (14, true), (16, false)] {
        let when = Utc::now() + chrono::Duration::minutes(minutes);
        let a = send(&http, &signed(batch_request(&server, &body), when)).await;
        if ok {
            assert_eq!(a.status, 200, "{minutes} min: {a:?}");
        } else {
            unauthorized(&a);
        }
    }
    server.stop().await;
}

/// The official signer's vectors (`tests/data/sdk-hmac-sha256.json`).
fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sdk-hmac-sha256.json"))
        .expect("tests/data/sdk-hmac-sha256.json");
    serde_json::from_str(&text).expect("vectors parse")
}

fn vector_request(server: &RefServer, v: &Value) -> Request {
    let mut url = format!("{}{}", server.uri(), v["path"].as_str().unwrap());
    let query: Vec<String> = v["query"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let enc = |s: &Value| {
                percent_encoding::utf8_percent_encode(s.as_str().unwrap(), percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            format!("{}={}", enc(&pair[0]), enc(&pair[1]))
        })
        .collect();
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let headers = v["headers"].as_object().unwrap().iter().map(|(n, v)| (n.clone(), v.as_str().unwrap().to_string()));
    Request {
        method: v["method"].as_str().unwrap().into(),
        url,
        headers: Headers(headers.collect()),
        body: v["body"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// Whether the server let the request in (any answer but the authentication refusal).
fn authenticated(a: &Answer) -> bool {
    !(a.status == 400 && a.body["error_code"] == "MSS.00000001")
}

#[tokio::test]
async fn every_vector_verifies_as_sent_and_fails_with_a_flipped_signature() {
    // The vectors are dated; only `accept-stale-date` lets their dates through, and it changes
    // nothing else: the signature is still compared, as the flipped ones show.
    let vectors = vectors();
    let ak = vectors[0]["ak"].as_str().unwrap().to_string();
    let sk = vectors[0]["sk"].as_str().unwrap().to_string();
    let mut config = config(Some("accept-stale-date"), &[]);
    config.aksk = vec![(ak.clone(), sk.clone())];
    let server = RefServer::start(config).await.unwrap();
    let http = client();
    let mut sent = 0;
    for v in &vectors {
        assert_eq!((v["ak"].as_str(), v["sk"].as_str()), (Some(ak.as_str()), Some(sk.as_str())));
        let name = v["name"].as_str().unwrap();
        let mut req = vector_request(&server, v);
        let served = batchconf::contract::path_params("/v1/{p}/digital-assets/batch-action", req.path()).is_some()
            || batchconf::contract::path_params("/v1/{p}/digital-assets/{id}", req.path()).is_some();
        if !served {
            // Not a route of this server (it answers 404 before authenticating): the unit tests
            // of the server's adapter cover it.
            continue;
        }
        req.headers.insert("Authorization", v["authorization"].as_str().unwrap());
        let a = send(&http, &req).await;
        assert!(authenticated(&a), "vector {name} should verify: {a:?}");
        let auth = v["authorization"].as_str().unwrap();
        let flipped = format!("{}{}", &auth[..auth.len() - 1], if auth.ends_with('0') { '1' } else { '0' });
        req.headers.insert("Authorization", flipped);
        unauthorized(&send(&http, &req).await);
        sent += 1;
    }
    assert!(sent >= 6, "only {sent} vectors were sent");
    server.stop().await;
}

#[tokio::test]
async fn every_vector_shape_re_signed_now_verifies_on_the_clean_server() {
    let (server, http) = (start(None, &[]).await, client());
    for v in vectors() {
        let name = v["name"].as_str().unwrap();
        let mut req = vector_request(&server, &v);
        // Keep the vector's shape (headers, odd values, body, encoded path) but this server's
        // host and the current date, so the clean server's skew rule holds.
        req.headers.remove("Host");
        let path = req.path().to_string();
        if batchconf::contract::path_params("/v1/{p}/digital-assets/{id}", &path).is_none()
            && batchconf::contract::path_params("/v1/{p}/digital-assets/batch-action", &path).is_none()
        {
            req.url = req.url.replacen("/digital-assets", "/digital-assets/probe", 1);
        }
        let req = {
            let mut r = req;
            batchconf::sign::sign_request(&mut r, AK, SK, Utc::now());
            r
        };
        let a = send(&http, &req).await;
        assert!(authenticated(&a), "vector {name} re-signed should verify: {a:?}");
        if !req.body.is_empty() {
            let mut bad = req.clone();
            let last = bad.body.len() - 1;
            bad.body[last] ^= 0x20;
            unauthorized(&send(&http, &bad).await);
        }
    }
    server.stop().await;
}

// ---- bad requests ----------------------------------------------------------------------------

#[tokio::test]
async fn each_bad_request_rule_is_a_400_that_names_the_field() {
    let (server, http) = (start(None, &[]).await, client());
    let raw = |body: &str| {
        let mut r = batch_request(&server, &json!({}));
        r.body = body.as_bytes().to_vec();
        r
    };
    let with_header = |name: &str, value: &str| {
        let mut r = batch_request(&server, &json!({"action": "SHARE", "asset_ids": ["a1"]}));
        r.headers.insert(name, value);
        r
    };
    let mut no_type = batch_request(&server, &json!({"action": "SHARE", "asset_ids": ["a1"]}));
    no_type.headers.remove("Content-Type");
    let cases: Vec<(&str, Request, &str)> = vec![
        ("not JSON", raw("{\"action\": "), "not JSON"),
        ("empty body", raw(""), "not JSON"),
        ("not UTF-8", raw("\u{0}\u{ff}"), "not JSON"),
        ("an array", raw("[{\"action\":\"SHARE\",\"asset_ids\":[]}]"), "object"),
        ("a string", raw("\"SHARE\""), "object"),
        ("null", raw("null"), "object"),
        ("action missing", raw(r#"{"asset_ids":["a1"]}"#), "`action`"),
        ("action misspelt", raw(r#"{"action":"DETELTE","asset_ids":["a1"]}"#), "`action`"),
        ("action lower case", raw(r#"{"action":"delete","asset_ids":["a1"]}"#), "`action`"),
        ("action a number", raw(r#"{"action":3,"asset_ids":["a1"]}"#), "`action`"),
        ("action null", raw(r#"{"action":null,"asset_ids":["a1"]}"#), "`action`"),
        ("asset_ids missing", raw(r#"{"action":"SHARE"}"#), "`asset_ids`"),
        ("asset_ids a string", raw(r#"{"action":"SHARE","asset_ids":"a1"}"#), "`asset_ids`"),
        ("asset_ids an object", raw(r#"{"action":"SHARE","asset_ids":{"a":1}}"#), "`asset_ids`"),
        ("asset_ids null", raw(r#"{"action":"SHARE","asset_ids":null}"#), "`asset_ids`"),
        ("an id a number", raw(r#"{"action":"SHARE","asset_ids":["a1",7]}"#), "`asset_ids[1]`"),
        ("an id null", raw(r#"{"action":"SHARE","asset_ids":[null]}"#), "`asset_ids[0]`"),
        ("an id an array", raw(r#"{"action":"SHARE","asset_ids":[["a1"]]}"#), "`asset_ids[0]`"),
        ("params a number", raw(r#"{"action":"SHARE","asset_ids":["a1"],"params":1}"#), "`params`"),
        ("params null", raw(r#"{"action":"SHARE","asset_ids":["a1"],"params":null}"#), "`params`"),
        ("params an object", raw(r#"{"action":"SHARE","asset_ids":["a1"],"params":{"k":1}}"#), "`params`"),
        ("text/plain", with_header("Content-Type", "text/plain"), "`Content-Type`"),
        ("form", with_header("Content-Type", "application/x-www-form-urlencoded"), "`Content-Type`"),
        ("json-ish", with_header("Content-Type", "application/jsonx"), "`Content-Type`"),
        ("no content type", no_type, "`Content-Type`"),
        ("Chinese user id", with_header("X-App-UserId", "用户42"), "`X-App-UserId`"),
        ("too large", raw(&format!(r#"{{"action":"SHARE","asset_ids":["{}"]}}"#, "x".repeat(1 << 20))), "bytes"),
    ];
    for (what, req, names) in &cases {
        let a = send(&http, req).await;
        let msg = a.assert_error(400, "MSS.00000002");
        assert!(msg.contains(names), "{what}: `{msg}` should name {names}");
    }
    // None of them touched the store.
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("ACTIVED"));
    server.stop().await;
}

#[tokio::test]
async fn silent_contract_choices_unknown_fields_params_charset_and_other_user_ids_are_fine() {
    let (server, http) = (start(None, &[]).await, client());
    let ok = [
        json!({"action": "SHARE", "asset_ids": ["a1"], "params": "{\"k\":1}"}),
        json!({"action": "SHARE", "asset_ids": ["a1"], "unknown": [1, 2], "params": ""}),
    ];
    for body in &ok {
        assert_eq!(send(&http, &batch_request(&server, body)).await.status, 200, "{body}");
    }
    let mut r = batch_request(&server, &ok[0]);
    r.headers.insert("Content-Type", "Application/JSON; charset=UTF-8");
    r.headers.insert("X-App-UserId", "ユーザー-사용자-émile");
    assert_eq!(send(&http, &r).await.status, 200);
    let big: Vec<String> = (0..2000).map(|i| format!("id-{i}")).collect();
    let a = send(&http, &batch_request(&server, &json!({"action": "SHARE", "asset_ids": big}))).await;
    assert_eq!(a.status, 200, "no batch size limit");
    server.stop().await;
}

#[tokio::test]
async fn random_requests_never_get_a_5xx_or_a_broken_body() {
    use rand::{Rng, SeedableRng};
    let (server, http) = (start(None, &[]).await, client());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let pieces = [
        json!("SHARE"),
        json!("DELETE"),
        json!("DELETE_FORCE"),
        json!("RESTORE"),
        json!("nope"),
        json!(null),
        json!(1.5),
        json!(["a1", "a2"]),
        json!(["a1", 3]),
        json!([]),
        json!({"x": 1}),
        json!(true),
        json!("用户"),
    ];
    for i in 0..300 {
        let mut body = serde_json::Map::new();
        for field in ["action", "asset_ids", "params", "extra"] {
            if rng.gen_bool(0.7) {
                body.insert(field.into(), pieces[rng.gen_range(0..pieces.len())].clone());
            }
        }
        let mut req = batch_request(&server, &Value::Object(body));
        match rng.gen_range(0..8) {
            0 => {
                let cut = rng.gen_range(0..=req.body.len());
                req.body.truncate(cut);
            }
            1 => req.headers.insert("Content-Type", ["text/plain", "application/json; q=1", ""][rng.gen_range(0..3)]),
            2 => req.headers.insert("X-App-UserId", ["u", "用", "ü", ""][rng.gen_range(0..4)]),
            3 => req = signed(req, Utc::now()),
            4 => req.url = lookup_url(&server, ["a1", "x", "%E7%94%A8"][rng.gen_range(0..3)]),
            5 => req.method = ["GET", "PUT", "DELETE", "PATCH"][rng.gen_range(0..4)].into(),
            _ => {}
        }
        let a = send(&http, &req).await;
        assert!(a.status < 500, "request {i} got {a:?}");
        assert!(a.header("X-Request-Id").is_some_and(|id| !id.is_empty()), "request {i}");
        assert_eq!(a.header("Content-Type"), Some("application/json"), "request {i}");
        let conformant = match a.status {
            200 => a.body.get("results").is_some_and(Value::is_array) || a.body.get("asset_state").is_some(),
            _ => a.body["error_code"].is_string() && a.body["error_msg"].is_string(),
        };
        assert!(conformant, "request {i}: {} -> {a:?}", String::from_utf8_lossy(&req.body));
    }
    server.stop().await;
}

// ---- routes and headers ----------------------------------------------------------------------

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_loud_errors() {
    let (server, http) = (start(None, &[]).await, client());
    let get = |url: String, method: &str| Request {
        method: method.into(),
        url,
        headers: Headers::from([("X-Auth-Token", TOKEN)]),
        body: vec![],
    };
    let a = send(&http, &get(format!("{}/v2/x/assets?q=1", server.uri()), "GET")).await;
    let msg = a.assert_error(404, "MSS.00000404").to_string();
    assert!(
        msg.contains("GET /v2/x/assets") && msg.contains("POST /v1/{project_id}/digital-assets/batch-action"),
        "{msg}"
    );
    let a = send(&http, &get(format!("{}/v1/digital-assets/batch-action", server.uri()), "POST")).await;
    assert!(a.assert_error(404, "MSS.00000404").contains("POST /v1/digital-assets/batch-action"));

    let a = send(&http, &get(batch_url(&server), "GET")).await;
    assert!(a.assert_error(405, "MSS.00000405").contains("GET"));
    assert_eq!(a.header("Allow"), Some("POST"));
    let a = send(&http, &get(lookup_url(&server, "a1"), "DELETE")).await;
    a.assert_error(405, "MSS.00000405");
    assert_eq!(a.header("Allow"), Some("GET"));
    assert_eq!(state_of(&http, &server, "a1").await.as_deref(), Some("ACTIVED"));
    server.stop().await;
}

#[tokio::test]
async fn every_answer_has_a_fresh_request_id_and_json_content_type() {
    let (server, http) = (start(None, &[]).await, client());
    let mut ids = std::collections::HashSet::new();
    let mut no_token = lookup_request(&server, "a1");
    no_token.headers.remove("X-Auth-Token");
    let requests = [
        batch_request(&server, &json!({"action": "SHARE", "asset_ids": ["a1", "zz"]})),
        batch_request(&server, &json!({"action": "SHARE"})),
        lookup_request(&server, "a1"),
        lookup_request(&server, "zz"),
        no_token,
        Request { method: "GET".into(), url: server.uri(), headers: Headers::default(), body: vec![] },
    ];
    for round in 0..20 {
        for req in &requests {
            let a = send(&http, req).await;
            assert_eq!(a.header("Content-Type"), Some("application/json"), "{a:?}");
            let id = a.header("X-Request-Id").expect("X-Request-Id").to_string();
            assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert!(ids.insert(id), "round {round}: a repeated request id");
        }
    }
    server.stop().await;
}

// ---- concurrency -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_on_the_same_ids_lose_no_update() {
    let server = std::sync::Arc::new(start(None, &[]).await);
    let ids = ["a1", "a2", "a3", "a4", "nope"];
    let mut tasks = Vec::new();
    for task in 0..8 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            let http = client();
            // Successes per (action, id), to account for every change afterwards.
            let mut wins: BTreeMap<(String, String), u32> = BTreeMap::new();
            for round in 0..50 {
                let action = match (task % 2, round % 2) {
                    (0, 0) => "UNACTIVE",
                    (0, _) => "ACTIVE",
                    (_, 0) => "DELETE",
                    _ => "RESTORE",
                };
                let mut batch: Vec<&str> = ids.to_vec();
                batch.rotate_left((task + round) % ids.len());
                batch.push(batch[0]);
                let a = act(&http, &server, action, &batch).await;
                assert_eq!(a.status, 200, "{a:?}");
                let mut answered: Vec<String> = a.groups().into_iter().flat_map(|(_, ids)| ids).collect();
                answered.sort();
                let mut wanted: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
                wanted.sort();
                assert_eq!(answered, wanted, "every id answered exactly once: {a:?}");
                for (key, group) in a.groups() {
                    if key == "SUCCESS" {
                        for id in group {
                            *wins.entry((action.to_string(), id)).or_default() += 1;
                        }
                    }
                }
            }
            wins
        }));
    }
    let mut wins: BTreeMap<(String, String), u32> = BTreeMap::new();
    for t in tasks {
        for (k, n) in t.await.expect("task") {
            *wins.entry(k).or_default() += n;
        }
    }
    let http = client();
    for id in &ids[..4] {
        let count = |action: &str| wins.get(&(action.to_string(), id.to_string())).copied().unwrap_or(0);
        let (deletes, restores) = (i64::from(count("DELETE")), i64::from(count("RESTORE")));
        let state = state_of(&http, &server, id).await.expect("fixture exists");
        // DELETE succeeds only on a live asset and RESTORE only on a deleting one, so they
        // alternate: a lost update would show as two DELETEs in a row.
        let expected = if state == "DELETING" { 1 } else { 0 };
        assert_eq!(deletes - restores, expected, "{id}: {deletes} deletes, {restores} restores, now {state}");
        assert!(deletes > 0, "{id} was never deleted: the test did not exercise the race");
    }
    assert_eq!(wins.keys().filter(|(_, id)| id == "nope").count(), 0);
    match std::sync::Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("server still shared"),
    }
}

// ---- configuration and `batchconf serve` -----------------------------------------------------

#[tokio::test]
async fn unknown_fault_or_variant_empty_credentials_and_a_busy_port_are_argument_errors() {
    let err = "no-such-fault".parse::<batchconf::server::Fault>().unwrap_err().to_string();
    assert!(err.contains("`no-such-fault`") && err.contains(FAULTS[0].name), "{err}");
    let err = "no-such-variant".parse::<batchconf::server::Variant>().unwrap_err().to_string();
    assert!(err.contains("`no-such-variant`") && err.contains(VARIANTS[0].name), "{err}");
    // An empty token would let in every request that sends an empty `X-Auth-Token`.
    let mut empty = config(None, &[]);
    empty.tokens = vec![String::new()];
    let err = RefServer::start(empty).await.err().expect("refused").to_string();
    assert!(err.contains("empty token"), "{err}");
    let server = start(None, &[]).await;
    let mut busy = config(None, &[]);
    busy.port = server.address().port();
    let err = RefServer::start(busy).await.err().expect("port in use").to_string();
    assert!(err.contains(&format!("127.0.0.1:{}", server.address().port())), "{err}");
    assert!(server.uri().starts_with("http://127.0.0.1:"));
    server.stop().await;
}

#[tokio::test]
async fn stop_releases_the_port() {
    let server = start(None, &[]).await;
    let port = server.address().port();
    server.stop().await;
    let mut again = config(None, &[]);
    again.port = port;
    let mut last = None;
    // The listener closes on the server's own thread, just after `stop` returns.
    for _ in 0..50 {
        match RefServer::start(again.clone()).await {
            Ok(s) => {
                s.stop().await;
                return;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("port {port} still busy: {last:?}");
}

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_prints_the_port_it_bound_and_answers() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_batchconf"))
            .args(["serve", "--port", "0", "--fixtures", "s1,s2", "--token", "tok"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn batchconf serve"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("first line");
    let uri = line.trim().strip_prefix("batchconf serve listening on ").unwrap_or_else(|| panic!("{line:?}"));
    let port: u16 = uri.rsplit(':').next().unwrap().parse().expect("a port");
    assert_ne!(port, 0);
    let http = client();
    let req = Request {
        method: "POST".into(),
        url: format!("{uri}/v1/p/digital-assets/batch-action"),
        headers: Headers::from([("Content-Type", "application/json"), ("X-Auth-Token", "tok")]),
        body: br#"{"action":"DELETE","asset_ids":["s1","s3"]}"#.to_vec(),
    };
    let a = send(&http, &req).await;
    assert_eq!(a.groups(), groups(&[("SUCCESS", &["s1"]), ("FAILED MSS.00000003", &["s3"])]));
    #[cfg(unix)]
    {
        // SIGTERM (like Ctrl-C) stops it cleanly with exit code 0, after one log line per request.
        let pid = child.0.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(status.success());
        let status = child.0.wait().expect("wait");
        assert_eq!(status.code(), Some(0));
        let mut log = String::new();
        use std::io::Read;
        child.0.stderr.take().expect("stderr").read_to_string(&mut log).expect("log");
        assert!(log.contains("POST /v1/p/digital-assets/batch-action -> 200"), "{log}");
        assert!(log.contains("stopped"), "{log}");
    }
}

#[test]
fn serve_refuses_an_unknown_fault_with_exit_code_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_batchconf"))
        .args(["serve", "--port", "0", "--fault", "nope"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown fault `nope`") && err.contains("status-201"), "{err}");
}
