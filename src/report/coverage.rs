//! What a run exercised, from the event stream alone: per action, the states the assets were in
//! when it was sent and the outcomes seen; the negative rules and auth variants sent; the kinds
//! of ids and batches; the statuses and error codes answered; and what was not exercised, and
//! why (the skipped trials' reasons).
//!
//! A starting state is known only where the run saw it: a fixture's from its last lookup (the
//! sequences look assets up), a made-up id's is `absent` (nobody else can name it). A fixture
//! acted on since its last lookup is `unknown` again: what the action did is the server's to say.
//!
//! One [`Coverage`] is shared by the reporters that show it (summary, JSON, HTML): it is a handle
//! that can be cloned, added to the hub once and read when the run ends.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::Contract;
use crate::engine::Part;
use crate::events::{Event, Reporter, TrialEnd};
use crate::exchange::Exchange;
use crate::generate::is_generated_id;

/// The starting state of an id nobody but this run could have named.
pub const ABSENT: &str = "absent";
/// The starting state of a fixture not looked up since it was last acted on.
pub const UNKNOWN: &str = "unknown";

/// An id at least this many characters long counts as `long`.
const LONG_ID: usize = 64;

/// What a run exercised. Every count is of exchanges judged (requests sent and answered, or not
/// answered), not of trials. Written as the `coverage` object of the JSON report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageData {
    /// Per action of the contract (only those sent): requests, and per starting state the
    /// outcomes seen for its ids (`SUCCESS`, `FAILED`, or the whole answer's status: `400`, `500`,
    /// `no answer`).
    pub actions: BTreeMap<String, ActionCoverage>,
    /// Actions of the contract never sent.
    #[serde(default)]
    pub actions_not_sent: Vec<String>,
    /// Negative rule to requests sent that broke it.
    pub negative_rules: BTreeMap<String, u64>,
    /// Auth variant to requests sent with it (`valid credentials`: with the run's own).
    pub auth_variants: BTreeMap<String, u64>,
    /// Kind of id (`fixture`, `near miss: <kind>` of a fixture's, `made-up`, `long`, `non-ASCII`,
    /// `whitespace`, `other`) or of batch (its size class: `empty batch`, `one id`, `2-9 ids`,
    /// `10-99 ids`, `100-499 ids`, `500+ ids`; and `repeated ids`), or a fixture's lookup in another
    /// spelling (`lookup spelled: <spelling>`), to how many were sent.
    pub id_kinds: BTreeMap<String, u64>,
    /// HTTP status (or `no answer`) to how many answers had it.
    pub statuses: BTreeMap<String, u64>,
    /// `error_code` (of a whole answer, or of a failed group) to how many times it was seen.
    pub error_codes: BTreeMap<String, u64>,
    /// Asset lookups made (to observe states), by state seen.
    #[serde(default)]
    pub lookups: BTreeMap<String, u64>,
    /// What could not be exercised here, and why: the skipped trials.
    pub not_exercised: Vec<NotExercised>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionCoverage {
    pub requests: u64,
    /// Starting state to outcome to how many ids.
    pub states: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotExercised {
    pub trial: String,
    pub reason: String,
}

/// The tracker behind a [`Coverage`] handle.
struct Tracker {
    contract: Arc<Contract>,
    fixtures: BTreeSet<String>,
    /// The contract's actions, when its request schema lists them.
    actions: Vec<String>,
    /// Last state seen per fixture.
    known: HashMap<String, String>,
    /// Each near miss of a fixture's id, to its kind (`near miss: case flipped`, …).
    near_misses: HashMap<String, String>,
    data: CoverageData,
}

/// A shared coverage tracker: add one clone to the hub, read another at the end.
#[derive(Clone)]
pub struct Coverage(Arc<Mutex<Tracker>>);

impl Coverage {
    /// `fixtures`: every asset id the run was given (or, bundled, made) to act on.
    pub fn new(contract: Arc<Contract>, fixtures: impl IntoIterator<Item = String>) -> Coverage {
        let action_at = schema_pointer(&contract.batch().action);
        let actions = contract
            .request_body
            .json
            .pointer(&format!("{action_at}/enum"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let fixtures: BTreeSet<String> = fixtures.into_iter().collect();
        let near_misses = fixtures
            .iter()
            .flat_map(|id| crate::generate::near_miss::near_misses(id))
            .filter(|(_, miss)| !fixtures.contains(miss))
            .map(|(kind, miss)| (miss, format!("near miss: {kind}")))
            .collect();
        Coverage(Arc::new(Mutex::new(Tracker {
            contract,
            fixtures,
            near_misses,
            actions,
            known: HashMap::new(),
            data: CoverageData::default(),
        })))
    }

    /// What was exercised so far.
    pub fn data(&self) -> CoverageData {
        let t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut data = t.data.clone();
        data.actions_not_sent = t.actions.iter().filter(|a| !data.actions.contains_key(*a)).cloned().collect();
        data
    }
}

impl Reporter for Coverage {
    fn on(&mut self, event: &Event) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Judged { unit, exchange, request_json, response_json, .. } => {
                t.judged(&unit.part, exchange, *request_json, *response_json)
            }
            Event::TrialFinished { unit, end: TrialEnd::Skipped(reason), .. } => {
                t.data.not_exercised.push(NotExercised { trial: unit.name.clone(), reason: reason.clone() })
            }
            _ => {}
        }
    }
}

/// `/action` in a body is `/properties/action` in its schema.
fn schema_pointer(body_pointer: &str) -> String {
    body_pointer.split('/').filter(|s| !s.is_empty()).map(|s| format!("/properties/{s}")).collect()
}

/// Counts one more `key`; the key is copied only the first time.
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    bump_by(map, key, 1);
}

fn bump_by(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(count) => *count += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}

/// Counts of a few distinct keys, added up before they go into the maps: a batch of a hundred
/// ids has two or three (state, outcome) pairs, and a run judges tens of thousands of batches.
#[derive(Default)]
struct PairCounts<'k>(Vec<(&'k str, &'k str, u64)>);

impl<'k> PairCounts<'k> {
    fn add(&mut self, a: &'k str, b: &'k str) {
        match self.0.iter_mut().find(|(x, y, _)| *x == a && *y == b) {
            Some((_, _, n)) => *n += 1,
            None => self.0.push((a, b, 1)),
        }
    }
}

/// The counts of `key`'s row, made on first use.
fn row<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl Tracker {
    fn judged(&mut self, part: &Part, x: &Exchange, request: Option<&Value>, body: Option<&Value>) {
        let status = x.response().map(|r| r.status.to_string()).unwrap_or_else(|| "no answer".into());
        bump(&mut self.data.statuses, &status);
        if let Some(code) = body.and_then(|b| b.get("error_code")).and_then(Value::as_str) {
            bump(&mut self.data.error_codes, code);
        }
        if let Some(id) = self.lookup_id(x) {
            let state = self.looked_up_state(x, body);
            bump(&mut self.data.lookups, &state);
            if self.fixtures.contains(&id) {
                let segment = x.request.path().rsplit('/').next().unwrap_or_default().to_string();
                let spelled = crate::generate::near_miss::spellings(&id).into_iter().find(|(_, s)| *s == segment);
                if let Some((name, _)) = spelled {
                    bump(&mut self.data.id_kinds, &format!("lookup spelled: {name}"));
                }
                self.known.insert(id, state);
            }
            return;
        }
        let auth = match part {
            Part::Auth(mode) => *mode,
            Part::Rule(rule) => {
                bump(&mut self.data.negative_rules, rule);
                crate::generate::AuthMode::Valid
            }
            Part::Whole => crate::generate::AuthMode::Valid,
        };
        bump(&mut self.data.auth_variants, auth.describe());
        let Some(request) = request else { return };
        let contract = self.contract.clone();
        let batch = contract.batch();
        let ids: Vec<&str> = request
            .pointer(&batch.request_ids)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        self.id_kinds(&ids, request.pointer(&batch.request_ids).is_some());
        // Per-id outcomes from the result groups of a 200; otherwise the whole answer's status.
        // (Ordered, not hashed: ids run to 64 KiB, and comparing two stops at their first difference.)
        let mut outcome: BTreeMap<&str, &str> = BTreeMap::new();
        let ok = x.response().is_some_and(|r| (200..300).contains(&r.status));
        if let (true, Some(groups)) = (ok, body.and_then(|b| b.pointer(&batch.groups)).and_then(Value::as_array)) {
            for g in groups {
                let ret = g.pointer(&batch.group_status).and_then(Value::as_str).unwrap_or("(no status)");
                if let Some(code) =
                    g.pointer(&batch.group_error).and_then(|e| e.get("error_code")).and_then(Value::as_str)
                {
                    bump(&mut self.data.error_codes, code);
                }
                for id in g.pointer(&batch.group_ids).and_then(Value::as_array).into_iter().flatten() {
                    if let Some(id) = id.as_str() {
                        outcome.insert(id, ret);
                    }
                }
            }
        }
        let Some(action) = request.pointer(&batch.action).and_then(Value::as_str) else { return };
        if !self.actions.is_empty() && !self.actions.iter().any(|a| a == action) {
            return; // not an action: a negative rule's, counted above
        }
        let row_of_action = row(&mut self.data.actions, action);
        row_of_action.requests += 1;
        let unanswered = if ok { "not answered" } else { status.as_str() };
        let mut seen = PairCounts::default();
        for id in &ids {
            let state = if self.fixtures.contains(*id) {
                self.known.get(*id).map_or(UNKNOWN, String::as_str)
            } else if is_generated_id(id) {
                ABSENT
            } else {
                UNKNOWN
            };
            seen.add(state, outcome.get(id).copied().unwrap_or(unanswered));
        }
        for (state, outcome, n) in seen.0 {
            bump_by(row(&mut row_of_action.states, state), outcome, n);
        }
        if ids.is_empty() {
            bump(row(&mut row_of_action.states, "(empty batch)"), &status);
        }
        // What the action did to the fixtures is the server's to say: unknown until looked up.
        for id in &ids {
            if self.fixtures.contains(*id) {
                self.known.remove(*id);
            }
        }
    }

    fn id_kinds(&mut self, ids: &[&str], has_list: bool) {
        if !has_list {
            return;
        }
        let kinds = &mut self.data.id_kinds;
        bump(kinds, crate::engine::size_class(ids.len()));
        if ids.iter().collect::<BTreeSet<_>>().len() < ids.len() {
            bump(kinds, "repeated ids");
        }
        let mut seen = PairCounts::default();
        for id in ids {
            let kind = if self.fixtures.contains(*id) {
                "fixture"
            } else if let Some(kind) = self.near_misses.get(*id) {
                kind.as_str()
            } else if !id.is_ascii() {
                "non-ASCII"
            } else if id.len() >= LONG_ID {
                "long"
            } else if id.chars().any(char::is_whitespace) {
                "whitespace"
            } else if is_generated_id(id) {
                "made-up"
            } else {
                "other"
            };
            seen.add(kind, "");
        }
        for (kind, _, n) in seen.0 {
            bump_by(kinds, kind, n);
        }
    }

    /// The asset a lookup asked about, if this exchange is one. The target's base path may come
    /// before the template, so the path's last segments are matched.
    fn lookup_id(&self, x: &Exchange) -> Option<String> {
        let lookup = self.contract.lookup.as_ref()?;
        if !x.request.method.eq_ignore_ascii_case(&lookup.method) {
            return None;
        }
        let path = x.request.path();
        let n = lookup.path.trim_end_matches('/').split('/').count();
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let tail = segments.get(segments.len().checked_sub(n)?..)?.join("/");
        crate::contract::path_params(&lookup.path, &tail)?.remove("asset_id")
    }

    fn looked_up_state(&self, x: &Exchange, body: Option<&Value>) -> String {
        let Some(lookup) = self.contract.lookup.as_ref() else { return UNKNOWN.into() };
        match x.response() {
            Some(r) if lookup.absent_statuses.contains(&r.status) => ABSENT.into(),
            Some(_) => body
                .and_then(|b| b.pointer(&lookup.state).and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| UNKNOWN.into()),
            None => UNKNOWN.into(),
        }
    }
}

impl CoverageData {
    /// The states shown as the grid's columns: the contract's lifecycle order first, then the
    /// rest as seen.
    pub fn columns(&self, contract_states: &[String]) -> Vec<String> {
        let seen: BTreeSet<&String> = self.actions.values().flat_map(|a| a.states.keys()).collect();
        let mut cols: Vec<String> = vec![];
        for s in [ABSENT.to_string()].iter().chain(contract_states) {
            if seen.contains(s) && !cols.contains(s) {
                cols.push(s.clone());
            }
        }
        for s in seen {
            if !cols.contains(s) {
                cols.push(s.clone());
            }
        }
        cols
    }

    /// One cell: the outcomes seen, most first, as `SUCCESS 12, 400 3`.
    pub fn cell(&self, action: &str, state: &str) -> String {
        let Some(outcomes) = self.actions.get(action).and_then(|a| a.states.get(state)) else { return String::new() };
        let mut v: Vec<(&String, &u64)> = outcomes.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
    }

    /// The compact table at the end of the terminal summary.
    pub fn text(&self, contract_states: &[String]) -> String {
        let mut out = String::from("coverage (starting state of the ids -> outcomes seen, per id):\n");
        let cols = self.columns(contract_states);
        let mut rows: Vec<Vec<String>> = vec![std::iter::once("action".to_string()).chain(cols.clone()).collect()];
        for action in self.actions.keys() {
            rows.push(std::iter::once(action.clone()).chain(cols.iter().map(|c| self.cell(action, c))).collect());
        }
        let widths: Vec<usize> =
            (0..rows[0].len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
        for r in &rows {
            let line: Vec<String> =
                r.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
            out.push_str(&format!("  {}\n", line.join(" | ").trim_end()));
        }
        if !self.actions_not_sent.is_empty() {
            out.push_str(&format!("  actions not sent: {}\n", self.actions_not_sent.join(", ")));
        }
        let counted = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
            }
        };
        out.push_str(&format!("  negative rules: {}\n", counted(&self.negative_rules)));
        out.push_str(&format!("  auth: {}\n", counted(&self.auth_variants)));
        out.push_str(&format!("  ids: {}\n", counted(&self.id_kinds)));
        out.push_str(&format!("  lookups: {}\n", counted(&self.lookups)));
        out.push_str(&format!("  statuses: {}\n", counted(&self.statuses)));
        out.push_str(&format!("  error codes: {}\n", crate::checks::cut(&counted(&self.error_codes), 300)));
        if !self.not_exercised.is_empty() {
            // Trials skipped for the same reason are said once.
            let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
            for n in &self.not_exercised {
                *by_reason.entry(n.reason.as_str()).or_default() += 1;
            }
            out.push_str("  not exercised:\n");
            for (reason, n) in by_reason {
                out.push_str(&format!("    {n} trial(s): {reason}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RunOptions, Settings, Suite};

    /// A bundled run of a few cases, with coverage collected.
    fn covered(filter: &str) -> CoverageData {
        let settings = Settings::new(RunOptions { seed: Some(7), examples: 10, ..RunOptions::default() }).unwrap();
        let suite = Suite::new(settings).unwrap();
        let coverage = Coverage::new(suite.settings.contract.clone(), suite.settings.fixture_ids());
        suite.hub.add(Box::new(coverage.clone()));
        let selected: Vec<_> = suite.units.iter().filter(|u| u.name.contains(filter)).collect();
        suite.run(&selected).unwrap();
        suite.shutdown();
        coverage.data()
    }

    #[test]
    fn a_sequence_shows_the_states_it_acted_on_and_the_outcomes() {
        let c = covered("restore-undoes-delete");
        let restore = &c.actions["RESTORE"];
        assert!(restore.requests >= 1, "{c:?}");
        // The sequence looks its fixture up after DELETE, so RESTORE's starting state is known.
        let states: Vec<&String> = restore.states.keys().collect();
        assert!(states.iter().any(|s| ["DELETING", "WAITING_DELETE"].contains(&s.as_str())), "{states:?}");
        assert!(restore.states.values().any(|o| o.contains_key("SUCCESS")), "{restore:?}");
        assert!(c.lookups.values().sum::<u64>() >= 1);
        assert!(c.actions_not_sent.contains(&"SHARE".to_string()), "{:?}", c.actions_not_sent);
        assert!(c.id_kinds.contains_key("fixture"));
    }

    #[test]
    fn near_miss_kinds_and_lookup_spellings_are_counted() {
        let c = covered("stateful::near-misses");
        for kind in crate::generate::near_miss::NEAR_MISSES {
            assert!(c.id_kinds.contains_key(&format!("near miss: {}", kind.name)), "{:?}", c.id_kinds);
        }
        for spelling in ["unreserved percent-encoded", "lower-case hex"] {
            assert!(c.id_kinds.contains_key(&format!("lookup spelled: {spelling}")), "{:?}", c.id_kinds);
        }
    }

    #[test]
    fn generated_batches_negative_rules_and_auth_variants_are_counted() {
        let c = covered("property::");
        assert!(c.id_kinds.contains_key("made-up"), "{:?}", c.id_kinds);
        assert!(c.actions.values().any(|a| a.states.get(ABSENT).is_some_and(|o| o.contains_key("FAILED"))), "{c:?}");
        assert!(c.statuses.contains_key("200"));
        let c = covered("negative::");
        assert!(!c.negative_rules.is_empty() && c.statuses.contains_key("400"), "{c:?}");
        let c = covered("auth::");
        assert!(c.auth_variants.contains_key("no credentials"), "{:?}", c.auth_variants);
        let text = c.text(&[]);
        assert!(text.contains("auth: ") && text.contains("no credentials"), "{text}");
    }

    #[test]
    fn skipped_trials_are_what_was_not_exercised() {
        let settings = Settings::new(RunOptions {
            target: Some("http://127.0.0.1:9".into()),
            access: crate::engine::Access {
                project_id: Some("p".into()),
                token: Some("t".into()),
                ..Default::default()
            },
            dry_run: true,
            ..RunOptions::default()
        })
        .unwrap();
        let contract = settings.contract.clone();
        let mut coverage = Coverage::new(contract, Vec::<String>::new());
        for unit in settings.units().iter().filter(|u| u.skip.is_some()) {
            let end = TrialEnd::Skipped(unit.skip.clone().unwrap());
            coverage.on(&Event::TrialFinished { unit, end: &end, elapsed: Default::default() });
        }
        let c = coverage.data();
        assert!(c.not_exercised.iter().any(|n| n.reason.contains("fixture")), "{c:?}");
        assert!(c.not_exercised.iter().any(|n| n.reason.contains("AK/SK")), "{c:?}");
        assert!(c.text(&[]).contains("not exercised:"));
        assert_eq!(c.actions_not_sent.len(), 7, "nothing was sent");
    }
}
