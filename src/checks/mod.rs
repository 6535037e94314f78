//! The check catalogue: named functions with one signature, registered in one list.
//!
//! A check looks at one exchange (with what the case expected of it, and what the run has seen so
//! far) and returns every way it breaks the check's rule. It never invents a rule the contract
//! does not state. Adding a check is one file here and one line in [`CHECKS`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::Contract;
use crate::exchange::{Exchange, Response};

mod accepts_valid_request;
mod batch_ids_answered;
mod batch_no_extra_ids;
mod connection;
mod content_type_json;
mod failed_group_has_error_info;
mod lifecycle;
mod no_server_error;
mod project_isolation;
mod rejects_bad_credentials;
mod rejects_invalid_request;
mod request_id_unique;
mod request_path;
mod request_schema;
mod required_headers;
mod response_schema;
mod response_time;
mod status_documented;

pub use lifecycle::ABSENT;

/// Every check, in the order reports list them.
pub static CHECKS: &[Check] = &[
    status_documented::CHECK,
    no_server_error::CHECK,
    connection::CHECK,
    response_time::CHECK,
    content_type_json::CHECK,
    required_headers::CHECK,
    response_schema::CHECK,
    batch_ids_answered::CHECK,
    batch_no_extra_ids::CHECK,
    failed_group_has_error_info::CHECK,
    request_id_unique::CHECK,
    request_schema::CHECK,
    request_path::CHECK,
    accepts_valid_request::CHECK,
    rejects_invalid_request::CHECK,
    rejects_bad_credentials::CHECK,
    lifecycle::CHECK,
    project_isolation::CHECK,
];

/// A named rule of the contract.
pub struct Check {
    /// The id used in reports, case files, `batchconf list` and filters.
    pub name: &'static str,
    /// One line, shown by `batchconf list`.
    pub description: &'static str,
    pub run: fn(&Context) -> Vec<Violation>,
}

/// The check a broken connection trips (whose failures are not worth shrinking).
pub const CONNECTION: &str = connection::CHECK.name;
pub const RESPONSE_SCHEMA: &str = response_schema::CHECK.name;

pub fn find(name: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.name == name)
}

/// One way an exchange breaks a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub check: String,
    /// Where: `request.body/action`, `request.path`, `response.status`,
    /// `response.headers.X-Request-Id`, `response.body/results/0/ret_status`, …
    pub location: String,
    pub expected: String,
    pub seen: String,
}

impl Violation {
    pub fn new(
        check: &str,
        location: impl Into<String>,
        expected: impl Into<String>,
        seen: impl Into<String>,
    ) -> Violation {
        Violation { check: check.to_string(), location: location.into(), expected: expected.into(), seen: seen.into() }
    }

    /// What makes two failures "the same bug" while shrinking: the check and the place, with
    /// array indices blurred (a smaller batch moves the same fault to another index).
    pub fn key(&self) -> (String, String) {
        let place = self
            .location
            .split('/')
            .map(|seg| if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) { "*" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        (self.check.clone(), place)
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at `{}`: expected {}; saw {}", self.check, self.location, self.expected, self.seen)
    }
}

/// What a case expected of an exchange, beyond the contract's rules that hold for every exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "expect")]
pub enum Expect {
    /// Only the contract's own rules.
    #[default]
    Nothing,
    /// A valid, authenticated, ordinary request: answered 200.
    Accepted,
    /// A request breaking one rule: rejected with the contract's invalid-request status.
    Rejected { rule: String },
    /// Missing or failed credentials: rejected as the contract says.
    Unauthenticated { how: String },
    /// In a sequence: these ids are reported in a group with this `ret_status`; with `or_failed`,
    /// each may be in the FAILED group instead (another id of the batch fails, and the contract is
    /// silent on all-or-nothing batches: see [`crate::engine::model::Model::may_fail_with`]).
    Outcome {
        ids: Vec<String>,
        status: String,
        why: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        or_failed: bool,
    },
    /// In a sequence, on an asset lookup: the asset is in one of these states
    /// (`$absent`: the lookup may answer "not found").
    State { id: String, allowed: Vec<String>, why: String },
    /// A batch naming a project that is not the run's, on these of the run's assets.
    OtherProject { ids: Vec<String> },
}

/// Which operation an exchange is a call of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The batch operation under test (or something that tried to be, e.g. a wrong path).
    Batch,
    /// The single-asset lookup used to observe effects.
    Lookup,
}

/// How many request ids one generation of [`RunState`]'s memory holds.
pub const REQUEST_ID_GENERATION: usize = 100_000;

/// What a run remembers across exchanges.
#[derive(Debug, Default)]
pub struct RunState {
    /// A hash of each `X-Request-Id` seen to the label of the first exchange that carried it, in
    /// two generations: a soak run sees millions, so memory stays flat by forgetting the older
    /// generation once the newer is full (a repeat is caught within the last
    /// [`REQUEST_ID_GENERATION`] to twice as many answers). 64 bits of hash keep each entry small
    /// (a false "repeated" needs a collision, about one in 2^64 per pair).
    request_ids: Mutex<[HashMap<u64, Box<str>>; 2]>,
    pub max_response_ms: Option<u64>,
    /// The path of the target's base URL (`/gw` in `https://host/gw`), which is not part of the
    /// operation's path: a gateway prefix is the target's, not a client bug.
    pub path_prefix: String,
}

impl RunState {
    pub fn new(max_response_ms: Option<u64>) -> RunState {
        RunState { request_ids: Mutex::default(), max_response_ms, path_prefix: String::new() }
    }

    /// The same, for a target whose base URL has a path.
    pub fn with_path_prefix(mut self, prefix: &str) -> RunState {
        self.path_prefix = prefix.to_string();
        self
    }

    /// Records a request id; returns the label of an earlier exchange that had it.
    pub fn note_request_id(&self, id: &str, label: &str) -> Option<String> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        // A fixed hasher: the map is private to the run, and the same seed must judge the same.
        let key = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id);
        let mut seen = self.request_ids.lock().unwrap_or_else(|e| e.into_inner());
        match seen[0].get(&key).or_else(|| seen[1].get(&key)) {
            Some(first) if &**first != label => Some(first.to_string()),
            Some(_) => None,
            None => {
                if seen[0].len() >= REQUEST_ID_GENERATION {
                    seen[1] = std::mem::take(&mut seen[0]);
                }
                seen[0].insert(key, label.into());
                None
            }
        }
    }
}

/// Everything a check may look at.
pub struct Context<'a> {
    pub contract: &'a Contract,
    pub exchange: &'a Exchange,
    pub subject: Subject,
    pub expect: &'a Expect,
    pub run: &'a RunState,
    /// A name for this exchange that is unique in the run (for cross-exchange messages).
    pub label: &'a str,
    /// The request's path without the target's base path.
    pub path: &'a str,
    /// Borrowed when the caller knows it (the body it generated), parsed from the request if not.
    pub request_json: Option<Cow<'a, Value>>,
    pub response_json: Option<Value>,
}

impl<'a> Context<'a> {
    pub fn new(
        contract: &'a Contract,
        exchange: &'a Exchange,
        expect: &'a Expect,
        run: &'a RunState,
        label: &'a str,
    ) -> Context<'a> {
        let request_json = exchange.request.json().map(Cow::Owned);
        Context::with_request_json(contract, exchange, expect, run, label, request_json)
    }

    /// The same, for a request whose body is `sent`: the JSON the engine generated and wrote, so
    /// it is not parsed back (a run judges tens of thousands of exchanges a second).
    pub fn sent(
        contract: &'a Contract,
        exchange: &'a Exchange,
        sent: &'a Value,
        expect: &'a Expect,
        run: &'a RunState,
        label: &'a str,
    ) -> Context<'a> {
        Context::with_request_json(contract, exchange, expect, run, label, Some(Cow::Borrowed(sent)))
    }

    fn with_request_json(
        contract: &'a Contract,
        exchange: &'a Exchange,
        expect: &'a Expect,
        run: &'a RunState,
        label: &'a str,
        request_json: Option<Cow<'a, Value>>,
    ) -> Context<'a> {
        let full = exchange.request.path();
        let path = match full.strip_prefix(run.path_prefix.trim_end_matches('/')) {
            Some(rest) if rest.starts_with('/') => rest,
            _ => full,
        };
        let subject = match &contract.lookup {
            Some(l)
                if exchange.request.method.eq_ignore_ascii_case(&l.method)
                    && crate::contract::path_params(&l.path, path).is_some() =>
            {
                Subject::Lookup
            }
            _ => Subject::Batch,
        };
        Context {
            contract,
            exchange,
            subject,
            expect,
            run,
            label,
            path,
            request_json,
            response_json: exchange.response().and_then(Response::json),
        }
    }

    pub fn response(&self) -> Option<&'a Response> {
        self.exchange.response()
    }

    /// The gateway answer this exchange got, if it got one (see `platform.gateway` in the
    /// manifest): the gateway answers some failures before the service sees the request.
    pub fn gateway_answer(&self) -> Option<&'a crate::contract::GatewayAnswer> {
        let resp = self.response()?;
        self.contract.gateway_answer(resp.status, self.response_json.as_ref())
    }

    /// A gateway answer that conforms: an authentication failure answered by the gateway, to a
    /// request that carried missing or failed credentials. To a valid request, or for any other
    /// failure, a gateway answer is no excuse.
    pub fn gateway_refused_credentials(&self) -> bool {
        matches!(self.expect, Expect::Unauthenticated { .. })
            && self.gateway_answer().is_some_and(|a| a.failure == crate::contract::Failure::Authentication)
    }

    /// The response of a batch call (the operation's own rules apply only to it).
    pub fn batch_response(&self) -> Option<&'a Response> {
        match self.subject {
            Subject::Batch => self.response(),
            Subject::Lookup => None,
        }
    }

    /// The requested ids, when the request carries a well-formed id list.
    pub fn requested_ids(&self) -> Option<Vec<&str>> {
        let ids = self.request_json.as_deref()?.pointer(&self.contract.batch().request_ids)?;
        ids.as_array()?.iter().map(Value::as_str).collect()
    }

    /// The result groups of a 200 batch answer: (index, group).
    pub fn groups(&self) -> Vec<(usize, &Value)> {
        let Some(resp) = self.batch_response() else { return vec![] };
        if resp.status != 200 {
            return vec![];
        }
        let Some(body) = self.response_json.as_ref() else { return vec![] };
        match body.pointer(&self.contract.batch().groups).and_then(Value::as_array) {
            Some(groups) => groups.iter().enumerate().collect(),
            None => vec![],
        }
    }

    /// The ids a group names (strings only; the schema check reports the rest).
    pub fn group_ids<'v>(&self, group: &'v Value) -> Vec<&'v str> {
        group
            .pointer(&self.contract.batch().group_ids)
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The `ret_status` of each result group that names `id` (`None`: a group without one).
    pub fn statuses_naming(&self, id: &str) -> Vec<Option<&str>> {
        let spec = self.contract.batch();
        self.groups()
            .into_iter()
            .filter(|(_, g)| self.group_ids(g).contains(&id))
            .map(|(_, g)| g.pointer(&spec.group_status).and_then(Value::as_str))
            .collect()
    }

    /// `response.body` + a JSON pointer, the way violations name places in a body.
    pub fn body_at(&self, pointer: &str) -> String {
        format!("response.body{pointer}")
    }
}

/// Runs every check (or the named ones) on one exchange. A check that crashes is reported as a
/// violation of its own, so one broken check cannot hide what the others found.
pub fn run_all(ctx: &Context, only: Option<&[String]>) -> Vec<Violation> {
    CHECKS
        .iter()
        .filter(|c| only.is_none_or(|names| names.iter().any(|n| n == c.name)))
        .flat_map(|c| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (c.run)(ctx))).unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                vec![Violation::new(
                    c.name,
                    "the check itself",
                    "the check to run to its end",
                    format!("it crashed: {why}"),
                )]
            })
        })
        .collect()
}

/// Shortens a value for a message: long lists and strings are cut with a count of the rest.
pub fn brief(value: &Value) -> String {
    let text = value.to_string();
    cut(&text, 120)
}

pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({} more characters)", text.chars().count() - max)
}

/// Lists ids for a message, at most a dozen of them.
pub fn id_list<S: AsRef<str>>(ids: &[S]) -> String {
    let shown: Vec<String> = ids.iter().take(12).map(|id| format!("{:?}", id.as_ref())).collect();
    if ids.len() > 12 {
        format!("[{}, … {} more]", shown.join(", "), ids.len() - 12)
    } else {
        format!("[{}]", shown.join(", "))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builds exchanges for the checks' unit tests.
    use super::*;
    use crate::exchange::{Headers, Request};
    use std::sync::OnceLock;

    pub fn contract() -> &'static Contract {
        static C: OnceLock<Contract> = OnceLock::new();
        C.get_or_init(|| Contract::bundled().expect("bundled contract"))
    }

    pub fn request(body: Value) -> Request {
        Request {
            method: "POST".into(),
            url: "http://127.0.0.1/v1/p/digital-assets/batch-action".into(),
            headers: Headers::from([("Content-Type", "application/json")]),
            body: body.to_string().into_bytes(),
        }
    }

    pub fn response(status: u16, body: Value) -> Response {
        Response {
            status,
            headers: Some(Headers::from([("Content-Type", "application/json"), ("X-Request-Id", "r-1")])),
            body: body.to_string().into_bytes(),
        }
    }

    /// Runs one check on an exchange with an expectation.
    pub fn judge_with(name: &str, exchange: &Exchange, expect: &Expect) -> Vec<Violation> {
        let run = RunState::new(Some(1000));
        let ctx = Context::new(contract(), exchange, expect, &run, "t");
        (find(name).expect("check exists").run)(&ctx)
    }

    pub fn judge(name: &str, exchange: &Exchange) -> Vec<Violation> {
        judge_with(name, exchange, &Expect::Nothing)
    }

    /// Runs every check; returns the names of those that failed.
    pub fn failing(exchange: &Exchange, expect: &Expect) -> Vec<String> {
        let run = RunState::new(Some(1000));
        let ctx = Context::new(contract(), exchange, expect, &run, "t");
        let mut names: Vec<String> = run_all(&ctx, None).into_iter().map(|v| v.check).collect();
        names.dedup();
        names
    }

    pub fn good() -> Exchange {
        Exchange::new(
            request(serde_json::json!({"action": "DELETE", "asset_ids": ["a", "b"]})),
            response(
                200,
                serde_json::json!({"results": [
                    {"ret_status": "SUCCESS", "asset_ids": ["a"]},
                    {"ret_status": "FAILED", "asset_ids": ["b"], "error_info": {"error_code": "MSS.00000003", "error_msg": "not found"}}
                ]}),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_remembered_for_a_generation_or_two_then_forgotten() {
        let run = RunState::new(None);
        assert_eq!(run.note_request_id("r0", "a#0"), None);
        assert_eq!(run.note_request_id("r0", "a#0"), None, "the same exchange, seen again, is no repeat");
        for i in 1..=REQUEST_ID_GENERATION {
            run.note_request_id(&format!("r{i}"), "b");
        }
        assert_eq!(run.note_request_id("r0", "c#1").as_deref(), Some("a#0"), "still within two generations");
        for i in 0..REQUEST_ID_GENERATION {
            run.note_request_id(&format!("s{i}"), "d");
        }
        assert_eq!(run.note_request_id("r0", "e#1"), None, "forgotten: memory stays flat");
    }
}
