//! The suite as data: case files in `cases/*.json`, one case a file.
//!
//! Kinds: `example` (one request, one expectation), `property` (a generator over the request
//! schema with overrides, and the checks that must hold), `negative` (requests that each break one
//! rule, all of which must be rejected), `auth` (credentials that must be refused) and `sequence`
//! (steps on fixture assets whose expectations depend on earlier steps). A file that does not
//! parse, or names a check or rule that does not exist, is a [`SetupError::Case`] with the file and
//! the JSON path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::builtin::{self, Origin};
use crate::checks;
use crate::error::SetupError;

#[derive(Debug, Clone)]
pub struct Case {
    /// File stem; the trial name is `<kind>::<name>`.
    pub name: String,
    /// The file, for messages (`built-in cases/<name>.json` for a built-in case).
    pub file: PathBuf,
    pub description: String,
    /// Checks judged on this case's exchanges (all of them when the file names none).
    pub checks: Option<Vec<String>>,
    pub body: CaseBody,
}

impl Case {
    pub fn kind(&self) -> &'static str {
        match &self.body {
            CaseBody::Example(_) => "example",
            CaseBody::Property(_) => "property",
            CaseBody::Negative(_) => "negative",
            CaseBody::Auth(_) => "auth",
            CaseBody::Sequence(_) => "sequence",
            CaseBody::Stateful(_) => "stateful",
        }
    }

    /// Can the case only run with existing assets? (A property that mixes fixtures into its
    /// batches runs without them too, on made-up ids only.)
    pub fn needs_fixtures(&self) -> bool {
        match &self.body {
            CaseBody::Example(e) => mentions_fixture(&e.request),
            CaseBody::Sequence(_) | CaseBody::Stateful(_) => true,
            CaseBody::Property(_) | CaseBody::Negative(_) | CaseBody::Auth(_) => false,
        }
    }

    /// Does the case act on existing assets when it has some?
    pub fn uses_fixtures(&self) -> bool {
        match &self.body {
            CaseBody::Property(p) => {
                p.overrides.values().any(|o| matches!(o, Override::Ids(ids) if ids.fixture_weight > 0))
            }
            _ => self.needs_fixtures(),
        }
    }

    /// Does the case send an action that cannot be undone on an existing asset?
    pub fn destructive(&self) -> bool {
        match &self.body {
            CaseBody::Sequence(s) => {
                s.steps.iter().any(|st| matches!(st, Step::Act { action, .. } if action == "DELETE_FORCE"))
            }
            CaseBody::Example(e) => {
                mentions_fixture(&e.request) && e.request.get("action").and_then(Value::as_str) == Some("DELETE_FORCE")
            }
            _ => false,
        }
    }
}

fn mentions_fixture(v: &Value) -> bool {
    match v {
        Value::String(s) => s == FIXTURE,
        Value::Array(a) => a.iter().any(mentions_fixture),
        Value::Object(o) => o.values().any(mentions_fixture),
        _ => false,
    }
}

/// Placeholders in example requests.
pub const FIXTURE: &str = "$fixture";
pub const UNKNOWN: &str = "$unknown";

#[derive(Debug, Clone)]
pub enum CaseBody {
    Example(Example),
    Property(Property),
    Negative(Negative),
    Auth(Auth),
    Sequence(Sequence),
    Stateful(Stateful),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The request body; `"$fixture"` stands for a fixture asset id, `"$unknown"` for a fresh
    /// id that names no asset.
    pub request: Value,
    /// `accepted` (200), `rejected` (the invalid-request status) or `conformant` (any answer the
    /// contract allows).
    #[serde(default = "Expectation::accepted")]
    pub expect: Expectation,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    Accepted,
    Rejected,
    Conformant,
}

impl Expectation {
    fn accepted() -> Expectation {
        Expectation::Accepted
    }
}

#[derive(Debug, Clone)]
pub struct Property {
    /// JSON pointer into the request body to how that part is generated instead of the schema.
    pub overrides: BTreeMap<String, Override>,
    /// Add a field the schema does not name (the contract neither allows nor forbids them).
    pub extra_field: bool,
    pub expect: Expectation,
}

impl Default for Property {
    /// The schema as it is: no override, nothing extra, any answer the contract allows.
    fn default() -> Self {
        Property { overrides: BTreeMap::new(), extra_field: false, expect: Expectation::Conformant }
    }
}

#[derive(Debug, Clone)]
pub enum Override {
    /// One of these values.
    OneOf(Vec<Value>),
    /// Leave the field out.
    Omit,
    /// A batch of asset ids.
    Ids(IdsSpec),
}

/// How a batch of ids is made: its size range and the weight of each kind of id.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdsSpec {
    #[serde(default)]
    pub min: usize,
    #[serde(default = "IdsSpec::default_max")]
    pub max: usize,
    #[serde(default)]
    pub fixture_weight: u32,
    #[serde(default = "IdsSpec::one")]
    pub unknown_weight: u32,
    #[serde(default)]
    pub long_weight: u32,
    #[serde(default)]
    pub unicode_weight: u32,
    #[serde(default)]
    pub whitespace_weight: u32,
    /// Ids from every alphabet a JSON string carries (see `generate::ids::ALPHABETS`).
    #[serde(default)]
    pub alphabet_weight: u32,
    /// Percent chance that the batch repeats some of its ids.
    #[serde(default)]
    pub repeat_percent: u32,
}

impl IdsSpec {
    /// Batches of `min` to `max` made-up ids and nothing else.
    pub fn made_up(min: usize, max: usize) -> IdsSpec {
        IdsSpec {
            min,
            max,
            fixture_weight: 0,
            unknown_weight: 1,
            long_weight: 0,
            unicode_weight: 0,
            whitespace_weight: 0,
            alphabet_weight: 0,
            repeat_percent: 0,
        }
    }

    fn default_max() -> usize {
        20
    }
    fn one() -> u32 {
        1
    }
}

#[derive(Debug, Clone)]
pub struct Negative {
    /// The rules to break, one per request; empty means every rule the generator knows.
    pub rules: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Auth {
    pub variants: Vec<String>,
}

/// Every way the runner knows to send bad credentials.
pub fn auth_variants() -> Vec<&'static str> {
    crate::generate::AUTH_VARIANTS.iter().map(|(name, _)| *name).collect()
}

#[derive(Debug, Clone)]
pub struct Sequence {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub enum Step {
    /// Send a batch; ids are `$f0`, `$f1`… (this sequence's fixtures) or `$unknown`.
    Act { action: String, ids: Vec<String>, expect: Option<String> },
    /// Look the asset up and expect one of these states (`$absent`: not found is fine too).
    Observe { id: String, states: Vec<String>, why: String },
}

impl Sequence {
    /// How many fixtures (`$f0`…`$fN`) the steps use.
    pub fn fixtures_needed(&self) -> usize {
        let index = |id: &str| id.strip_prefix("$f").and_then(|n| n.parse::<usize>().ok()).map(|n| n + 1);
        self.steps
            .iter()
            .flat_map(|s| match s {
                Step::Act { ids, .. } => ids.iter().filter_map(|i| index(i)).collect::<Vec<_>>(),
                Step::Observe { id, .. } => index(id).into_iter().collect(),
            })
            .max()
            .unwrap_or(0)
    }
}

/// A stateful trial: random batch sequences checked against the lifecycle model, concurrent
/// batches checked for an order that explains them, or a batch naming another project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stateful {
    pub trial: StatefulTrial,
    /// Random sequences (or rounds of concurrent batches) per run.
    pub sequences: u32,
    /// Batches per sequence at most (or concurrent batches per round).
    pub max_steps: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatefulTrial {
    RandomSequences,
    ConcurrentBatches,
    ProjectIsolation,
    NearMisses,
}

/// The stateful trials a case may name.
pub const STATEFUL_TRIALS: &[(&str, StatefulTrial)] = &[
    ("random-sequences", StatefulTrial::RandomSequences),
    ("concurrent-batches", StatefulTrial::ConcurrentBatches),
    ("project-isolation", StatefulTrial::ProjectIsolation),
    ("near-misses", StatefulTrial::NearMisses),
];

impl Stateful {
    /// The live fixtures the trial acts on (besides the one reserved for DELETE_FORCE, which
    /// random sequences get only with `--allow-destructive`).
    pub fn fixtures_needed(&self) -> usize {
        match self.trial {
            StatefulTrial::RandomSequences => 4,
            // Rounds of batches over 8 shared ids: fewer rarely show an interleaving of ids.
            StatefulTrial::ConcurrentBatches => 8,
            StatefulTrial::ProjectIsolation | StatefulTrial::NearMisses => 2,
        }
    }
}

/// Loads every `*.json` of `dir` (not its subfolders: `cases/recorded/` holds exchanges for
/// `validate`). `contract` is used to resolve sequence steps like `{"observe": "$f0", "after": "DELETE"}`.
/// The cases of `--cases DIR`, or the built-in ones without it.
pub fn load(dir: Option<&Path>, contract: &crate::contract::Contract) -> Result<Vec<Case>, SetupError> {
    match dir {
        Some(dir) => load_dir(dir, contract),
        None => load_builtin(contract),
    }
}

/// The cases shipped in `cases/`, as built into the binary.
pub fn load_builtin(contract: &crate::contract::Contract) -> Result<Vec<Case>, SetupError> {
    let mut cases = Vec::new();
    for (name, text) in builtin::CASES {
        let file = PathBuf::from(Origin::BuiltIn.file(builtin::CASES_DIR, name));
        cases.push(parse(&file, name.trim_end_matches(".json"), text, contract)?);
    }
    distinct(cases)
}

pub fn load_dir(dir: &Path, contract: &crate::contract::Contract) -> Result<Vec<Case>, SetupError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SetupError::Case {
        file: dir.display().to_string(),
        path: String::new(),
        reason: format!("cannot read the cases directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        cases.push(load_file(&file, contract)?);
    }
    distinct(cases)
}

/// The cases, unless two share a kind and a name (and so a trial name).
fn distinct(cases: Vec<Case>) -> Result<Vec<Case>, SetupError> {
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        if !seen.insert((c.kind(), c.name.clone())) {
            return Err(err(&c.file, "", format!("a second `{}` case named `{}`", c.kind(), c.name)));
        }
    }
    Ok(cases)
}

fn err(file: &Path, path: &str, reason: impl Into<String>) -> SetupError {
    SetupError::Case {
        file: file.display().to_string(),
        path: if path.is_empty() { "/".into() } else { path.into() },
        reason: reason.into(),
    }
}

pub fn load_file(file: &Path, contract: &crate::contract::Contract) -> Result<Case, SetupError> {
    let text = std::fs::read_to_string(file).map_err(|e| err(file, "", e.to_string()))?;
    let name = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    parse(file, &name, &text, contract)
}

/// One case from its text; `file` names it in messages, `name` is its trial name.
fn parse(file: &Path, name: &str, text: &str, contract: &crate::contract::Contract) -> Result<Case, SetupError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| err(file, "", crate::error::not_json(&e)))?;
    let Value::Object(obj) = &doc else { return Err(err(file, "", "a case is a JSON object")) };
    let common = ["kind", "description", "checks"];
    let all_kinds = KIND_KEYS.iter().flat_map(|(_, keys)| keys.iter());
    let mut known: Vec<&str> = common.iter().copied().chain(all_kinds.copied()).collect();
    // Keys several kinds share (`expect`) are named once.
    let mut seen = std::collections::BTreeSet::new();
    known.retain(|k| seen.insert(*k));
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(err(file, &format!("/{k}"), format!("unknown key; a case may have {}", known.join(", "))));
    }
    let kind = obj.get("kind").and_then(Value::as_str).ok_or_else(|| err(file, "/kind", "missing or not a string"))?;
    // A key of another kind is a mistake the case would otherwise hide: it would do nothing.
    if let Some((_, own)) = KIND_KEYS.iter().find(|(k, _)| *k == kind) {
        if let Some(key) = obj.keys().find(|k| !common.contains(&k.as_str()) && !own.contains(&k.as_str())) {
            let owner = KIND_KEYS.iter().filter(|(_, keys)| keys.contains(&key.as_str())).map(|(k, _)| *k);
            let owners: Vec<&str> = owner.collect();
            return Err(err(
                file,
                &format!("/{key}"),
                format!(
                    "`{key}` belongs to a {} case, not to a `{kind}` case (which may have {})",
                    owners.join(" or "),
                    own.join(", ")
                ),
            ));
        }
    }
    let name = name.to_string();
    let description = obj.get("description").and_then(Value::as_str).unwrap_or_default().to_string();
    let checks = match obj.get("checks") {
        None => None,
        Some(v) => {
            let names: Vec<String> =
                serde_json::from_value(v.clone()).map_err(|_| err(file, "/checks", "not a list of check names"))?;
            for (i, n) in names.iter().enumerate() {
                if checks::find(n).is_none() {
                    let all: Vec<&str> = checks::CHECKS.iter().map(|c| c.name).collect();
                    return Err(err(
                        file,
                        &format!("/checks/{i}"),
                        format!("no check named `{n}`; the checks are {}", all.join(", ")),
                    ));
                }
            }
            Some(names)
        }
    };
    let field = |key: &str| obj.get(key).cloned();
    let parse_expect = |default: Expectation| -> Result<Expectation, SetupError> {
        match field("expect") {
            None => Ok(default),
            Some(v) => serde_json::from_value(v)
                .map_err(|_| err(file, "/expect", "one of `accepted`, `rejected`, `conformant`")),
        }
    };
    let body = match kind {
        "example" => {
            let request = field("request").ok_or_else(|| err(file, "/request", "an example needs a request body"))?;
            CaseBody::Example(Example { request, expect: parse_expect(Expectation::Accepted)? })
        }
        "property" => {
            let mut overrides = BTreeMap::new();
            if let Some(v) = field("overrides") {
                let Value::Object(map) = v else {
                    return Err(err(file, "/overrides", "an object of JSON pointer to override"));
                };
                for (pointer, spec) in map {
                    let at = format!("/overrides/{}", pointer.replace('~', "~0").replace('/', "~1"));
                    if !pointer.starts_with('/')
                        || contract.request_body.json.pointer(&schema_pointer(&pointer)).is_none()
                    {
                        return Err(err(file, &at, format!("`{pointer}` is not a property of the request schema")));
                    }
                    overrides.insert(pointer, parse_override(file, &at, spec)?);
                }
            }
            let extra_field = match field("extra_field") {
                None => false,
                Some(Value::Bool(b)) => b,
                Some(_) => return Err(err(file, "/extra_field", "true or false")),
            };
            let property = Property { overrides, extra_field, expect: parse_expect(Expectation::Conformant)? };
            check_overrides(file, contract, &property)?;
            CaseBody::Property(property)
        }
        "negative" => {
            let derived = crate::generate::negative_rules(contract)?;
            let known: Vec<&str> = derived.iter().map(String::as_str).collect();
            CaseBody::Negative(Negative { rules: names_from(file, &doc, "rules", &known)? })
        }
        "auth" => CaseBody::Auth(Auth { variants: names_from(file, &doc, "variants", &auth_variants())? }),
        "sequence" => {
            let Some(Value::Array(steps)) = field("steps") else {
                return Err(err(file, "/steps", "a sequence needs a list of steps"));
            };
            let steps = steps
                .iter()
                .enumerate()
                .map(|(i, s)| parse_step(file, &format!("/steps/{i}"), s, contract))
                .collect::<Result<Vec<_>, _>>()?;
            CaseBody::Sequence(Sequence { steps })
        }
        "stateful" => CaseBody::Stateful(parse_stateful(file, obj)?),
        other => {
            return Err(err(
                file,
                "/kind",
                format!("`{other}` is not a kind; one of example, property, negative, auth, sequence, stateful"),
            ))
        }
    };
    let case = Case { name, file: file.to_path_buf(), description, checks, body };
    check_requests(&case, contract)?;
    Ok(case)
}

/// The keys each kind of case may have, besides `kind`, `description` and `checks`.
const KIND_KEYS: &[(&str, &[&str])] = &[
    ("example", &["request", "expect"]),
    ("property", &["overrides", "extra_field", "expect"]),
    ("negative", &["rules"]),
    ("auth", &["variants"]),
    ("sequence", &["steps"]),
    ("stateful", &["trial", "sequences", "max_steps"]),
];

fn parse_stateful(file: &Path, obj: &serde_json::Map<String, Value>) -> Result<Stateful, SetupError> {
    let names: Vec<&str> = STATEFUL_TRIALS.iter().map(|(n, _)| *n).collect();
    let trial = match obj.get("trial") {
        Some(Value::String(t)) => STATEFUL_TRIALS.iter().find(|(n, _)| n == t).map(|(_, k)| *k),
        _ => None,
    }
    .ok_or_else(|| err(file, "/trial", format!("one of {}", names.join(", "))))?;
    let count = |key: &str, default: u64, max: u64| -> Result<u64, SetupError> {
        match obj.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| err(file, &format!("/{key}"), format!("a whole number from 1 to {max}"))),
        }
    };
    Ok(Stateful {
        trial,
        sequences: count("sequences", 12, 10_000)? as u32,
        max_steps: count("max_steps", 8, 64)? as usize,
    })
}

/// What stands for an id in a request checked before the run.
const PLACEHOLDER: &str = "bcf-placeholder-";

/// A request the case expects to be accepted must be one the request schema allows: otherwise the
/// case, not the target, is wrong, and a run would blame the target for it.
fn check_requests(case: &Case, contract: &crate::contract::Contract) -> Result<(), SetupError> {
    // Placeholders stand for ids the run makes up or is given; the schema may ask ids for a form
    // they do not have (a uuid, say): `request_schema` judges the real ones at run time. Here
    // only the rest of the request is in question.
    let ids_at = format!("{}/", contract.batch().request_ids);
    let counter = std::cell::Cell::new(0);
    let placeholder = |s: &str| {
        counter.set(counter.get() + 1);
        (s == FIXTURE || s == UNKNOWN).then(|| format!("{PLACEHOLDER}{}", counter.get()))
    };
    let forbidden = |at: &str, body: &Value, what: &str| -> Result<(), SetupError> {
        let errors = contract.request_body.errors(body);
        let placeholder_at = |path: &str| {
            path.starts_with(&ids_at)
                && body.pointer(path).and_then(Value::as_str).is_some_and(|v| v.starts_with(PLACEHOLDER))
        };
        match errors.iter().find(|e| !placeholder_at(&e.instance_path)) {
            None => Ok(()),
            Some(e) => Err(err(
                &case.file,
                &format!("{at}{}", e.instance_path),
                format!("{what}, but the request schema (`{}`) forbids it: {}", contract.request_body.file, e.message),
            )),
        }
    };
    match &case.body {
        CaseBody::Example(e) if e.expect == Expectation::Accepted => forbidden(
            "/request",
            &fill_strings(&e.request, &placeholder),
            "the case expects this request to be accepted",
        ),
        CaseBody::Sequence(s) => {
            for (i, step) in s.steps.iter().enumerate() {
                if let Step::Act { action, ids, .. } = step {
                    // The same fixture twice is the same id; each `$unknown` is a fresh one.
                    let ids: Vec<String> =
                        ids.iter()
                            .enumerate()
                            .map(|(j, id)| {
                                if id == UNKNOWN {
                                    format!("{PLACEHOLDER}u{j}")
                                } else {
                                    format!("{PLACEHOLDER}{id}")
                                }
                            })
                            .collect();
                    let body = contract.batch_body(action, &ids);
                    let at = format!("/steps/{i}");
                    forbidden(&at, &body, "a sequence step is an ordinary request the target must accept").map_err(
                        |e| match e {
                            // Point at the step's own key, not at the body built from it.
                            SetupError::Case { file, path, reason } => SetupError::Case {
                                file,
                                path: path
                                    .replace(&format!("{at}{}", contract.batch().request_ids), &format!("{at}/ids")),
                                reason,
                            },
                            other => other,
                        },
                    )?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn fill_strings(v: &Value, f: &dyn Fn(&str) -> Option<String>) -> Value {
    match v {
        Value::String(s) => f(s).map(Value::String).unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_strings(x, f)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), fill_strings(x, f))).collect()),
        other => other.clone(),
    }
}

/// Overrides narrow the schema and never escape it: a property's generator is built and sampled
/// here, so an override that cannot make a value the schema allows (in a case that does not
/// expect a rejection) is an error naming the case file and the override.
fn check_overrides(file: &Path, contract: &crate::contract::Contract, property: &Property) -> Result<(), SetupError> {
    match crate::generate::body_strategy(contract, property, &[]) {
        Ok(_) => Ok(()),
        Err(SetupError::Argument(reason)) => {
            if reason.starts_with("`extra_field`") {
                return Err(err(file, "/extra_field", reason));
            }
            let pointer = property.overrides.keys().find(|p| reason.contains(&format!("`{p}`"))).cloned();
            let at = pointer.map(|p| format!("/overrides/{}", p.replace('~', "~0").replace('/', "~1")));
            Err(err(file, at.as_deref().unwrap_or("/overrides"), reason))
        }
        Err(e) => Err(e),
    }
}

/// `/asset_ids` in the body is `/properties/asset_ids` in the schema.
fn schema_pointer(body_pointer: &str) -> String {
    body_pointer.split('/').skip(1).map(|seg| format!("/properties/{seg}")).collect()
}

fn parse_override(file: &Path, at: &str, spec: Value) -> Result<Override, SetupError> {
    let Value::Object(map) = &spec else { return Err(err(file, at, "an override is an object")) };
    if map.len() != 1 {
        return Err(err(file, at, "an override has exactly one of `one_of`, `omit`, `ids`"));
    }
    let (key, value) = map.iter().next().expect("one entry");
    match key.as_str() {
        "one_of" => match value {
            Value::Array(values) if !values.is_empty() => Ok(Override::OneOf(values.clone())),
            _ => Err(err(file, &format!("{at}/one_of"), "a non-empty list of values")),
        },
        "omit" => Ok(Override::Omit),
        "ids" => {
            let ids: IdsSpec = crate::error::from_json(value.clone())
                .map_err(|(inner, why)| err(file, &format!("{at}/ids{}", inner.trim_end_matches('/')), why))?;
            let total = ids.fixture_weight
                + ids.unknown_weight
                + ids.long_weight
                + ids.unicode_weight
                + ids.whitespace_weight
                + ids.alphabet_weight;
            if ids.min > ids.max || total == 0 || ids.repeat_percent > 100 {
                return Err(err(
                    file,
                    &format!("{at}/ids"),
                    "needs min <= max, some weight above 0, repeat_percent <= 100",
                ));
            }
            Ok(Override::Ids(ids))
        }
        other => Err(err(file, &format!("{at}/{other}"), "not an override; use `one_of`, `omit` or `ids`")),
    }
}

fn names_from(file: &Path, doc: &Value, key: &str, known: &[&str]) -> Result<Vec<String>, SetupError> {
    let Some(v) = doc.get(key) else { return Ok(known.iter().map(|s| s.to_string()).collect()) };
    let names: Vec<String> =
        serde_json::from_value(v.clone()).map_err(|_| err(file, &format!("/{key}"), "a list of names"))?;
    for (i, n) in names.iter().enumerate() {
        if !known.contains(&n.as_str()) {
            return Err(err(file, &format!("/{key}/{i}"), format!("`{n}` is not known; one of {}", known.join(", "))));
        }
    }
    Ok(names)
}

fn parse_step(file: &Path, at: &str, step: &Value, contract: &crate::contract::Contract) -> Result<Step, SetupError> {
    let get = |k: &str| step.get(k);
    if let Some(action) = get("action") {
        let action = action.as_str().ok_or_else(|| err(file, &format!("{at}/action"), "a string"))?.to_string();
        let ids: Vec<String> = get("ids")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or_else(|| err(file, &format!("{at}/ids"), "a list of ids (`$f0`, `$f1`… or `$unknown`)"))?;
        for (i, id) in ids.iter().enumerate() {
            if id != UNKNOWN && !(id.starts_with("$f") && id[2..].parse::<usize>().is_ok()) {
                return Err(err(file, &format!("{at}/ids/{i}"), "an id is `$f<N>` (a fixture) or `$unknown`"));
            }
        }
        let expect = match get("expect") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(err(file, &format!("{at}/expect"), "a `ret_status` value, e.g. SUCCESS")),
        };
        return Ok(Step::Act { action, ids, expect });
    }
    if let Some(id) = get("observe") {
        let id = id.as_str().ok_or_else(|| err(file, &format!("{at}/observe"), "a fixture id like `$f0`"))?.to_string();
        let why = get("why").and_then(Value::as_str).unwrap_or("an earlier step").to_string();
        let states = match (get("states"), get("after")) {
            (Some(v), None) => {
                serde_json::from_value(v.clone()).map_err(|_| err(file, &format!("{at}/states"), "a list of states"))?
            }
            (None, Some(Value::String(action))) => {
                let after = contract.manifest.lifecycle.as_ref().and_then(|l| l.after.get(action));
                after.cloned().ok_or_else(|| {
                    err(
                        file,
                        &format!("{at}/after"),
                        format!("the manifest's `lifecycle.after` says nothing of `{action}`"),
                    )
                })?
            }
            _ => return Err(err(file, at, "an observe step has `states` or `after` (not both)")),
        };
        return Ok(Step::Observe { id, states, why });
    }
    Err(err(file, at, "a step has `action` (with `ids`) or `observe`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Case, SetupError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(&file, text).unwrap();
        load_file(&file, &crate::contract::Contract::bundled().unwrap())
    }

    #[test]
    fn shipped_cases_load() {
        let contract = crate::contract::Contract::bundled().unwrap();
        let cases = load_builtin(&contract).unwrap();
        assert!(cases.len() >= 5);
    }

    #[test]
    fn broken_cases_name_the_path() {
        let e = load(r#"{"kind": "property", "checks": ["nope"]}"#).unwrap_err().to_string();
        assert!(e.contains("`/checks/0`") && e.contains("no check named `nope`"), "{e}");
        let e = load(r#"{"kind": "property", "overrides": {"/bogus": {"omit": true}}}"#).unwrap_err().to_string();
        assert!(e.contains("/overrides/~1bogus"), "{e}");
        let e = load(r#"{"kind": "negative", "rules": ["x"]}"#).unwrap_err().to_string();
        assert!(e.contains("`/rules/0`"), "{e}");
        let e = load("{\"kind\": \n").unwrap_err().to_string();
        assert!(e.ends_with("not JSON: EOF while parsing a value (line 2, column 0)"), "{e}");
        let e =
            load(r#"{"kind": "sequence", "steps": [{"observe": "$f0", "after": "SHARE"}]}"#).unwrap_err().to_string();
        assert!(e.contains("/steps/0/after"), "{e}");
        let e = load(r#"{"kind": "property", "overrides": {"/asset_ids": {"ids": {"min": "2"}}}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`/overrides/~1asset_ids/ids/min`: invalid type: string \"2\", expected a non-negative integer"),
            "{e}"
        );
        let e = load(r#"{"kind": "example", "request": {}, "typo": 1}"#).unwrap_err().to_string();
        assert!(e.contains("`/typo`"), "{e}");
        assert_eq!(e.matches("expect").count(), 1, "each key once: {e}");
    }

    #[test]
    fn keys_of_another_kind_are_refused() {
        let e = load(r#"{"kind": "property", "steps": []}"#).unwrap_err().to_string();
        assert!(e.contains("`/steps`") && e.contains("sequence case, not to a `property` case"), "{e}");
        let e = load(r#"{"kind": "example", "request": {"action": "DELETE", "asset_ids": []}, "rules": []}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`/rules`") && e.contains("negative"), "{e}");
    }

    #[test]
    fn a_request_expected_to_be_accepted_must_be_one_the_schema_allows() {
        let e =
            load(r#"{"kind": "sequence", "steps": [{"action": "EXPLODE", "ids": ["$f0"]}]}"#).unwrap_err().to_string();
        assert!(e.contains("`/steps/0/action`") && e.contains("EXPLODE") && e.contains("request.schema.json"), "{e}");
        let e =
            load(r#"{"kind": "example", "request": {"action": "DELETE", "asset_ids": [1]}}"#).unwrap_err().to_string();
        assert!(e.contains("`/request/asset_ids/0`") && e.contains("expects this request to be accepted"), "{e}");
        // The same request, expected to be rejected, is a fine case.
        load(r#"{"kind": "example", "request": {"action": "DELETE", "asset_ids": [1]}, "expect": "rejected"}"#)
            .unwrap();
        load(r#"{"kind": "example", "request": {"action": "DELETE", "asset_ids": ["$fixture", "$unknown"]}}"#).unwrap();
    }

    #[test]
    fn negative_rules_are_the_derived_ones() {
        let c = load(r#"{"kind": "negative", "rules": ["enum@action", "malformed-json"]}"#).unwrap();
        let CaseBody::Negative(n) = &c.body else { panic!() };
        assert_eq!(n.rules, ["enum@action", "malformed-json"]);
        let c = load(r#"{"kind": "negative"}"#).unwrap();
        let CaseBody::Negative(n) = &c.body else { panic!() };
        assert!(
            n.rules.iter().any(|r| r == "required@asset_ids") && n.rules.iter().any(|r| r == "type@asset_ids.item")
        );
        // The hand-written names are gone; the error lists what the schema yields.
        let e = load(r#"{"kind": "negative", "rules": ["wrong-type"]}"#).unwrap_err().to_string();
        assert!(e.contains("`/rules/0`") && e.contains("type@action"), "{e}");
    }

    #[test]
    fn stateful_cases_name_their_trial_and_bounds() {
        let c = load(r#"{"kind": "stateful", "trial": "random-sequences", "sequences": 3}"#).unwrap();
        let CaseBody::Stateful(s) = &c.body else { panic!() };
        assert_eq!((s.trial, s.sequences, s.max_steps), (StatefulTrial::RandomSequences, 3, 8));
        assert!(c.needs_fixtures() && !c.destructive());
        let e = load(r#"{"kind": "stateful", "trial": "chaos"}"#).unwrap_err().to_string();
        assert!(e.contains("`/trial`") && e.contains("random-sequences"), "{e}");
        let e = load(r#"{"kind": "stateful", "trial": "project-isolation", "max_steps": 0}"#).unwrap_err().to_string();
        assert!(e.contains("`/max_steps`") && e.contains("1 to 64"), "{e}");
    }

    #[test]
    fn sequences_count_their_fixtures() {
        let c = load(r#"{"kind": "sequence", "steps": [{"action": "DELETE_FORCE", "ids": ["$f0", "$f2"]}, {"observe": "$f1", "states": ["X"]}]}"#).unwrap();
        let CaseBody::Sequence(s) = &c.body else { panic!() };
        assert_eq!(s.fixtures_needed(), 3);
        assert!(c.destructive() && c.needs_fixtures() && c.uses_fixtures());
    }
}
