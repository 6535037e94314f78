//! Reading a batch request the way the contract says, rule by rule, into an action and its ids,
//! or into the reason it is refused (which names the field).
//!
//! Order, first failure wins: `Content-Type`, `X-App-UserId`, body size, JSON, object, `action`,
//! `asset_ids`, `params`, then the variants' extra limits.

use crate::contract::json_kind as kind;
use serde_json::Value;

use super::catalogue::{Behaviour, Fault, Variant};
use super::incoming::Incoming;
use super::store::Action;

/// Bodies above this are refused before parsing (the contract states no limit; a reference
/// server that buffers whole bodies needs one).
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Batches above this are refused under the `max-batch-50` variant.
const VARIANT_MAX_BATCH: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub action: Action,
    /// As requested, repeats included.
    pub ids: Vec<String>,
}

/// How the refusal of a body that is not JSON begins (the service's own codes tell it apart).
pub(crate) const NOT_JSON: &str = "body is not JSON";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// 400 with this message.
    Invalid(String),
    /// 500: only the `malformed-json-500` fault answers this way.
    Internal,
}

pub(crate) fn read_batch(req: &Incoming, behaviour: &Behaviour) -> Result<Batch, Refused> {
    let invalid = |msg: String| Err(Refused::Invalid(msg));
    if !behaviour.broken(Fault::AcceptWrongContentType) {
        match req.header("content-type") {
            None => return invalid("`Content-Type` is missing; it must be application/json".into()),
            Some(ct) if !is_json(ct) => {
                return invalid(format!("`Content-Type` must be application/json; got {ct:?}"));
            }
            Some(_) => {}
        }
    }
    if !behaviour.broken(Fault::AcceptChineseUserId) {
        let user_ids = req.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("x-app-userid"));
        if user_ids.into_iter().any(|(_, v)| has_han(v)) {
            return invalid("`X-App-UserId` must not contain Chinese characters".into());
        }
    }
    if req.body.len() > MAX_BODY_BYTES {
        return invalid(format!("body is {} bytes; this server accepts at most {MAX_BODY_BYTES}", req.body.len()));
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) if behaviour.broken(Fault::MalformedJson500) => return Err(Refused::Internal),
        Err(e) => return invalid(format!("{NOT_JSON}: {e}")),
    };
    let Value::Object(fields) = body else {
        if behaviour.broken(Fault::AcceptNonObjectBody) {
            return Ok(Batch { action: Action::Share, ids: vec![] });
        }
        return invalid(format!("body must be a JSON object; got {}", kind(&body)));
    };
    if behaviour.chose(Variant::RejectUnknownFields) {
        if let Some(extra) = fields.keys().find(|k| !["action", "asset_ids", "params"].contains(&k.as_str())) {
            return invalid(format!("unknown field `{extra}`; only `action`, `asset_ids` and `params` are accepted"));
        }
    }
    let action = match fields.get("action") {
        None if behaviour.broken(Fault::AcceptMissingAction) => Action::Share,
        None => return invalid("`action` is missing".into()),
        Some(v) => match v.as_str().map(|a| normalise_action(a, behaviour)).as_deref().and_then(Action::parse) {
            Some(a) => a,
            None if behaviour.broken(Fault::AcceptUnknownAction) => Action::Share,
            None => {
                let seen = match v.as_str() {
                    Some(s) => format!("{s:?}"),
                    None => kind(v).to_string(),
                };
                return invalid(format!("`action` must be one of {}; got {seen}", Action::NAMES.join(", ")));
            }
        },
    };
    let ids = match fields.get("asset_ids") {
        None if behaviour.broken(Fault::AcceptMissingAssetIds) => vec![],
        None => return invalid("`asset_ids` is missing".into()),
        Some(Value::Null) if behaviour.broken(Fault::NullAssetIdsEmpty) => vec![],
        Some(Value::String(id)) if behaviour.broken(Fault::StringAssetIdsAsOne) => vec![id.clone()],
        Some(Value::Array(items)) => read_ids(items, behaviour)?,
        Some(other) => return invalid(format!("`asset_ids` must be an array of strings; got {}", kind(other))),
    };
    match fields.get("params") {
        None | Some(Value::String(_)) => {}
        Some(_) if behaviour.broken(Fault::AcceptNonStringParams) => {}
        Some(other) => return invalid(format!("`params` must be a string; got {}", kind(other))),
    }
    if ids.is_empty() && behaviour.chose(Variant::RejectEmptyBatch) {
        return invalid("`asset_ids` is empty; name at least one asset".into());
    }
    if ids.len() > VARIANT_MAX_BATCH && behaviour.chose(Variant::MaxBatch50) {
        return invalid(format!("`asset_ids` has {} ids; at most {VARIANT_MAX_BATCH} per batch", ids.len()));
    }
    if !ids.is_empty() && behaviour.broken(Fault::RejectValidBatches) {
        return invalid("`asset_ids` refused".into());
    }
    Ok(Batch { action, ids })
}

fn read_ids(items: &[Value], behaviour: &Behaviour) -> Result<Vec<String>, Refused> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(mangle_id(s, behaviour)),
            other if behaviour.broken(Fault::AcceptNonStringIds) => Ok(other.to_string()),
            other => Err(Refused::Invalid(format!("`asset_ids[{i}]` must be a string; got {}", kind(other)))),
        })
        .collect()
}

/// The near-miss faults: an action read the way a lenient server reads it.
fn normalise_action(action: &str, behaviour: &Behaviour) -> String {
    match behaviour.fault {
        Some(Fault::ActionAnyCase) => action.to_uppercase(),
        Some(Fault::ActionTrimmed) => action.trim().to_string(),
        _ => action.to_string(),
    }
}

/// The id faults: each mangles one kind of id the way a real stack might (a URL decoder, a
/// UTF-16 or UCS-2 column, a length limit, a sanitiser, a normaliser, a display-order copy).
fn mangle_id(id: &str, behaviour: &Behaviour) -> String {
    match behaviour.fault {
        Some(Fault::IdsPercentDecoded) => percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned(),
        Some(Fault::IdsAstralReplaced) => {
            id.chars().map(|c| if (c as u32) > 0xFFFF { '\u{FFFD}' } else { c }).collect()
        }
        Some(Fault::IdsTruncated) if id.len() > 4096 => {
            let mut end = 4096;
            while !id.is_char_boundary(end) {
                end -= 1;
            }
            id[..end].to_string()
        }
        Some(Fault::IdsControlStripped) => id.chars().filter(|c| !c.is_control()).collect(),
        Some(Fault::IdsCombiningStripped) => id.chars().filter(|c| !('\u{300}'..='\u{36F}').contains(c)).collect(),
        Some(Fault::IdsBidiReversed) => {
            let rtl = |c: &char| ('\u{590}'..='\u{8FF}').contains(c);
            let mut out = String::new();
            let mut run: Vec<char> = Vec::new();
            for c in id.chars() {
                if rtl(&c) {
                    run.push(c);
                } else {
                    out.extend(run.drain(..).rev());
                    out.push(c);
                }
            }
            out.extend(run.drain(..).rev());
            out
        }
        Some(Fault::IdsPlusAsSpace) => id.replace('+', " "),
        Some(Fault::IdsTrimmed) => id.trim().to_string(),
        _ => id.to_string(),
    }
}

/// `application/json`, any parameters, any case.
fn is_json(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json")
}

/// Whether `s` holds a character of the Han script: the Chinese characters the request header
/// schema lists as code-point ranges (a test in `src/contract.rs` keeps them equal), read from
/// the `regex` crate's Unicode tables instead of a hand-kept copy.
pub(crate) fn has_han(s: &str) -> bool {
    static HAN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    HAN.get_or_init(|| regex::Regex::new(r"\p{Han}").expect("a valid literal pattern")).is_match(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(content_type: &str, body: &str) -> Incoming {
        Incoming {
            method: "POST".into(),
            path: "/v1/p/digital-assets/batch-action".into(),
            query: None,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn read(body: &str) -> Result<Batch, Refused> {
        read_batch(&req("application/json", body), &Behaviour::default())
    }

    fn refusal(body: &str) -> String {
        match read(body) {
            Err(Refused::Invalid(msg)) => msg,
            other => panic!("{body} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_valid_batch_ignoring_unknown_fields() {
        let b = read(r#"{"action":"DELETE","asset_ids":["a","a",""],"params":"p","x":1}"#).unwrap();
        assert_eq!(b, Batch { action: Action::Delete, ids: vec!["a".into(), "a".into(), "".into()] });
        assert_eq!(read(r#"{"action":"SHARE","asset_ids":[]}"#).unwrap().ids.len(), 0);
    }

    #[test]
    fn each_rule_names_its_field() {
        assert!(refusal("{").contains("not JSON"));
        assert!(refusal("[]").contains("JSON object; got an array"));
        assert!(refusal(r#"{"asset_ids":[]}"#).contains("`action` is missing"));
        assert!(refusal(r#"{"action":"DETELTE","asset_ids":[]}"#).contains("\"DETELTE\""));
        assert!(refusal(r#"{"action":1,"asset_ids":[]}"#).contains("got a number"));
        assert!(refusal(r#"{"action":"DELETE"}"#).contains("`asset_ids` is missing"));
        assert!(refusal(r#"{"action":"DELETE","asset_ids":"a"}"#).contains("got a string"));
        assert!(refusal(r#"{"action":"DELETE","asset_ids":["a",2]}"#).contains("`asset_ids[1]`"));
        assert!(refusal(r#"{"action":"DELETE","asset_ids":[],"params":null}"#).contains("`params`"));
    }

    #[test]
    fn content_type_and_user_id() {
        let ok = r#"{"action":"DELETE","asset_ids":[]}"#;
        let b = Behaviour::default();
        assert!(read_batch(&req("Application/JSON; charset=utf-8", ok), &b).is_ok());
        assert!(
            matches!(read_batch(&req("text/plain", ok), &b), Err(Refused::Invalid(m)) if m.contains("Content-Type"))
        );
        let mut r = req("application/json", ok);
        r.headers.push(("x-app-userid".into(), "user-用户".into()));
        assert!(matches!(read_batch(&r, &b), Err(Refused::Invalid(m)) if m.contains("X-App-UserId")));
        r.headers.pop();
        r.headers.push(("x-app-userid".into(), "ユーザー-사용자-é".into()));
        assert!(read_batch(&r, &b).is_ok(), "kana, hangul and accents are not Chinese characters");
    }

    #[test]
    fn han_is_what_the_header_schema_refuses() {
        let schema = &crate::contract::Contract::bundled().unwrap().request_headers;
        for c in "用户〇𠀀々⺀".chars() {
            assert!(has_han(&c.to_string()), "{c}");
            assert!(!schema.is_valid(&serde_json::json!({"x-app-userid": c.to_string()})), "{c}");
        }
        for c in "aゆ한。é".chars() {
            assert!(!has_han(&c.to_string()), "{c}");
            assert!(schema.is_valid(&serde_json::json!({"x-app-userid": c.to_string()})), "{c}");
        }
    }
}
