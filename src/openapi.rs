//! `batchconf openapi`: the contract written as an OpenAPI 3.1 document, derived from the manifest
//! and the JSON Schemas, so that OpenAPI tools (the Schemathesis run in CI, client generators)
//! read the same contract the checks judge by, instead of a hand-kept copy.
//!
//! What goes where:
//! - each `*.schema.json` becomes `components/schemas/<file stem>`, its `$ref`s rewritten to point
//!   inside the document (OpenAPI tools do not resolve `$ref`s by `$id`);
//! - the operation's path parameters come from its path template; its header parameters from the
//!   request-headers schema, less the credential headers, which are the security schemes;
//! - every response the manifest lists, with its body schema and required headers;
//! - the lookup the lifecycle checks use, when the manifest has one.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::contract::Contract;
use crate::error::{Error, SetupError, Verdict};

/// The version of OpenAPI written.
pub const VERSION: &str = "3.1.0";

/// The security schemes' names.
pub const TOKEN_SCHEME: &str = "token";
pub const AKSK_SCHEME: &str = "aksk";

/// The OpenAPI document of a contract.
pub fn document(contract: &Contract) -> Value {
    let op = contract.operation();
    let auth = &op.auth;
    let names: BTreeMap<String, String> =
        contract.documents.keys().map(|file| (file.clone(), component_name(file))).collect();
    let schema_ref = |file: &str| match names.get(file) {
        Some(name) => json!({ "$ref": format!("#/components/schemas/{name}") }),
        None => json!({}),
    };

    // Parameters: the path template's, then the request headers the schema describes (the
    // credential headers are the security schemes' business).
    let credential_headers = [&auth.token.header, &auth.aksk.header, &auth.aksk.date_header];
    let mut parameters = path_parameters(&op.path);
    let headers = &contract.request_headers.json;
    let required: Vec<&str> =
        headers.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, schema) in headers.get("properties").and_then(Value::as_object).into_iter().flatten() {
        if credential_headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            continue;
        }
        let mut p = json!({
            "name": name,
            "in": "header",
            "required": required.contains(&name.as_str()),
            "schema": schema,
        });
        if let Some(d) = schema.get("description") {
            p["description"] = d.clone();
        }
        parameters.push(p);
    }

    let mut responses = Map::new();
    for (status, (schema, required_headers)) in &contract.responses {
        let mut r = json!({
            "description": describe(*status, op.invalid_request_status, auth.rejected_with),
            "content": { "application/json": { "schema": schema_ref(&schema.file) } },
        });
        if !required_headers.is_empty() {
            let h: Map<String, Value> = required_headers
                .iter()
                .map(|name| (name.clone(), json!({ "required": true, "schema": { "type": "string" } })))
                .collect();
            r["headers"] = Value::Object(h);
        }
        responses.insert(status.to_string(), r);
    }

    // The platform's gateway answers before the service (authentication, throttling); an unknown
    // path is not an operation of the document.
    let gateway: Vec<&crate::contract::GatewayAnswer> = contract
        .gateway
        .iter()
        .flat_map(|g| g.answers())
        .filter(|a| a.failure != crate::contract::Failure::UnknownPath)
        .collect();
    let gateway_description = |a: &crate::contract::GatewayAnswer| {
        let what = match a.failure {
            crate::contract::Failure::Authentication => "missing or failed authentication",
            crate::contract::Failure::Throttling => "over the rate limit",
            crate::contract::Failure::UnknownPath => "no such API",
        };
        format!("Answered by the platform's API gateway before the service: {what} (e.g. `{}`).", a.example)
    };
    for a in &gateway {
        let body = contract.gateway.as_ref().map(|g| schema_ref(&g.body.file)).unwrap_or_else(|| json!({}));
        responses.entry(a.status.to_string()).or_insert_with(
            || json!({ "description": gateway_description(a), "content": { "application/json": { "schema": body } } }),
        );
    }

    let mut operation = json!({
        "operationId": op.id,
        "parameters": parameters,
        "requestBody": {
            "required": true,
            "content": { op.request.content_type.clone(): { "schema": schema_ref(&contract.request_body.file) } },
        },
        "responses": by_status(responses),
    });
    if let Some(d) = contract.request_body.json.get("description") {
        operation["description"] = d.clone();
    }

    let mut paths = Map::new();
    paths.insert(op.path.clone(), json!({ op.method.to_ascii_lowercase(): operation }));
    if let Some(lookup) = &contract.lookup {
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({
                "description": "The asset, with its state.",
                "content": { "application/json": { "schema": object_at(&lookup.state, json!({ "type": "string" })) } },
            }),
        );
        let mut absent = lookup.absent_statuses.clone();
        absent.sort_unstable();
        absent.dedup();
        for status in &absent {
            // The contract gives the lookup no error table: the bodies are left open.
            let description = if *status == auth.rejected_with {
                "No such asset, or missing or failed authentication."
            } else {
                "No such asset."
            };
            responses.insert(status.to_string(), json!({ "description": description }));
        }
        for a in &gateway {
            responses.entry(a.status.to_string()).or_insert_with(|| json!({ "description": gateway_description(a) }));
        }
        let lookup_op = json!({
            "operationId": "lookup",
            "description": "How the lifecycle checks see an asset's state (not part of the batch operation's page).",
            "parameters": path_parameters(&lookup.path),
            "responses": by_status(responses),
        });
        let entry = paths.entry(lookup.path.clone()).or_insert_with(|| json!({}));
        entry[lookup.method.to_ascii_lowercase()] = lookup_op;
    }

    let mut schemas = Map::new();
    for (file, doc) in &contract.documents {
        schemas.insert(names[file].clone(), component(doc, &names[file], &names));
    }

    json!({
        "openapi": VERSION,
        "info": {
            "title": "Batch Asset Operations",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Derived by `batchconf openapi` from the contract ({}): the manifest and its JSON Schemas.",
                contract.origin
            ),
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                TOKEN_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": auth.token.header,
                    "description": "An IAM token.",
                },
                AKSK_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": auth.aksk.header,
                    "description": format!(
                        "AK/SK signing, accepted instead of a token: `{} Access=…, SignedHeaders=…, Signature=…`, \
                         with the signing time in `{}` (at most {} s from the server's clock). OpenAPI has no scheme \
                         for request signing, so no security requirement names this one: a tool that read it as \
                         a plain API key would send made-up `{}` values next to real credentials, which the \
                         service rightly refuses.",
                        auth.aksk.scheme, auth.aksk.date_header, auth.aksk.max_skew_seconds, auth.aksk.header
                    ),
                },
            },
        },
        // Credentials are the security schemes' alone (no header parameter names them). Only the
        // token is a requirement tools can meet; the AK/SK scheme says why it is not one.
        "security": [{ TOKEN_SCHEME: [] }],
    })
}

/// How the document is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Json,
    Yaml,
}

/// The document as text, in `format`.
pub fn text(contract: &Contract, format: Format) -> Result<String, SetupError> {
    let doc = document(contract);
    let cannot = |e: String| SetupError::Argument(format!("cannot write the OpenAPI document: {e}"));
    match format {
        Format::Json => serde_json::to_string_pretty(&doc).map(|t| t + "\n").map_err(|e| cannot(e.to_string())),
        Format::Yaml => serde_norway::to_string(&doc).map_err(|e| cannot(e.to_string())),
    }
}

/// `batchconf openapi [--schemas DIR] [--format json|yaml]`: prints the document.
pub fn command(schemas: Option<&Path>, format: Format) -> Result<Verdict, Error> {
    use std::io::Write as _;
    let contract = match schemas {
        Some(dir) => Contract::load(dir)?,
        None => Contract::bundled()?,
    };
    let text = text(&contract, format)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A reader that stops early (`batchconf openapi | head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(SetupError::Argument(format!("cannot write the OpenAPI document: {e}")).into())
        }
        _ => Ok(Verdict::Conforms),
    }
}

/// `error.schema.json` → `error`: a component name (OpenAPI allows `[A-Za-z0-9._-]`).
/// Responses in the order of their status codes, as a reader looks them up.
fn by_status(responses: Map<String, Value>) -> Map<String, Value> {
    let mut all: Vec<(String, Value)> = responses.into_iter().collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().collect()
}

fn component_name(file: &str) -> String {
    let stem = file.strip_suffix(".schema.json").unwrap_or(file);
    stem.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

fn describe(status: u16, invalid: u16, rejected: u16) -> String {
    match status {
        s if s == invalid && s == rejected => "An invalid request, or missing or failed authentication.".into(),
        s if s == invalid => "An invalid request.".into(),
        s if s == rejected => "Missing or failed authentication.".into(),
        200..=299 => "Succeeded.".into(),
        500..=599 => "Internal service error.".into(),
        s => format!("Status {s}."),
    }
}

/// One required string parameter for each `{name}` of a path template (a segment is never empty).
fn path_parameters(template: &str) -> Vec<Value> {
    template
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }))
        .collect()
}

/// The schema of an object holding `leaf` at the JSON pointer `pointer` (e.g. `/asset_state`).
fn object_at(pointer: &str, leaf: Value) -> Value {
    let tokens: Vec<String> = pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    tokens
        .iter()
        .rev()
        .fold(leaf, |inner, key| json!({ "type": "object", "required": [key], "properties": { key.clone(): inner } }))
}

/// A schema document as a component: no `$id` or `$schema` (the document's dialect applies), and
/// every `$ref` pointing inside the OpenAPI document.
fn component(doc: &Value, name: &str, names: &BTreeMap<String, String>) -> Value {
    let mut out = rewrite_refs(doc, name, names);
    if let Some(o) = out.as_object_mut() {
        o.remove("$id");
        o.remove("$schema");
    }
    out
}

fn rewrite_refs(v: &Value, name: &str, names: &BTreeMap<String, String>) -> Value {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => (k.clone(), Value::String(rewrite_ref(r, name, names))),
                _ => (k.clone(), rewrite_refs(v, name, names)),
            })
            .collect::<Map<String, Value>>()
            .into(),
        Value::Array(a) => a.iter().map(|v| rewrite_refs(v, name, names)).collect(),
        other => other.clone(),
    }
}

/// `#/$defs/X` (inside `name`) → `#/components/schemas/name/$defs/X`; `error.schema.json#/…` →
/// `#/components/schemas/error/…`. A reference to no file of the contract is left as it is.
fn rewrite_ref(r: &str, name: &str, names: &BTreeMap<String, String>) -> String {
    let (resource, fragment) = r.split_once('#').unwrap_or((r, ""));
    let target = if resource.is_empty() {
        Some(name)
    } else {
        let file = resource.rsplit('/').next().unwrap_or(resource);
        names.get(file).map(String::as_str)
    };
    match target {
        Some(t) => format!("#/components/schemas/{t}{fragment}"),
        None => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document(&Contract::bundled().unwrap())
    }

    /// Every `$ref` of the document points at something in it.
    #[test]
    fn every_ref_resolves_inside_the_document() {
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    for (k, v) in o {
                        match (k.as_str(), v) {
                            ("$ref", Value::String(r)) => out.push(r.clone()),
                            _ => refs(v, out),
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let d = doc();
        let mut all = vec![];
        refs(&d, &mut all);
        assert!(all.len() >= 5, "{all:?}");
        for r in all {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("`{r}` points outside the document"));
            assert!(d.pointer(pointer).is_some(), "`{r}` points at nothing");
        }
    }

    /// The document's schemas judge bodies as the contract's do (the `$ref` rewriting lost nothing).
    #[test]
    fn the_document_judges_bodies_as_the_contract_does() {
        let c = Contract::bundled().unwrap();
        let d = doc();
        let judge = |pointer: &str, instance: &Value| {
            let resource = jsonschema::Resource::from_contents(d.clone()).unwrap();
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .with_resource("urn:openapi", resource)
                .build(&json!({ "$ref": format!("urn:openapi#{}", pointer.replace('{', "%7B").replace('}', "%7D")) }))
                .unwrap();
            v.is_valid(instance)
        };
        let op = "/paths/~1v1~1{project_id}~1digital-assets~1batch-action/post";
        let requests = [
            json!({"action": "DELETE", "asset_ids": ["a"]}),
            json!({"action": "DETELTE", "asset_ids": ["a"]}),
            json!({"action": "SHARE", "asset_ids": [1]}),
            json!({"asset_ids": []}),
            json!({"action": "ACTIVE", "asset_ids": [], "params": 3}),
        ];
        for r in &requests {
            let body = format!("{op}/requestBody/content/application~1json/schema");
            assert_eq!(judge(&body, r), c.request_body.is_valid(r), "{r}");
        }
        let answers = [
            json!({"results": [{"ret_status": "SUCCESS", "asset_ids": ["a"]}]}),
            json!({"results": [{"ret_status": "SUCESS"}]}),
            json!({"results": [{"ret_status": "FAILED", "error_info": {"error_code": "MSS.1", "error_msg": "x"}}]}),
            json!({"results": [{"ret_status": "FAILED", "error_info": {"error_code": 1}}]}),
            json!({"error_code": "MSS.00000001", "error_msg": "Unauthorized"}),
            json!({"error_code": "x"}),
        ];
        for (status, (schema, _)) in &c.responses {
            let body = format!("{op}/responses/{status}/content/application~1json/schema");
            for a in &answers {
                assert_eq!(judge(&body, a), schema.is_valid(a), "{status}: {a}");
            }
        }
    }

    #[test]
    fn parameters_security_and_responses_come_from_the_manifest() {
        let d = doc();
        assert_eq!(d["openapi"], "3.1.0");
        let op = &d["paths"]["/v1/{project_id}/digital-assets/batch-action"]["post"];
        assert_eq!(op["operationId"], "BatchExecuteAssetAction");
        let params: Vec<(&str, &str)> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["in"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        // The credential headers are security schemes, not parameters.
        assert_eq!(params, [("path", "project_id"), ("header", "x-app-userid")]);
        let pattern = op["parameters"][1]["schema"]["pattern"].as_str().unwrap();
        assert!(pattern.starts_with("^[^\u{2e80}-") && !pattern.contains("\\p"), "not ECMA-262: {pattern}");
        let responses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(responses, ["200", "400", "401", "429", "500"]);
        assert_eq!(op["responses"]["200"]["headers"]["X-Request-Id"]["required"], true);
        let schemes = &d["components"]["securitySchemes"];
        assert_eq!(schemes["token"]["name"], "X-Auth-Token");
        assert_eq!(schemes["aksk"]["name"], "Authorization");
        assert!(schemes["aksk"]["description"].as_str().unwrap().contains("SDK-HMAC-SHA256"));
        assert_eq!(d["security"], json!([{"token": []}]), "signing is no requirement a tool can meet");
        // No credential header is a parameter of any operation.
        for (path, ops) in d["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                for p in op["parameters"].as_array().unwrap() {
                    let name = p["name"].as_str().unwrap().to_ascii_lowercase();
                    assert!(
                        !["authorization", "x-auth-token", "x-sdk-date"].contains(&name.as_str()),
                        "{method} {path} declares the credential header `{name}` as a parameter"
                    );
                }
            }
        }

        let lookup = &d["paths"]["/v1/{project_id}/digital-assets/{asset_id}"]["get"];
        let names: Vec<&str> =
            lookup["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["project_id", "asset_id"]);
        let state = &lookup["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(state["required"], json!(["asset_state"]));
        let statuses: Vec<&String> = lookup["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "400", "401", "404", "429"]);
    }

    #[test]
    fn yaml_is_the_same_document() {
        let c = Contract::bundled().unwrap();
        let yaml = text(&c, Format::Yaml).unwrap();
        assert!(yaml.starts_with("openapi: 3.1.0\n"), "{}", &yaml[..80]);
        let back: Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(back, document(&c));
        let json: Value = serde_json::from_str(&text(&c, Format::Json).unwrap()).unwrap();
        assert_eq!(json, document(&c));
    }

    #[test]
    fn refs_are_rewritten_into_components() {
        let names = BTreeMap::from([("error.schema.json".to_string(), "error".to_string())]);
        assert_eq!(rewrite_ref("#/$defs/A", "resp", &names), "#/components/schemas/resp/$defs/A");
        assert_eq!(rewrite_ref("error.schema.json", "resp", &names), "#/components/schemas/error");
        assert_eq!(
            rewrite_ref("./error.schema.json#/properties/x", "resp", &names),
            "#/components/schemas/error/properties/x"
        );
        assert_eq!(rewrite_ref("https://elsewhere/x.json", "resp", &names), "https://elsewhere/x.json");
        assert_eq!(
            object_at("/a/b~1c", json!(1)),
            json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "object", "required": ["b/c"], "properties": {"b/c": 1}}}})
        );
    }
}
