//! Requests by construction: proptest strategies built from the request schema (with a case's
//! overrides), and negative strategies that break exactly one rule each.
//!
//! Values are built, never filtered, so generation cannot stall and shrinking works on every
//! part. The same seed gives the same requests.

mod ids;
pub mod near_miss;
mod negative;
mod schema;

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

pub use ids::{alphabet_id, ids_strategy, is_generated_id, ALPHABETS, ID_PREFIX};
pub use negative::{auth_strategy, negative_edges, negative_rules, negative_strategy};
pub use schema::{body_edges, body_strategy, SUPPORTED};

/// What the runner will send, before the transport adds the URL, credentials and case header.
#[derive(Debug, Clone, PartialEq)]
pub struct GenRequest {
    pub body: Payload,
    pub content_type: String,
    /// Headers besides content type and credentials (e.g. `X-App-UserId`).
    pub headers: Vec<(String, String)>,
    pub auth: AuthMode,
}

impl GenRequest {
    pub fn json(body: Value) -> GenRequest {
        GenRequest {
            body: Payload::Json(body),
            content_type: "application/json".into(),
            headers: vec![],
            auth: AuthMode::Valid,
        }
    }

    /// The body as sent. Its JSON, when it is JSON, is [`GenRequest::json_body`].
    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            Payload::Json(v) => serde_json::to_vec(v).expect("a JSON value always serializes"),
            Payload::Raw(s) => s.clone().into_bytes(),
        }
    }

    /// The JSON the body is, so the judge need not parse back what was just written.
    pub fn json_body(&self) -> Option<&Value> {
        match &self.body {
            Payload::Json(v) => Some(v),
            Payload::Raw(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Json(Value),
    /// Text that is not JSON, sent as is.
    Raw(String),
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// With the run's credentials.
    Valid,
    /// With none at all.
    Missing,
    /// With a token the target cannot know.
    WrongToken,
    /// The run's own token with its last character changed (a server that compares prefixes
    /// lets it through).
    AlteredToken,
    /// An `X-Auth-Token` header with nothing in it.
    EmptyToken,
    /// Signed, then one character of the signature changed.
    TamperedSignature,
    /// Signed with an `X-Sdk-Date` an hour old.
    StaleDate,
    /// Signed with an `X-Sdk-Date` an hour ahead (beyond the allowed skew the other way).
    FutureDate,
    /// `Access=` names a key that is not the run's; the signature is made with the run's secret.
    ForeignAccessKey,
    /// Signed, then the signature's first character changed.
    AlteredSignatureFirst,
    /// Signed, then the signature's middle character changed.
    AlteredSignatureMiddle,
    /// `Signature=` with nothing after it.
    EmptySignature,
    /// A correct signature whose `SignedHeaders` leaves out `x-sdk-date`, which must be covered.
    UnsignedDate,
    /// The run's token cut to its first character (a compare over the shorter of the two lets
    /// any prefix through).
    TokenCutToOne,
    /// The run's token cut to its first half.
    TokenCutToHalf,
    /// The run's token with a character appended.
    TokenExtended,
    /// Signed, then the signature cut to its first hex digit.
    SignatureCutToOne,
    /// Signed, then the signature cut to its first half.
    SignatureCutToHalf,
    /// Signed, then a hex digit appended to the signature.
    SignatureExtended,
    /// Signed with the run's secret, `Access=` naming the run's key cut to its first half.
    AccessKeyCut,
    /// Signed with the run's secret, `Access=` naming the run's key with a character appended.
    AccessKeyExtended,
    /// Signed, then the body changed (a space appended), with an unsigned `X-Sdk-Content-Sha256`
    /// declaring the hash of the body that was signed.
    BodyChangedAfterSigning,
    /// A signature computed over an empty payload, sent with the request's non-empty body.
    EmptyPayloadSignature,
}

/// The auth variants a case file may name, and the mode each sends: the one table of them
/// (`cases` takes the names from here).
pub const AUTH_VARIANTS: &[(&str, AuthMode)] = &[
    ("no-credentials", AuthMode::Missing),
    ("wrong-token", AuthMode::WrongToken),
    ("altered-token", AuthMode::AlteredToken),
    ("empty-token", AuthMode::EmptyToken),
    ("tampered-signature", AuthMode::TamperedSignature),
    ("stale-date", AuthMode::StaleDate),
    ("future-date", AuthMode::FutureDate),
    ("foreign-access-key", AuthMode::ForeignAccessKey),
    ("altered-signature-first", AuthMode::AlteredSignatureFirst),
    ("altered-signature-middle", AuthMode::AlteredSignatureMiddle),
    ("empty-signature", AuthMode::EmptySignature),
    ("unsigned-date", AuthMode::UnsignedDate),
    ("token-cut-to-one", AuthMode::TokenCutToOne),
    ("token-cut-to-half", AuthMode::TokenCutToHalf),
    ("token-extended", AuthMode::TokenExtended),
    ("signature-cut-to-one", AuthMode::SignatureCutToOne),
    ("signature-cut-to-half", AuthMode::SignatureCutToHalf),
    ("signature-extended", AuthMode::SignatureExtended),
    ("access-key-cut", AuthMode::AccessKeyCut),
    ("access-key-extended", AuthMode::AccessKeyExtended),
    ("body-changed-after-signing", AuthMode::BodyChangedAfterSigning),
    ("empty-payload-signature", AuthMode::EmptyPayloadSignature),
];

impl AuthMode {
    pub fn from_variant(name: &str) -> Option<AuthMode> {
        AUTH_VARIANTS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// How people read it: `valid credentials`, `no credentials`, `a wrong token`, …
    pub fn describe(self) -> &'static str {
        match self {
            AuthMode::Valid => "valid credentials",
            AuthMode::Missing => "no credentials",
            AuthMode::WrongToken => "a wrong token",
            AuthMode::AlteredToken => "an altered token",
            AuthMode::EmptyToken => "an empty token",
            AuthMode::TamperedSignature => "a tampered signature",
            AuthMode::StaleDate => "a stale date",
            AuthMode::FutureDate => "a date in the future",
            AuthMode::ForeignAccessKey => "an access key that is not the run's",
            AuthMode::AlteredSignatureFirst => "a signature altered at its first character",
            AuthMode::AlteredSignatureMiddle => "a signature altered at its middle character",
            AuthMode::EmptySignature => "an empty signature",
            AuthMode::UnsignedDate => "a signature that does not cover the date header",
            AuthMode::TokenCutToOne => "the token cut to its first character",
            AuthMode::TokenCutToHalf => "the token cut to its first half",
            AuthMode::TokenExtended => "the token with a character appended",
            AuthMode::SignatureCutToOne => "a signature cut to its first hex digit",
            AuthMode::SignatureCutToHalf => "a signature cut to its first half",
            AuthMode::SignatureExtended => "a signature with a hex digit appended",
            AuthMode::AccessKeyCut => "the access key cut to its first half",
            AuthMode::AccessKeyExtended => "the access key with a character appended",
            AuthMode::BodyChangedAfterSigning => "a body changed after signing",
            AuthMode::EmptyPayloadSignature => "a signature over an empty payload, sent with a body",
        }
    }

    /// Does this mode need AK/SK credentials to be meaningful?
    pub fn needs_aksk(self) -> bool {
        matches!(
            self,
            AuthMode::TamperedSignature
                | AuthMode::StaleDate
                | AuthMode::FutureDate
                | AuthMode::ForeignAccessKey
                | AuthMode::AlteredSignatureFirst
                | AuthMode::AlteredSignatureMiddle
                | AuthMode::EmptySignature
                | AuthMode::UnsignedDate
                | AuthMode::SignatureCutToOne
                | AuthMode::SignatureCutToHalf
                | AuthMode::SignatureExtended
                | AuthMode::AccessKeyCut
                | AuthMode::AccessKeyExtended
                | AuthMode::BodyChangedAfterSigning
                | AuthMode::EmptyPayloadSignature
        )
    }

    /// Does this mode need a token to be meaningful?
    pub fn needs_token(self) -> bool {
        matches!(
            self,
            AuthMode::AlteredToken | AuthMode::TokenCutToOne | AuthMode::TokenCutToHalf | AuthMode::TokenExtended
        )
    }
}

/// A deterministic source of value trees for one trial: seeded from the run's seed and the
/// trial's name, so filtering trials does not change what any trial sends.
pub struct Source {
    runner: TestRunner,
}

impl Source {
    pub fn new(seed: u64, trial: &str) -> Source {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new().chain_update(seed.to_le_bytes()).chain_update(trial.as_bytes()).finalize();
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &digest);
        // No failure persistence: every value tree of a union keeps a clone of the runner, and a
        // persistence box in each clone is an allocation per request for nothing (batchconf replays
        // failures from its own reports, by seed).
        let config = Config { failure_persistence: None, ..Config::default() };
        Source { runner: TestRunner::new_with_rng(config, rng) }
    }

    /// The next value tree of a strategy; its `current()` is the generated value and its
    /// `simplify`/`complicate` drive shrinking.
    pub fn tree<T: std::fmt::Debug>(
        &mut self,
        strategy: &BoxedStrategy<T>,
    ) -> Result<Box<dyn ValueTree<Value = T>>, String> {
        strategy.new_tree(&mut self.runner).map_err(|r| r.to_string())
    }
}

/// The boundary pass of a trial, as value trees that do not shrink: for a property, the edge
/// values of every keyword combined place by place; for a negative rule, its candidates on one
/// fixed request. The engine sends these before the random examples.
pub fn boundary_trees(
    contract: &crate::contract::Contract,
    case: &crate::cases::Case,
    rule: Option<&str>,
    fixtures: &[String],
) -> Result<Vec<Box<dyn ValueTree<Value = GenRequest>>>, crate::error::SetupError> {
    let requests: Vec<GenRequest> = match (&case.body, rule) {
        (crate::cases::CaseBody::Property(p), _) => {
            body_edges(contract, p, fixtures)?.into_iter().map(GenRequest::json).collect()
        }
        (crate::cases::CaseBody::Negative(_), Some(rule)) => negative_edges(contract, rule)?,
        _ => vec![],
    };
    let mut runner = TestRunner::deterministic();
    Ok(requests
        .into_iter()
        .filter_map(|r| proptest::strategy::Just(r).new_tree(&mut runner).ok())
        .map(|t| Box::new(t) as Box<dyn ValueTree<Value = GenRequest>>)
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A copy of the bundled contract in a temporary directory, and the path of its request schema.
    pub(crate) fn schema_copy() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in crate::builtin::SCHEMAS {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let path = dir.path().join("request.schema.json");
        (dir, path)
    }

    #[test]
    fn same_seed_same_values() {
        let contract = crate::contract::Contract::bundled().unwrap();
        let cases = crate::cases::load_builtin(&contract).unwrap();
        let prop = cases.iter().find(|c| c.name == "edge-batches").unwrap();
        let crate::cases::CaseBody::Property(p) = &prop.body else { panic!() };
        let s = body_strategy(&contract, p, &["f1".to_string()]).unwrap();
        let draw = |seed| {
            let mut src = Source::new(seed, "property::edge-batches");
            (0..20).map(|_| src.tree(&s).unwrap().current()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
