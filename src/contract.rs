//! The contract as data: the manifest and the JSON Schemas of `schemas/`, loaded and compiled once.
//!
//! Everything the checks, the generators and the reference server know about the API comes from
//! here, so a change to the contract is a change to files, not to code.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::builtin::{self, Origin};
use crate::error::SetupError;

/// The manifest file's name inside a schemas directory.
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "$comment", default)]
    pub comment: Option<String>,
    pub operation: Operation,
    pub lookup: Option<Lookup>,
    pub lifecycle: Option<Lifecycle>,
    /// The platform around the operation: the API gateway in front of it, the service's codes.
    pub platform: Option<Platform>,
}

/// What the platform does around the operation that the operation's page never mentions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    #[serde(rename = "$comment", default)]
    pub comment: Option<String>,
    pub gateway: Gateway,
    /// The service's own error codes (its error-code page) to their messages.
    #[serde(default)]
    pub service_codes: BTreeMap<String, String>,
}

/// The API gateway: which failures it answers itself, before the service sees the request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// The schema of the gateway's error bodies.
    pub body: String,
    pub answers: Vec<GatewayAnswer>,
    pub lockout: Option<Lockout>,
}

/// One kind of failure the gateway answers: its status and the form of its error code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayAnswer {
    pub failure: Failure,
    pub status: u16,
    /// A regular expression the answer's `error_code` matches.
    pub code_pattern: String,
    pub example: String,
    /// What the report says, once, when the target answered so: where the page and the platform
    /// differ (a note on the contract, not a divergence).
    #[serde(default)]
    pub note: Option<String>,
}

/// The failures the gateway answers for the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    Authentication,
    Throttling,
    UnknownPath,
}

/// The AK/SK lockout: more than `consecutive_failures` failed authentications in a row with one
/// access key lock it for `locked_seconds`; the gateway then refuses it with `message`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub consecutive_failures: u32,
    pub locked_seconds: u64,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub id: String,
    pub method: String,
    /// Path template, e.g. `/v1/{project_id}/digital-assets/batch-action`.
    pub path: String,
    pub request: RequestSpec,
    /// Status code (as a string, the way JSON keys are) to what the answer must carry.
    pub responses: BTreeMap<String, ResponseSpec>,
    pub auth: AuthSpec,
    /// The status every invalid request must be rejected with.
    pub invalid_request_status: u16,
    pub batch: BatchSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub content_type: String,
    pub body: String,
    pub headers: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    pub body: String,
    #[serde(default)]
    pub required_headers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    pub token: TokenAuth,
    pub aksk: AkSkAuth,
    /// The status a request with missing or failed authentication gets.
    pub rejected_with: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenAuth {
    pub header: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AkSkAuth {
    pub scheme: String,
    pub header: String,
    pub date_header: String,
    pub max_skew_seconds: u64,
}

/// Where the batch lives: JSON pointers into the request body and into each result group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    pub request_ids: String,
    pub action: String,
    pub groups: String,
    pub group_ids: String,
    pub group_status: String,
    pub failed_status: String,
    pub group_error: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    pub method: String,
    pub path: String,
    pub state: String,
    /// Statuses that mean "no such asset" (the contract gives the lookup no error table).
    pub absent_statuses: Vec<u16>,
    /// What the lookup shows of the actions that leave the state alone (SHARE, UNSHARE): per
    /// JSON pointer into its body, the value each action leaves there. The end of a run puts
    /// every fixture back by it; the state is put back by the lifecycle.
    #[serde(default)]
    pub set_by: BTreeMap<String, BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    pub states: Vec<String>,
    /// Action to the states an asset may be seen in right after it succeeded;
    /// `$absent` means the lookup may answer "not found".
    pub after: BTreeMap<String, Vec<String>>,
    pub recoverable_by_restore: Vec<String>,
    #[serde(rename = "final")]
    pub final_actions: Vec<String>,
}

/// A compiled schema with the file it came from (for error messages).
pub struct Schema {
    pub file: String,
    pub json: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema").field("file", &self.file).finish()
    }
}

/// One way a JSON value broke a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON pointer into the instance, e.g. `/results/0/ret_status` (empty for the root).
    pub instance_path: String,
    /// The keyword that failed, e.g. `enum`.
    pub keyword: String,
    /// The validator's own sentence.
    pub message: String,
}

impl Schema {
    pub fn errors(&self, instance: &Value) -> Vec<SchemaError> {
        // Nearly every instance a run judges is valid: asking first is much cheaper than walking
        // every keyword for errors that are not there.
        if self.validator.is_valid(instance) {
            return vec![];
        }
        self.validator
            .iter_errors(instance)
            .map(|e| {
                let schema_path = e.schema_path.to_string();
                let keyword = schema_path.rsplit('/').next().unwrap_or_default().to_string();
                SchemaError { instance_path: e.instance_path.to_string(), keyword, message: e.to_string() }
            })
            .collect()
    }

    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }
}

/// The loaded contract: the manifest and every schema it names, compiled.
#[derive(Debug)]
pub struct Contract {
    /// Built in, or the `--schemas` directory.
    pub origin: Origin,
    pub manifest: Manifest,
    pub request_body: Schema,
    pub request_headers: Schema,
    /// Status code to the compiled body schema and required headers.
    pub responses: BTreeMap<u16, (Schema, Vec<String>)>,
    /// Other operations' path templates the reference server also serves.
    pub lookup: Option<Lookup>,
    /// Every `*.schema.json` of the contract by file name, as written (for `batchconf openapi`).
    pub documents: BTreeMap<String, Value>,
    /// The gateway's answers with their code patterns compiled, and the schema of its bodies.
    pub gateway: Option<CompiledGateway>,
}

/// [`Gateway`], compiled once.
#[derive(Debug)]
pub struct CompiledGateway {
    pub body: Schema,
    answers: Vec<(GatewayAnswer, regex::Regex)>,
    pub lockout: Option<Lockout>,
}

impl CompiledGateway {
    /// Every answer the gateway may give, as the manifest lists them.
    pub fn answers(&self) -> impl Iterator<Item = &GatewayAnswer> {
        self.answers.iter().map(|(a, _)| a)
    }

    /// The gateway answer an answer is, if it is one: its status and its `error_code`'s form
    /// are the gateway's for that failure.
    pub fn answer(&self, status: u16, body: Option<&Value>) -> Option<&GatewayAnswer> {
        let code = body?.get("error_code")?.as_str()?;
        self.answers.iter().find(|(a, re)| a.status == status && re.is_match(code)).map(|(a, _)| a)
    }

    /// Is `status` one the gateway may answer with? (Cheap: asked of every answer before its body
    /// is read.)
    pub fn may_answer(&self, status: u16) -> bool {
        self.answers.iter().any(|(a, _)| a.status == status)
    }

    /// Does a body carry the gateway's lockout message (the run's access key is locked)?
    pub fn says_locked(&self, body: Option<&Value>) -> bool {
        let (Some(lockout), Some(msg)) = (&self.lockout, body.and_then(|b| b.get("error_msg")).and_then(Value::as_str))
        else {
            return false;
        };
        msg.contains(&lockout.message)
    }
}

impl Contract {
    /// The contract shipped in `schemas/`, as built into the binary.
    pub fn bundled() -> Result<Contract, SetupError> {
        let files = builtin::SCHEMAS.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect();
        Contract::from_files(Origin::BuiltIn, files)
    }

    /// The contract of a directory: its manifest and every `*.schema.json` in it.
    pub fn load(dir: &Path) -> Result<Contract, SetupError> {
        let origin = Origin::Dir(dir.to_path_buf());
        let entries = std::fs::read_dir(dir)
            .map_err(|e| SetupError::Contract { file: dir.display().to_string(), reason: e.to_string() })?;
        let mut files = vec![];
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".schema.json") {
                files.push((name.clone(), read(dir, &name)?));
            }
        }
        files.push((MANIFEST.to_string(), read(dir, MANIFEST)?));
        Contract::from_files(origin, files)
    }

    /// The contract from files' names and texts: the manifest and the `*.schema.json` files.
    fn from_files(origin: Origin, files: Vec<(String, String)>) -> Result<Contract, SetupError> {
        let label = |name: &str| origin.file(builtin::SCHEMAS_DIR, name);
        let manifest_path = label(MANIFEST);
        let manifest_text = files.iter().find(|(n, _)| n == MANIFEST).map(|(_, t)| t.as_str()).unwrap_or_default();
        let manifest = parse_manifest(&manifest_path, manifest_text)?;

        // Every `*.schema.json` of the directory is a resource, so schemas may `$ref` each other
        // by file name (relative to their `$id`) without any network or file retrieval.
        let mut resources = Vec::new();
        let mut docs = BTreeMap::new();
        for (name, text) in &files {
            if !name.ends_with(".schema.json") {
                continue;
            }
            let json = parse_json(&label(name), text)?;
            if let Some(id) = json.get("$id").and_then(Value::as_str) {
                let resource = jsonschema::Resource::from_contents(json.clone())
                    .map_err(|e| SetupError::Contract { file: label(name), reason: e.to_string() })?;
                resources.push((id.to_string(), resource));
            }
            docs.insert(name.clone(), json);
        }

        // `at` is the JSON pointer of the manifest field that names the schema. `format` is
        // checked in requests (batchconf makes them, and its negative rules break formats), not in
        // answers: a service's own date layout is not the contract's business unless its schema
        // says so with a `pattern`.
        let compile = |file: &str, at: &str, formats: bool| -> Result<Schema, SetupError> {
            let json = docs.get(file).cloned().ok_or_else(|| SetupError::Contract {
                file: manifest_path.clone(),
                reason: format!(
                    "at `{at}`: names schema `{file}`, which is not a `*.schema.json` file of the contract"
                ),
            })?;
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .with_resources(resources.iter().cloned())
                .should_validate_formats(formats)
                .build(&json)
                .map_err(|e| SetupError::Contract { file: label(file), reason: format!("does not compile: {e}") })?;
            Ok(Schema { file: file.to_string(), json, validator })
        };

        check_lifecycle(&manifest_path, &manifest)?;
        let op = &manifest.operation;
        let request_body = compile(&op.request.body, "/operation/request/body", true)?;
        let request_headers = compile(&op.request.headers, "/operation/request/headers", true)?;
        let mut responses = BTreeMap::new();
        for (status, spec) in &op.responses {
            let at = format!("/operation/responses/{}", pointer_token(status));
            let code: u16 = status.parse().ok().filter(|c| (100..=599).contains(c)).ok_or_else(|| {
                SetupError::Contract { file: manifest_path.clone(), reason: format!("at `{at}`: not a status code") }
            })?;
            responses.insert(code, (compile(&spec.body, &format!("{at}/body"), false)?, spec.required_headers.clone()));
        }
        let gateway = match manifest.platform.as_ref().map(|p| &p.gateway) {
            None => None,
            Some(g) => {
                let mut answers = Vec::new();
                for (i, a) in g.answers.iter().enumerate() {
                    let re = regex::Regex::new(&a.code_pattern).map_err(|e| SetupError::Contract {
                        file: manifest_path.clone(),
                        reason: format!(
                            "at `/platform/gateway/answers/{i}/code_pattern`: not a regular expression: {e}"
                        ),
                    })?;
                    answers.push((a.clone(), re));
                }
                let body = compile(&g.body, "/platform/gateway/body", false)?;
                Some(CompiledGateway { body, answers, lockout: g.lockout.clone() })
            }
        };
        Ok(Contract {
            gateway,
            origin,
            lookup: manifest.lookup.clone(),
            manifest,
            request_body,
            request_headers,
            responses,
            documents: docs,
        })
    }

    pub fn operation(&self) -> &Operation {
        &self.manifest.operation
    }

    pub fn batch(&self) -> &BatchSpec {
        &self.manifest.operation.batch
    }

    /// A batch request's body: `action` and `ids` where the manifest's `batch` puts them.
    pub fn batch_body<S: AsRef<str>>(&self, action: &str, ids: &[S]) -> Value {
        let ids: Vec<Value> = ids.iter().map(|id| Value::String(id.as_ref().to_string())).collect();
        let mut body = Value::Object(Default::default());
        set_pointer(&mut body, &self.batch().action, Value::String(action.to_string()));
        set_pointer(&mut body, &self.batch().request_ids, Value::Array(ids));
        body
    }

    /// How many ids a batch may carry, as the request schema says (`minItems` and `maxItems` of
    /// the array at the manifest's `batch.request_ids`): the stateful trials' batches stay inside
    /// it, as the generated ones do. `None` where the schema sets no upper bound.
    pub fn batch_size_bounds(&self) -> (usize, Option<usize>) {
        let mut at = &self.request_body.json;
        for token in self.batch().request_ids.split('/').skip(1) {
            at = at.pointer(&format!("/properties/{token}")).unwrap_or(&Value::Null);
        }
        let uint = |k: &str| at.get(k).and_then(Value::as_u64).map(|n| n as usize);
        (uint("minItems").unwrap_or(0), uint("maxItems"))
    }

    /// The gateway answer an answer is, if the contract has a gateway and it is one of its.
    pub fn gateway_answer(&self, status: u16, body: Option<&Value>) -> Option<&GatewayAnswer> {
        self.gateway.as_ref()?.answer(status, body)
    }

    /// The status codes the contract lists, in order.
    pub fn documented_statuses(&self) -> Vec<u16> {
        self.responses.keys().copied().collect()
    }

    /// Does `path` (no query) match the operation's path template? Each `{name}` stands for one
    /// non-empty segment.
    pub fn matches_path(&self, path: &str) -> bool {
        path_params(&self.operation().path, path).is_some()
    }
}

/// Matches `path` against a template like `/v1/{project_id}/x`, returning the named segments.
pub fn path_params(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut out = BTreeMap::new();
    for (t, p) in t.iter().zip(&p) {
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            if p.is_empty() {
                return None;
            }
            let value = percent_encoding::percent_decode_str(p).decode_utf8_lossy().to_string();
            out.insert(name.to_string(), value);
        } else if t != p {
            return None;
        }
    }
    Some(out)
}

/// Fills a path template, percent-encoding each value as one path segment.
pub fn fill_path(template: &str, params: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in params {
        let encoded = percent_encoding::utf8_percent_encode(value, SEGMENT).to_string();
        out = out.replace(&format!("{{{name}}}"), &encoded);
    }
    out
}

/// What must be escaped inside one path segment.
pub const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A short name of a JSON value's type, for "expected a string, found a number".
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn read(dir: &Path, name: &str) -> Result<String, SetupError> {
    let path = dir.join(name);
    std::fs::read_to_string(&path)
        .map_err(|e| SetupError::Contract { file: path.display().to_string(), reason: e.to_string() })
}

fn parse_json(file: &str, text: &str) -> Result<Value, SetupError> {
    serde_json::from_str(text)
        .map_err(|e| SetupError::Contract { file: file.to_string(), reason: crate::error::not_json(&e) })
}

/// The manifest, or an error naming the JSON pointer of the field that is wrong.
fn parse_manifest(file: &str, text: &str) -> Result<Manifest, SetupError> {
    let json = parse_json(file, text)?;
    crate::error::from_json(json)
        .map_err(|(at, why)| SetupError::Contract { file: file.to_string(), reason: format!("at `{at}`: {why}") })
}

/// One reference token of a JSON pointer (RFC 6901): `~` and `/` escaped.
/// Every state the lifecycle names after an action is one of its `states` (or `$absent`): a typo
/// there would make the model expect a state no asset is ever in.
fn check_lifecycle(manifest_path: &str, manifest: &Manifest) -> Result<(), SetupError> {
    let Some(lifecycle) = &manifest.lifecycle else { return Ok(()) };
    for (action, states) in &lifecycle.after {
        for (i, state) in states.iter().enumerate() {
            if state != "$absent" && !lifecycle.states.contains(state) {
                return Err(SetupError::Contract {
                    file: manifest_path.to_string(),
                    reason: format!(
                        "at `/lifecycle/after/{}/{i}`: `{state}` is not one of `lifecycle.states` ({}) nor `$absent`",
                        pointer_token(action),
                        lifecycle.states.join(", ")
                    ),
                });
            }
        }
    }
    Ok(())
}

fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Puts `value` at a JSON pointer of an object, making the objects on the way.
fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    let mut at = root;
    let tokens: Vec<String> = pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    for (i, token) in tokens.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(Default::default());
        }
        let map = at.as_object_mut().expect("made an object above");
        if i + 1 == tokens.len() {
            map.insert(token.clone(), value);
            return;
        }
        at = map.entry(token.clone()).or_insert_with(|| Value::Object(Default::default()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bundled_contract_loads_and_judges() {
        let c = Contract::bundled().unwrap();
        assert_eq!(c.documented_statuses(), vec![200, 400, 500]);
        assert!(c.request_body.is_valid(&json!({"action": "DELETE", "asset_ids": []})));
        let errs = c.request_body.errors(&json!({"action": "DETELTE", "asset_ids": ["a"]}));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].instance_path, "/action");
        assert_eq!(errs[0].keyword, "enum");
        let (ok, _) = &c.responses[&200];
        let errs = ok
            .errors(&json!({"results": [{"ret_status": "FAILED", "asset_ids": [], "error_info": {"error_code": 1}}]}));
        assert!(errs.iter().any(|e| e.instance_path == "/results/0/error_info/error_code" && e.keyword == "type"));
        assert!(errs.iter().any(|e| e.instance_path == "/results/0/error_info" && e.keyword == "required"));
        assert!(c.request_headers.is_valid(&json!({"x-app-userid": "user-42"})));
        assert!(!c.request_headers.is_valid(&json!({"x-app-userid": "用户"})));
    }

    /// The schema writes "no Chinese characters" as code-point ranges (ECMA-262, which OpenAPI
    /// tools read, has no `\p{Han}`): they must be exactly the Han script, as the regex crate's
    /// Unicode tables have it, and the compiled schema must judge by them.
    #[test]
    fn the_user_id_pattern_refuses_exactly_the_han_script() {
        let c = Contract::bundled().unwrap();
        let pattern = c.request_headers.json["properties"]["x-app-userid"]["pattern"].as_str().unwrap();
        assert!(!pattern.contains("\\p"), "a Unicode property escape: {pattern}");
        let ours = regex::Regex::new(pattern).unwrap();
        let han = regex::Regex::new(r"^\p{Han}$").unwrap();
        let mut differ = Vec::new();
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = c.encode_utf8(&mut buf);
            if ours.is_match(s) == han.is_match(s) {
                differ.push(format!("U+{:04X}", c as u32));
            }
        }
        assert!(differ.is_empty(), "the ranges and \\p{{Han}} differ at {differ:?}");
        for (value, ok) in [("用户", false), ("𠀀", false), ("user-é-ユーザー-사용자", true), ("", true)] {
            assert_eq!(c.request_headers.is_valid(&json!({ "x-app-userid": value })), ok, "{value}");
        }
    }

    #[test]
    fn a_lifecycle_state_that_is_not_a_state_is_named() {
        let e = manifest_error(|m| m["lifecycle"]["after"]["DELETE"][1] = json!("WAITNG_DELETE"));
        assert!(e.contains("/lifecycle/after/DELETE/1") && e.contains("WAITNG_DELETE"), "{e}");
    }

    /// The built-in manifest with one edit, loaded from a directory: the error's text.
    fn manifest_error(edit: impl FnOnce(&mut Value)) -> String {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in crate::builtin::SCHEMAS {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let path = dir.path().join(MANIFEST);
        let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut manifest);
        std::fs::write(&path, manifest.to_string()).unwrap();
        let e = Contract::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("manifest.json"), "{e}");
        e
    }

    #[test]
    fn every_manifest_error_names_the_json_pointer() {
        let e = manifest_error(|m| m["operation"]["auth"].as_object_mut().unwrap().clear());
        assert!(e.contains("at `/operation/auth`: missing field `token`"), "{e}");
        let e = manifest_error(|m| m["operation"]["auth"]["aksk"]["max_skew_seconds"] = json!("900"));
        assert!(e.contains("at `/operation/auth/aksk/max_skew_seconds`: invalid type"), "{e}");
        let e = manifest_error(|m| m["lookup"]["absent_statuses"][1] = json!(-1));
        assert!(e.contains("at `/lookup/absent_statuses/1`"), "{e}");
        let e = manifest_error(|m| m["operation"]["batch"]["typo"] = json!(1));
        assert!(e.contains("at `/operation/batch/typo`: unknown field `typo`"), "{e}");
        let e = manifest_error(|m| m["operation"]["responses"]["2xx"] = m["operation"]["responses"]["200"].clone());
        assert!(e.contains("at `/operation/responses/2xx`: not a status code"), "{e}");
        let e = manifest_error(|m| m["operation"]["responses"]["500"]["body"] = json!("nope.schema.json"));
        assert!(e.contains("at `/operation/responses/500/body`: names schema `nope.schema.json`"), "{e}");
        let e = manifest_error(|m| m["operation"]["request"]["headers"] = json!("request.json"));
        assert!(e.contains("at `/operation/request/headers`"), "{e}");
        let e = manifest_error(|m| *m = json!([]));
        assert!(e.ends_with("at `/`: invalid type: array, expected an object"), "{e}");
        let e = manifest_error(|m| m["operation"]["batch"] = json!("x"));
        assert!(e.ends_with("at `/operation/batch`: invalid type: string \"x\", expected an object"), "{e}");
        let e = manifest_error(|m| m["lookup"]["absent_statuses"][1] = json!(-1));
        assert!(e.ends_with("invalid value: integer `-1`, expected a non-negative integer"), "{e}");
    }

    #[test]
    fn syntax_errors_give_the_position_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), "{\n  \"operation\": ,\n}").unwrap();
        let e = Contract::load(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with("not JSON: expected value (line 2, column 16)"), "{e}");
    }

    #[test]
    fn path_templates() {
        let t = "/v1/{project_id}/digital-assets/batch-action";
        assert_eq!(path_params(t, "/v1/p1/digital-assets/batch-action").unwrap()["project_id"], "p1");
        assert!(path_params(t, "/v1/digital-assets/batch-action").is_none());
        assert!(path_params(t, "/v1//digital-assets/batch-action").is_none());
        assert_eq!(fill_path("/a/{x}", &[("x", "a b/c")]), "/a/a%20b%2Fc");
    }
}
