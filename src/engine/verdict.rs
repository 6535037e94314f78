//! Did the run test anything? A run passes only if the target accepted requests made with the
//! run's own credentials and most requests were judged. This module keeps the tally that tells,
//! stops the run as soon as it is clear that the target cannot be tested, and says why in one
//! sentence.
//!
//! "Rejected for authentication" is told apart from "rejected for another reason" without
//! guessing error codes: the same request is sent once more without any credentials, and if the
//! target answers both the same way (status and `error_code`), the run's credentials did nothing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::exchange::{Exchange, Outcome, Request};
use crate::generate::AuthMode;

/// Answers with the run's credentials, all refused and none accepted, before the run asks
/// whether its credentials work at all.
const REFUSALS_BEFORE_PROBE: u64 = 8;
/// Answers still throttled after retries, before "nearly everything is throttled" may stop a run.
const THROTTLED_BEFORE_STOP: u64 = 20;
/// Silent failures in a row (no answer at all) that end a run whatever the time.
const SILENT_IN_A_ROW: u64 = 50;
/// Trials whose first answers, all unreadable the same way, give the run its verdict.
const UNREADABLE_FIRST_ANSWERS: usize = 4;

/// A violation's check and place ([`crate::checks::Violation::key`]).
type ViolationKey = (String, String);

/// What an answer looks like, for comparing a request with credentials and without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub status: u16,
    pub error_code: Option<String>,
}

impl Signature {
    pub fn of(x: &Exchange) -> Option<Signature> {
        let r = x.response()?;
        let error_code = r.json().and_then(|b| b.get("error_code").and_then(|c| c.as_str()).map(str::to_string));
        Some(Signature { status: r.status, error_code })
    }

    /// A refusal (not 2xx, not throttling) that looks exactly like the answer to no credentials.
    pub fn same_refusal(&self, anonymous: &Signature) -> bool {
        !(200..300).contains(&self.status) && self.status != 429 && self == anonymous
    }
}

/// Whether the probe has been made, and what it showed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    NotYet,
    /// Sent, not yet answered: no second probe meanwhile.
    Running,
    /// The answers differ: the credentials are not the problem.
    Distinct,
}

/// Counts over the whole run, shared by every trial.
pub struct Tally {
    started: Instant,
    /// A request timeout: how long a silent target is given before the run gives up on it.
    timeout: Duration,
    concurrency: u64,
    /// The status the contract gives a request whose authentication failed.
    refused_with: u16,
    completed: AtomicU64,
    judged: AtomicU64,
    throttled: AtomicU64,
    silent: AtomicU64,
    silent_in_a_row: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    /// Answers (any HTTP status but 429) to requests made with the run's credentials.
    valid_answers: AtomicU64,
    last_answer: Mutex<Instant>,
    /// One request made with the run's credentials that was refused: what a probe re-sends.
    refused_sample: Mutex<Option<Request>>,
    /// The trials whose first answer was unreadable, and how (the violation's check and place),
    /// while every first answer so far was unreadable the same way; settled (no early verdict)
    /// at the first that was not.
    first_answers: Mutex<Option<(Vec<String>, ViolationKey)>>,
    first_answers_settled: std::sync::atomic::AtomicBool,
    /// Why the run has its verdict before its end: every answer it got is broken the same way.
    verdict_early: OnceLock<String>,
    probe: Mutex<Probe>,
    stopped: OnceLock<String>,
    /// Tells requests in flight that the run stopped, so they are dropped, not waited for.
    stop_signal: tokio::sync::watch::Sender<bool>,
    /// The contract, for the platform's gateway: a gateway refusal of the run's own credentials
    /// stops the run at once.
    contract: Option<std::sync::Arc<crate::contract::Contract>>,
    /// Were requests meant to fail authentication with the run's access key sent?
    spent_run_key: std::sync::atomic::AtomicBool,
    /// The platform's notes on the contract the target's answers bore out (`platform.gateway`'s
    /// `note`s), each once, in the order first seen.
    notes: Mutex<Vec<String>>,
    /// The answer to the first request with no credentials that was refused: what a refusal of
    /// the run's credentials looks like.
    anonymous: Mutex<Option<Signature>>,
    confirm_turn: tokio::sync::Mutex<()>,
}

impl Tally {
    pub fn new(timeout: Duration, concurrency: usize, refused_with: u16) -> Tally {
        Tally {
            started: Instant::now(),
            timeout,
            concurrency: concurrency.max(1) as u64,
            refused_with,
            completed: AtomicU64::new(0),
            judged: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            silent: AtomicU64::new(0),
            silent_in_a_row: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            valid_answers: AtomicU64::new(0),
            last_answer: Mutex::new(Instant::now()),
            refused_sample: Mutex::new(None),
            first_answers: Mutex::new(None),
            first_answers_settled: std::sync::atomic::AtomicBool::new(false),
            verdict_early: OnceLock::new(),
            probe: Mutex::new(Probe::NotYet),
            stopped: OnceLock::new(),
            stop_signal: tokio::sync::watch::Sender::new(false),
            contract: None,
            spent_run_key: Default::default(),
            notes: Mutex::default(),
            anonymous: Mutex::default(),
            confirm_turn: tokio::sync::Mutex::new(()),
        }
    }

    /// The same tally, told the contract: its platform's gateway answers are recognised.
    pub fn with_contract(mut self, contract: std::sync::Arc<crate::contract::Contract>) -> Tally {
        self.contract = Some(contract);
        self
    }

    /// Requests meant to fail authentication with the run's own access key are being sent.
    pub fn spent_run_key(&self) {
        self.spent_run_key.store(true, Relaxed);
    }

    /// The contract notes the run's answers bore out, each once.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A note on the contract, kept once.
    fn note(&self, note: &str) {
        let mut notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        if !notes.iter().any(|n| n == note) {
            notes.push(note.to_string());
        }
    }

    /// Why the run's credentials can no longer be used, if this answer shows it: the gateway's
    /// lockout message (to any request), or the gateway refusing the run's own valid credentials
    /// (see [`Tally::gone`]). A gateway answer with a note is noted on the way.
    fn credentials_gone(&self, r: &crate::exchange::Response, auth: AuthMode) -> Option<String> {
        let gateway = self.contract.as_ref()?.gateway.as_ref().filter(|g| g.may_answer(r.status))?;
        let body = r.json();
        let code = body.as_ref().and_then(|b| b.get("error_code")).and_then(|c| c.as_str()).unwrap_or_default();
        if gateway.says_locked(body.as_ref()) {
            return Some(self.locked(format!("it answered {} {code} with the platform's lockout message", r.status)));
        }
        let answer = gateway.answer(r.status, body.as_ref())?;
        if let Some(note) = &answer.note {
            self.note(note);
        }
        if auth != AuthMode::Valid || answer.failure != crate::contract::Failure::Authentication {
            return None;
        }
        Some(self.gone(format!("its API gateway refused the run's own credentials ({} {code})", r.status)))
    }

    /// The sentence for credentials the target refuses (`how` it showed it): never accepted,
    /// refused; accepted before, locked if requests meant to fail with the run's access key were
    /// sent, else lost mid-run.
    fn gone(&self, how: String) -> String {
        if !self.accepted_any() {
            format!("{how} from the first request: check the token or the AK/SK pair, and that they belong to the account of the project id")
        } else if self.spent_run_key.load(Relaxed) {
            self.locked(format!("{how} after accepting them and after requests meant to fail authentication"))
        } else {
            format!("{how} after it had answered {} request(s) made with them: the credentials were lost mid-run (an IAM token expires 24 hours after it is issued); get fresh ones and run again", self.valid_answers.load(Relaxed))
        }
    }

    /// The sentence for a key that may be locked, with the platform's rule when the contract
    /// has it.
    fn locked(&self, how: String) -> String {
        let lockout = self.contract.as_ref().and_then(|c| c.gateway.as_ref()).and_then(|g| g.lockout.as_ref());
        match lockout {
            Some(l) => format!(
                "{how}: the run's access key may be locked; the platform locks a key for {} minutes once it fails authentication more than {} times in a row, and refuses every request signed with it meanwhile (this run sends a valid request after every {} that fail): wait {} minutes before using the key, and tell its owner",
                l.locked_seconds / 60,
                l.consecutive_failures,
                super::FAILURES_BETWEEN_VALID,
                l.locked_seconds / 60
            ),
            None => format!("{how}: the run's access key may be locked; wait before using it again"),
        }
    }

    /// An answer to a request made with the run's credentials that looks exactly like the
    /// answer to none, after they had been accepted: the credentials may be gone (an expired
    /// token), or the request was refused for another reason the same way (another project's).
    /// The caller confirms with a request that was accepted before ([`Tally::confirm_gone`]).
    pub fn looks_refused(&self, x: &Exchange, auth: AuthMode) -> bool {
        if auth != AuthMode::Valid || !self.accepted_any() {
            return false;
        }
        let Some(r) = x.response() else { return false };
        if (200..300).contains(&r.status) || r.status == 429 {
            return false;
        }
        let anonymous = self.anonymous.lock().unwrap_or_else(|e| e.into_inner());
        let Some(anonymous) = anonymous.as_ref().filter(|a| a.status == r.status) else { return false };
        // Most refusals of a run are of invalid requests, with another code: a look at the bytes
        // spares parsing them.
        let code = anonymous.error_code.as_deref().unwrap_or_default();
        if !r.body.windows(code.len().max(1)).any(|w| w == code.as_bytes()) && !code.is_empty() {
            return false;
        }
        Signature::of(x).is_some_and(|this| this.same_refusal(anonymous))
    }

    /// The confirmation: `canary`, an ordinary valid request, got this. Refused like a request
    /// with no credentials, the run's credentials are gone, and the run stops; `true` then.
    pub fn confirm_gone(&self, canary: &Exchange) -> bool {
        let anonymous = self.anonymous.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match (anonymous, Signature::of(canary)) {
            (Some(anonymous), Some(this)) if this.same_refusal(&anonymous) => {
                let code = this.error_code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
                let how = format!(
                    "it refused the run's own credentials exactly as it refuses requests with none ({}{code})",
                    this.status
                );
                self.stop(self.gone(how));
                true
            }
            _ => false,
        }
    }

    /// One confirmation at a time: the first settles it for those waiting.
    pub async fn confirming(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.confirm_turn.lock().await
    }

    /// Why the run stopped, once it has.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.get().map(String::as_str)
    }

    /// Stops the run (the first reason given is kept).
    pub fn stop(&self, why: String) {
        let _ = self.stopped.set(why);
        self.stop_signal.send_replace(true);
    }

    /// Resolves once the run has stopped (at once if it already has).
    pub async fn until_stopped(&self) {
        let mut signal = self.stop_signal.subscribe();
        let _ = signal.wait_for(|stopped| *stopped).await;
    }

    /// Is the early verdict still open (no trial's first answer readable so far)? Cheap: the
    /// judging asks it of every exchange.
    pub fn first_answers_open(&self) -> bool {
        !self.first_answers_settled.load(Relaxed)
    }

    /// A trial's answer, judged: `unreadable` is the violation (check, place) when it could not
    /// be read at all (no JSON body, a broken connection). Only each trial's first answer counts.
    /// When the first answers of [`UNREADABLE_FIRST_ANSWERS`] trials are all unreadable the same
    /// way, every answer is broken and the run has its verdict: see [`Tally::verdict_early`].
    pub fn first_answer(&self, trial: &str, unreadable: Option<(String, String)>) {
        let mut first = self.first_answers.lock().unwrap_or_else(|e| e.into_inner());
        if self.first_answers_settled.load(Relaxed) {
            return;
        }
        if first.as_ref().is_some_and(|(trials, _)| trials.iter().any(|t| t == trial)) {
            return;
        }
        let same = match (first.as_mut(), unreadable) {
            (None, Some(key)) => {
                *first = Some((vec![trial.to_string()], key));
                true
            }
            (Some((trials, key)), Some(this)) if *key == this => {
                trials.push(trial.to_string());
                true
            }
            _ => false,
        };
        if !same {
            self.first_answers_settled.store(true, Relaxed);
            return;
        }
        if let Some((trials, (check, place))) = first.as_ref().filter(|(t, _)| t.len() >= UNREADABLE_FIRST_ANSWERS) {
            self.first_answers_settled.store(true, Relaxed);
            let _ = self.verdict_early.set(format!(
                "the first answers of {} trials ({}) were all unreadable the same way (`{check}` at `{place}`): every answer is broken, so no further trial or example was started",
                trials.len(),
                trials.join(", ")
            ));
        }
    }

    /// Why the run has its verdict before its end, if it has: every answer it got was unreadable
    /// the same way. The run diverges (it found that); nothing more would be learnt.
    pub fn verdict_early(&self) -> Option<&str> {
        self.verdict_early.get().map(String::as_str)
    }

    /// (exchanges completed, answers left unjudged because still throttled, exchanges judged)
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.completed.load(Relaxed), self.throttled.load(Relaxed), self.judged.load(Relaxed))
    }

    /// Has any request made with the run's credentials been accepted (answered 2xx)?
    pub fn accepted_any(&self) -> bool {
        self.accepted.load(Relaxed) > 0
    }

    /// Counts one exchange; `true` if it may be judged (it was not still throttled). Stops the
    /// run when the target has stopped answering or throttles nearly everything.
    pub fn observe(&self, x: &Exchange, auth: AuthMode) -> bool {
        let completed = self.completed.fetch_add(1, Relaxed) + 1;
        match &x.outcome {
            Outcome::Transport { silent: true, .. } => {
                self.silent.fetch_add(1, Relaxed);
                let in_a_row = self.silent_in_a_row.fetch_add(1, Relaxed) + 1;
                let quiet_for = self.last_answer.lock().unwrap_or_else(|e| e.into_inner()).elapsed();
                if in_a_row >= SILENT_IN_A_ROW || (in_a_row >= 2 * self.concurrency && quiet_for >= 2 * self.timeout) {
                    self.stop(format!(
                        "it stopped answering: the last {in_a_row} requests got no answer at all ({}); check that it is up and reachable, or allow a longer request timeout (`--timeout-ms`)",
                        reason(x)
                    ));
                }
            }
            Outcome::Transport { .. } => self.answered(),
            Outcome::Response(r) => {
                self.answered();
                if let Some(why) = self.credentials_gone(r, auth) {
                    self.stop(why);
                    return false;
                }
                if r.status == 429 {
                    let throttled = self.throttled.fetch_add(1, Relaxed) + 1;
                    if throttled >= THROTTLED_BEFORE_STOP && throttled * 10 >= completed * 9 {
                        self.stop(format!(
                            "it throttled nearly everything ({throttled} of {completed} answers were still 429 after retries); lower the request rate (`--rate`) or check the account's quota"
                        ));
                    }
                    return false;
                }
                if auth == AuthMode::Missing && !(200..300).contains(&r.status) {
                    let mut anonymous = self.anonymous.lock().unwrap_or_else(|e| e.into_inner());
                    if anonymous.is_none() {
                        *anonymous = Signature::of(x);
                    }
                }
                if auth == AuthMode::Valid {
                    self.valid_answers.fetch_add(1, Relaxed);
                    if (200..300).contains(&r.status) {
                        self.accepted.fetch_add(1, Relaxed);
                    } else if r.status == self.refused_with {
                        self.refused.fetch_add(1, Relaxed);
                        let mut sample = self.refused_sample.lock().unwrap_or_else(|e| e.into_inner());
                        sample.get_or_insert_with(|| x.request.clone());
                    }
                }
            }
        }
        self.judged.fetch_add(1, Relaxed);
        true
    }

    fn answered(&self) {
        self.silent_in_a_row.store(0, Relaxed);
        *self.last_answer.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// A request to re-send with and without credentials, when the run's credentials may not
    /// work: only refusals so far (enough of them, or `at_end`), and no probe made yet. The probe
    /// is then the caller's to make, and to report with [`Tally::probed`].
    pub fn wants_probe(&self, at_end: bool) -> Option<Request> {
        let mut probe = self.probe.lock().unwrap_or_else(|e| e.into_inner());
        if self.accepted_any() || *probe != Probe::NotYet {
            return None;
        }
        let refused = self.refused.load(Relaxed);
        if refused == 0 || (!at_end && refused < REFUSALS_BEFORE_PROBE) {
            return None;
        }
        let sample = self.refused_sample.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if sample.is_some() {
            *probe = Probe::Running;
        }
        sample
    }

    /// No request made with the run's credentials got any answer but 429: nothing shows whether
    /// they work (only requests with other credentials were selected, say).
    pub fn credentials_untried(&self) -> bool {
        self.valid_answers.load(Relaxed) == 0
    }

    /// What the probe showed: `with` is the answer to the run's credentials, `without` to none.
    pub fn probed(&self, with: Option<Signature>, without: Option<Signature>) {
        match (with, without) {
            (Some(with), Some(without)) if with.same_refusal(&without) => self.stop(credentials_refused(&with)),
            _ => *self.probe.lock().unwrap_or_else(|e| e.into_inner()) = Probe::Distinct,
        }
    }

    /// The last word: a run that mostly went unjudged proves nothing. `None` if it stands.
    pub fn unjudged_majority(&self) -> Option<String> {
        let (completed, throttled) = (self.completed.load(Relaxed), self.throttled.load(Relaxed));
        let silent = self.silent.load(Relaxed);
        if completed > 0 && throttled * 2 > completed {
            return Some(format!(
                "it throttled most of the run ({throttled} of {completed} answers were still 429 after retries); lower the request rate (`--rate`) or check the account's quota"
            ));
        }
        if completed > 0 && silent * 2 > completed {
            return Some(format!(
                "most requests got no answer at all ({silent} of {completed}); check that it is up and reachable, or allow a longer request timeout (`--timeout-ms`)"
            ));
        }
        None
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// The sentence for credentials that do nothing.
pub fn credentials_refused(with: &Signature) -> String {
    let code = with.error_code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
    format!(
        "it answers requests made with the run's credentials exactly as it answers requests with none ({}{code}); check the token or the AK/SK pair, and that the project id is the project they belong to",
        with.status
    )
}

fn reason(x: &Exchange) -> String {
    match &x.outcome {
        Outcome::Transport { reason, .. } => reason.clone(),
        Outcome::Response(r) => format!("status {}", r.status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Headers, Response};

    fn exchange(status: u16, code: &str) -> Exchange {
        Exchange::new(
            Request {
                method: "POST".into(),
                url: "http://127.0.0.1:1/x".into(),
                headers: Headers::default(),
                body: vec![],
            },
            Response {
                status,
                headers: None,
                body: format!(r#"{{"error_code":"{code}","error_msg":"m"}}"#).into_bytes(),
            },
        )
    }

    fn silent() -> Exchange {
        let mut x = exchange(200, "");
        x.outcome = Outcome::Transport { reason: "connection refused".into(), elapsed_ms: 0, silent: true };
        x
    }

    #[test]
    fn refusals_ask_for_a_probe_and_the_same_answer_without_credentials_stops_the_run() {
        let t = Tally::new(Duration::from_secs(1), 8, 400);
        for _ in 0..7 {
            t.observe(&exchange(400, "MSS.00000001"), AuthMode::Valid);
        }
        // Refusals of requests sent without the run's credentials say nothing of them.
        t.observe(&exchange(400, "MSS.00000001"), AuthMode::Missing);
        assert!(t.wants_probe(false).is_none());
        let early = Tally::new(Duration::from_secs(1), 8, 400);
        early.observe(&exchange(400, "MSS.00000001"), AuthMode::Valid);
        assert!(early.wants_probe(true).is_some(), "at the end, one refusal is enough to ask");
        assert!(Tally::new(Duration::from_secs(1), 8, 400).credentials_untried());
        assert!(!early.credentials_untried());
        t.observe(&exchange(400, "MSS.00000001"), AuthMode::Valid);
        assert!(t.wants_probe(false).is_some());
        assert!(t.wants_probe(true).is_none(), "one probe at a time");
        let x = exchange(400, "MSS.00000001");
        t.probed(Signature::of(&x), Signature::of(&x));
        assert!(t.stopped().unwrap().contains("check the token"), "{:?}", t.stopped());
    }

    #[test]
    fn a_different_refusal_is_the_target_s_own_and_is_judged() {
        let t = Tally::new(Duration::from_secs(1), 8, 400);
        for _ in 0..8 {
            t.observe(&exchange(400, "MSS.00000002"), AuthMode::Valid);
        }
        assert!(t.wants_probe(false).is_some());
        t.probed(Signature::of(&exchange(400, "MSS.00000002")), Signature::of(&exchange(400, "MSS.00000001")));
        assert!(t.stopped().is_none());
        assert!(t.wants_probe(true).is_none(), "one probe is enough");
        // An accepted request makes any probe pointless.
        let t = Tally::new(Duration::from_secs(1), 8, 400);
        t.observe(&exchange(200, ""), AuthMode::Valid);
        t.observe(&exchange(400, "MSS.00000001"), AuthMode::Valid);
        assert!(t.wants_probe(true).is_none());
        // Two 200s are no refusal, whatever the credentials.
        assert!(!Signature { status: 200, error_code: None }.same_refusal(&Signature { status: 200, error_code: None }));
    }

    #[test]
    fn throttling_nearly_everything_stops_the_run_and_a_majority_fails_it() {
        let t = Tally::new(Duration::from_secs(1), 8, 400);
        for _ in 0..19 {
            assert!(!t.observe(&exchange(429, "APIGW.0308"), AuthMode::Valid));
        }
        assert!(t.stopped().is_none());
        assert!(!t.observe(&exchange(429, "APIGW.0308"), AuthMode::Valid));
        assert!(t.stopped().unwrap().contains("throttled"));

        let t = Tally::new(Duration::from_secs(1), 8, 400);
        for i in 0..30 {
            t.observe(&exchange(if i % 3 == 0 { 200 } else { 429 }, ""), AuthMode::Valid);
        }
        assert!(t.stopped().is_none(), "a third answered: not nearly everything");
        assert!(t.unjudged_majority().unwrap().contains("20 of 30"));
    }

    #[test]
    fn first_answers_all_unreadable_the_same_way_give_the_verdict() {
        let key = || Some(("response_schema".to_string(), "response.body".to_string()));
        let t = Tally::new(Duration::from_secs(1), 8, 400);
        for trial in ["a", "a", "b", "c"] {
            t.first_answer(trial, key());
        }
        assert!(t.verdict_early().is_none(), "three trials, one of them twice");
        t.first_answer("d", key());
        let why = t.verdict_early().unwrap();
        assert!(why.contains("4 trials (a, b, c, d)") && why.contains("`response_schema` at `response.body`"), "{why}");

        // One readable first answer, or one broken another way, and there is no early verdict.
        for other in [None, Some(("connection".to_string(), "response".to_string()))] {
            let t = Tally::new(Duration::from_secs(1), 8, 400);
            t.first_answer("a", key());
            t.first_answer("b", other);
            assert!(!t.first_answers_open());
            for trial in ["c", "d", "e", "f"] {
                t.first_answer(trial, key());
            }
            assert!(t.verdict_early().is_none());
        }
    }

    #[test]
    fn a_silent_target_stops_the_run() {
        let t = Tally::new(Duration::from_secs(60), 8, 400);
        for _ in 0..49 {
            t.observe(&silent(), AuthMode::Valid);
        }
        assert!(t.stopped().is_none(), "within two timeouts, fewer than 50 in a row");
        t.observe(&silent(), AuthMode::Valid);
        assert!(t.stopped().unwrap().contains("stopped answering"));

        let t = Tally::new(Duration::ZERO, 2, 400);
        for _ in 0..3 {
            t.observe(&silent(), AuthMode::Valid);
        }
        assert!(t.stopped().is_none());
        t.observe(&silent(), AuthMode::Valid);
        assert!(t.stopped().is_some(), "twice the concurrency in a row, for two timeouts");

        // An answer in between starts the count again.
        let t = Tally::new(Duration::from_secs(60), 8, 400);
        for i in 0..200 {
            t.observe(&if i % 40 == 39 { exchange(200, "") } else { silent() }, AuthMode::Valid);
        }
        assert!(t.stopped().is_none());
        assert!(t.unjudged_majority().unwrap().contains("no answer"));
    }

    fn platform_tally() -> Tally {
        let contract = std::sync::Arc::new(crate::contract::Contract::bundled().unwrap());
        Tally::new(Duration::from_secs(1), 8, 400).with_contract(contract)
    }

    /// The gateway's 401 to bad credentials is a note, once; to the run's own credentials it
    /// stops the run at once, in the sentence for how far the run had got.
    #[test]
    fn a_gateway_refusal_of_the_runs_credentials_stops_the_run_in_one_sentence() {
        let t = platform_tally();
        assert!(t.observe(&exchange(401, "APIGW.0301"), AuthMode::Missing));
        assert!(t.observe(&exchange(401, "APIG.0301"), AuthMode::TamperedSignature));
        assert_eq!(t.notes().len(), 1, "{:?}", t.notes());
        assert!(t.stopped().is_none());
        assert!(!t.observe(&exchange(401, "APIGW.0301"), AuthMode::Valid));
        assert!(t.stopped().unwrap().contains("from the first request"), "{:?}", t.stopped());

        let lost = platform_tally();
        lost.observe(&exchange(200, ""), AuthMode::Valid);
        lost.observe(&exchange(401, "APIGW.0301"), AuthMode::Valid);
        assert!(lost.stopped().unwrap().contains("lost mid-run"), "{:?}", lost.stopped());

        let locked = platform_tally();
        locked.observe(&exchange(200, ""), AuthMode::Valid);
        locked.spent_run_key();
        locked.observe(&exchange(401, "APIGW.0301"), AuthMode::Valid);
        let why = locked.stopped().unwrap();
        assert!(why.contains("may be locked") && why.contains("for 5 minutes"), "{why}");

        // A 401 with a service code is the contract's business (a divergence), not the gateway's.
        let service = platform_tally();
        assert!(service.observe(&exchange(401, "MSS.00000001"), AuthMode::Valid));
        assert!(service.stopped().is_none() && service.notes().is_empty());
    }

    #[test]
    fn the_lockout_message_stops_the_run_whatever_was_sent() {
        let t = platform_tally();
        let mut x = exchange(401, "APIGW.0301");
        if let Outcome::Response(r) = &mut x.outcome {
            r.body = br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: AK access failed to reach the limit,forbidden.","request_id":"r"}"#.to_vec();
        }
        assert!(!t.observe(&x, AuthMode::StaleDate));
        assert!(t.stopped().unwrap().contains("lockout message"), "{:?}", t.stopped());
    }

    /// After acceptance, a valid request refused exactly as one with none is suspect until a
    /// canary confirms: refused the same way, the credentials are gone.
    #[test]
    fn a_refusal_like_the_anonymous_one_is_confirmed_before_the_run_stops() {
        let t = Tally::new(Duration::from_secs(1), 8, 400);
        t.observe(&exchange(400, "MSS.00000001"), AuthMode::Missing);
        assert!(!t.looks_refused(&exchange(400, "MSS.00000001"), AuthMode::Valid), "never accepted: the probe's");
        t.observe(&exchange(200, ""), AuthMode::Valid);
        assert!(t.looks_refused(&exchange(400, "MSS.00000001"), AuthMode::Valid));
        assert!(!t.looks_refused(&exchange(400, "MSS.00000002"), AuthMode::Valid));
        assert!(!t.looks_refused(&exchange(400, "MSS.00000001"), AuthMode::Missing));
        assert!(!t.confirm_gone(&exchange(200, "")));
        assert!(t.stopped().is_none());
        assert!(t.confirm_gone(&exchange(400, "MSS.00000001")));
        assert!(t.stopped().unwrap().contains("lost mid-run"), "{:?}", t.stopped());
    }
}
