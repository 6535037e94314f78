//! The reference server's one wiremock responder: routes each request, authenticates it, runs it
//! against the store, and dresses every answer the contract's way (fresh `X-Request-Id`,
//! `Content-Type: application/json`), with the planted fault or chosen variants applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::{Respond, ResponseTemplate};

use super::auth::{Credentials, Refusal};
use super::catalogue::{Behaviour, Fault, Variant};
use super::incoming::Incoming;
use super::request::{read_batch, Refused};
use super::results;
use super::store::Store;
use crate::contract::path_params;

pub(crate) const BATCH_PATH: &str = "/v1/{project_id}/digital-assets/batch-action";
pub(crate) const LOOKUP_PATH: &str = "/v1/{project_id}/digital-assets/{asset_id}";

/// What the `slow` fault adds to every 200 answer.
const SLOW_DELAY: Duration = Duration::from_millis(400);
/// What the `hang-on-large-batch` fault makes large batches wait, and from which size.
const HANG_DELAY: Duration = Duration::from_secs(60);
const HANG_FROM_IDS: usize = 100;
/// The one id every answer carries under the `repeated-request-id` fault.
const FIXED_REQUEST_ID: &str = "00000000000000000000000000000000";
/// `late-server-errors`: past this many requests, every `LATE_EVERY`th is answered 500. A default
/// `batchconf run` (about 800 requests) never gets there; a soak of 3000 meets 40 of them.
const LATE_AFTER: u64 = 1000;
const LATE_EVERY: u64 = 50;
/// `rare-repeated-request-id`: every this-many-th answer repeats the id before it.
const REPEAT_ID_EVERY: u64 = 100;

/// Everything one running server shares between requests.
pub(crate) struct Shared {
    pub store: Store,
    pub credentials: Credentials,
    pub behaviour: Behaviour,
    pub log: bool,
    pub request_ids: RequestIds,
    /// Requests received so far; `late-server-errors` and the rotation go by it.
    pub received: AtomicU64,
    pub rotation: super::rotate::Rotation,
}

/// The catch-all responder mounted on the wiremock server.
pub(crate) struct Router(pub std::sync::Arc<Shared>);

/// An answer before it is dressed in headers.
struct Reply {
    status: u16,
    body: Value,
    delay: Option<Duration>,
    allow: Option<&'static str>,
    /// Why, for the log line only (auth refusals say nothing more than "Unauthorized").
    note: Option<String>,
}

impl Reply {
    fn new(status: u16, body: Value) -> Reply {
        Reply { status, body, delay: None, allow: None, note: None }
    }

    fn error(status: u16, code: &str, msg: impl Into<String>) -> Reply {
        Reply::new(status, json!({ "error_code": code, "error_msg": msg.into() }))
    }
}

impl Respond for Router {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let started = Instant::now();
        let n = self.0.received.fetch_add(1, Ordering::Relaxed) + 1;
        super::rotate::count(&self.0, n);
        let req = Incoming::from_wiremock(request);
        let reply =
            if self.0.behaviour.broken(Fault::LateServerErrors) && n > LATE_AFTER && n.is_multiple_of(LATE_EVERY) {
                internal_error(&format!("request {n}, late in the server's life"))
            } else {
                self.route(&req)
            };
        let shown_status = reply.status;
        let note = reply.note.clone();
        let template = self.dress(reply);
        if self.0.log {
            let took = started.elapsed().as_millis();
            let why = note.map(|n| format!(": {n}")).unwrap_or_default();
            eprintln!("{} {} -> {shown_status} ({took} ms){why}", req.method, request.url.path());
        }
        template
    }
}

impl Router {
    fn route(&self, req: &Incoming) -> Reply {
        if path_params(BATCH_PATH, &req.path).is_some() {
            if req.method != "POST" {
                return method_not_allowed(req, "POST");
            }
            return self.batch(req);
        }
        if let Some(params) = path_params(LOOKUP_PATH, &req.path) {
            if req.method != "GET" {
                return method_not_allowed(req, "GET");
            }
            return self.lookup(req, params.get("asset_id").map(String::as_str).unwrap_or_default());
        }
        Reply::error(
            404,
            "MSS.00000404",
            format!(
                "batchconf reference server: no route for {} {} (serves POST {BATCH_PATH} and GET {LOOKUP_PATH})",
                req.method, req.path
            ),
        )
    }

    /// The answer to a request that did not authenticate; `None` lets it in.
    fn refusal(&self, req: &Incoming) -> Option<Reply> {
        let shared = &self.0;
        let refusal: Refusal = shared.credentials.check(req, chrono::Utc::now(), &shared.behaviour).err()?;
        let status = if shared.behaviour.broken(Fault::Auth401) { 401 } else { 400 };
        let mut reply = Reply::error(status, "MSS.00000001", "Unauthorized");
        reply.note = Some(refusal.to_string());
        Some(reply)
    }

    fn batch(&self, req: &Incoming) -> Reply {
        let shared = &self.0;
        let behaviour = &shared.behaviour;
        if let Some(reply) = self.refusal(req) {
            return reply;
        }
        let batch = match read_batch(req, behaviour) {
            Ok(batch) => batch,
            Err(Refused::Invalid(msg)) => return Reply::error(400, "MSS.00000002", msg),
            Err(Refused::Internal) => return internal_error("body is not JSON"),
        };
        if behaviour.broken(Fault::ServerErrorOnRepeatedId) && has_repeats(&batch.ids) {
            return internal_error("repeated asset id");
        }
        let body = results::run(&shared.store, &batch, behaviour);
        let status = if behaviour.broken(Fault::Status201) { 201 } else { 200 };
        let mut reply = Reply::new(status, body);
        if behaviour.broken(Fault::HangOnLargeBatch) && batch.ids.len() >= HANG_FROM_IDS {
            reply.delay = Some(HANG_DELAY);
        }
        reply
    }

    fn lookup(&self, req: &Incoming, id: &str) -> Reply {
        if let Some(reply) = self.refusal(req) {
            return reply;
        }
        match self.0.store.get(id) {
            Some(asset) => {
                Reply::new(200, json!({ "asset_id": id, "asset_state": asset.state.name(), "shared": asset.shared }))
            }
            None => Reply::error(404, "MSS.00000003", "Asset not found"),
        }
    }

    /// Headers, content type, delays: the parts of an answer every route shares.
    fn dress(&self, mut reply: Reply) -> ResponseTemplate {
        let behaviour = &self.0.behaviour;
        let request_id = if behaviour.broken(Fault::RepeatedRequestId) {
            FIXED_REQUEST_ID.to_string()
        } else if behaviour.broken(Fault::RareRepeatedRequestId) {
            self.0.request_ids.next_repeating(REPEAT_ID_EVERY)
        } else {
            self.0.request_ids.next()
        };
        if reply.status == 400 && behaviour.broken(Fault::ErrorBodyWithoutCode) {
            if let Some(body) = reply.body.as_object_mut() {
                body.remove("error_code");
            }
        }
        let extra = behaviour.chose(Variant::ExtraFields);
        if extra {
            if let Some(body) = reply.body.as_object_mut() {
                body.insert("request_id".into(), Value::String(request_id.clone()));
            }
        }
        let content_type = if behaviour.broken(Fault::ContentTypeText) {
            "text/plain"
        } else if behaviour.chose(Variant::CharsetContentType) {
            "application/json;charset=UTF-8"
        } else {
            "application/json"
        };
        let mut template = ResponseTemplate::new(reply.status)
            .set_body_raw(serde_json::to_vec(&reply.body).unwrap_or_default(), content_type);
        if !(reply.status == 200 && behaviour.broken(Fault::NoRequestId)) {
            template = template.insert_header("X-Request-Id", request_id.as_str());
        }
        if extra {
            template = template.insert_header("X-Served-By", "batchconf-reference-server");
        }
        if let Some(allow) = reply.allow {
            template = template.insert_header("Allow", allow);
        }
        if reply.status == 200 && behaviour.broken(Fault::Slow) {
            reply.delay = Some(reply.delay.unwrap_or_default() + SLOW_DELAY);
        }
        if let Some(delay) = reply.delay {
            template = template.set_delay(delay);
        }
        template
    }
}

fn method_not_allowed(req: &Incoming, allowed: &'static str) -> Reply {
    let mut reply = Reply::error(
        405,
        "MSS.00000405",
        format!("batchconf reference server: {} {} is not served; this path takes {allowed}", req.method, req.path),
    );
    reply.allow = Some(allowed);
    reply
}

fn internal_error(why: &str) -> Reply {
    let mut reply = Reply::error(500, "MSS.00000004", "Internal Error");
    reply.note = Some(format!("planted fault: 500 for {why}"));
    reply
}

fn has_repeats(ids: &[String]) -> bool {
    let mut seen = std::collections::HashSet::new();
    ids.iter().any(|id| !seen.insert(id.as_str()))
}

/// Fresh `X-Request-Id` values: 32 hex digits, unique within a server (a counter through a
/// bijective mix) and unlike those of any other server (a random half).
pub(crate) struct RequestIds {
    prefix: u64,
    key: u64,
    counter: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> RequestIds {
        RequestIds { prefix: rand::random(), key: rand::random(), counter: AtomicU64::new(0) }
    }

    pub(crate) fn next(&self) -> String {
        self.id(self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Like [`RequestIds::next`], except that every `every`th id is the one before it again.
    pub(crate) fn next_repeating(&self, every: u64) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.id(if every > 1 && n % every == every - 1 { n - 1 } else { n })
    }

    fn id(&self, n: u64) -> String {
        format!("{:016x}{:016x}", self.prefix, mix(n ^ self.key))
    }
}

/// splitmix64's finaliser: a bijection on u64, so distinct counters give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_fresh_and_32_hex_digits() {
        let ids = RequestIds::new();
        let all: std::collections::HashSet<String> = (0..10_000).map(|_| ids.next()).collect();
        assert_eq!(all.len(), 10_000);
        assert!(all.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn a_repeating_source_repeats_the_id_before_every_hundredth() {
        let ids = RequestIds::new();
        let seq: Vec<String> = (0..300).map(|_| ids.next_repeating(100)).collect();
        let repeats: Vec<usize> = (1..seq.len()).filter(|&i| seq[..i].contains(&seq[i])).collect();
        assert_eq!(repeats, [99, 199, 299]);
        assert!(repeats.iter().all(|&i| seq[i] == seq[i - 1]));
    }
}
