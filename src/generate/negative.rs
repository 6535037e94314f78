//! Requests that break exactly one rule of the contract each, built from a valid request so the
//! broken rule is the only thing wrong with them.
//!
//! The rules come from the schema: for every keyword at every place of the request schema, one
//! rule named `<keyword>@<place>` (`maxItems@asset_ids`, `pattern@asset_ids.item`,
//! `required@action`, `type@body`), plus the rules the manifest and the header schema imply
//! (`malformed-json`, `wrong-content-type`, `pattern@header.x-app-userid`). Each request is a
//! valid body with one value replaced by a candidate at the keyword's boundary (one item over
//! `maxItems`, one character under `minLength`, an enum value in another letter case…); of the
//! candidates, the ones the schema refuses for that keyword alone are kept, checked with the
//! contract's own validator.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::schema::{body_gen, compile_at, sample, Merged, Walker};
use super::{AuthMode, GenRequest, Payload};
use crate::cases::{Expectation, IdsSpec, Override, Property};
use crate::contract::Contract;
use crate::error::SetupError;

/// Rules that do not come from a keyword of the body schema.
const NOT_JSON: &str = "malformed-json";
const CONTENT_TYPE: &str = "wrong-content-type";

/// A valid body of `min` to `max` made-up ids, within what the schema allows.
fn body_with_ids(contract: &Contract, min: usize, max: usize, full: bool) -> Result<BoxedStrategy<Value>, SetupError> {
    // Moved into the schema's own bounds when they do not meet (a `minItems` of 10, say).
    let (lo, hi) = id_bounds(contract);
    let min = min.clamp(lo, hi);
    let max = max.clamp(min, hi.max(min));
    let mut overrides = BTreeMap::new();
    let ids = IdsSpec::made_up(min, max);
    overrides.insert(contract.batch().request_ids.clone(), Override::Ids(ids));
    let case = Property { overrides, extra_field: false, expect: Expectation::Conformant };
    Ok(body_gen(contract, &case, &[], full)?.strategy)
}

/// One step of a place in the body.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    /// Any item of an array (the rule picks one, or adds one).
    Item,
    /// The n-th item (`prefixItems`).
    At(usize),
}

/// A rule derived from one keyword at one place.
#[derive(Clone)]
struct Derived {
    name: String,
    keyword: String,
    place: Vec<Seg>,
    /// The keywords of the place, merged.
    schema: Merged,
    /// Valid items of the array at this place (to grow it past `maxItems`).
    fresh: Vec<Value>,
}

fn place_name(place: &[Seg]) -> String {
    if place.is_empty() {
        return "body".into();
    }
    place
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Item => "item".into(),
            Seg::At(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Walks the request schema and lists every rule it yields.
fn derive(contract: &Contract) -> Result<Vec<Derived>, SetupError> {
    let walker = Walker::new(contract, None, &[], true);
    let mut out = Vec::new();
    visit(&walker, walker.root, "", vec![], true, &mut out, 0)?;
    Ok(out)
}

fn visit(
    w: &Walker,
    schema: &Value,
    spath: &str,
    place: Vec<Seg>,
    required: bool,
    out: &mut Vec<Derived>,
    depth: usize,
) -> Result<(), SetupError> {
    if depth > 8 {
        return Ok(());
    }
    let m = w.merged(schema, spath)?;
    let mut here: Vec<Derived> = Vec::new();
    let mut rule = |keyword: &str, place: Vec<Seg>, fresh: Vec<Value>| {
        let name = format!("{keyword}@{}", place_name(&place));
        if !here.iter().any(|d: &Derived| d.name == name) {
            here.push(Derived { name, keyword: keyword.into(), place, schema: m.clone(), fresh });
        }
    };
    if m.contains_key("type") {
        rule("type", place.clone(), vec![]);
        let allows_null = match m.get("type") {
            Some(Value::String(t)) => t == "null",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "null"),
            _ => true,
        };
        // `null` for an optional field reads as "absent" to many servers, a reading the contract
        // does not rule out: only required fields and items get it.
        if !allows_null && required {
            rule("null", place.clone(), vec![]);
        }
    }
    for k in ["enum", "const", "minLength", "maxLength", "pattern", "format", "minimum", "maximum"] {
        if m.contains_key(k) {
            rule(k, place.clone(), vec![]);
        }
    }
    for k in ["exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "uniqueItems", "contains"] {
        if m.contains_key(k) && m.get(k) != Some(&Value::Bool(false)) {
            rule(k, place.clone(), vec![]);
        }
    }
    if let Some(max) = m.get("maxItems").and_then(Value::as_u64) {
        // Fresh valid items to grow the array with, distinct in case `uniqueItems` is set.
        // Made-up `bcf-` ids where the items' schema allows them (they name no real asset).
        let made_up: Vec<Value> =
            (0..=max + 1).map(|i| Value::String(format!("{}fresh-{i}", super::ID_PREFIX))).collect();
        let fresh = match m.get("items") {
            Some(items) => {
                let item_ok = compile_at(w.root, items);
                if made_up.iter().all(|v| item_ok.as_ref().is_some_and(|c| c.is_valid(v))) {
                    made_up
                } else {
                    let g = w.node(items, &format!("{spath}/items"), "")?;
                    let mut seen = std::collections::BTreeSet::new();
                    sample(&g.strategy, (max as usize + 2) * 3)
                        .into_iter()
                        .filter(|v| seen.insert(v.to_string()))
                        .collect()
                }
            }
            None => made_up,
        };
        rule("maxItems", place.clone(), fresh);
    }
    if m.get("items") == Some(&Value::Bool(false)) && m.contains_key("prefixItems") {
        rule("items", place.clone(), vec![]);
    }
    if m.get("not").is_some_and(|n| n.get("const").is_some() || n.get("enum").is_some()) {
        rule("not", place.clone(), vec![]);
    }
    if m.get("additionalProperties") == Some(&Value::Bool(false)) {
        rule("additionalProperties", place.clone(), vec![]);
    }
    if let Some(Value::Object(deps)) = m.get("dependentRequired") {
        if !deps.is_empty() {
            rule("dependentRequired", place.clone(), vec![]);
        }
    }
    let req: Vec<String> = m
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let props = m.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    for name in props.keys().filter(|n| req.contains(n)) {
        let mut p = place.clone();
        p.push(Seg::Key(name.clone()));
        rule("required", p, vec![]);
    }
    out.extend(here);
    for (name, sub) in &props {
        let mut p = place.clone();
        p.push(Seg::Key(name.clone()));
        visit(w, sub, &format!("{spath}/properties/{name}"), p, req.contains(name), out, depth + 1)?;
    }
    if let Some(Value::Array(prefix)) = m.get("prefixItems") {
        for (i, sub) in prefix.iter().enumerate() {
            let mut p = place.clone();
            p.push(Seg::At(i));
            visit(w, sub, &format!("{spath}/prefixItems/{i}"), p, true, out, depth + 1)?;
        }
    }
    if let Some(items) = m.get("items").filter(|i| i.is_object()) {
        let mut p = place.clone();
        p.push(Seg::Item);
        visit(w, items, &format!("{spath}/items"), p, true, out, depth + 1)?;
    }
    Ok(())
}

/// A value at a place of a body: the JSON pointer to it and, for the `Item` steps, which item.
fn locate(body: &Value, place: &[Seg], pick: usize) -> Option<String> {
    let mut at = String::new();
    let mut cur = body;
    for seg in place {
        let (key, next) = match seg {
            Seg::Key(k) => (k.replace('~', "~0").replace('/', "~1"), cur.get(k)?),
            Seg::At(i) => (i.to_string(), cur.get(*i)?),
            Seg::Item => {
                let a = cur.as_array()?;
                if a.is_empty() {
                    return None;
                }
                let i = pick % a.len();
                (i.to_string(), &a[i])
            }
        };
        at = format!("{at}/{key}");
        cur = next;
    }
    Some(at)
}

/// Characters tried, one at a time, to push a string just outside a `pattern` or `format`.
const PROBES: &[&str] = &["用", " ", "!", "%", "Z", "a", "0", "-", "_", ".", "/", "é", "\u{1F600}", "\t", "A", "9"];

/// Near-misses of an enum or const value: servers normalise, so each is one they might let in.
fn near_misses(v: &Value) -> Vec<Value> {
    let Some(s) = v.as_str() else {
        return vec![json!("x"), json!(0), json!(-1), json!(1.5), json!(true), json!([]), json!({})];
    };
    // The first letter that has a Cyrillic twin, swapped for it.
    let twin = |c: char| -> Option<char> {
        let pairs = [
            ('A', 'А'),
            ('B', 'В'),
            ('C', 'С'),
            ('E', 'Е'),
            ('H', 'Н'),
            ('I', 'І'),
            ('K', 'К'),
            ('M', 'М'),
            ('O', 'О'),
            ('P', 'Р'),
            ('S', 'Ѕ'),
            ('T', 'Т'),
            ('X', 'Х'),
            ('a', 'а'),
            ('c', 'с'),
            ('e', 'е'),
            ('o', 'о'),
            ('p', 'р'),
            ('x', 'х'),
        ];
        pairs.iter().find(|(l, _)| *l == c).map(|(_, t)| *t)
    };
    let mut swapped = false;
    let lookalike: String = s
        .chars()
        .map(|c| match twin(c) {
            Some(t) if !swapped => {
                swapped = true;
                t
            }
            _ => c,
        })
        .collect();
    let flipped: String =
        s.chars().map(|c| if c.is_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() }).collect();
    let mut cut: Vec<char> = s.chars().collect();
    cut.pop();
    vec![
        Value::String(flipped),
        Value::String(format!(" {s}")),
        Value::String(format!("{s} ")),
        Value::String(cut.into_iter().collect()),
        Value::String(format!("{s}S")),
        Value::String(format!("X{s}")),
        Value::String(lookalike),
        Value::String(String::new()),
    ]
}

/// Values of other JSON types.
fn other_types(with_null: bool) -> Vec<Value> {
    let mut v = vec![json!("x"), json!(7), json!(1.5), json!(true), json!({"k": "v"}), json!(["x"])];
    if with_null {
        v.push(Value::Null);
    }
    v
}

/// The candidates for breaking `rule` on `body`: each a whole body, with the pointer of the
/// value the rule is about. Built in a fixed order, so the first of them are the boundary pass.
fn candidates(rule: &Derived, body: &Value, pick: usize) -> Vec<(Value, String)> {
    let m = &rule.schema;
    let mut out = Vec::new();
    let (parent_place, last) = match rule.place.split_last() {
        Some((l, p)) => (p.to_vec(), Some(l.clone())),
        None => (vec![], None),
    };
    if rule.keyword == "required" {
        let (Some(parent), Some(Seg::Key(field))) = (locate(body, &parent_place, pick), last) else { return out };
        let mut b = body.clone();
        if let Some(Value::Object(o)) = b.pointer_mut(&parent) {
            o.remove(&field);
        }
        out.push((b, parent));
        return out;
    }
    let Some(at) = locate(body, &rule.place, pick) else { return out };
    let cur = body.pointer(&at).cloned().unwrap_or(Value::Null);
    let f = |k: &str| m.get(k).and_then(Value::as_f64);
    let u = |k: &str| m.get(k).and_then(Value::as_u64).map(|n| n as usize);
    let integer = m.get("type").and_then(Value::as_str) == Some("integer");
    let mut values: Vec<Value> = Vec::new();
    match rule.keyword.as_str() {
        "type" => values = other_types(false),
        "null" => values = vec![Value::Null],
        "enum" => {
            let all = m.get("enum").and_then(Value::as_array).cloned().unwrap_or_default();
            // Kind by kind, each on another value of the enum, so the first few cover every kind.
            let misses: Vec<Vec<Value>> = all.iter().map(near_misses).collect();
            let kinds = misses.iter().map(Vec::len).max().unwrap_or(0);
            for k in 0..kinds {
                if let Some(v) = misses.get(k % misses.len().max(1)).and_then(|ms| ms.get(k)) {
                    values.push(v.clone());
                }
            }
            for ms in &misses {
                values.extend(ms.iter().cloned());
            }
        }
        "const" => values = m.get("const").map(near_misses).unwrap_or_default(),
        "minLength" => {
            if let (Some(n), Some(s)) = (u("minLength"), cur.as_str()) {
                if n > 0 {
                    values.push(Value::String(s.chars().take(n - 1).collect()));
                    values.push(Value::String("a".repeat(n - 1)));
                }
            }
        }
        "maxLength" => {
            if let (Some(n), Some(s)) = (u("maxLength"), cur.as_str()) {
                let len = s.chars().count();
                let grow = |c: char| Value::String(format!("{s}{}", c.to_string().repeat(n + 1 - len.min(n + 1))));
                let last = s.chars().last().unwrap_or('a');
                let first = s.chars().next().unwrap_or('a');
                values.extend([grow(last), grow(first), grow('a'), grow('0')]);
            }
        }
        "pattern" | "format" => {
            if let Some(s) = cur.as_str() {
                let chars: Vec<char> = s.chars().collect();
                for p in PROBES {
                    values.push(Value::String(format!("{p}{s}")));
                    values.push(Value::String(format!("{s}{p}")));
                    let mid = chars.len() / 2;
                    let mut c = chars.clone();
                    if !c.is_empty() {
                        c[mid] = p.chars().next().unwrap_or('!');
                        values.push(Value::String(c.into_iter().collect()));
                    }
                }
                values.push(Value::String(String::new()));
                values.push(Value::String(chars.iter().skip(1).collect()));
            }
        }
        "minimum" => {
            if let Some(x) = f("minimum") {
                values.push(if integer { json!(x as i64 - 1) } else { json!(x - 0.5) });
                values.push(json!(x - 1.0));
            }
        }
        "exclusiveMinimum" => {
            if let Some(x) = f("exclusiveMinimum") {
                values.push(if integer && x.fract() == 0.0 { json!(x as i64) } else { json!(x) });
            }
        }
        "maximum" => {
            if let Some(x) = f("maximum") {
                values.push(if integer { json!(x as i64 + 1) } else { json!(x + 0.5) });
                values.push(json!(x + 1.0));
            }
        }
        "exclusiveMaximum" => {
            if let Some(x) = f("exclusiveMaximum") {
                values.push(if integer && x.fract() == 0.0 { json!(x as i64) } else { json!(x) });
            }
        }
        "multipleOf" => {
            if let (Some(step), Some(x)) = (f("multipleOf"), cur.as_f64()) {
                if integer || cur.is_i64() {
                    values.push(json!(x as i64 + 1));
                    values.push(json!(x as i64 - 1));
                }
                values.push(json!(x + step / 2.0));
            }
        }
        "minItems" => {
            if let (Some(n), Some(a)) = (u("minItems"), cur.as_array()) {
                if n > 0 {
                    values.push(Value::Array(a.iter().take(n - 1).cloned().collect()));
                }
            }
        }
        "maxItems" => {
            if let (Some(n), Some(a)) = (u("maxItems"), cur.as_array()) {
                let mut grown = a.clone();
                for v in &rule.fresh {
                    if grown.len() > n {
                        break;
                    }
                    if !grown.contains(v) {
                        grown.push(v.clone());
                    }
                }
                values.push(Value::Array(grown));
            }
        }
        "uniqueItems" => {
            if let Some(a) = cur.as_array().filter(|a| !a.is_empty()) {
                let mut twice = a.clone();
                let i = pick % a.len();
                twice.insert((pick / 7) % (a.len() + 1), a[i].clone());
                values.push(Value::Array(twice.clone()));
                if a.len() > 1 {
                    twice.pop();
                    values.push(Value::Array(twice));
                }
            }
        }
        "contains" => {
            if let (Some(a), Some(c)) = (cur.as_array(), m.get("contains")) {
                if let Some(v) = compile_at(&Value::Null, c) {
                    values.push(Value::Array(a.iter().filter(|x| !v.is_valid(x)).cloned().collect()));
                }
            }
        }
        "items" => {
            // One item past what `prefixItems` describes, under `items: false`.
            if let Some(a) = cur.as_array() {
                for extra in [a.last().cloned().unwrap_or(Value::Null), json!("x")] {
                    let mut longer = a.clone();
                    longer.push(extra);
                    values.push(Value::Array(longer));
                }
            }
        }
        "not" => {
            // The values `not` excludes, when it names them.
            if let Some(n) = m.get("not") {
                values.extend(n.get("const").cloned());
                values.extend(n.get("enum").and_then(Value::as_array).cloned().unwrap_or_default());
            }
        }
        "additionalProperties" => {
            if let Some(Value::Object(o)) = Some(&cur) {
                let mut o: Map<String, Value> = o.clone();
                o.insert(super::schema::EXTRA_FIELD.into(), json!("x"));
                values.push(Value::Object(o));
            }
        }
        "dependentRequired" => {
            if let (Some(Value::Object(deps)), Value::Object(o)) = (m.get("dependentRequired"), &cur) {
                for (field, needs) in deps {
                    for need in needs.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        let mut o = o.clone();
                        if o.contains_key(field) && o.remove(need).is_some() {
                            values.push(Value::Object(o));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    // With `multipleOf`, the first multiple past a bound breaks the bound alone.
    if let Some(step) = f("multipleOf").filter(|s| *s > 0.0) {
        let as_num =
            |x: f64| if integer || (x.fract() == 0.0 && step.fract() == 0.0) { json!(x as i64) } else { json!(x) };
        let past = match rule.keyword.as_str() {
            "maximum" => f("maximum").map(|x| ((x / step).floor() + 1.0) * step),
            "exclusiveMaximum" => f("exclusiveMaximum").map(|x| (x / step).ceil() * step),
            "minimum" => f("minimum").map(|x| ((x / step).ceil() - 1.0) * step),
            "exclusiveMinimum" => f("exclusiveMinimum").map(|x| (x / step).floor() * step),
            _ => None,
        };
        values.extend(past.map(as_num));
    }
    for v in values {
        let mut b = body.clone();
        if at.is_empty() {
            b = v;
        } else if let Some(slot) = b.pointer_mut(&at) {
            *slot = v;
        }
        out.push((b, at.clone()));
    }
    out
}

/// Does `body` break `rule` and nothing else? `Some(true)` when exactly one keyword fails (the
/// rule's), `Some(false)` when only keywords at the rule's place fail, among them the rule's (a
/// type swap of an enum fails `type` and `enum` together: no value can fail one without the other).
fn judge(v: &jsonschema::Validator, rule: &Derived, body: &Value, at: &str) -> Option<bool> {
    let errors: Vec<Found> = v
        .iter_errors(body)
        .map(|e| {
            let schema_path = e.schema_path.to_string();
            Found {
                keyword: schema_path.rsplit('/').next().unwrap_or_default().to_string(),
                instance_path: e.instance_path.to_string(),
            }
        })
        .collect();
    let kw = |k: &str| match rule.keyword.as_str() {
        "null" => k == "type",
        other => k == other,
    };
    // An item refused by `items: false` is reported at the item, under the array.
    let under = |p: &str| p == at || p.starts_with(&format!("{at}/"));
    if errors.len() == 1 && kw(&errors[0].keyword) && under(&errors[0].instance_path) {
        return Some(true);
    }
    let all_here = errors.iter().all(|e| e.instance_path == at);
    let has = errors.iter().any(|e| kw(&e.keyword));
    let only_value_keywords = errors.iter().all(|e| ["type", "enum", "const"].contains(&e.keyword.as_str()));
    (has && all_here && ["type", "null"].contains(&rule.keyword.as_str()) && only_value_keywords).then_some(false)
}

struct Found {
    keyword: String,
    instance_path: String,
}

/// The request body's validator, owned (strategies must be `'static`).
fn body_validator(contract: &Contract) -> Result<Arc<jsonschema::Validator>, SetupError> {
    let root = &contract.request_body.json;
    compile_at(root, root).map(Arc::new).ok_or_else(|| SetupError::Contract {
        file: contract.request_body.file.clone(),
        reason: "does not compile on its own (negative rules need it to)".into(),
    })
}

/// The candidates of `rule` on `body` that break it alone (or, failing any, as nearly as the
/// schema lets them).
fn breaking(v: &jsonschema::Validator, rule: &Derived, body: &Value, pick: usize) -> Vec<Value> {
    let cands = candidates(rule, body, pick);
    let judged: Vec<(Value, Option<bool>)> =
        cands.into_iter().map(|(b, at)| (judge(v, rule, &b, &at), b)).map(|(j, b)| (b, j)).collect();
    let clean: Vec<Value> = judged.iter().filter(|(_, j)| *j == Some(true)).map(|(b, _)| b.clone()).collect();
    if !clean.is_empty() {
        return clean;
    }
    judged.into_iter().filter(|(_, j)| j.is_some()).map(|(b, _)| b).collect()
}

/// A derived body rule with the valid bodies it breaks.
struct Built {
    rule: Derived,
    base: BoxedStrategy<Value>,
    edges: Vec<Value>,
}

/// Bases for `rule`: every place of the schema present, and a batch of one to four made-up ids
/// (within the schema's bounds).
fn build(contract: &Contract, rule: Derived) -> Result<Built, SetupError> {
    let base = body_with_ids(contract, 1, 4, true)?;
    let edges = sample(&base, 3);
    Ok(Built { rule, base, edges })
}

/// Every negative rule the contract yields, in a stable order: the body rules (keyword by
/// keyword, place by place), then `malformed-json`, `wrong-content-type` and the header rules.
/// A rule no candidate can break on its own is left out.
pub fn negative_rules(contract: &Contract) -> Result<Vec<String>, SetupError> {
    let mut out = Vec::new();
    let v = body_validator(contract)?;
    for rule in derive(contract)? {
        let built = build(contract, rule)?;
        if built.edges.iter().enumerate().any(|(i, b)| !breaking(&v, &built.rule, b, i).is_empty()) {
            out.push(built.rule.name);
        }
    }
    out.push(NOT_JSON.into());
    out.push(CONTENT_TYPE.into());
    out.extend(header_rules(contract).into_iter().map(|(name, _)| name));
    Ok(out)
}

/// Headers the header schema constrains with a pattern, other than the credentials' own (which
/// the auth cases break).
fn header_rules(contract: &Contract) -> Vec<(String, String)> {
    let auth = &contract.operation().auth;
    let skip =
        [auth.token.header.to_lowercase(), auth.aksk.header.to_lowercase(), auth.aksk.date_header.to_lowercase()];
    contract
        .request_headers
        .json
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter(|(name, s)| !skip.contains(&name.to_lowercase()) && s.get("pattern").is_some())
                .map(|(name, _)| (format!("pattern@header.{name}"), name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Requests that break one header's pattern: a plain value with one character the pattern refuses
/// (among probes that keep the value sendable as an HTTP header), at its start, its end, or alone.
fn header_strategy(
    contract: &Contract,
    header: &str,
    body: BoxedStrategy<Value>,
) -> Result<(BoxedStrategy<GenRequest>, Vec<GenRequest>), SetupError> {
    let schema = &contract.request_headers;
    let name = header.to_lowercase();
    let breaks_alone = |v: &str| {
        let errs = schema.errors(&json!({ name.clone(): v }));
        errs.len() == 1 && errs[0].keyword == "pattern"
    };
    let shapes = |base: &str, p: &str| [format!("{base}{p}"), format!("{p}{base}"), p.to_string()];
    let probes: Vec<&str> = ["用", "户", "中", "!", " ", "é", "%", "Z", "0", "-"]
        .into_iter()
        .filter(|p| shapes("user", p).iter().all(|v| breaks_alone(v)))
        .collect();
    if probes.is_empty() {
        return Err(SetupError::Contract {
            file: schema.file.clone(),
            reason: format!("no value breaks the pattern of `{header}` alone"),
        });
    }
    let edge_body = sample(&body, 1).pop().unwrap_or(json!({}));
    let with = |b: Value, v: String| GenRequest { headers: vec![(header.to_string(), v)], ..GenRequest::json(b) };
    let edges: Vec<GenRequest> =
        probes.iter().flat_map(|p| shapes("user", p)).take(12).map(|v| with(edge_body.clone(), v)).collect();
    let probes: Vec<String> = probes.into_iter().map(str::to_string).collect();
    let header = header.to_string();
    // `[a-z0-9]` around a probe that broke the pattern next to `user` breaks it the same way.
    let strategy = (body, "[a-z0-9]{1,8}", prop::sample::select(probes), 0..3usize)
        .prop_map(move |(b, base, p, shape)| {
            let value = [format!("{base}{p}"), format!("{p}{base}"), p.clone()][shape].clone();
            GenRequest { headers: vec![(header.clone(), value)], ..GenRequest::json(b) }
        })
        .boxed();
    Ok((strategy, edges))
}

/// The strategy of one rule and its boundary requests (every candidate of the rule on one fixed
/// base, in order, at most 24).
pub fn negative_parts(
    contract: &Contract,
    rule: &str,
) -> Result<(BoxedStrategy<GenRequest>, Vec<GenRequest>), SetupError> {
    let small = body_with_ids(contract, 1, 4, false)?;
    if rule == NOT_JSON {
        let edge = sample(&small, 1).pop().unwrap_or(json!({}));
        let text = edge.to_string();
        let edges = vec![
            raw(text[..text.len() - 1].to_string()),
            raw(text.replace('"', "'")),
            raw(format!("{text},")),
            raw(String::new()),
        ];
        let s = (small, any::<prop::sample::Index>(), 0..3u8)
            .prop_map(|(b, cut, how)| {
                let text = b.to_string();
                raw(match how {
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
                })
            })
            .boxed();
        return Ok((s, edges));
    }
    if rule == CONTENT_TYPE {
        let types =
            vec!["text/plain", "application/x-www-form-urlencoded", "application/xml", "text/html; charset=utf-8"];
        let edge = sample(&small, 1).pop().unwrap_or(json!({}));
        let edges = types
            .iter()
            .map(|ct| GenRequest { content_type: ct.to_string(), ..GenRequest::json(edge.clone()) })
            .collect();
        let s = (small, prop::sample::select(types))
            .prop_map(|(b, ct)| GenRequest { content_type: ct.to_string(), ..GenRequest::json(b) })
            .boxed();
        return Ok((s, edges));
    }
    if let Some((_, header)) = header_rules(contract).into_iter().find(|(n, _)| n == rule) {
        return header_strategy(contract, &header, small);
    }
    let derived = derive(contract)?;
    let Some(d) = derived.into_iter().find(|d| d.name == rule) else {
        let known = negative_rules(contract)?;
        return Err(SetupError::Argument(format!(
            "no negative rule named `{rule}`; the contract yields {}",
            known.join(", ")
        )));
    };
    let built = build(contract, d)?;
    let validator = body_validator(contract)?;
    let mut edges: Vec<GenRequest> = Vec::new();
    for (i, b) in built.edges.iter().enumerate() {
        for v in breaking(&validator, &built.rule, b, i) {
            let g = GenRequest::json(v);
            if !edges.contains(&g) {
                edges.push(g);
            }
        }
        if !edges.is_empty() {
            break;
        }
    }
    if edges.is_empty() {
        return Err(SetupError::Contract {
            file: contract.request_body.file.clone(),
            reason: format!("the rule `{rule}` cannot be broken on its own: no candidate breaks it alone"),
        });
    }
    edges.truncate(24);
    let rule = Arc::new(built.rule);
    let fallback = edges[0].clone();
    let s = (built.base, any::<prop::sample::Index>())
        .prop_map(move |(b, pick)| {
            let options = breaking(&validator, &rule, &b, pick.index(1 << 16));
            if options.is_empty() {
                return fallback.clone();
            }
            GenRequest::json(pick.get(&options).clone())
        })
        .boxed();
    Ok((s, edges))
}

fn raw(text: String) -> GenRequest {
    GenRequest { body: Payload::Raw(text), ..GenRequest::json(Value::Null) }
}

/// One strategy per rule name of [`negative_rules`]; a name the contract does not yield is an
/// error listing the ones it does.
pub fn negative_strategy(contract: &Contract, rule: &str) -> Result<BoxedStrategy<GenRequest>, SetupError> {
    Ok(negative_parts(contract, rule)?.0)
}

/// The boundary pass of a rule: its candidates on one fixed valid request.
pub fn negative_edges(contract: &Contract, rule: &str) -> Result<Vec<GenRequest>, SetupError> {
    Ok(negative_parts(contract, rule)?.1)
}

/// The valid requests the auth cases send with bad credentials: empty and large batches too, so
/// a server that answers those before checking credentials is caught.
pub fn auth_strategy(contract: &Contract, mode: AuthMode) -> Result<BoxedStrategy<GenRequest>, SetupError> {
    // Within what the schema allows: a body the schema refuses would be rejected for that alone.
    let (lo, hi) = id_bounds(contract);
    let sizes = [(0, 0), (1, 4), (21, 60)];
    let bodies: Vec<BoxedStrategy<Value>> = sizes
        .iter()
        .map(|(a, b)| (*a.max(&lo), *b.min(&hi)))
        .filter(|(a, b)| a <= b)
        .map(|(a, b)| body_with_ids(contract, a, b, false))
        .collect::<Result<_, _>>()?;
    let body = proptest::strategy::Union::new(bodies);
    Ok(body.prop_map(move |b| GenRequest { auth: mode, ..GenRequest::json(b) }).boxed())
}

/// The batch sizes the request schema allows.
fn id_bounds(contract: &Contract) -> (usize, usize) {
    let w = Walker::new(contract, None, &[], false);
    let at = contract.batch().request_ids.clone();
    let schema_at: String = at.split('/').skip(1).map(|s| format!("/properties/{s}")).collect();
    let m =
        contract.request_body.json.pointer(&schema_at).and_then(|s| w.merged(s, &schema_at).ok()).unwrap_or_default();
    let n = |k: &str| m.get(k).and_then(Value::as_u64).map(|n| n as usize);
    (n("minItems").unwrap_or(0), n("maxItems").unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Every rule's requests break the contract, and only in the way the rule says: one thing of
    /// body, headers and content type, and in the body, the rule's keyword alone (a type swap of
    /// an enum may fail `enum` beside `type`).
    pub(crate) fn each_rule_breaks_one_keyword(contract: &Contract) -> Vec<String> {
        let rules = negative_rules(contract).unwrap();
        let mut runner = TestRunner::deterministic();
        for rule in &rules {
            let (s, edges) = negative_parts(contract, rule).unwrap();
            let drawn: Vec<GenRequest> = (0..40).map(|_| s.new_tree(&mut runner).unwrap().current()).collect();
            for r in edges.iter().chain(&drawn) {
                let body_errors = match &r.body {
                    Payload::Json(v) => contract.request_body.errors(v),
                    Payload::Raw(t) => {
                        assert!(serde_json::from_str::<Value>(t).is_err(), "{rule}: {t}");
                        vec![]
                    }
                };
                let headers = crate::exchange::Headers(r.headers.clone()).to_json();
                let headers_ok = contract.request_headers.is_valid(&headers);
                let ct_ok = r.content_type == "application/json";
                let json_ok = matches!(r.body, Payload::Json(_));
                let broken = [!body_errors.is_empty(), !headers_ok, !ct_ok, !json_ok].iter().filter(|b| **b).count();
                assert_eq!(broken, 1, "{rule} must break exactly one thing: {r:?}");
                if let Some((keyword, _)) = rule.split_once('@').filter(|_| !rule.contains("@header.")) {
                    let keyword = if keyword == "null" { "type" } else { keyword };
                    let kws: Vec<&str> = body_errors.iter().map(|e| e.keyword.as_str()).collect();
                    let one = kws == [keyword];
                    let swap = keyword == "type"
                        && kws.contains(&"type")
                        && kws.iter().all(|k| ["type", "enum", "const"].contains(k));
                    assert!(one || swap, "{rule} broke {kws:?}: {r:?}");
                }
            }
        }
        rules
    }

    #[test]
    fn bundled_rules_break_one_keyword_each() {
        let contract = Contract::bundled().unwrap();
        let rules = each_rule_breaks_one_keyword(&contract);
        for want in [
            "required@action",
            "required@asset_ids",
            "type@body",
            "type@asset_ids.item",
            "enum@action",
            "null@action",
            "type@params",
            "malformed-json",
            "wrong-content-type",
            "pattern@header.x-app-userid",
        ] {
            assert!(rules.iter().any(|r| r == want), "{want} not in {rules:?}");
        }
        assert!(!rules.iter().any(|r| r.contains(' ')));
    }

    #[test]
    fn enum_near_misses_cover_every_kind_first() {
        let contract = Contract::bundled().unwrap();
        let edges = negative_edges(&contract, "enum@action").unwrap();
        let actions: Vec<String> = edges
            .iter()
            .filter_map(|r| match &r.body {
                Payload::Json(v) => v["action"].as_str().map(str::to_string),
                _ => None,
            })
            .collect();
        for want in ["delete", " DELETE", "", "DELET"] {
            assert!(
                actions.iter().any(|a| a == want || a.trim() == want.trim() && a != want.trim()),
                "{want:?} not in {actions:?}"
            );
        }
        assert!(actions.iter().any(|a| a.chars().any(|c| ('\u{400}'..='\u{4FF}').contains(&c))), "{actions:?}");
    }

    #[test]
    fn keyword_schema_rules_break_one_keyword_each() {
        let (dir, path) = crate::generate::tests::schema_copy();
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["action", "asset_ids"],
            "additionalProperties": false,
            "dependentRequired": { "params": ["count"] },
            "properties": {
                "action": { "type": "string", "enum": ["DELETE", "ACTIVE"] },
                "asset_ids": { "type": "array", "minItems": 1, "maxItems": 50, "uniqueItems": true,
                    "items": { "type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 3, "maxLength": 64 } },
                "params": { "type": "string", "format": "uuid" },
                "count": { "type": "integer", "minimum": 1, "exclusiveMaximum": 100, "multipleOf": 3 },
                "pair": { "type": "array", "prefixItems": [{ "const": "a" }, { "type": "boolean" }], "items": false },
                "both": { "type": "string", "minLength": 2, "not": { "const": "ab" } }
            }
        });
        std::fs::write(&path, schema.to_string()).unwrap();
        let contract = Contract::load(dir.path()).unwrap();
        let rules = each_rule_breaks_one_keyword(&contract);
        for want in [
            "maxItems@asset_ids",
            "minItems@asset_ids",
            "uniqueItems@asset_ids",
            "pattern@asset_ids.item",
            "maxLength@asset_ids.item",
            "minLength@asset_ids.item",
            "format@params",
            "minimum@count",
            "exclusiveMaximum@count",
            "multipleOf@count",
            "additionalProperties@body",
            "dependentRequired@body",
        ] {
            assert!(rules.iter().any(|r| r == want), "{want} not in {rules:?}");
        }
    }
}
