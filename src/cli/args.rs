//! The flags of every command, as clap reads them. Faults and variants are parsed into the
//! library's enums here, so an unknown name is exit 2 before anything starts.

use std::path::PathBuf;

use batchconf::server::{Fault, Variant};
use clap::{Args, Parser, Subcommand};

fn fault(name: &str) -> Result<Fault, String> {
    name.parse().map_err(|e: batchconf::error::SetupError| e.to_string())
}

/// `90s`, `30m`, `2h`, `1h30m`…
fn duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration like 90s, 30m or 2h: {e}"))
}

fn variant(name: &str) -> Result<Variant, String> {
    name.parse().map_err(|e: batchconf::error::SetupError| e.to_string())
}

fn rate_limit(text: &str) -> Result<batchconf::server::RateLimit, String> {
    text.parse().map_err(|e: batchconf::error::SetupError| e.to_string())
}

#[derive(Debug, Parser)]
#[command(
    name = "batchconf",
    version,
    about = "Contract-conformance harness for the Batch Asset Operations API",
    long_about = "batchconf tells you every way a Batch Asset Operations endpoint diverges from its \
published contract, each with a minimal reproduction.\n\n\
Start with `batchconf run` (tests the bundled reference server, no set-up), then point it at your \
endpoint with `--target`. `batchconf list` shows the checks, faults and cases.",
    after_help = "Exit codes: 0 no divergence, 1 divergences found, 2 bad arguments, schema, case or input files, \
3 the target cannot be tested (unreachable, stopped answering, refused the run's own credentials or lost them mid-run, \
the run's access key may be locked, throttled nearly everything), \
130 interrupted by Ctrl-C and 143 by SIGTERM (the summary and every report are written first, marked interrupted; \
a second signal ends at once)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate requests, send them to a target (default: the bundled server) and check every answer.
    #[command(after_help = "Exit codes: 0 no divergence, 1 divergences found, 2 your mistake (nothing was sent), \
3 the target cannot be tested, 130 interrupted by Ctrl-C and 143 by SIGTERM: the run stops starting requests, \
lets those in flight finish, puts fixtures back, then prints the summary and writes every report marked interrupted; \
a second signal ends it at once.")]
    Run(Box<RunArgs>),
    /// Run the bundled reference server standalone, for clients and other tools.
    Serve(ServeArgs),
    /// Judge recorded exchanges (HAR 1.2, or batchconf's JSON exchange form) against the contract.
    Validate(ValidateArgs),
    /// Re-send the failing requests saved in a JSON report and check them again (a sequence's
    /// whole recorded steps first, then its fixtures put back; exit 3 for what it cannot judge).
    Replay(ReplayArgs),
    /// List the checks, the reference server's faults and the cases.
    List(ListArgs),
    /// Write an editable copy of the built-in contract and cases to DIR/schemas and DIR/cases.
    Init(InitArgs),
    /// Print the contract as an OpenAPI 3.1 document, for OpenAPI tools.
    Openapi(OpenapiArgs),
}

/// Credentials and identity for talking to a target. Secrets come from flags or the environment
/// the official SDKs use, and are never printed.
#[derive(Debug, Clone, Args, Default)]
pub struct AuthArgs {
    /// IAM token sent as `X-Auth-Token`.
    #[arg(long, env = "BATCHCONF_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Access key for AK/SK signing (SDK-HMAC-SHA256).
    #[arg(long, env = "HUAWEICLOUD_SDK_AK", hide_env_values = true, requires = "sk")]
    pub ak: Option<String>,
    /// Secret key for AK/SK signing.
    #[arg(long, env = "HUAWEICLOUD_SDK_SK", hide_env_values = true, requires = "ak")]
    pub sk: Option<String>,
    /// Project id put in the request path: needed with `--target` (the bundled server takes any).
    #[arg(long, env = "HUAWEICLOUD_SDK_PROJECT_ID", hide_env_values = true)]
    pub project_id: Option<String>,
    /// Value of `X-App-UserId` sent with every request (the contract's request-headers schema
    /// judges it first: no Chinese characters).
    #[arg(long)]
    pub app_user_id: Option<String>,
}

impl From<AuthArgs> for batchconf::engine::Access {
    fn from(a: AuthArgs) -> Self {
        batchconf::engine::Access {
            project_id: a.project_id,
            token: a.token,
            ak: a.ak,
            sk: a.sk,
            app_user_id: a.app_user_id,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Base URL of the endpoint to test, e.g. `https://metastudio.example.com` (a path is a
    /// prefix; no query or fragment). Needs `--project-id`. Without it the bundled reference
    /// server is started in-process.
    #[arg(long, env = "BATCHCONF_TARGET", hide_env_values = true)]
    pub target: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Directory of the contract (manifest and JSON Schemas); default: the built-in contract.
    #[arg(long, value_name = "DIR", env = "BATCHCONF_SCHEMAS", hide_env_values = true)]
    pub schemas: Option<PathBuf>,
    /// Directory of case files; default: the built-in cases.
    #[arg(long, value_name = "DIR", env = "BATCHCONF_CASES", hide_env_values = true)]
    pub cases: Option<PathBuf>,
    /// Seed of the generators; the same seed sends the same requests. Printed on every run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Generated requests per property case (1 or more).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub examples: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Give up on one request after this long.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Report any response slower than this as a divergence: the `response_time` check judges
    /// only with it (planted fault `slow` needs it to be caught).
    #[arg(long)]
    pub max_response_ms: Option<u64>,
    /// Send at most this many requests per second (for endpoints with quotas).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long a lookup may lag behind a batch (replicas: read-your-writes is not promised).
    /// After a batch, a state not yet what the answer said is looked up again until then; only
    /// then is it a divergence
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub settle_ms: u64,
    /// Existing asset ids of the target the run may act on (comma-separated, or `@FILE` with one
    /// id per line); for `--target` only (the bundled server makes its own).
    #[arg(long, value_name = "ID,ID,…|@FILE")]
    pub fixture_assets: Option<String>,
    /// Allow `DELETE_FORCE` on fixture assets (it cannot be undone).
    #[arg(long)]
    pub allow_destructive: bool,
    /// Print the requests the run would send, as `curl` lines, and send none.
    #[arg(long)]
    pub dry_run: bool,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write every divergence, with its minimal request and response, as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Soak: keep generating across every trial for this long (`30m`, `2h`), then report.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub duration: Option<std::time::Duration>,
    /// Soak: keep generating across every trial until this many requests were sent.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Stop any run after this long (exit 3: the target could not be tested within it).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub max_duration: Option<std::time::Duration>,
    /// Write one self-contained HTML page here: the verdict, the summary per check, the coverage
    /// grid and every divergence.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Run only the trials whose name contains this text (none matching is an error).
    pub filter: Option<String>,
    /// Plant a fault in the bundled server (no `--target` only): see `batchconf list`.
    #[arg(long, value_name = "NAME", value_parser = fault)]
    pub fault: Option<Fault>,
    /// Make the bundled server choose another conformant behaviour (repeatable): see `batchconf list`.
    #[arg(long = "variant", value_name = "NAME", value_parser = variant)]
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Port to listen on (127.0.0.1); 0 picks a free one and prints it.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Accept this `X-Auth-Token` (repeatable).
    #[arg(long = "token", value_name = "T")]
    pub tokens: Vec<String>,
    /// Accept AK/SK signatures made with this access key…
    #[arg(long, requires = "sk")]
    pub ak: Option<String>,
    /// …and this secret key.
    #[arg(long, requires = "ak")]
    pub sk: Option<String>,
    /// Existing assets, in state ACTIVED (comma-separated).
    #[arg(long, value_name = "ID,ID,…", value_delimiter = ',')]
    pub fixtures: Vec<String>,
    /// Break exactly one rule of the contract on purpose: see `batchconf list`.
    #[arg(long, value_name = "NAME", value_parser = fault)]
    pub fault: Option<Fault>,
    /// Make another conformant choice where the contract is silent (repeatable): see `batchconf list`.
    #[arg(long = "variant", value_name = "NAME", value_parser = variant)]
    pub variants: Vec<Variant>,
    /// Behave as a real endpoint on this platform does: its realistic set of variants (with
    /// `--variant`s added): the API gateway's answers, the AK/SK lockout, the service's codes.
    #[arg(long, value_enum, value_name = "PLATFORM")]
    pub platform: Option<Platform>,
    /// Tokens expire after letting in this many requests (rehearses credentials lost mid-run).
    #[arg(long, value_name = "N")]
    pub token_ttl_requests: Option<u64>,
    /// The gateway's rate limit, `N/s` or `N/min` (implies `--variant rate-limit`, whose default
    /// is 1000/s): past it, 429 APIGW.0308 with no `Retry-After`.
    #[arg(long, value_name = "N/s|N/min", value_parser = rate_limit)]
    pub rate_limit: Option<batchconf::server::RateLimit>,
}

/// A platform `serve --platform` can stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    /// Huawei Cloud: `batchconf list` names its variants.
    Huaweicloud,
}

impl ServeArgs {
    /// The variants asked for: the platform's, then each `--variant` not among them.
    pub fn platform_variants(&self) -> Vec<Variant> {
        let mut all = match self.platform {
            Some(Platform::Huaweicloud) => batchconf::server::PLATFORM_HUAWEICLOUD.to_vec(),
            None => vec![],
        };
        for v in &self.variants {
            if !all.contains(v) {
                all.push(*v);
            }
        }
        all
    }
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Recorded exchanges: `.har` (HAR 1.2) or batchconf's JSON exchange form.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Directory of the contract (manifest and JSON Schemas); default: the built-in contract.
    #[arg(long, value_name = "DIR", env = "BATCHCONF_SCHEMAS", hide_env_values = true)]
    pub schemas: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// A report written by `batchconf run --report-json`.
    #[arg(value_name = "REPORT.json")]
    pub report: PathBuf,
    /// Send to this base URL instead of the one in the report.
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Directory of the contract (manifest and JSON Schemas); default: the built-in contract.
    #[arg(long, value_name = "DIR", env = "BATCHCONF_SCHEMAS", hide_env_values = true)]
    pub schemas: Option<PathBuf>,
    /// Give up on one request after this long.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Directory of case files; default: the built-in cases.
    #[arg(long, value_name = "DIR", env = "BATCHCONF_CASES", hide_env_values = true)]
    pub cases: Option<PathBuf>,
    /// Directory of the contract (manifest and schemas) whose negative rules to list.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Where to write `schemas/` and `cases/`.
    #[arg(default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct OpenapiArgs {
    /// Directory of the contract (manifest and JSON Schemas); default: the built-in contract.
    #[arg(long, value_name = "DIR", env = "BATCHCONF_SCHEMAS", hide_env_values = true)]
    pub schemas: Option<PathBuf>,
    /// Write the document as JSON or as YAML.
    #[arg(long, value_enum, default_value_t = OpenapiFormat::Json)]
    pub format: OpenapiFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OpenapiFormat {
    Json,
    Yaml,
}

impl From<OpenapiFormat> for batchconf::openapi::Format {
    fn from(f: OpenapiFormat) -> Self {
        match f {
            OpenapiFormat::Json => batchconf::openapi::Format::Json,
            OpenapiFormat::Yaml => batchconf::openapi::Format::Yaml,
        }
    }
}
