//! Strategies built from a JSON Schema, keyword by keyword. A keyword we cannot generate for is
//! an error naming the schema file and the place, never a silent gap.

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::cases::{Override, Property};
use crate::contract::Contract;
use crate::error::SetupError;

/// Keywords that describe and do not constrain: nothing to generate.
const ANNOTATIONS: &[&str] =
    &["$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default", "deprecated"];
/// Keywords the generator honours.
const SUPPORTED: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "const",
    "$ref",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
];

/// Name of the field added by a case's `extra_field`: one the contract does not know.
pub const EXTRA_FIELD: &str = "x_batchconf_extra";

pub fn body_strategy(
    contract: &Contract,
    case: &Property,
    fixtures: &[String],
) -> Result<BoxedStrategy<Value>, SetupError> {
    let walker = Walker { root: &contract.request_body.json, file: &contract.request_body.file, case, fixtures };
    let body = walker.node(walker.root, "", "")?;
    Ok(if case.extra_field {
        (body, "[a-z]{1,8}")
            .prop_map(|(mut b, extra)| {
                if let Value::Object(o) = &mut b {
                    o.insert(EXTRA_FIELD.into(), Value::String(extra));
                }
                b
            })
            .boxed()
    } else {
        body
    })
}

struct Walker<'a> {
    root: &'a Value,
    file: &'a str,
    case: &'a Property,
    fixtures: &'a [String],
}

impl Walker<'_> {
    fn error(&self, at: &str, reason: impl Into<String>) -> SetupError {
        SetupError::Contract {
            file: self.file.to_string(),
            reason: format!("at `{}`: {}", if at.is_empty() { "/" } else { at }, reason.into()),
        }
    }

    /// `schema` at `spath` in the schema file generates the value at `bpath` in the body.
    fn node(&self, schema: &Value, spath: &str, bpath: &str) -> Result<BoxedStrategy<Value>, SetupError> {
        match self.case.overrides.get(bpath) {
            Some(Override::OneOf(values)) => return Ok(prop::sample::select(values.clone()).boxed()),
            Some(Override::Ids(spec)) => return Ok(super::ids_strategy(spec, self.fixtures)),
            Some(Override::Omit) | None => {}
        }
        let Value::Object(obj) = schema else { return Err(self.error(spath, "a schema here must be an object")) };
        for key in obj.keys() {
            if !ANNOTATIONS.contains(&key.as_str()) && !SUPPORTED.contains(&key.as_str()) {
                return Err(self.error(spath, format!("the generator does not support the keyword `{key}`")));
            }
        }
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            let target = r
                .strip_prefix('#')
                .and_then(|p| self.root.pointer(p))
                .ok_or_else(|| self.error(spath, format!("`$ref` `{r}` is not a reference inside this file")))?;
            return self.node(target, &format!("{spath}/$ref"), bpath);
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            return Ok(prop::sample::select(values.clone()).boxed());
        }
        if let Some(c) = obj.get("const") {
            return Ok(Just(c.clone()).boxed());
        }
        let uint = |k: &str| obj.get(k).and_then(Value::as_u64).map(|n| n as usize);
        match obj.get("type").and_then(Value::as_str) {
            Some("object") => self.object(obj, spath, bpath),
            Some("array") => {
                let items = obj.get("items").ok_or_else(|| self.error(spath, "an array needs `items`"))?;
                let items = self.node(items, &format!("{spath}/items"), &format!("{bpath}/*"))?;
                let min = uint("minItems").unwrap_or(0);
                let max = uint("maxItems").unwrap_or(min + 8);
                Ok(prop::collection::vec(items, min..=max).prop_map(Value::Array).boxed())
            }
            Some("string") => {
                let min = uint("minLength").unwrap_or(0);
                let max = uint("maxLength").unwrap_or(min + 16);
                Ok(prop::collection::vec(prop::char::range(' ', '~'), min..=max)
                    .prop_map(|cs| Value::String(cs.into_iter().collect()))
                    .boxed())
            }
            Some("integer") => {
                let lo = obj.get("minimum").and_then(Value::as_i64).unwrap_or(-1000);
                let hi = obj.get("maximum").and_then(Value::as_i64).unwrap_or(1000);
                Ok((lo..=hi).prop_map(Value::from).boxed())
            }
            Some("number") => Ok((-1000.0f64..1000.0).prop_map(Value::from).boxed()),
            Some("boolean") => Ok(any::<bool>().prop_map(Value::Bool).boxed()),
            Some("null") => Ok(Just(Value::Null).boxed()),
            Some(other) => Err(self.error(spath, format!("the generator does not support `type: {other}`"))),
            None => Err(self.error(spath, "no `type`, `enum` or `const`: nothing says what to generate")),
        }
    }

    fn object(&self, obj: &Map<String, Value>, spath: &str, bpath: &str) -> Result<BoxedStrategy<Value>, SetupError> {
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
        if let Some(Value::Object(props)) = obj.get("properties") {
            for (name, sub) in props {
                let sub_b = format!("{bpath}/{name}");
                if matches!(self.case.overrides.get(&sub_b), Some(Override::Omit)) {
                    continue;
                }
                let value = self.node(sub, &format!("{spath}/properties/{name}"), &sub_b)?;
                let name = name.clone();
                let field = value.prop_map(move |v| (name.clone(), v));
                fields.push(if required.contains(&name_of(&sub_b)) {
                    field.prop_map(Some).boxed()
                } else {
                    prop::option::of(field).boxed()
                });
            }
        }
        Ok(fields.prop_map(|fs| Value::Object(fs.into_iter().flatten().collect())).boxed())
    }
}

fn name_of(bpath: &str) -> &str {
    bpath.rsplit('/').next().unwrap_or(bpath)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;

    fn property(overrides: BTreeMap<String, Override>) -> Property {
        Property { overrides, extra_field: false, expect: crate::cases::Expectation::Conformant }
    }

    #[test]
    fn generated_bodies_validate_and_cover_the_schema() {
        let contract = Contract::bundled().unwrap();
        let s = body_strategy(&contract, &property(BTreeMap::new()), &[]).unwrap();
        let mut runner = TestRunner::deterministic();
        let mut actions = std::collections::BTreeSet::new();
        let mut with_params = 0;
        for _ in 0..400 {
            let v = s.new_tree(&mut runner).unwrap().current();
            assert!(contract.request_body.is_valid(&v), "{v}");
            actions.insert(v["action"].as_str().unwrap().to_string());
            with_params += v.get("params").is_some() as usize;
        }
        assert_eq!(actions.len(), 7);
        assert!(with_params > 50 && with_params < 350);
    }

    #[test]
    fn shrinking_keeps_bodies_valid() {
        let contract = Contract::bundled().unwrap();
        let s = body_strategy(&contract, &property(BTreeMap::new()), &[]).unwrap();
        let mut tree = s.new_tree(&mut TestRunner::deterministic()).unwrap();
        for _ in 0..100 {
            if !tree.simplify() {
                break;
            }
            assert!(contract.request_body.is_valid(&tree.current()));
        }
    }

    #[test]
    fn unsupported_keywords_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in crate::builtin::SCHEMAS {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let path = dir.path().join("request.schema.json");
        let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        schema["properties"]["params"]["pattern"] = Value::String("^a".into());
        std::fs::write(&path, schema.to_string()).unwrap();
        let contract = Contract::load(dir.path()).unwrap();
        let e = body_strategy(&contract, &property(BTreeMap::new()), &[]).unwrap_err().to_string();
        assert!(e.contains("`pattern`") && e.contains("/properties/params"), "{e}");
    }
}
