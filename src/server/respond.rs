//! The reference server's one wiremock responder: routes each request, authenticates it, runs it
//! against the store, and dresses every answer the contract's way (fresh `X-Request-Id`,
//! `Content-Type: application/json`), with the planted fault or chosen variants applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::{Respond, ResponseTemplate};

use super::auth::{Credentials, Refusal};
use super::catalogue::{Behaviour, Fault, Variant};
use super::gateway::{self, Gateway};
use super::incoming::Incoming;
use super::request::{read_batch, Refused, NOT_JSON};
use super::results;
use super::store::{Action, State, Store, LOST_UPDATE_WINDOW, ROW_LOCK_STEP};
use crate::contract::path_params;

use crate::protocol::{BATCH_PATH, LOOKUP_PATH, REQUEST_ID_HEADER};

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
    /// The API gateway's memory: lockouts, the token's uses.
    pub gateway: Gateway,
    pub throttle: super::throttle::Throttle,
    /// Under `lookup-cache-raw-path` only: lookup answers by the path segment as received.
    pub lookup_cache: std::sync::Mutex<std::collections::HashMap<String, Value>>,
}

/// The catch-all responder mounted on the wiremock server (and, through [`super::InMemory`],
/// called directly by the engine's own tests).
#[derive(Clone)]
pub(crate) struct Router(pub std::sync::Arc<Shared>);

/// A dressed answer, before it is handed to wiremock (or to an in-memory caller).
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
}

impl Router {
    /// A router for this configuration. Refuses credentials that would let anything in: an empty
    /// token would accept every request that sends an empty `X-Auth-Token`.
    pub(crate) fn new(config: super::ServerConfig) -> Result<Router, crate::error::SetupError> {
        Router::with_rotation(config, super::rotate::ROTATE_EVERY)
    }

    /// The same, remounted every `every` requests once it serves over wiremock (`rotate.rs`).
    pub(crate) fn with_rotation(config: super::ServerConfig, every: u64) -> Result<Router, crate::error::SetupError> {
        let argument = |why: &str| Err(crate::error::SetupError::Argument(why.to_string()));
        if config.tokens.iter().any(|t| t.trim().is_empty()) {
            return argument("an empty token would let in any request with an empty `X-Auth-Token`: give a real one");
        }
        if config.aksk.iter().any(|(ak, sk)| ak.trim().is_empty() || sk.trim().is_empty()) {
            return argument("an AK/SK pair needs both an access key and a secret key");
        }
        Ok(Router(std::sync::Arc::new(Shared {
            store: Store::seeded(&config.fixtures),
            credentials: Credentials { tokens: config.tokens, aksk: config.aksk },
            throttle: super::throttle::Throttle::new(
                &Behaviour::new(config.fault, &config.variants),
                config.rate_limit,
            ),
            behaviour: Behaviour::new(config.fault, &config.variants),
            log: config.log,
            request_ids: RequestIds::new(config.request_id_seed),
            received: 0.into(),
            rotation: super::rotate::Rotation::new(every),
            gateway: Gateway::new(config.token_ttl_requests),
            lookup_cache: Default::default(),
        })))
    }

    /// Routes, authenticates, runs and dresses one request (the server's `n`-th).
    pub(crate) fn answer_nth(&self, req: &Incoming, n: u64) -> Answer {
        let started = Instant::now();
        let reply = if self.0.behaviour.broken(Fault::LateServerErrors) && n > LATE_AFTER && n % LATE_EVERY == 0 {
            internal_error(&format!("request {n}, late in the server's life"))
        } else {
            self.route(req)
        };
        let shown_status = reply.status;
        let note = reply.note.clone();
        let answer = self.dress(reply, req.header(crate::send::CASE_HEADER));
        if self.0.log {
            let took = started.elapsed().as_millis();
            let why = note.map(|n| format!(": {n}")).unwrap_or_default();
            eprintln!("{} {} -> {shown_status} ({took} ms){why}", req.method, req.path);
        }
        answer
    }

    /// [`Router::answer_nth`] for a caller that does not count (the in-memory server).
    pub(crate) fn answer(&self, req: &Incoming) -> Answer {
        let n = self.0.received.fetch_add(1, Ordering::Relaxed) + 1;
        self.answer_nth(req, n)
    }
}

/// An answer before it is dressed in headers.
struct Reply {
    status: u16,
    body: Value,
    delay: Option<Duration>,
    allow: Option<&'static str>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
    /// Why, for the log line only (auth refusals say nothing more than "Unauthorized").
    note: Option<String>,
    /// The body carries the answer's `X-Request-Id` as `request_id` (the gateway's bodies do).
    request_id_in_body: bool,
}

impl Reply {
    fn new(status: u16, body: Value) -> Reply {
        Reply { status, body, delay: None, allow: None, retry_after: None, note: None, request_id_in_body: false }
    }

    fn error(status: u16, code: &str, msg: impl Into<String>) -> Reply {
        Reply::new(status, json!({ "error_code": code, "error_msg": msg.into() }))
    }
}

impl Respond for Router {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let n = self.0.received.fetch_add(1, Ordering::Relaxed) + 1;
        super::rotate::count(&self.0, n);
        let answer = self.answer_nth(&Incoming::from_wiremock(request), n);
        let content_type = answer.headers.iter().find(|(n, _)| *n == "Content-Type").map(|(_, v)| v.clone());
        let mut template =
            ResponseTemplate::new(answer.status).set_body_raw(answer.body, content_type.as_deref().unwrap_or_default());
        for (name, value) in answer.headers.iter().filter(|(n, _)| *n != "Content-Type") {
            template = template.insert_header(*name, value.as_str());
        }
        if let Some(delay) = answer.delay {
            template = template.set_delay(delay);
        }
        template
    }
}

impl Router {
    fn route(&self, req: &Incoming) -> Reply {
        // The gateway throttles before anything else is looked at.
        if let Some(t) = self.0.throttle.check(Instant::now()) {
            let mut reply = Reply::error(429, super::throttle::THROTTLED_CODE, t.message);
            reply.retry_after = t.retry_after_s;
            reply.request_id_in_body = true;
            return reply;
        }
        if path_params(BATCH_PATH, &req.path).is_some() {
            if req.method != "POST" {
                return method_not_allowed(req, "POST");
            }
            return self.batch(req, project_of(BATCH_PATH, req));
        }
        if let Some(params) = path_params(LOOKUP_PATH, &req.path) {
            if req.method != "GET" {
                return method_not_allowed(req, "GET");
            }
            let foreign = params.get("project_id").is_some_and(|p| is_foreign_project(p));
            return self.lookup(req, params.get("asset_id").map(String::as_str).unwrap_or_default(), foreign);
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

    /// The answer to a request that did not authenticate; `None` lets it in. The gateway (with
    /// `gateway-auth`, or a locked key) answers 401 `APIGW.0301`; the service 400.
    fn refusal(&self, req: &Incoming) -> Option<Reply> {
        let shared = &self.0;
        let behaviour = &shared.behaviour;
        let lockout = behaviour.chose(Variant::Lockout);
        let ak = shared.credentials.known_access_key(req).filter(|_| lockout);
        let refusal = match ak {
            Some(ak) if shared.gateway.locked(ak) => Refusal::Locked,
            _ => {
                let refused = shared.credentials.check(req, chrono::Utc::now(), behaviour).err();
                if let Some(ak) = ak {
                    shared.gateway.authenticated(ak, matches!(refused, Some(Refusal::Signature(_))));
                }
                let expired = || req.header("x-auth-token").is_some() && shared.gateway.token_expired();
                match refused {
                    Some(r) => r,
                    None if expired() => Refusal::TokenExpired,
                    None => return None,
                }
            }
        };
        let mut reply = if behaviour.chose(Variant::GatewayAuth) || refusal == Refusal::Locked {
            let msg = format!("Incorrect IAM authentication information: {}", gateway::why(&refusal));
            let mut reply = Reply::error(401, gateway::AUTH_CODE, msg);
            reply.request_id_in_body = true;
            reply
        } else {
            let status = if behaviour.broken(Fault::Auth401) { 401 } else { 400 };
            match behaviour.chose(Variant::ServiceErrorCodes) {
                true => Reply::error(status, "MSS.00010008", "Invalid token in the header."),
                false => Reply::error(status, "MSS.00000001", "Unauthorized"),
            }
        };
        reply.note = Some(refusal.to_string());
        Some(reply)
    }

    fn batch(&self, req: &Incoming, foreign: bool) -> Reply {
        let shared = &self.0;
        let behaviour = &shared.behaviour;
        if let Some(reply) = self.refusal(req) {
            return reply;
        }
        let batch = match read_batch(req, behaviour) {
            Ok(batch) => batch,
            Err(Refused::Invalid(msg)) if behaviour.chose(Variant::ServiceErrorCodes) => {
                let (code, text) = if msg.starts_with(NOT_JSON) {
                    ("MSS.10000002", "Request JSON exception")
                } else {
                    ("MSS.10000003", "Parameter validation abnormal")
                };
                let mut reply = Reply::error(400, code, text);
                reply.note = Some(msg);
                return reply;
            }
            Err(Refused::Invalid(msg)) => return Reply::error(400, "MSS.00000002", msg),
            Err(Refused::Internal) => return internal_error("body is not JSON"),
        };
        if behaviour.broken(Fault::ServerErrorOnRepeatedId) && has_repeats(&batch.ids) {
            return internal_error("repeated asset id");
        }
        if foreign && !behaviour.broken(Fault::StoreIgnoresProject) {
            if !behaviour.chose(Variant::PerProjectNamespaces) {
                // The credentials are this project's: another one is out of their reach.
                let mut reply = self.other_project();
                reply.note = Some("the batch names another project".into());
                return reply;
            }
            // Another project's namespace, which holds none of these assets.
            return Reply::new(200, results::run(&Store::default(), &batch, behaviour));
        }
        if behaviour.chose(Variant::NearMissIds400) && batch.ids.iter().any(|id| shared.store.is_near_miss(id)) {
            return Reply::error(400, "MSS.00000002", "an asset id is not written the way the asset's is");
        }
        if behaviour.broken(Fault::LookupCacheRawPath) {
            // Invalidated by each id's usual spelling only: any other spelling stays stale.
            let mut cache = shared.lookup_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for id in &batch.ids {
                cache.remove(&percent_encoding::utf8_percent_encode(id, crate::contract::SEGMENT).to_string());
            }
        }
        if behaviour.broken(Fault::ServerErrorShareUnactived)
            && batch.action == Action::Share
            && batch.ids.iter().any(|id| shared.store.get(id).is_some_and(|a| a.state == State::Unactived))
        {
            return internal_error("SHARE of an UNACTIVED asset");
        }
        // Under `row-locks` each existing id takes its turn; the answer waits for the last one.
        let rows = batch.ids.iter().filter(|id| shared.store.get(id).is_some()).count();
        let body = results::run(&shared.store, &batch, behaviour);
        let status = if behaviour.broken(Fault::Status201) { 201 } else { 200 };
        let mut reply = Reply::new(status, body);
        if behaviour.broken(Fault::HangOnLargeBatch) && batch.ids.len() >= HANG_FROM_IDS {
            reply.delay = Some(HANG_DELAY);
        }
        if behaviour.broken(Fault::LostConcurrentUpdates) {
            // The answer waits for the (late) write-back, so one client alone never sees the gap.
            reply.delay = Some(LOST_UPDATE_WINDOW);
        }
        if behaviour.broken(Fault::RowLocks) {
            reply.delay = Some(ROW_LOCK_STEP * (rows as u32 + 1));
        }
        reply
    }

    fn lookup(&self, req: &Incoming, id: &str, foreign: bool) -> Reply {
        let behaviour = &self.0.behaviour;
        if let Some(reply) = self.refusal(req) {
            return reply;
        }
        if foreign && !behaviour.broken(Fault::StoreIgnoresProject) && !behaviour.chose(Variant::PerProjectNamespaces) {
            return self.other_project();
        }
        let found = if foreign && behaviour.chose(Variant::PerProjectNamespaces) {
            None
        } else {
            self.0.store.seen(id, behaviour)
        };
        let raw_segment = req.path.rsplit('/').next().unwrap_or_default().to_string();
        if behaviour.broken(Fault::LookupCacheRawPath) {
            let cache = self.0.lookup_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(body) = cache.get(&raw_segment) {
                return Reply::new(200, body.clone());
            }
        }
        match found {
            Some(asset) => {
                let body = json!({ "asset_id": id, "asset_state": asset.state.name(), "shared": asset.shared });
                if behaviour.broken(Fault::LookupCacheRawPath) {
                    let mut cache = self.0.lookup_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    cache.insert(raw_segment, body.clone());
                }
                Reply::new(200, body)
            }
            None => {
                let status = if behaviour.chose(Variant::Lookup400Absent) { 400 } else { 404 };
                let code = if behaviour.chose(Variant::ServiceErrorCodes) { "MSS.10001001" } else { "MSS.00000003" };
                Reply::error(status, code, "Asset not found")
            }
        }
    }

    /// The refusal of a request naming a project the credentials do not reach.
    fn other_project(&self) -> Reply {
        match self.0.behaviour.chose(Variant::ServiceErrorCodes) {
            true => Reply::error(400, "MSS.00010009", "urlTenantId is not equal tokenTenantId"),
            false => Reply::error(400, "MSS.00000001", "Unauthorized"),
        }
    }

    /// Headers, content type, delays: the parts of an answer every route shares.
    fn dress(&self, mut reply: Reply, label: Option<&str>) -> Answer {
        let behaviour = &self.0.behaviour;
        let request_id = if behaviour.broken(Fault::RepeatedRequestId) {
            FIXED_REQUEST_ID.to_string()
        } else {
            let repeat = behaviour.broken(Fault::RareRepeatedRequestId).then_some(REPEAT_ID_EVERY);
            self.0.request_ids.next(label, repeat)
        };
        if reply.status == 400 && behaviour.broken(Fault::ErrorBodyWithoutCode) {
            if let Some(body) = reply.body.as_object_mut() {
                body.remove("error_code");
            }
        }
        let extra = behaviour.chose(Variant::ExtraFields);
        if extra || reply.request_id_in_body {
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
        let mut headers = vec![("Content-Type", content_type.to_string())];
        if !(reply.status == 200 && behaviour.broken(Fault::NoRequestId)) {
            headers.push((REQUEST_ID_HEADER, request_id));
        }
        if extra {
            headers.push(("X-Served-By", "batchconf-reference-server".to_string()));
        }
        if let Some(allow) = reply.allow {
            headers.push(("Allow", allow.to_string()));
        }
        if let Some(seconds) = reply.retry_after {
            headers.push(("Retry-After", seconds.to_string()));
        }
        if reply.status == 200 && behaviour.broken(Fault::Slow) {
            reply.delay = Some(reply.delay.unwrap_or_default() + SLOW_DELAY);
        }
        Answer {
            status: reply.status,
            headers,
            body: serde_json::to_vec(&reply.body).unwrap_or_default(),
            delay: reply.delay,
        }
    }
}

/// Is the project a path names one the server's credentials do not reach? The reference server
/// holds one project's assets under every project id but those batchconf makes up (`bcf-`
/// prefixed, like every id it invents), which stand for somebody else's project.
fn is_foreign_project(project: &str) -> bool {
    project.starts_with(crate::generate::ID_PREFIX)
}

fn project_of(template: &str, req: &Incoming) -> bool {
    path_params(template, &req.path).and_then(|p| p.get("project_id").map(|p| is_foreign_project(p))).unwrap_or(false)
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
/// bijective mix) and unlike those of any other server (a random half). With a seed, a request
/// that names its case (`X-Batchconf-Case`, unique per exchange in a run) gets an id derived from
/// the seed and that label instead, so the same run shows the same ids whatever the timing.
pub(crate) struct RequestIds {
    prefix: u64,
    key: u64,
    seed: Option<u64>,
    counter: AtomicU64,
    /// The id given last, for the fault that repeats it.
    last: std::sync::Mutex<Option<String>>,
}

impl RequestIds {
    pub(crate) fn new(seed: Option<u64>) -> RequestIds {
        RequestIds {
            prefix: rand::random(),
            key: rand::random(),
            seed,
            counter: AtomicU64::new(0),
            last: Default::default(),
        }
    }

    /// The next id: derived from the seed and the label where both are known, from the counter
    /// otherwise; with `repeat_every`, every such-many-th id is the one before it again (the
    /// `rare-repeated-request-id` fault).
    pub(crate) fn next(&self, label: Option<&str>, repeat_every: Option<u64>) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = || match (self.seed, label) {
            (Some(seed), Some(label)) => {
                use sha2::{Digest, Sha256};
                let digest = Sha256::new().chain_update(seed.to_le_bytes()).chain_update(label).finalize();
                hex::encode(&digest[..16])
            }
            _ => self.id(n),
        };
        let Some(every) = repeat_every.filter(|e| *e > 1) else { return id() };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.as_ref() {
            Some(previous) if n % every == every - 1 => previous.clone(),
            _ => last.insert(id()).clone(),
        }
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
        let ids = RequestIds::new(None);
        let all: std::collections::HashSet<String> = (0..10_000).map(|_| ids.next(None, None)).collect();
        assert_eq!(all.len(), 10_000);
        assert!(all.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn seeded_ids_follow_the_label_not_the_order() {
        let (a, b) = (RequestIds::new(Some(7)), RequestIds::new(Some(7)));
        let _ = a.next(Some("x#0"), None);
        assert_eq!(a.next(Some("t#1"), None), b.next(Some("t#1"), None));
        assert_ne!(a.next(Some("t#1"), None), a.next(Some("t#2"), None));
        assert_eq!(a.next(Some("t#1"), None).len(), 32);
        assert_ne!(RequestIds::new(Some(8)).next(Some("t#1"), None), b.next(Some("t#1"), None));
    }

    #[test]
    fn a_repeating_source_repeats_the_id_before_every_hundredth() {
        let ids = RequestIds::new(None);
        let seq: Vec<String> = (0..300).map(|_| ids.next(None, Some(100))).collect();
        let repeats: Vec<usize> = (1..seq.len()).filter(|&i| seq[..i].contains(&seq[i])).collect();
        assert_eq!(repeats, [99, 199, 299]);
        assert!(repeats.iter().all(|&i| seq[i] == seq[i - 1]));
    }
}
