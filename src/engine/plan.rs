//! The plan: typed options (from the command line or the `cargo test` gate's environment) turned
//! into validated settings and the list of trials, before anything is sent. Every problem here is
//! a [`SetupError`] (exit 2) naming the flag or file. Listing the trials does no network I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cases::{self, Case, CaseBody};
use crate::contract::Contract;
use crate::error::SetupError;
use crate::generate::AuthMode;
use crate::send::{Credentials, TransportConfig};
use crate::server::{Fault, Variant};

/// One trial: a case, or one rule of a negative case, or one variant of an auth case.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Its place in the plan: reports list trials in this order, whatever order they ran in.
    pub index: usize,
    /// `<kind>::<case>` or `<kind>::<case>::<part>`; what filters and reports use.
    pub name: String,
    pub case: Arc<Case>,
    pub part: Part,
    /// Why the trial does not run here, when it does not.
    pub skip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Whole,
    Rule(String),
    Auth(AuthMode),
}

#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// The reference server, started in-process.
    Bundled { fault: Option<Fault>, variants: Vec<Variant> },
    /// Any server speaking the API.
    Remote { url: String },
}

/// Who a run (or a replay) is to the target: the project, the credentials and the third-party
/// user, as given; [`credentials`] checks them. `Debug` never shows a secret.
#[derive(Clone, Default)]
pub struct Access {
    pub project_id: Option<String>,
    pub token: Option<String>,
    pub ak: Option<String>,
    pub sk: Option<String>,
    pub app_user_id: Option<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("Access")
            .field("project_id", &self.project_id)
            .field("token", &given(&self.token))
            .field("ak", &given(&self.ak))
            .field("sk", &given(&self.sk))
            .field("app_user_id", &self.app_user_id)
            .finish()
    }
}

/// What a run was asked to do, typed but not yet checked: the command line fills it from flags,
/// the `cargo test` gate from its environment.
/// How long a lookup may lag behind a batch by default: replicas of large services are
/// usually well under a second behind.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(2000);

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Option<String>,
    pub access: Access,
    pub schemas: Option<PathBuf>,
    pub cases: Option<PathBuf>,
    pub seed: Option<u64>,
    pub examples: u32,
    pub concurrency: usize,
    pub timeout: Duration,
    pub max_response_ms: Option<u64>,
    pub rate: Option<f64>,
    /// How long a lookup may lag behind a batch before the state it shows is a divergence.
    pub settle: Duration,
    pub fixture_assets: Option<String>,
    pub allow_destructive: bool,
    pub dry_run: bool,
    pub junit: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    pub filter: Option<String>,
    pub fault: Option<Fault>,
    pub variants: Vec<Variant>,
    /// A soak run's budget, and the bound on any run.
    pub limits: super::Limits,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            target: None,
            access: Access::default(),
            schemas: None,
            cases: None,
            seed: None,
            examples: 100,
            concurrency: 8,
            timeout: Duration::from_secs(10),
            max_response_ms: None,
            rate: None,
            settle: DEFAULT_SETTLE,
            fixture_assets: None,
            allow_destructive: false,
            dry_run: false,
            junit: None,
            report_json: None,
            filter: None,
            fault: None,
            variants: vec![],
            limits: super::Limits::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub contract: Arc<Contract>,
    pub cases: Vec<Arc<Case>>,
    /// Where the cases came from (built in, or a directory), for messages.
    pub cases_origin: crate::builtin::Origin,
    pub target: TargetSpec,
    pub project_id: String,
    /// The user's credentials (a bundled run makes its own).
    pub creds: Credentials,
    /// The user's fixture assets (a bundled run makes its own).
    pub fixtures: Vec<String>,
    pub allow_destructive: bool,
    pub seed: u64,
    pub examples: u32,
    pub transport: TransportConfig,
    pub max_response_ms: Option<u64>,
    pub shrink_budget: Duration,
    /// How long a lookup may lag behind a batch (`--settle-ms`).
    pub settle: Duration,
    pub dry_run: bool,
    pub junit: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    pub filter: Option<String>,
    pub limits: super::Limits,
    /// How messages name what the user can set: flags, or the `cargo test` gate's variables.
    pub hints: Hints,
}

/// How a hint names a setting: the command line's flag, or the environment variable the
/// `cargo test` gate reads instead (set by [`crate::report::libtest`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Hints {
    #[default]
    Flags,
    Env,
}

impl Hints {
    /// `--fixture-assets` as this run's user sets it, in backquotes.
    pub fn name(self, flag: &str) -> String {
        let env = match flag {
            "--fixture-assets" => "BATCHCONF_FIXTURE_ASSETS",
            "--allow-destructive" => "BATCHCONF_ALLOW_DESTRUCTIVE=1",
            "--token" => "BATCHCONF_TOKEN",
            "--ak" => "HUAWEICLOUD_SDK_AK",
            "--sk" => "HUAWEICLOUD_SDK_SK",
            "--target" => "BATCHCONF_TARGET",
            other => other,
        };
        match self {
            Hints::Flags => format!("`{flag}`"),
            Hints::Env => format!("`{env}`"),
        }
    }
}

/// Fixtures the bundled server holds for random sequences to DELETE_FORCE: a try uses the first
/// not yet destroyed, so tries (and shrinking) start from a live one while they last.
pub const BUNDLED_RESERVED: usize = 32;

/// The project id a bundled run uses (the reference server takes any).
pub const BUNDLED_PROJECT: &str = "batchconf-project";

impl Settings {
    /// Settings for a run against the bundled server with the shipped contract and cases.
    pub fn bundled() -> Result<Settings, SetupError> {
        Settings::new(RunOptions::default())
    }

    /// Loads the contract and cases and checks every option, before anything is sent.
    pub fn new(o: RunOptions) -> Result<Settings, SetupError> {
        let contract = Arc::new(match &o.schemas {
            Some(dir) => Contract::load(dir)?,
            None => Contract::bundled()?,
        });
        let cases_origin = crate::builtin::Origin::of(o.cases.as_deref());
        let cases: Vec<Arc<Case>> = cases::load(o.cases.as_deref(), &contract)?.into_iter().map(Arc::new).collect();
        if cases.is_empty() {
            return Err(SetupError::Argument(format!(
                "`{cases_origin}` holds no case file (`*.json`): a run of nothing would prove nothing"
            )));
        }
        check_generators(&contract, &cases)?;
        let positive = |flag: &str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(SetupError::Argument(format!("`{flag}` must be more than zero")))
            }
        };
        positive("--examples", o.examples > 0)?;
        positive("--concurrency", o.concurrency > 0)?;
        positive("--max-response-ms", o.max_response_ms != Some(0))?;
        positive("--timeout-ms", !o.timeout.is_zero())?;
        positive("--requests", o.limits.requests != Some(0))?;
        positive("--duration", o.limits.duration != Some(Duration::ZERO))?;
        positive("--max-duration", o.limits.max_duration != Some(Duration::ZERO))?;
        if let Some(rate) = o.rate {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(SetupError::Argument(format!(
                    "`--rate {rate}` must be a positive number of requests per second"
                )));
            }
        }
        let fixtures = match &o.fixture_assets {
            None => vec![],
            Some(spec) => parse_fixtures(spec)?,
        };
        let target = match (&o.target, o.fault) {
            (Some(_), Some(_)) => {
                return Err(SetupError::Argument(
                    "`--fault` plants a fault in the bundled server; it cannot go with `--target`".into(),
                ))
            }
            (Some(_), None) if !o.variants.is_empty() => {
                return Err(SetupError::Argument(
                    "`--variant` chooses how the bundled server behaves; it cannot go with `--target`".into(),
                ))
            }
            (Some(url), None) => TargetSpec::Remote { url: url.clone() },
            (None, fault) => {
                if !fixtures.is_empty() {
                    return Err(SetupError::Argument(
                        "`--fixture-assets` names assets of a target; the bundled server makes its own (give `--target` too)".into(),
                    ));
                }
                TargetSpec::Bundled { fault, variants: o.variants.clone() }
            }
        };
        let creds = credentials(&o.access)?;
        let project_id = match (&target, &o.access.project_id) {
            (_, Some(p)) => p.clone(),
            (TargetSpec::Bundled { .. }, None) => BUNDLED_PROJECT.into(),
            (TargetSpec::Remote { .. }, None) => {
                return Err(SetupError::Argument(
                    "`--project-id` (or HUAWEICLOUD_SDK_PROJECT_ID) is needed with `--target`: it is part of the request path".into(),
                ))
            }
        };
        // The requests must be ones the user's values can make (a bundled run's URL stands in).
        let url = match &target {
            TargetSpec::Remote { url } => url.as_str(),
            TargetSpec::Bundled { .. } => "http://127.0.0.1:8080",
        };
        let sendable = crate::send::Target::parse(url, &project_id)?;
        crate::send::check_sendable(&contract, &sendable, &creds, &fixtures)?;
        if let TargetSpec::Remote { .. } = &target {
            if creds.is_empty() && !o.dry_run {
                return Err(SetupError::Argument(
                    "no credentials: give `--token` (or BATCHCONF_TOKEN), or `--ak` and `--sk` (or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK); without them every request would be refused and nothing tested".into(),
                ));
            }
        }
        Ok(Settings {
            contract,
            cases,
            cases_origin,
            target,
            project_id,
            creds,
            fixtures,
            allow_destructive: o.allow_destructive,
            seed: o.seed.unwrap_or_else(rand::random),
            examples: o.examples,
            transport: TransportConfig {
                concurrency: o.concurrency,
                timeout: o.timeout,
                rate: o.rate,
                ..TransportConfig::default()
            },
            max_response_ms: o.max_response_ms,
            shrink_budget: Duration::from_secs(30),
            settle: o.settle,
            dry_run: o.dry_run,
            junit: o.junit.clone(),
            report_json: o.report_json.clone(),
            filter: o.filter.clone(),
            limits: o.limits,
            hints: Hints::Flags,
        })
    }

    pub fn is_bundled(&self) -> bool {
        matches!(self.target, TargetSpec::Bundled { .. })
    }

    /// Which fixtures properties may use, and which each sequence gets; a bundled run names its
    /// own (one set per sequence, so sequences never meet).
    pub fn fixture_plan(&self) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
        let sequences: Vec<(&str, usize, bool)> = self
            .cases
            .iter()
            .filter_map(|c| match &c.body {
                CaseBody::Sequence(s) => Some((c.name.as_str(), s.fixtures_needed(), c.destructive())),
                CaseBody::Stateful(s) => Some((c.name.as_str(), s.fixtures_needed(), false)),
                _ => None,
            })
            .collect();
        // Random sequences may DELETE_FORCE only fixtures reserved for it, listed after their live
        // ones: on the bundled server a fresh one for each sequence tried, elsewhere the one
        // `--allow-destructive` gives up.
        let reserving: Vec<&str> = self
            .cases
            .iter()
            .filter(|c| matches!(&c.body, CaseBody::Stateful(s) if s.trial == cases::StatefulTrial::RandomSequences))
            .map(|c| c.name.as_str())
            .collect();
        let near_missing: Vec<&str> = self
            .cases
            .iter()
            .filter(|c| matches!(&c.body, CaseBody::Stateful(s) if s.trial == cases::StatefulTrial::NearMisses))
            .map(|c| c.name.as_str())
            .collect();
        if self.is_bundled() {
            let pool = (0..4).map(|i| format!("bcf-fixture-pool-{i}")).collect();
            let per = sequences
                .iter()
                .map(|(name, n, _)| {
                    let mut ids: Vec<String> = (0..*n).map(|k| format!("bcf-fixture-{name}-{k}")).collect();
                    // The near-miss trial's second fixture ends in a composed letter, so
                    // every near-miss kind and URL spelling has something to change.
                    if near_missing.contains(name) && ids.len() > 1 {
                        ids[1].push_str("-\u{e9}");
                    }
                    if reserving.contains(name) {
                        ids.extend((0..BUNDLED_RESERVED).map(|k| format!("bcf-fixture-{name}-reserved-{k}")));
                    }
                    (name.to_string(), ids)
                })
                .collect();
            return (pool, per);
        }
        // A user's fixtures: destructive sequences get fixtures of their own from the end of the
        // list (they are gone afterwards); everything else shares the rest.
        let mut available = self.fixtures.clone();
        let mut per = BTreeMap::new();
        for (name, n, destructive) in &sequences {
            if *destructive && self.allow_destructive && available.len() > *n {
                let own = available.split_off(available.len() - n);
                per.insert(name.to_string(), own);
            }
        }
        let mut reserved = BTreeMap::new();
        for name in &reserving {
            if self.allow_destructive && available.len() > 4 + 1 {
                reserved.insert(name.to_string(), available.split_off(available.len() - 1));
            }
        }
        for (name, n, destructive) in &sequences {
            if !destructive && available.len() >= *n {
                let mut ids = available[..*n].to_vec();
                ids.extend(reserved.remove(*name).unwrap_or_default());
                per.insert(name.to_string(), ids);
            }
        }
        (available, per)
    }

    /// The fixtures a run may destroy (`DELETE_FORCE`): a destructive sequence's own, and those
    /// random sequences keep after their live ones. Nothing brings them back, so the put-back at
    /// the end of a run leaves them out; it keeps every other fixture as it found it.
    pub fn destructive_fixtures(&self) -> Vec<String> {
        let (_, per) = self.fixture_plan();
        let mut out = Vec::new();
        for c in &self.cases {
            let Some(ids) = per.get(&c.name) else { continue };
            match &c.body {
                CaseBody::Sequence(_) if c.destructive() => out.extend(ids.iter().cloned()),
                CaseBody::Stateful(s) if s.trial == cases::StatefulTrial::RandomSequences => {
                    out.extend(ids.iter().skip(s.fixtures_needed()).cloned());
                }
                _ => {}
            }
        }
        out
    }

    /// The fixtures a run must leave as it found them: every one it may not destroy.
    pub fn kept_fixtures(&self) -> Vec<String> {
        let destructive = self.destructive_fixtures();
        let mut kept: Vec<String> = Vec::new();
        for id in self.fixture_ids() {
            // A user's fixtures serve properties and sequences both: each is kept once.
            if !destructive.contains(&id) && !kept.contains(&id) {
                kept.push(id);
            }
        }
        kept
    }

    /// Every asset id the run may act on as a fixture (the user's, or those a bundled run makes).
    pub fn fixture_ids(&self) -> Vec<String> {
        let (pool, per_sequence) = self.fixture_plan();
        pool.into_iter().chain(per_sequence.into_values().flatten()).collect()
    }

    /// Every trial, with the reason it is skipped where it is.
    pub fn units(&self) -> Vec<Unit> {
        let (pool, per_sequence) = self.fixture_plan();
        let hint = |flag: &str| self.hints.name(flag);
        let mut out = Vec::new();
        for case in &self.cases {
            let base = format!("{}::{}", case.kind(), case.name);
            let mut skip = None;
            if case.needs_fixtures() && !self.is_bundled() {
                let has = match &case.body {
                    CaseBody::Sequence(_) | CaseBody::Stateful(_) => per_sequence.contains_key(&case.name),
                    _ => !pool.is_empty(),
                };
                if self.fixtures.is_empty() {
                    skip = Some(format!("needs existing assets: name some with {}", hint("--fixture-assets")));
                } else if case.destructive() && !self.allow_destructive {
                    skip = Some(format!(
                        "sends DELETE_FORCE to a fixture, which cannot be undone: needs {}",
                        hint("--allow-destructive")
                    ));
                } else if !has {
                    let needed = match &case.body {
                        CaseBody::Sequence(s) => s.fixtures_needed(),
                        CaseBody::Stateful(s) => s.fixtures_needed(),
                        _ => 1,
                    };
                    let own = self.fixtures.len() - pool.len();
                    let taken =
                        if own > 0 { format!(", {own} of them taken by destructive cases") } else { String::new() };
                    skip = Some(format!(
                        "needs {needed} fixture asset(s) of its own; {} gives {}{taken}",
                        hint("--fixture-assets"),
                        self.fixtures.len()
                    ));
                }
            }
            match &case.body {
                CaseBody::Negative(n) => {
                    for rule in &n.rules {
                        out.push(Unit {
                            index: out.len(),
                            name: format!("{base}::{rule}"),
                            case: case.clone(),
                            part: Part::Rule(rule.clone()),
                            skip: skip.clone(),
                        });
                    }
                }
                CaseBody::Auth(a) => {
                    for variant in &a.variants {
                        let Some(mode) = AuthMode::from_variant(variant) else { continue };
                        let no_aksk = !self.is_bundled() && self.creds.aksk.is_none();
                        let no_token = !self.is_bundled() && self.creds.token.is_none();
                        let skip = if mode.needs_aksk() && no_aksk {
                            Some(format!("needs AK/SK credentials ({}, {})", hint("--ak"), hint("--sk")))
                        } else if mode.needs_token() && no_token {
                            Some(format!("needs a token ({})", hint("--token")))
                        } else {
                            skip.clone()
                        };
                        out.push(Unit {
                            index: out.len(),
                            name: format!("{base}::{variant}"),
                            case: case.clone(),
                            part: Part::Auth(mode),
                            skip,
                        });
                    }
                }
                _ => out.push(Unit { index: out.len(), name: base, case: case.clone(), part: Part::Whole, skip }),
            }
        }
        out
    }
}

/// The user's credentials, checked: a value that cannot be sent as an HTTP header (a line break,
/// a control character) or an empty one is the user's mistake, found before anything is sent.
pub(crate) fn credentials(access: &Access) -> Result<Credentials, SetupError> {
    let header = |flag: &str, value: &Option<String>| -> Result<Option<String>, SetupError> {
        let Some(v) = value else { return Ok(None) };
        if v.is_empty() {
            return Err(SetupError::Argument(format!("`{flag}` is empty: give a value, or leave the flag out")));
        }
        if v.chars().any(|c| c.is_control() && c != '\t') {
            return Err(SetupError::Argument(format!(
                "`{flag}` holds a line break or another control character, which cannot be sent in an HTTP header"
            )));
        }
        Ok(Some(v.clone()))
    };
    let token = header("--token", &access.token)?;
    let aksk = match (header("--ak", &access.ak)?, header("--sk", &access.sk)?) {
        (Some(ak), Some(sk)) => Some((ak, sk)),
        (None, None) => None,
        _ => return Err(SetupError::Argument("`--ak` and `--sk` go together: give both, or neither".into())),
    };
    Ok(Credentials { token, aksk, app_user_id: header("--app-user-id", &access.app_user_id)? })
}

/// Builds every generator the cases need once, so a schema keyword the generator cannot honour
/// is a set-up error (exit 2) naming the schema, not a trial that fails later.
fn check_generators(contract: &Contract, cases: &[Arc<Case>]) -> Result<(), SetupError> {
    let fixture = ["fixture".to_string()];
    for case in cases {
        match &case.body {
            CaseBody::Property(p) => {
                let _ = crate::generate::body_strategy(contract, p, &fixture)?;
            }
            CaseBody::Negative(n) => {
                for rule in &n.rules {
                    let _ = crate::generate::negative_strategy(contract, rule)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `ID,ID,…` or `@FILE` with one id per line (blank lines and `#` comments ignored).
fn parse_fixtures(spec: &str) -> Result<Vec<String>, SetupError> {
    let ids: Vec<String> = match spec.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| SetupError::Input {
                file: file.to_string(),
                reason: format!("cannot read the fixture list: {e}"),
            })?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
        None => spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
    };
    if ids.is_empty() {
        return Err(SetupError::Argument(format!("`--fixture-assets {spec}` names no asset")));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(o: RunOptions) -> Result<Settings, SetupError> {
        Settings::new(o)
    }

    /// A remote run whose access is changed by `edit`, dry or not.
    fn with_access(edit: impl FnOnce(&mut Access), dry_run: bool) -> RunOptions {
        let mut o = RunOptions { dry_run, ..remote("https://x.example") };
        edit(&mut o.access);
        o
    }

    fn remote(url: &str) -> RunOptions {
        RunOptions {
            target: Some(url.into()),
            access: Access { project_id: Some("p".into()), token: Some("t0ken".into()), ..Access::default() },
            ..RunOptions::default()
        }
    }

    #[test]
    fn real_targets_skip_what_needs_fixtures_or_consent() {
        let s = settings(remote("https://metastudio.example.com")).unwrap();
        let units = s.units();
        let seq = units.iter().find(|u| u.name == "sequence::force-delete-is-final").unwrap();
        assert!(seq.skip.as_deref().unwrap().contains("--fixture-assets"));
        let sig = units.iter().find(|u| u.name == "auth::bad-credentials::tampered-signature").unwrap();
        assert!(sig.skip.as_deref().unwrap().contains("AK/SK"));
        assert!(units.iter().find(|u| u.name == "property::every-action-unknown-ids").unwrap().skip.is_none());
        assert!(units.iter().enumerate().all(|(i, u)| u.index == i));

        let s = settings(RunOptions { fixture_assets: Some("a,b,c".into()), ..remote("https://x.example") }).unwrap();
        let units = s.units();
        let random = units.iter().find(|u| u.name == "stateful::random-batches").unwrap();
        assert_eq!(
            random.skip.as_deref(),
            Some("needs 4 fixture asset(s) of its own; `--fixture-assets` gives 3"),
            "the reason says how many"
        );
        let force = units.iter().find(|u| u.name == "sequence::force-delete-is-final").unwrap();
        assert!(force.skip.as_deref().unwrap().contains("--allow-destructive"));
        let (pool, per) = s.fixture_plan();
        assert_eq!(pool, ["a", "b", "c"]);
        assert!(!per.contains_key("force-delete-is-final"));

        let s = settings(RunOptions {
            fixture_assets: Some("a,b,c".into()),
            allow_destructive: true,
            ..remote("https://x.example")
        })
        .unwrap();
        let (pool, per) = s.fixture_plan();
        assert_eq!(per["force-delete-is-final"], ["c"]);
        assert_eq!(pool, ["a", "b"], "the destroyed fixture is nobody else's");
    }

    #[test]
    fn random_sequences_get_a_fixture_to_destroy_only_with_consent() {
        let seven = || RunOptions { fixture_assets: Some("a,b,c,d,e,f,g".into()), ..remote("https://x.example") };
        let (pool, per) = settings(seven()).unwrap().fixture_plan();
        assert_eq!(per["random-batches"], ["a", "b", "c", "d"], "no reserved fixture without consent");
        assert_eq!(pool.len(), 7);
        let (pool, per) = settings(RunOptions { allow_destructive: true, ..seven() }).unwrap().fixture_plan();
        assert_eq!(per["force-delete-is-final"], ["g"]);
        assert_eq!(per["random-batches"], ["a", "b", "c", "d", "f"], "the last one left is reserved");
        assert_eq!(pool, ["a", "b", "c", "d", "e"], "nobody else acts on a fixture that may be destroyed");
        let bundled = Settings::bundled().unwrap().fixture_plan().1;
        assert_eq!(bundled["random-batches"].len(), 4 + BUNDLED_RESERVED);
    }

    #[test]
    fn bad_options_are_setup_errors() {
        let err = |o: RunOptions| settings(o).unwrap_err().to_string();
        assert!(err(with_access(|a| a.project_id = None, false)).contains("--project-id"));
        assert!(settings(remote("nope")).is_err());
        assert!(settings(RunOptions { examples: 0, ..RunOptions::default() }).is_err());
        assert!(settings(RunOptions { fixture_assets: Some("a".into()), ..RunOptions::default() }).is_err());
        assert!(settings(RunOptions { rate: Some(0.0), ..RunOptions::default() }).is_err());
        assert!(settings(RunOptions { fault: Some(Fault::Status201), ..remote("http://127.0.0.1:1") }).is_err());
        assert!(err(with_access(|a| a.token = None, false)).contains("no credentials"));
        assert!(err(with_access(|a| a.token = Some(String::new()), false)).contains("empty"));
        assert!(err(with_access(|a| a.token = Some("a\r\nX-Evil: 1".into()), false)).contains("line break"));
        assert!(err(with_access(|a| a.app_user_id = Some("u\n".into()), false)).contains("--app-user-id"));
        assert!(err(with_access(|a| a.ak = Some("AK".into()), false)).contains("--sk"));
        // A dry run sends nothing, so it needs no credentials.
        assert!(settings(with_access(|a| a.token = None, true)).is_ok());
        // The contract's request-headers schema judges the user's values: no Chinese characters
        // in `X-App-UserId`, other non-ASCII is allowed.
        let e = err(with_access(|a| a.app_user_id = Some("用户".into()), false));
        assert!(e.starts_with("`--app-user-id 用户` is refused by the contract") && e.contains("Chinese"), "{e}");
        assert!(settings(with_access(|a| a.app_user_id = Some("usuário-7".into()), false)).is_ok());
        assert!(err(with_access(|a| a.project_id = Some("..".into()), false)).contains("--project-id"));
        let e = err(with_access(|a| a.project_id = Some("p".repeat(100_000)), false));
        assert!(e.starts_with("`--project-id` makes a request path of 100"), "{e}");
        let e = err(RunOptions {
            access: Access { project_id: Some(".".into()), ..Access::default() },
            ..RunOptions::default()
        });
        assert!(e.contains("--project-id"), "a bundled run too: {e}");
        let e = err(with_access(|a| a.app_user_id = Some("u".repeat(20_000)), false));
        assert!(e.starts_with("`--app-user-id` makes a header"), "{e}");
        let e = err(RunOptions { fixture_assets: Some("x".repeat(9000)), ..remote("https://x.example") });
        assert!(e.starts_with("`--fixture-assets` makes a lookup path"), "{e}");
    }

    #[test]
    fn an_empty_cases_directory_is_a_setup_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = settings(RunOptions { cases: Some(dir.path().to_path_buf()), ..RunOptions::default() })
            .unwrap_err()
            .to_string();
        assert!(e.contains(&dir.path().display().to_string()) && e.contains("no case file"), "{e}");
    }
}
