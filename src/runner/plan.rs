//! The plan: command-line flags and files turned into validated settings and the list of trials,
//! before anything is sent. Every problem here is a [`SetupError`] (exit 2) naming the flag or
//! file. Listing the trials does no network I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cases::{self, Case, CaseBody};
use crate::cli::RunArgs;
use crate::contract::Contract;
use crate::error::SetupError;
use crate::generate::AuthMode;
use crate::send::{Credentials, TransportConfig};

/// One trial: a case, or one rule of a negative case, or one variant of an auth case.
#[derive(Debug, Clone)]
pub struct Unit {
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
    Auth(String),
}

#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// The reference server, started in-process.
    Bundled { fault: Option<String>, variants: Vec<String> },
    /// Any server speaking the API.
    Remote { url: String },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub contract: Arc<Contract>,
    pub cases: Vec<Arc<Case>>,
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
    pub dry_run: bool,
    pub junit: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    pub filter: Option<String>,
}

/// The project id a bundled run uses (the reference server takes any).
pub const BUNDLED_PROJECT: &str = "batchconf-project";

impl Settings {
    /// Settings for a run against the bundled server with the shipped contract and cases.
    pub fn bundled() -> Result<Settings, SetupError> {
        let contract = Arc::new(Contract::bundled()?);
        let cases = cases::load_dir(&cases::default_dir(), &contract)?.into_iter().map(Arc::new).collect();
        Ok(Settings {
            contract,
            cases,
            target: TargetSpec::Bundled { fault: None, variants: vec![] },
            project_id: BUNDLED_PROJECT.into(),
            creds: Credentials::default(),
            fixtures: vec![],
            allow_destructive: false,
            seed: rand::random(),
            examples: 100,
            transport: TransportConfig::default(),
            max_response_ms: None,
            shrink_budget: Duration::from_secs(30),
            dry_run: false,
            junit: None,
            report_json: None,
            filter: None,
        })
    }

    pub fn from_args(args: &RunArgs) -> Result<Settings, SetupError> {
        let contract = Arc::new(match &args.schemas {
            Some(dir) => Contract::load(dir)?,
            None => Contract::bundled()?,
        });
        let dir = args.cases.clone().unwrap_or_else(cases::default_dir);
        let cases: Vec<Arc<Case>> = cases::load_dir(&dir, &contract)?.into_iter().map(Arc::new).collect();
        check_generators(&contract, &cases)?;
        if args.examples == 0 {
            return Err(SetupError::Argument("`--examples` must be at least 1".into()));
        }
        if args.concurrency == 0 {
            return Err(SetupError::Argument("`--concurrency` must be at least 1".into()));
        }
        if args.max_response_ms == Some(0) {
            return Err(SetupError::Argument("`--max-response-ms` must be at least 1".into()));
        }
        if args.timeout_ms == 0 {
            return Err(SetupError::Argument("`--timeout-ms` must be at least 1".into()));
        }
        if let Some(rate) = args.rate {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(SetupError::Argument(format!(
                    "`--rate {rate}` must be a positive number of requests per second"
                )));
            }
        }
        let fixtures = match &args.fixture_assets {
            None => vec![],
            Some(spec) => parse_fixtures(spec)?,
        };
        let target = match (&args.target, &args.fault) {
            (Some(_), Some(_)) => {
                return Err(SetupError::Argument(
                    "`--fault` plants a fault in the bundled server; it cannot go with `--target`".into(),
                ))
            }
            (Some(url), None) => TargetSpec::Remote { url: url.clone() },
            (None, fault) => {
                if !fixtures.is_empty() {
                    return Err(SetupError::Argument(
                        "`--fixture-assets` names assets of a target; the bundled server makes its own (give `--target` too)".into(),
                    ));
                }
                TargetSpec::Bundled { fault: fault.clone(), variants: vec![] }
            }
        };
        let creds = Credentials {
            token: args.auth.token.clone().filter(|t| !t.is_empty()),
            aksk: args.auth.ak.clone().zip(args.auth.sk.clone()).filter(|(a, s)| !a.is_empty() && !s.is_empty()),
            app_user_id: args.auth.app_user_id.clone(),
        };
        let project_id = match (&target, &args.auth.project_id) {
            (_, Some(p)) => p.clone(),
            (TargetSpec::Bundled { .. }, None) => BUNDLED_PROJECT.into(),
            (TargetSpec::Remote { .. }, None) => {
                return Err(SetupError::Argument(
                    "`--project-id` (or HUAWEICLOUD_SDK_PROJECT_ID) is needed with `--target`: it is part of the request path".into(),
                ))
            }
        };
        if let TargetSpec::Remote { url } = &target {
            crate::send::Target::parse(url, &project_id)?;
        }
        Ok(Settings {
            contract,
            cases,
            target,
            project_id,
            creds,
            fixtures,
            allow_destructive: args.allow_destructive,
            seed: args.seed.unwrap_or_else(rand::random),
            examples: args.examples,
            transport: TransportConfig {
                concurrency: args.concurrency,
                timeout: Duration::from_millis(args.timeout_ms),
                rate: args.rate,
                ..TransportConfig::default()
            },
            max_response_ms: args.max_response_ms,
            shrink_budget: Duration::from_secs(30),
            dry_run: args.dry_run,
            junit: args.junit.clone(),
            report_json: args.report_json.clone(),
            filter: args.filter.clone(),
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
                _ => None,
            })
            .collect();
        if self.is_bundled() {
            let pool = (0..4).map(|i| format!("bcf-fixture-pool-{i}")).collect();
            let per = sequences
                .iter()
                .map(|(name, n, _)| (name.to_string(), (0..*n).map(|k| format!("bcf-fixture-{name}-{k}")).collect()))
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
        for (name, n, destructive) in &sequences {
            if !destructive && available.len() >= *n {
                per.insert(name.to_string(), available[..*n].to_vec());
            }
        }
        (available, per)
    }

    /// Every trial, with the reason it is skipped where it is.
    pub fn units(&self) -> Vec<Unit> {
        let (pool, per_sequence) = self.fixture_plan();
        let mut out = Vec::new();
        for case in &self.cases {
            let base = format!("{}::{}", case.kind(), case.name);
            let mut skip = None;
            if case.needs_fixtures() && !self.is_bundled() {
                let has = match &case.body {
                    CaseBody::Sequence(_) => per_sequence.contains_key(&case.name),
                    _ => !pool.is_empty(),
                };
                if self.fixtures.is_empty() {
                    skip = Some("needs existing assets: name some with `--fixture-assets`".to_string());
                } else if case.destructive() && !self.allow_destructive {
                    skip = Some(
                        "sends DELETE_FORCE to a fixture, which cannot be undone: needs `--allow-destructive`"
                            .to_string(),
                    );
                } else if !has {
                    skip = Some(
                        "needs more fixture assets than `--fixture-assets` gives (destructive cases take their own)"
                            .to_string(),
                    );
                }
            }
            match &case.body {
                CaseBody::Negative(n) => {
                    for rule in &n.rules {
                        out.push(Unit {
                            name: format!("{base}::{rule}"),
                            case: case.clone(),
                            part: Part::Rule(rule.clone()),
                            skip: skip.clone(),
                        });
                    }
                }
                CaseBody::Auth(a) => {
                    for variant in &a.variants {
                        let mode = AuthMode::from_variant(variant);
                        let no_aksk = !self.is_bundled() && self.creds.aksk.is_none();
                        let no_token = !self.is_bundled() && self.creds.token.is_none();
                        let skip = if mode.is_some_and(AuthMode::needs_aksk) && no_aksk {
                            Some("needs AK/SK credentials (`--ak`, `--sk`)".to_string())
                        } else if mode.is_some_and(AuthMode::needs_token) && no_token {
                            Some("needs a token (`--token`)".to_string())
                        } else {
                            skip.clone()
                        };
                        out.push(Unit {
                            name: format!("{base}::{variant}"),
                            case: case.clone(),
                            part: Part::Auth(variant.clone()),
                            skip,
                        });
                    }
                }
                _ => out.push(Unit { name: base, case: case.clone(), part: Part::Whole, skip }),
            }
        }
        out
    }
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
    use clap::Parser;

    fn settings(args: &[&str]) -> Result<Settings, SetupError> {
        let mut argv = vec!["batchconf", "run"];
        argv.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let crate::cli::Command::Run(run) = cli.command else { panic!() };
        Settings::from_args(&run)
    }

    #[test]
    fn real_targets_skip_what_needs_fixtures_or_consent() {
        let s = settings(&["--target", "https://metastudio.example.com", "--project-id", "p", "--token", "t"]).unwrap();
        let units = s.units();
        let seq = units.iter().find(|u| u.name == "sequence::force-delete-is-final").unwrap();
        assert!(seq.skip.as_deref().unwrap().contains("--fixture-assets"));
        let sig = units.iter().find(|u| u.name == "auth::bad-credentials::tampered-signature").unwrap();
        assert!(sig.skip.as_deref().unwrap().contains("AK/SK"));
        assert!(units.iter().find(|u| u.name == "property::every-action-unknown-ids").unwrap().skip.is_none());

        let s = settings(&["--target", "https://x.example", "--project-id", "p", "--fixture-assets", "a,b,c"]).unwrap();
        let units = s.units();
        let force = units.iter().find(|u| u.name == "sequence::force-delete-is-final").unwrap();
        assert!(force.skip.as_deref().unwrap().contains("--allow-destructive"));
        let (pool, per) = s.fixture_plan();
        assert_eq!(pool, ["a", "b", "c"]);
        assert!(!per.contains_key("force-delete-is-final"));

        let s = settings(&[
            "--target",
            "https://x.example",
            "--project-id",
            "p",
            "--fixture-assets",
            "a,b,c",
            "--allow-destructive",
        ])
        .unwrap();
        let (pool, per) = s.fixture_plan();
        assert_eq!(per["force-delete-is-final"], ["c"]);
        assert_eq!(pool, ["a", "b"], "the destroyed fixture is nobody else's");
    }

    #[test]
    fn bad_flags_are_setup_errors() {
        assert!(settings(&["--target", "https://x.example"]).unwrap_err().to_string().contains("--project-id"));
        assert!(settings(&["--target", "nope", "--project-id", "p"]).is_err());
        assert!(settings(&["--examples", "0"]).is_err());
        assert!(settings(&["--fixture-assets", "a"]).is_err());
        assert!(settings(&["--rate", "0"]).is_err());
        assert!(settings(&["--target", "http://127.0.0.1:1", "--project-id", "p", "--fault", "status-201"]).is_err());
    }
}
