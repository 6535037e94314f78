//! The reference server's planted faults and conformant variants, as data.
//!
//! A fault breaks exactly one rule of the contract, so the harness's own tests can prove that the
//! check named in `caught_by` trips on it. A variant makes another choice where the contract is
//! silent, so they can prove that no check invents a rule. `batchconf list` prints both lists.

use crate::error::SetupError;

/// A rule the server can be told to break (`--fault NAME`).
#[derive(Debug)]
pub struct FaultInfo {
    pub name: &'static str,
    /// What breaks, in one line.
    pub breaks: &'static str,
    /// The check in `src/checks` that must trip on it.
    pub caught_by: &'static str,
    /// What a run needs besides `--fault NAME` for that check to catch it.
    pub needs: Needs,
    /// It shows only after the server's first 1000 requests, at requests the timing picks: a
    /// whole run meets it, but which trials do varies from run to run.
    pub late: bool,
}

/// The flags a run needs, besides `--fault NAME`, to catch a fault: `batchconf list` names them,
/// and `tests/faults.rs` runs each fault with exactly these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// `--max-response-ms N`: `response_time` judges only against a bound.
    pub max_response_ms: Option<u64>,
    /// `--requests N`: a soak run, for a fault that shows only after many requests.
    pub requests: Option<u64>,
}

impl Needs {
    pub const NONE: Needs = Needs { max_response_ms: None, requests: None };

    pub const fn max_response_ms(ms: u64) -> Needs {
        Needs { max_response_ms: Some(ms), requests: None }
    }

    pub const fn requests(n: u64) -> Needs {
        Needs { max_response_ms: None, requests: Some(n) }
    }

    /// The command-line flags, as `batchconf run` takes them (empty when none are needed).
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ms) = self.max_response_ms {
            out.push(format!("--max-response-ms {ms}"));
        }
        if let Some(n) = self.requests {
            out.push(format!("--requests {n}"));
        }
        out
    }
}

impl FaultInfo {
    /// What catches it, as `list` and the docs say: `` `response_time` with `--max-response-ms 300` ``.
    pub fn caught(&self) -> String {
        let flags = self.needs.flags();
        let when = if self.late { " in a whole run (not a filtered one: it shows after 1000 requests)" } else { "" };
        if flags.is_empty() {
            format!("`{}`{when}", self.caught_by)
        } else {
            format!("`{}` with `{}`{when}", self.caught_by, flags.join(" "))
        }
    }
}

/// A conformant alternative the server can be told to make (`--variant NAME`).
#[derive(Debug)]
pub struct VariantInfo {
    pub name: &'static str,
    pub description: &'static str,
}

/// One list gives the enum the server matches on and the table `list` prints, so they cannot
/// drift apart. A fault that needs flags to be caught ends with `, needs NEEDS`; one that shows
/// only late in a server's life with `, [late]`.
macro_rules! faults {
    ($($variant:ident = $name:literal, $caught_by:literal, $breaks:literal $(, needs $needs:expr)? $(, [$late:ident])?;)*) => {
        /// A planted fault: one rule of the contract the server breaks on purpose.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Fault { $($variant),* }

        /// Every planted fault, in the order `batchconf list` shows them.
        pub static FAULTS: &[FaultInfo] = &[$(FaultInfo {
            name: $name,
            breaks: $breaks,
            caught_by: $caught_by,
            needs: faults!(@needs $($needs)?),
            late: faults!(@late $($late)?),
        }),*];

        impl Fault {
            pub const ALL: &'static [Fault] = &[$(Fault::$variant),*];
        }
    };
    (@needs) => { Needs::NONE };
    (@needs $needs:expr) => { $needs };
    (@late) => { false };
    (@late late) => { true };
}

macro_rules! variants {
    ($($variant:ident = $name:literal, $description:literal;)*) => {
        /// A conformant variant: another choice where the contract is silent.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Variant { $($variant),* }

        /// Every conformant variant, in the order `batchconf list` shows them.
        pub static VARIANTS: &[VariantInfo] = &[$(VariantInfo { name: $name, description: $description }),*];

        impl Variant {
            pub const ALL: &'static [Variant] = &[$(Variant::$variant),*];
        }
    };
}

faults! {
    Status201 = "status-201", "status_documented",
        "valid batches are answered 201 instead of 200";
    ServerErrorOnRepeatedId = "server-error-on-repeated-id", "no_server_error",
        "a batch naming any id twice is answered 500 (MSS.00000004)";
    HangOnLargeBatch = "hang-on-large-batch", "connection",
        "batches of 100 or more ids get no answer for 60 s";
    Slow = "slow", "response_time",
        "every 200 answer is delayed by 400 ms", needs Needs::max_response_ms(300);
    ContentTypeText = "content-type-text", "content_type_json",
        "every answer says `Content-Type: text/plain` (body unchanged)";
    NoRequestId = "no-request-id", "required_headers",
        "200 answers lack `X-Request-Id`";
    RepeatedRequestId = "repeated-request-id", "request_id_unique",
        "every answer carries the same `X-Request-Id`";
    BadRetStatus = "bad-ret-status", "response_schema",
        "SUCCESS groups say `SUCESS` (the published page's typo)";
    ErrorBodyWithoutCode = "error-body-without-code", "response_schema",
        "400 bodies lack `error_code`";
    DropLastId = "drop-last-id", "batch_ids_answered",
        "the last requested id of a batch with 2 or more distinct ids is in no group";
    IdInTwoGroups = "id-in-two-groups", "batch_ids_answered",
        "in a batch mixing successes and failures, the first failed id is also in the SUCCESS group";
    ExtraId = "extra-id", "batch_no_extra_ids",
        "an id nobody asked for (`bcf-ghost`) is added to the first group of a non-empty batch";
    FailedWithoutErrorInfo = "failed-without-error-info", "failed_group_has_error_info",
        "FAILED groups lack `error_info`";
    AcceptUnknownAction = "accept-unknown-action", "rejects_invalid_request",
        "an `action` that is not one of the seven is treated as SHARE";
    AcceptMissingAction = "accept-missing-action", "rejects_invalid_request",
        "a missing `action` is treated as SHARE";
    AcceptMissingAssetIds = "accept-missing-asset-ids", "rejects_invalid_request",
        "a missing `asset_ids` is treated as []";
    AcceptNonStringIds = "accept-non-string-ids", "rejects_invalid_request",
        "non-string items of `asset_ids` are turned into strings";
    AcceptNonStringParams = "accept-non-string-params", "rejects_invalid_request",
        "a `params` that is not a string is ignored";
    AcceptWrongContentType = "accept-wrong-content-type", "rejects_invalid_request",
        "a request whose `Content-Type` is not JSON (or missing) is accepted";
    AcceptChineseUserId = "accept-chinese-user-id", "rejects_invalid_request",
        "an `X-App-UserId` with Chinese characters is accepted";
    AcceptNonObjectBody = "accept-non-object-body", "rejects_invalid_request",
        "a JSON body that is not an object is answered as an empty batch (200)";
    MalformedJson500 = "malformed-json-500", "no_server_error",
        "a body that is not JSON is answered 500";
    AcceptMissingCredentials = "accept-missing-credentials", "rejects_bad_credentials",
        "a request with no credentials at all is accepted";
    AcceptWrongToken = "accept-wrong-token", "rejects_bad_credentials",
        "any `X-Auth-Token` is accepted";
    AcceptBadSignature = "accept-bad-signature", "rejects_bad_credentials",
        "the AK/SK signature is not compared (key and date still are)";
    AcceptStaleDate = "accept-stale-date", "rejects_bad_credentials",
        "`X-Sdk-Date` may be any distance from the server's clock";
    Auth401 = "auth-401", "rejects_bad_credentials",
        "missing or failed authentication is answered 401 instead of 400";
    RejectValidBatches = "reject-valid-batches", "accepts_valid_request",
        "every valid batch of one or more ids is answered 400 (MSS.00000002)";
    RestoreDoesNothing = "restore-does-nothing", "lifecycle",
        "RESTORE answers SUCCESS but the asset stays DELETING";
    ForceDeleteRecoverable = "force-delete-recoverable", "lifecycle",
        "DELETE_FORCE behaves like DELETE (RESTORE brings the asset back)";
    UnactiveDoesNothing = "unactive-does-nothing", "lifecycle",
        "UNACTIVE answers SUCCESS but the state does not change";
    ActionAnyCase = "action-any-case", "rejects_invalid_request",
        "`action` is read in any letter case (`delete` is DELETE)";
    ActionTrimmed = "action-trimmed", "rejects_invalid_request",
        "`action` is trimmed of whitespace before it is read";
    NullAssetIdsEmpty = "null-asset-ids-empty", "rejects_invalid_request",
        "`asset_ids: null` is read as an empty batch";
    StringAssetIdsAsOne = "string-asset-ids-as-one", "rejects_invalid_request",
        "an `asset_ids` that is a string is read as a batch of that one id";
    IdsPercentDecoded = "ids-percent-decoded", "batch_ids_answered",
        "ids are percent-decoded (`%41` is `A`) before they are acted on and answered";
    IdsAstralReplaced = "ids-astral-replaced", "batch_ids_answered",
        "characters outside the Basic Multilingual Plane in ids are answered as U+FFFD";
    IdsTruncated = "ids-truncated", "batch_ids_answered",
        "ids longer than 4096 bytes are cut to 4096";
    IdsControlStripped = "ids-control-stripped", "batch_ids_answered",
        "control characters are removed from ids";
    IdsCombiningStripped = "ids-combining-stripped", "batch_ids_answered",
        "combining marks (U+0300 to U+036F) are removed from ids";
    IdsBidiReversed = "ids-bidi-reversed", "batch_ids_answered",
        "a run of right-to-left letters in an id is answered in display order (reversed)";
    IdsPlusAsSpace = "ids-plus-as-space", "batch_ids_answered",
        "a `+` in an id is read as a space (form decoding)";
    IdsTrimmed = "ids-trimmed", "batch_ids_answered",
        "ids are trimmed of leading and trailing whitespace";
    LateServerErrors = "late-server-errors", "no_server_error",
        "after 1000 requests, every 50th request is answered 500 (MSS.00000004)", [late];
    RareRepeatedRequestId = "rare-repeated-request-id", "request_id_unique",
        "every 100th answer repeats the `X-Request-Id` of the answer before it";
    AcceptForeignAccessKey = "accept-foreign-access-key", "rejects_bad_credentials",
        "an access key the server does not know is verified with the first configured secret key";
    AcceptFutureDate = "accept-future-date", "rejects_bad_credentials",
        "an `X-Sdk-Date` ahead of the server's clock passes however far (only the past is bounded)";
    SignatureSkipsFirstChar = "signature-skips-first-char", "rejects_bad_credentials",
        "the signature's first hex digit is not compared";
    SignatureEndsOnly = "signature-ends-only", "rejects_bad_credentials",
        "only the signature's first and last 8 hex digits are compared";
    SignatureFirstHalf = "signature-first-half", "rejects_bad_credentials",
        "only the first half of the signature is compared";
    AcceptEmptySignature = "accept-empty-signature", "rejects_bad_credentials",
        "an empty `Signature=` is accepted";
    AcceptUncoveredHeaders = "accept-uncovered-headers", "rejects_bad_credentials",
        "`SignedHeaders` need not cover `host` and `x-sdk-date`";
    SigEmptyPayloadFallback = "sig-empty-payload-fallback", "rejects_bad_credentials",
        "a signature that does not match the request is tried again over an empty payload (a fallback for clients that do not sign the body)";
    SigIgnoresBody = "sig-ignores-body", "rejects_bad_credentials",
        "the payload hash is `X-Sdk-Content-Sha256`'s whenever it is sent, signed or not: the body acted on need not be the one signed";
    TokenPrefixCompare = "token-prefix-compare", "rejects_bad_credentials",
        "`X-Auth-Token` is compared over the shorter of it and the configured token (a non-empty prefix, or the token extended, passes)";
    SignaturePrefixCompare = "signature-prefix-compare", "rejects_bad_credentials",
        "the signature is compared over the shorter of the two (a non-empty prefix, or the signature extended, passes)";
    AkPrefixCompare = "ak-prefix-compare", "rejects_bad_credentials",
        "`Access=` is matched to a configured access key over the shorter of the two";
    CollationCi = "collation-ci", "lifecycle",
        "ids are compared as a MySQL `_ci` collation with PAD SPACE does: in any letter case, trailing spaces ignored (answers name the id as sent)";
    PadSpace = "pad-space", "lifecycle",
        "ids are compared with trailing spaces ignored (a binary collation with PAD SPACE)";
    TrimmedLookup = "trimmed-lookup", "lifecycle",
        "ids are trimmed of surrounding whitespace before the asset is looked up (answers name the id as sent)";
    NfcIds = "nfc-ids", "lifecycle",
        "ids are NFC-normalised before the asset is looked up (a decomposed `e\u{301}` finds `\u{e9}`)";
    NfkcIds = "nfkc-ids", "lifecycle",
        "ids are NFKC-normalised before the asset is looked up (full-width forms folded, decomposed letters composed)";
    FullwidthFold = "fullwidth-fold", "lifecycle",
        "full-width forms in ids are folded to ASCII before the asset is looked up";
    PercentDecodedLookup = "percent-decoded-lookup", "lifecycle",
        "ids are percent-decoded before the asset is looked up (`%61` finds `a`; answers name the id as sent)";
    LookupCacheRawPath = "lookup-cache-raw-path", "lifecycle",
        "lookups are cached by the path segment as received and a batch invalidates only its ids' usual spelling: `%62cf-\u{2026}` or `%c3%a9` keep answering the old state";
    ActsOutsideBatch = "acts-outside-batch", "lifecycle",
        "UNACTIVE also deactivates the asset whose id follows the batch's first existing id and differs from it only in its last character";
    AnyActionResurrects = "any-action-resurrects", "lifecycle",
        "ACTIVE and UNACTIVE on a force-deleted asset answer SUCCESS and bring it back";
    ForceDeleteFromBinNotFinal = "force-delete-from-bin-not-final", "lifecycle",
        "DELETE_FORCE on an asset in the recycle bin answers SUCCESS but leaves it DELETING (RESTORE brings it back)";
    PhantomSuccessLargeBatch = "phantom-success-large-batch", "lifecycle",
        "in a batch of 20 or more ids, the last existing asset is reported SUCCESS but not acted on";
    PhantomSuccessMixedBatch = "phantom-success-mixed-batch", "lifecycle",
        "in a batch mixing existing and unknown ids, the existing ones are reported SUCCESS but not acted on";
    ServerErrorShareUnactived = "server-error-share-unactived", "no_server_error",
        "SHARE of a batch holding an UNACTIVED asset is answered 500 (MSS.00000004)";
    RestoreMovesLive = "restore-moves-live", "lifecycle",
        "RESTORE of an ACTIVED asset answers FAILED but deactivates it";
    LostConcurrentUpdates = "lost-concurrent-updates", "lifecycle",
        "a batch works on the states as they were when it arrived and writes them all back 30 ms later: concurrent batches lose each other's updates, even on disjoint assets";
    Cap8 = "cap-8", "lifecycle",
        "only the first 8 ids of a batch are acted on; every existing id after them is answered SUCCESS and left alone";
    Cap50 = "cap-50", "lifecycle",
        "only the first 50 ids of a batch are acted on; every existing id after them is answered SUCCESS and left alone";
    Cap500 = "cap-500", "lifecycle",
        "only the first 500 ids of a batch are acted on; every existing id after them is answered SUCCESS and left alone";
    PartialApply100 = "partial-apply-100", "lifecycle",
        "a batch of more than 100 ids is answered id by id as it should be, but only the first 100 ids' changes are kept";
    PartialApply250 = "partial-apply-250", "lifecycle",
        "a batch of more than 250 ids is answered id by id as it should be, but only the first 250 ids' changes are kept";
    RowLocks = "row-locks", "lifecycle",
        "a batch locks one id at a time (2 ms each) instead of running as one transaction: concurrent batches over the same ids interleave id by id";
    ForceDeleteFromBinRestorable = "force-delete-from-bin-restorable", "lifecycle",
        "DELETE_FORCE of an asset in the recycle bin leaves it DELETED, but RESTORE answers SUCCESS and brings it back as it was before DELETE";
    ForceDeleteFromBinActiveRevives = "force-delete-from-bin-active-revives", "lifecycle",
        "DELETE_FORCE of an asset in the recycle bin leaves it DELETED, but ACTIVE answers SUCCESS and brings it back ACTIVED";
    ForceDeleteFromBinUnshareRevives = "force-delete-from-bin-unshare-revives", "lifecycle",
        "DELETE_FORCE of an asset in the recycle bin leaves it DELETED, but UNSHARE answers SUCCESS and brings it back UNACTIVED";
    StoreIgnoresProject = "store-ignores-project", "project_isolation",
        "a batch naming another project (`bcf-` prefixed) acts on this project's assets";
}

variants! {
    RejectEmptyBatch = "reject-empty-batch",
        "an empty `asset_ids` is answered 400 (MSS.00000002) instead of 200 with no results";
    MaxBatch50 = "max-batch-50",
        "a batch of more than 50 ids is answered 400 (MSS.00000002)";
    RejectUnknownFields = "reject-unknown-fields",
        "body fields other than `action`, `asset_ids` and `params` are answered 400 instead of ignored";
    GroupPerFailedId = "group-per-failed-id",
        "one FAILED group per failed id instead of one per distinct error";
    EmptyGroups = "empty-groups",
        "a SUCCESS group is always present, even when empty";
    CharsetContentType = "charset-content-type",
        "answers say `Content-Type: application/json;charset=UTF-8`";
    ExtraFields = "extra-fields",
        "bodies carry an extra `request_id` field and answers an extra `X-Served-By` header";
    RepeatedIdsEach = "repeated-ids-each",
        "an id requested several times is listed that many times in its group, not once";
    DeleteForceAbsent = "delete-force-absent",
        "after DELETE_FORCE the asset is gone: lookups answer 404 instead of state DELETED";
    RestoreToActived = "restore-to-actived",
        "RESTORE always brings an asset back ACTIVED, whatever its state before DELETE";
    SecondDeleteSuccess = "second-delete-success",
        "DELETE of an asset already in the recycle bin answers SUCCESS (it stays DELETING)";
    PerProjectNamespaces = "per-project-namespaces",
        "a batch naming another project answers 200 with every id FAILED (no such asset there); lookups there 404";
    NearMissIds400 = "near-miss-ids-400",
        "a batch naming an id that is no asset's, but that letter case, spaces, full-width forms, normal form or percent-encoding would make one, is answered 400 (MSS.00000002)";
    Lookup400Absent = "lookup-400-absent",
        "a lookup of an absent asset answers 400 (MSS.00000003) instead of 404";
    GatewayAuth = "gateway-auth",
        "authentication failures are answered by the API gateway: 401 `APIGW.0301` \"Incorrect IAM authentication information: <why>\", body with `request_id`";
    Lockout = "lockout",
        "an access key whose AK/SK authentication fails more than 5 times in a row is locked for 5 minutes: 401 `APIGW.0301` \"AK access failed to reach the limit,forbidden.\"";
    ServiceErrorCodes = "service-error-codes",
        "the service's own codes: MSS.10000002 (not JSON), MSS.10000003 (invalid parameters), MSS.10001001 (asset not found), MSS.00010008 (credentials), MSS.00010009 (another project)";
    RateLimit = "rate-limit",
        "the API gateway's token bucket: past 1000 requests a second (`serve --rate-limit N/s` or `N/min`), 429 APIGW.0308 with no `Retry-After`";
    ThrottleRetryAfter = "throttle-retry-after",
        "one request in 25 is answered 429 (APIGW.0308) with `Retry-After: 1`";
    LaggingLookup = "lagging-lookup",
        "lookups are served by a replica: they show the state as it was 300 ms earlier (read-your-writes is not promised)";
    AtomicBatches = "atomic-batches",
        "all-or-nothing batches: when any id fails, nothing is done and every id is FAILED (with `error_info`)";
}

/// `serve --platform huaweicloud`: the realistic set, a real endpoint behind Huawei Cloud's API
/// gateway. One list, one variant a line (the comments keep it so), so adding one is one line.
pub const PLATFORM_HUAWEICLOUD: &[Variant] = &[
    // Authentication failures answered by the gateway, 401 APIGW.0301.
    Variant::GatewayAuth,
    // More than five failed AK/SK authentications in a row lock a key for five minutes.
    Variant::Lockout,
    // The service's own error codes.
    Variant::ServiceErrorCodes,
    // The gateway's rate limit: 429 APIGW.0308, no `Retry-After`.
    Variant::RateLimit,
    // Lookups read a replica 300 ms behind.
    Variant::LaggingLookup,
    // Batches all or nothing (the contract is silent; a real service may choose either).
    Variant::AtomicBatches,
];

impl Fault {
    /// The fault's name, as `--fault` takes it.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn info(self) -> &'static FaultInfo {
        let i = Fault::ALL.iter().position(|f| *f == self).expect("every fault is in ALL");
        &FAULTS[i]
    }
}

impl Variant {
    /// The variant's name, as `--variant` takes it.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn info(self) -> &'static VariantInfo {
        let i = Variant::ALL.iter().position(|v| *v == self).expect("every variant is in ALL");
        &VARIANTS[i]
    }
}

impl std::str::FromStr for Fault {
    type Err = SetupError;

    /// A name from [`FAULTS`]; anything else is an error that lists them all.
    fn from_str(name: &str) -> Result<Fault, SetupError> {
        Fault::ALL.iter().copied().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<&str> = FAULTS.iter().map(|f| f.name).collect();
            SetupError::Argument(format!("unknown fault `{name}`; the faults are: {}", names.join(", ")))
        })
    }
}

impl std::str::FromStr for Variant {
    type Err = SetupError;

    /// A name from [`VARIANTS`]; anything else is an error that lists them all.
    fn from_str(name: &str) -> Result<Variant, SetupError> {
        Variant::ALL.iter().copied().find(|v| v.name() == name).ok_or_else(|| {
            let names: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
            SetupError::Argument(format!("unknown variant `{name}`; the variants are: {}", names.join(", ")))
        })
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What this server instance does differently from the plain reference behaviour.
#[derive(Debug, Clone, Default)]
pub(crate) struct Behaviour {
    pub fault: Option<Fault>,
    pub variants: Vec<Variant>,
}

impl Behaviour {
    pub(crate) fn new(fault: Option<Fault>, variants: &[Variant]) -> Behaviour {
        Behaviour { fault, variants: variants.to_vec() }
    }

    pub(crate) fn broken(&self, fault: Fault) -> bool {
        self.fault == Some(fault)
    }

    pub(crate) fn chose(&self, variant: Variant) -> bool {
        self.variants.contains(&variant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for (i, f) in FAULTS.iter().enumerate() {
            assert_eq!(f.name.parse::<Fault>().unwrap(), Fault::ALL[i]);
            assert!(crate::checks::find(f.caught_by).is_some(), "fault `{}` names no check", f.name);
        }
        for (i, v) in VARIANTS.iter().enumerate() {
            assert_eq!(v.name.parse::<Variant>().unwrap(), Variant::ALL[i]);
        }
        assert_eq!(Fault::ALL.len(), FAULTS.len());
        assert_eq!(Variant::ALL.len(), VARIANTS.len());
    }

    #[test]
    fn every_check_of_a_response_has_a_fault() {
        // These two judge the request the harness sent, which no server fault can change.
        let request_side = ["request_schema", "request_path"];
        for check in crate::checks::CHECKS.iter().filter(|c| !request_side.contains(&c.name)) {
            assert!(FAULTS.iter().any(|f| f.caught_by == check.name), "no fault trips `{}`", check.name);
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "nope".parse::<Fault>().unwrap_err().to_string();
        assert!(err.contains("`nope`") && err.contains("status-201"), "{err}");
        let err = "nah".parse::<Variant>().unwrap_err().to_string();
        assert!(err.contains("`nah`") && err.contains("max-batch-50"), "{err}");
    }
}
