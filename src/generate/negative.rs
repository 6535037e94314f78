//! Requests that break exactly one rule of the contract each, built from a valid request so the
//! broken rule is the only thing wrong with them.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{AuthMode, GenRequest, Payload};
use crate::cases::{IdsSpec, Override, Property};
use crate::contract::Contract;
use crate::error::SetupError;

/// A valid small body to break: plain unknown ids, so nothing real is touched.
fn valid_body(contract: &Contract) -> Result<BoxedStrategy<Value>, SetupError> {
    body_with_ids(contract, 1, 4)
}

/// A valid body of `min` to `max` made-up ids.
fn body_with_ids(contract: &Contract, min: usize, max: usize) -> Result<BoxedStrategy<Value>, SetupError> {
    let mut overrides = std::collections::BTreeMap::new();
    let ids = IdsSpec {
        min,
        max,
        fixture_weight: 0,
        unknown_weight: 1,
        long_weight: 0,
        unicode_weight: 0,
        whitespace_weight: 0,
        repeat_percent: 0,
    };
    overrides.insert(contract.batch().request_ids.clone(), Override::Ids(ids));
    let case = Property { overrides, extra_field: false, expect: crate::cases::Expectation::Rejected };
    super::body_strategy(contract, &case, &[])
}

/// JSON values of every type but `keep`; `null` only `with_null`.
fn value_not_of_type(keep: &str, with_null: bool) -> BoxedStrategy<Value> {
    let all: Vec<(&str, Value)> = vec![
        ("string", json!("x")),
        ("integer", json!(7)),
        ("number", json!(1.5)),
        ("boolean", json!(true)),
        ("null", Value::Null),
        ("object", json!({"k": "v"})),
        ("array", json!(["x"])),
    ];
    let others: Vec<Value> = all
        .into_iter()
        .filter(|(t, _)| *t != keep && !(keep == "number" && *t == "integer") && (with_null || *t != "null"))
        .map(|(_, v)| v)
        .collect();
    prop::sample::select(others).boxed()
}

fn required_of(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// One strategy per rule name of [`crate::cases::NEGATIVE_RULES`]; a rule the contract gives
/// nothing to break (say, no enum) is an error naming the rule.
pub fn negative_strategy(contract: &Contract, rule: &str) -> Result<BoxedStrategy<GenRequest>, SetupError> {
    let body = valid_body(contract)?;
    let schema = &contract.request_body.json;
    let props: Vec<(String, Value)> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let nothing = |what: &str| SetupError::Contract {
        file: contract.request_body.file.clone(),
        reason: format!("the negative rule `{rule}` needs {what}, and the schema has none"),
    };
    let json_req = |s: BoxedStrategy<Value>| s.prop_map(GenRequest::json).boxed();
    Ok(match rule {
        "missing-required" => {
            let required = required_of(schema);
            if required.is_empty() {
                return Err(nothing("a required property"));
            }
            json_req(
                (body, prop::sample::select(required))
                    .prop_map(|(mut b, field)| {
                        b.as_object_mut().map(|o| o.remove(&field));
                        b
                    })
                    .boxed(),
            )
        }
        "wrong-type" => {
            let typed: Vec<(String, String)> = props
                .iter()
                .filter_map(|(k, v)| v.get("type").and_then(Value::as_str).map(|t| (k.clone(), t.to_string())))
                .collect();
            if typed.is_empty() {
                return Err(nothing("a typed property"));
            }
            let required = required_of(schema);
            // `null` for an optional field reads as "absent" to many servers, a defensible
            // reading the contract does not rule out: only required fields get it.
            let pick = prop::sample::select(typed).prop_flat_map(move |(k, t)| {
                let wrong = value_not_of_type(&t, required.contains(&k));
                (Just(k), wrong)
            });
            json_req(
                (body, pick)
                    .prop_map(|(mut b, (field, v))| {
                        b.as_object_mut().map(|o| o.insert(field, v));
                        b
                    })
                    .boxed(),
            )
        }
        "outside-enum" => {
            let enums: Vec<(String, Vec<String>)> = props
                .iter()
                .filter_map(|(k, v)| {
                    let values =
                        v.get("enum")?.as_array()?.iter().filter_map(|e| e.as_str().map(str::to_string)).collect();
                    Some((k.clone(), values))
                })
                .collect();
            if enums.is_empty() {
                return Err(nothing("a string enum"));
            }
            let pick = prop::sample::select(enums).prop_flat_map(|(k, values)| {
                let base = prop::sample::select(values.clone());
                let how = prop::sample::select(vec!["lower", "suffix", "typo", "empty", "space"]);
                (Just(k), base, how, Just(values))
            });
            json_req(
                (body, pick)
                    .prop_map(|(mut b, (field, base, how, values))| {
                        let mut v = match how {
                            "lower" => base.to_lowercase(),
                            "suffix" => format!("{base}X"),
                            "typo" if base.len() > 2 => {
                                let mut cs: Vec<char> = base.chars().collect();
                                cs.swap(1, 2);
                                cs.into_iter().collect()
                            }
                            "empty" => String::new(),
                            "space" => format!(" {base}"),
                            _ => format!("{base}X"),
                        };
                        // By construction outside the enum, whatever the enum holds.
                        while values.contains(&v) {
                            v.push('X');
                        }
                        b.as_object_mut().map(|o| o.insert(field, Value::String(v)));
                        b
                    })
                    .boxed(),
            )
        }
        "wrong-item-type" => {
            let arrays: Vec<(String, String)> = props
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.get("items")?.get("type")?.as_str()?.to_string())))
                .collect();
            if arrays.is_empty() {
                return Err(nothing("an array with typed items"));
            }
            let pick = prop::sample::select(arrays)
                .prop_flat_map(|(k, t)| (Just(k), value_not_of_type(&t, true), any::<prop::sample::Index>()));
            json_req(
                (body, pick)
                    .prop_map(|(mut b, (field, bad, at))| {
                        if let Some(Value::Array(items)) = b.get_mut(&field) {
                            let i = at.index(items.len() + 1);
                            items.insert(i, bad);
                        }
                        b
                    })
                    .boxed(),
            )
        }
        "not-an-object" => json_req(
            (body, 0..5u8)
                .prop_map(|(b, how)| match how {
                    0 => Value::Array(vec![b]),
                    1 => Value::String(b.to_string()),
                    2 => json!(42),
                    3 => Value::Null,
                    _ => b.get("asset_ids").cloned().unwrap_or(json!([])),
                })
                .boxed(),
        ),
        "malformed-json" => (body, any::<prop::sample::Index>(), 0..3u8)
            .prop_map(|(b, cut, how)| {
                let text = b.to_string();
                let raw = match how {
                    // Any proper prefix of an object's text is not JSON.
                    0 => {
                        let mut end = 1 + cut.index(text.len() - 1);
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        text[..end].to_string()
                    }
                    1 => text.replace('"', "'"),
                    _ => format!("{text},"),
                };
                GenRequest { body: Payload::Raw(raw), ..GenRequest::json(Value::Null) }
            })
            .boxed(),
        "wrong-content-type" => (
            body,
            prop::sample::select(vec![
                "text/plain",
                "application/x-www-form-urlencoded",
                "application/xml",
                "text/html; charset=utf-8",
            ]),
        )
            .prop_map(|(b, ct)| GenRequest { content_type: ct.to_string(), ..GenRequest::json(b) })
            .boxed(),
        "forbidden-header-chars" => {
            // The header schema forbids Chinese characters in `x-app-userid` with a pattern; a
            // pattern cannot be inverted in general, so the violating value is built here.
            let header = contract.request_headers.json.pointer("/properties/x-app-userid");
            if header.and_then(|h| h.get("pattern")).is_none() {
                return Err(nothing("an `x-app-userid` header with a pattern"));
            }
            let han = prop::collection::vec(prop::sample::select(vec!['用', '户', '中', '文', '名', '资', '产']), 1..5);
            (body, "[a-z0-9]{0,6}", han, "[a-z0-9]{0,6}")
                .prop_map(|(b, pre, han, post)| {
                    let user: String = format!("{pre}{}{post}", han.into_iter().collect::<String>());
                    GenRequest { headers: vec![("X-App-UserId".into(), user)], ..GenRequest::json(b) }
                })
                .boxed()
        }
        other => return Err(SetupError::Argument(format!("no negative rule named `{other}`"))),
    })
}

/// The valid requests the auth cases send with bad credentials: empty and large batches too, so
/// a server that answers those before checking credentials is caught.
pub fn auth_strategy(contract: &Contract, mode: AuthMode) -> Result<BoxedStrategy<GenRequest>, SetupError> {
    let body =
        prop_oneof![body_with_ids(contract, 0, 0)?, body_with_ids(contract, 1, 4)?, body_with_ids(contract, 21, 60)?];
    Ok(body.prop_map(move |b| GenRequest { auth: mode, ..GenRequest::json(b) }).boxed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::NEGATIVE_RULES;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Every rule's requests break the contract, and in the way the rule says.
    #[test]
    fn each_rule_breaks_the_contract() {
        let contract = Contract::bundled().unwrap();
        let mut runner = TestRunner::deterministic();
        for rule in NEGATIVE_RULES {
            let s = negative_strategy(&contract, rule).unwrap();
            for _ in 0..100 {
                let r = s.new_tree(&mut runner).unwrap().current();
                let body_ok = match &r.body {
                    Payload::Json(v) => contract.request_body.is_valid(v),
                    Payload::Raw(t) => {
                        assert!(serde_json::from_str::<Value>(t).is_err(), "{rule}: {t}");
                        false
                    }
                };
                let headers = crate::exchange::Headers(r.headers.clone()).to_json();
                let headers_ok = contract.request_headers.is_valid(&headers);
                let ct_ok = r.content_type == "application/json";
                let broken = [!body_ok, !headers_ok, !ct_ok].iter().filter(|b| **b).count();
                assert_eq!(broken, 1, "{rule} must break exactly one thing: {r:?}");
            }
        }
    }
}
