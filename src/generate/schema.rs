//! Strategies built from a JSON Schema, keyword by keyword, with the boundary values of each
//! keyword beside them. A keyword we cannot generate for is an error naming the schema file and
//! the place, never a silent gap.
//!
//! Values are built by construction. Where a combination of keywords cannot be built exactly
//! (two length bounds around a `pattern`, `oneOf` branches that overlap, `not`), the candidates
//! are checked against a validator compiled from that place of the schema; [`body_strategy`]
//! draws a sample at set-up and refuses a schema whose values it cannot make valid.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value};

use crate::cases::{Expectation, Override, Property};
use crate::contract::Contract;
use crate::error::SetupError;

/// Keywords that describe and do not constrain: nothing to generate.
pub(crate) const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "$defs",
    "definitions",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
];
/// Keywords the generator honours, in both directions (see `negative.rs` for the other one).
pub const SUPPORTED: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "dependentRequired",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "$ref",
];
/// Formats with a generator; any other `format` is an error.
pub const FORMATS: &[&str] = &["date-time", "date", "time", "uuid", "email", "uri", "ipv4", "hostname"];

/// Name of the field added by a case's `extra_field`: one the contract does not know.
pub const EXTRA_FIELD: &str = "x_batchconf_extra";

/// How many values of a strategy the set-up check draws.
const SAMPLE: usize = 48;
/// Boundary values kept per place, so the pass stays short on wide schemas.
const MAX_EDGES: usize = 24;

/// A strategy with its boundary values (each valid where it stands).
pub(crate) struct Gen {
    pub strategy: BoxedStrategy<Value>,
    pub edges: Vec<Value>,
}

pub fn body_strategy(
    contract: &Contract,
    case: &Property,
    fixtures: &[String],
) -> Result<BoxedStrategy<Value>, SetupError> {
    Ok(body_gen(contract, case, fixtures, false)?.strategy)
}

/// The valid bodies of the boundary pass for a property: the edges of every keyword, combined
/// place by place, kept only when the whole body validates.
pub fn body_edges(contract: &Contract, case: &Property, fixtures: &[String]) -> Result<Vec<Value>, SetupError> {
    Ok(body_gen(contract, case, fixtures, false)?.edges)
}

pub(crate) fn body_gen(
    contract: &Contract,
    case: &Property,
    fixtures: &[String],
    full: bool,
) -> Result<Gen, SetupError> {
    let walker = Walker::new(contract, Some(case), fixtures, full);
    let mut gen = walker.node(walker.root, "", "")?;
    if case.extra_field {
        let add = |mut b: Value, extra: String| {
            if let Value::Object(o) = &mut b {
                o.insert(EXTRA_FIELD.into(), Value::String(extra));
            }
            b
        };
        gen.edges = gen.edges.into_iter().map(|e| add(e, "x".into())).collect();
        gen.strategy = (gen.strategy, "[a-z]{1,8}").prop_map(move |(b, extra)| add(b, extra)).boxed();
    }
    // A case that expects a rejection may break the schema on purpose; every other case must not.
    if case.expect != Expectation::Rejected {
        gen.edges.retain(|e| contract.request_body.is_valid(e));
        let mut runner = TestRunner::deterministic();
        for _ in 0..SAMPLE {
            let Ok(tree) = gen.strategy.new_tree(&mut runner) else {
                return Err(walker.error("", "the generator rejects too many values: the schema is too narrow here"));
            };
            let value = tree.current();
            if let Some(e) = contract.request_body.errors(&value).into_iter().next() {
                if case.extra_field && e.message.contains(EXTRA_FIELD) {
                    return Err(SetupError::Argument(format!(
                        "`extra_field` adds `{EXTRA_FIELD}`, which the schema refuses (`{}` at `{}`): drop it, or make the case a negative one",
                        e.keyword,
                        if e.instance_path.is_empty() { "/" } else { &e.instance_path }
                    )));
                }
                let under = case.overrides.keys().find(|p| e.instance_path.starts_with(p.as_str()));
                return Err(match under {
                    Some(p) => SetupError::Argument(format!(
                        "the override of `{p}` makes {} at `{}`, which `{}` of the schema refuses: {}",
                        crate::checks::cut(&value.pointer(&e.instance_path).unwrap_or(&value).to_string(), 60),
                        e.instance_path,
                        e.keyword,
                        e.message
                    )),
                    None => walker.error(
                        &e.instance_path,
                        format!("the generator cannot honour `{}` here (it made {})", e.keyword, e.message),
                    ),
                });
            }
        }
    }
    Ok(gen)
}

/// Draws one value deterministically (for boundary values of places without edges of their own).
pub(crate) fn sample(strategy: &BoxedStrategy<Value>, n: usize) -> Vec<Value> {
    let mut runner = TestRunner::deterministic();
    (0..n).filter_map(|_| strategy.new_tree(&mut runner).ok().map(|t| t.current())).collect()
}

/// Compiles the schema at one place, with the root's `$defs` so local references resolve.
pub(crate) fn compile_at(root: &Value, sub: &Value) -> Option<jsonschema::Validator> {
    let mut s = sub.clone();
    if let Value::Object(o) = &mut s {
        for defs in ["$defs", "definitions"] {
            if let Some(d) = root.get(defs) {
                o.entry(defs).or_insert_with(|| d.clone());
            }
        }
    }
    jsonschema::options().with_draft(jsonschema::Draft::Draft202012).should_validate_formats(true).build(&s).ok()
}

pub(crate) struct Walker<'a> {
    pub root: &'a Value,
    pub file: &'a str,
    case: Option<&'a Property>,
    fixtures: &'a [String],
    /// Every optional property present and every array non-empty where allowed: the bases that
    /// negative rules break, so each place of the schema is there to be broken.
    full: bool,
}

/// One place of the schema with `$ref` and `allOf` folded in.
pub(crate) type Merged = Map<String, Value>;

impl<'a> Walker<'a> {
    pub(crate) fn new(
        contract: &'a Contract,
        case: Option<&'a Property>,
        fixtures: &'a [String],
        full: bool,
    ) -> Walker<'a> {
        Walker { root: &contract.request_body.json, file: &contract.request_body.file, case, fixtures, full }
    }

    pub(crate) fn error(&self, at: &str, reason: impl Into<String>) -> SetupError {
        SetupError::Contract {
            file: self.file.to_string(),
            reason: format!("at `{}`: {}", if at.is_empty() { "/" } else { at }, reason.into()),
        }
    }

    /// Follows `$ref` and folds `allOf` into one set of keywords; a conflict it cannot fold (two
    /// different patterns, say) is an error naming the place.
    pub(crate) fn merged(&self, schema: &Value, spath: &str) -> Result<Merged, SetupError> {
        self.merged_depth(schema, spath, 0)
    }

    fn merged_depth(&self, schema: &Value, spath: &str, depth: usize) -> Result<Merged, SetupError> {
        if depth > 32 {
            return Err(self.error(spath, "`$ref` or `allOf` nest more than 32 deep (a cycle?)"));
        }
        let obj = match schema {
            Value::Object(o) => o.clone(),
            Value::Bool(true) => Map::new(),
            Value::Bool(false) => return Err(self.error(spath, "the schema `false` allows no value here")),
            _ => return Err(self.error(spath, "a schema here must be an object")),
        };
        for key in obj.keys() {
            if !ANNOTATIONS.contains(&key.as_str()) && !SUPPORTED.contains(&key.as_str()) {
                return Err(self.error(spath, format!("the generator does not support the keyword `{key}`")));
            }
        }
        let mut out = Map::new();
        for (k, v) in &obj {
            if k != "$ref" && k != "allOf" && !ANNOTATIONS.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
        let mut parts: Vec<(Value, String)> = Vec::new();
        if let Some(r) = obj.get("$ref") {
            let r = r.as_str().unwrap_or_default();
            let target = r
                .strip_prefix('#')
                .and_then(|p| self.root.pointer(p))
                .ok_or_else(|| self.error(spath, format!("`$ref` `{r}` is not a reference inside this file")))?;
            parts.push((target.clone(), format!("{spath}/$ref")));
        }
        if let Some(all) = obj.get("allOf") {
            let all = all.as_array().ok_or_else(|| self.error(spath, "`allOf` must be a list of schemas"))?;
            for (i, s) in all.iter().enumerate() {
                parts.push((s.clone(), format!("{spath}/allOf/{i}")));
            }
        }
        for (part, at) in parts {
            let m = self.merged_depth(&part, &at, depth + 1)?;
            for (k, v) in m {
                self.fold(&mut out, k, v, spath)?;
            }
        }
        Ok(out)
    }

    fn fold(&self, out: &mut Merged, key: String, value: Value, spath: &str) -> Result<(), SetupError> {
        let Some(old) = out.get(&key).cloned() else {
            out.insert(key, value);
            return Ok(());
        };
        if old == value {
            return Ok(());
        }
        let num = |v: &Value| v.as_f64().unwrap_or(0.0);
        let merged = match key.as_str() {
            "minimum" | "exclusiveMinimum" | "minLength" | "minItems" => {
                if num(&old) >= num(&value) {
                    old
                } else {
                    value
                }
            }
            "maximum" | "exclusiveMaximum" | "maxLength" | "maxItems" => {
                if num(&old) <= num(&value) {
                    old
                } else {
                    value
                }
            }
            "required" => {
                let mut all: Vec<Value> = old.as_array().cloned().unwrap_or_default();
                for v in value.as_array().cloned().unwrap_or_default() {
                    if !all.contains(&v) {
                        all.push(v);
                    }
                }
                Value::Array(all)
            }
            "enum" => {
                let other = value.as_array().cloned().unwrap_or_default();
                let kept: Vec<Value> =
                    old.as_array().cloned().unwrap_or_default().into_iter().filter(|v| other.contains(v)).collect();
                Value::Array(kept)
            }
            "type" => {
                let list = |v: &Value| -> Vec<Value> {
                    match v {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    }
                };
                let other = list(&value);
                Value::Array(list(&old).into_iter().filter(|t| other.contains(t)).collect())
            }
            "properties" | "patternProperties" | "dependentRequired" => {
                let mut m = old.as_object().cloned().unwrap_or_default();
                for (k, v) in value.as_object().cloned().unwrap_or_default() {
                    let both = match m.remove(&k) {
                        Some(prev) if key == "dependentRequired" => {
                            let mut all = prev.as_array().cloned().unwrap_or_default();
                            all.extend(v.as_array().cloned().unwrap_or_default());
                            Value::Array(all)
                        }
                        Some(prev) => serde_json::json!({ "allOf": [prev, v] }),
                        None => v,
                    };
                    m.insert(k, both);
                }
                Value::Object(m)
            }
            "items" | "contains" | "additionalProperties" | "not" => serde_json::json!({ "allOf": [old, value] }),
            "uniqueItems" => Value::Bool(old.as_bool().unwrap_or(false) || value.as_bool().unwrap_or(false)),
            _ => {
                return Err(self.error(
                    spath,
                    format!("`allOf` gives `{key}` two different values here, which the generator cannot combine"),
                ))
            }
        };
        out.insert(key, merged);
        Ok(())
    }

    fn override_of(&self, bpath: &str) -> Option<&'a Override> {
        self.case.and_then(|c| c.overrides.get(bpath))
    }

    fn rejecting(&self) -> bool {
        self.case.is_some_and(|c| c.expect == Expectation::Rejected)
    }

    /// `schema` at `spath` in the schema file generates the value at `bpath` in the body.
    pub(crate) fn node(&self, schema: &Value, spath: &str, bpath: &str) -> Result<Gen, SetupError> {
        let m = self.merged(schema, spath)?;
        let validator = compile_at(self.root, &Value::Object(m.clone()));
        match self.override_of(bpath) {
            Some(Override::OneOf(values)) => {
                if !self.rejecting() {
                    if let Some(v) = &validator {
                        if let Some(bad) = values.iter().find(|x| !v.is_valid(x)) {
                            return Err(SetupError::Argument(format!(
                                "the override of `{bpath}` lists {bad}, which the schema at `{spath}` refuses"
                            )));
                        }
                    }
                }
                return Ok(Gen { strategy: prop::sample::select(values.clone()).boxed(), edges: values.clone() });
            }
            Some(Override::Ids(spec)) => return self.ids(&m, spec, spath, bpath),
            Some(Override::Omit) | None => {}
        }
        let mut gen = self.shape(&m, spath, bpath)?;
        // Keywords that only a validator can honour: keep the values of this place it accepts.
        if m.contains_key("oneOf") || m.contains_key("not") {
            let v = validator.ok_or_else(|| self.error(spath, "this place does not compile on its own"))?;
            let v = std::sync::Arc::new(v);
            gen.edges.retain(|e| v.is_valid(e));
            let keep = v.clone();
            gen.strategy = gen.strategy.prop_filter("outside `oneOf`/`not`", move |x| keep.is_valid(x)).boxed();
        }
        gen.edges.truncate(MAX_EDGES);
        Ok(gen)
    }

    /// The value of one place, before `oneOf`/`not` are applied.
    fn shape(&self, m: &Merged, spath: &str, bpath: &str) -> Result<Gen, SetupError> {
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = m.get(key) {
                let branches =
                    branches.as_array().ok_or_else(|| self.error(spath, format!("`{key}` must be a list")))?;
                let mut rest = m.clone();
                rest.remove("anyOf");
                rest.remove("oneOf");
                rest.remove("not");
                let mut gens = Vec::new();
                let mut edges = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    let at = format!("{spath}/{key}/{i}");
                    let both = serde_json::json!({ "allOf": [Value::Object(rest.clone()), b] });
                    let g = self.node_merged(&self.merged(&both, &at)?, &at, bpath)?;
                    edges.extend(g.edges);
                    gens.push(g.strategy);
                }
                if gens.is_empty() {
                    return Err(self.error(spath, format!("`{key}` lists no schema")));
                }
                return Ok(Gen { strategy: proptest::strategy::Union::new(gens).boxed(), edges });
            }
        }
        self.node_merged(m, spath, bpath)
    }

    fn node_merged(&self, m: &Merged, spath: &str, bpath: &str) -> Result<Gen, SetupError> {
        if m.contains_key("anyOf") || m.contains_key("oneOf") {
            return self.shape(m, spath, bpath);
        }
        let validator = compile_at(self.root, &Value::Object(m.clone()));
        let valid = |v: &Value| validator.as_ref().is_none_or(|c| c.is_valid(v));
        if let Some(c) = m.get("const") {
            return Ok(Gen { strategy: Just(c.clone()).boxed(), edges: vec![c.clone()] });
        }
        if let Some(values) = m.get("enum") {
            let values: Vec<Value> = values
                .as_array()
                .ok_or_else(|| self.error(spath, "`enum` must be a list"))?
                .iter()
                .filter(|v| valid(v))
                .cloned()
                .collect();
            if values.is_empty() {
                return Err(self.error(spath, "no value of `enum` meets the other keywords here"));
            }
            return Ok(Gen { strategy: prop::sample::select(values.clone()).boxed(), edges: values });
        }
        let types: Vec<String> = match m.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(_) => return Err(self.error(spath, "`type` must be a name or a list of names")),
            None => vec![infer_type(m)
                .ok_or_else(|| self.error(spath, "no `type`, `enum` or `const`: nothing says what to generate"))?
                .to_string()],
        };
        if types.is_empty() {
            return Err(self.error(spath, "no type is left after `allOf`"));
        }
        let mut gens = Vec::new();
        let mut edges = Vec::new();
        for t in &types {
            let g = self.typed(t, m, spath, bpath)?;
            edges.extend(g.edges.into_iter().filter(|e| valid(e)));
            gens.push(g.strategy);
        }
        let strategy = if gens.len() == 1 { gens.remove(0) } else { proptest::strategy::Union::new(gens).boxed() };
        Ok(Gen { strategy, edges })
    }

    fn typed(&self, t: &str, m: &Merged, spath: &str, bpath: &str) -> Result<Gen, SetupError> {
        match t {
            "object" => self.object(m, spath, bpath),
            "array" => self.array(m, spath, bpath),
            "string" => self.string(m, spath),
            "integer" | "number" => self.number(t == "integer", m, spath),
            "boolean" => Ok(Gen {
                strategy: any::<bool>().prop_map(Value::Bool).boxed(),
                edges: vec![false.into(), true.into()],
            }),
            "null" => Ok(Gen { strategy: Just(Value::Null).boxed(), edges: vec![Value::Null] }),
            other => Err(self.error(spath, format!("the generator does not support `type: {other}`"))),
        }
    }

    fn string(&self, m: &Merged, spath: &str) -> Result<Gen, SetupError> {
        let uint = |k: &str| m.get(k).and_then(Value::as_u64).map(|n| n as usize);
        let min = uint("minLength").unwrap_or(0);
        let max = uint("maxLength").unwrap_or(min.max(16) + 16);
        if min > max {
            return Err(self.error(spath, "`minLength` is above `maxLength`"));
        }
        let base: BoxedStrategy<String> = if let Some(f) = m.get("format").and_then(Value::as_str) {
            format_strategy(f).ok_or_else(|| {
                self.error(spath, format!("the generator knows no format `{f}` (it knows {})", FORMATS.join(", ")))
            })?
        } else if let Some(p) = m.get("pattern").and_then(Value::as_str) {
            regex_strategy(p).map_err(|e| self.error(spath, format!("cannot generate from `pattern` {p:?}: {e}")))?
        } else {
            // Printable ASCII mostly, with letters of other scripts: a server must take any string.
            let ch =
                prop_oneof![8 => prop::char::range(' ', '~'), 1 => prop::sample::select(vec!['é', 'ж', '中', 'ا'])];
            return Ok(Gen {
                strategy: prop::collection::vec(ch, min..=max)
                    .prop_map(|cs| Value::String(cs.into_iter().collect()))
                    .boxed(),
                edges: [min, min + 1, max]
                    .into_iter()
                    .filter(|n| *n <= max)
                    .map(|n| Value::String("a".repeat(n)))
                    .collect(),
            });
        };
        // A format or pattern with length bounds: bring the length into range by cutting or
        // repeating the last character, and keep whichever candidate the place accepts.
        let validator = compile_at(self.root, &Value::Object(m.clone())).map(std::sync::Arc::new);
        let fit = move |s: String| -> Value {
            let n = s.chars().count();
            let mut candidates = vec![s.clone()];
            if n > max {
                candidates.push(s.chars().take(max).collect());
            }
            if n < min {
                let last = s.chars().last().unwrap_or('a');
                candidates.push(format!("{s}{}", last.to_string().repeat(min - n)));
            }
            let ok = |c: &String| validator.as_ref().is_none_or(|v| v.is_valid(&Value::String(c.clone())));
            Value::String(candidates.iter().find(|c| ok(c)).cloned().unwrap_or(s))
        };
        let strategy = base.prop_map(fit).boxed();
        let edges = sample(&strategy, 3);
        Ok(Gen { strategy, edges })
    }

    fn number(&self, integer: bool, m: &Merged, spath: &str) -> Result<Gen, SetupError> {
        let f = |k: &str| m.get(k).and_then(Value::as_f64);
        let step = f("multipleOf");
        // The tightest bound on each side, inclusive; 2000 wide where a side is open.
        let above = |x: f64| if integer { x.floor() + 1.0 } else { x + (x.abs() * 1e-9).max(1e-6) };
        let below = |x: f64| if integer { x.ceil() - 1.0 } else { x - (x.abs() * 1e-9).max(1e-6) };
        let low = [f("minimum"), f("exclusiveMinimum").map(above)].into_iter().flatten().reduce(f64::max);
        let high = [f("maximum"), f("exclusiveMaximum").map(below)].into_iter().flatten().reduce(f64::min);
        let (mut lo, mut hi) = match (low, high) {
            (Some(l), Some(h)) => (l, h),
            (Some(l), None) => (l, l + 2000.0),
            (None, Some(h)) => (h - 2000.0, h),
            (None, None) => (-1000.0, 1000.0),
        };
        if integer {
            lo = lo.ceil();
            hi = hi.floor();
        }
        if lo > hi {
            return Err(self.error(spath, "the bounds leave no number here"));
        }
        if let Some(step) = step {
            if step <= 0.0 {
                return Err(self.error(spath, "`multipleOf` must be above 0"));
            }
            let (k_lo, k_hi) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
            if k_lo > k_hi {
                return Err(self.error(spath, "no multiple of `multipleOf` lies within the bounds"));
            }
            let make = move |k: i64| -> Value {
                let x = k as f64 * step;
                if integer || (x.fract() == 0.0 && step.fract() == 0.0) {
                    Value::from(x as i64)
                } else {
                    Value::from(x)
                }
            };
            let edges = [k_lo, k_lo + 1, k_hi].into_iter().filter(|k| *k <= k_hi).map(make).collect();
            return Ok(Gen { strategy: (k_lo..=k_hi).prop_map(make).boxed(), edges });
        }
        if integer {
            let (a, b) = (lo as i64, hi as i64);
            let mut edges: Vec<Value> = vec![a.into(), b.into()];
            if a < 0 && b > 0 {
                edges.push(0.into());
            }
            return Ok(Gen { strategy: (a..=b).prop_map(Value::from).boxed(), edges });
        }
        let edges = vec![Value::from(lo), Value::from(hi)];
        Ok(Gen { strategy: (lo..=hi).prop_map(Value::from).boxed(), edges })
    }

    fn array(&self, m: &Merged, spath: &str, bpath: &str) -> Result<Gen, SetupError> {
        let uint = |k: &str| m.get(k).and_then(Value::as_u64).map(|n| n as usize);
        let prefix: Vec<Gen> = match m.get("prefixItems") {
            None => vec![],
            Some(Value::Array(ps)) => ps
                .iter()
                .enumerate()
                .map(|(i, s)| self.node(s, &format!("{spath}/prefixItems/{i}"), &format!("{bpath}/{i}")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(self.error(spath, "`prefixItems` must be a list of schemas")),
        };
        let items = match m.get("items") {
            Some(Value::Bool(false)) => None,
            Some(s) => Some(self.node(s, &format!("{spath}/items"), &format!("{bpath}/*"))?),
            None if prefix.is_empty() => {
                Some(Gen { strategy: "[a-z]{0,8}".prop_map(Value::String).boxed(), edges: vec![Value::from("")] })
            }
            None => None,
        };
        let mut min = uint("minItems").unwrap_or(0);
        let mut max = uint("maxItems").unwrap_or(min.max(prefix.len()) + 8);
        if items.is_none() {
            max = max.min(prefix.len());
        }
        if self.full {
            min = min.max(1).min(max);
        }
        if min > max {
            return Err(self.error(spath, "`minItems` is above `maxItems` (or above what `prefixItems` allows)"));
        }
        let unique = m.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false);
        let contains = match m.get("contains") {
            None => None,
            Some(c) => {
                // What `contains` finds must still pass `items`.
                let both = match m.get("items") {
                    Some(i) => serde_json::json!({ "allOf": [i, c] }),
                    None => c.clone(),
                };
                Some(self.node(&both, &format!("{spath}/contains"), &format!("{bpath}/*"))?)
            }
        };
        if contains.is_some() && max == 0 {
            return Err(self.error(spath, "`contains` needs an item, and `maxItems` allows none"));
        }
        let prefix_n = prefix.len();
        let prefix_edges: Vec<Vec<Value>> = prefix.iter().map(|g| g.edges.clone()).collect();
        let item_edges = items.as_ref().map(|g| g.edges.clone()).unwrap_or_default();
        let prefix_s: Vec<BoxedStrategy<Value>> = prefix.into_iter().map(|g| g.strategy).collect();
        let rest_s = items.map(|g| g.strategy).unwrap_or_else(|| Just(Value::Null).boxed());
        let rest_min = min.saturating_sub(prefix_n);
        let rest_max = max.saturating_sub(prefix_n);
        let contains_s = contains.as_ref().map(|g| g.strategy.clone()).unwrap_or_else(|| Just(Value::Null).boxed());
        let has_contains = contains.is_some();
        let strategy =
            (prefix_s, prop::collection::vec(rest_s, rest_min..=rest_max), contains_s, any::<prop::sample::Index>())
                .prop_map(move |(p, rest, c, at)| {
                    let mut all: Vec<Value> = p.into_iter().take(max).collect();
                    all.extend(rest);
                    if unique {
                        let mut seen = std::collections::BTreeSet::new();
                        all.retain(|v| seen.insert(v.to_string()));
                    }
                    if has_contains {
                        let i = at.index(all.len().min(max - 1) + 1).max(prefix_n.min(all.len()));
                        let i = i.min(all.len());
                        if all.len() >= max {
                            all.truncate(max - 1);
                        }
                        if !(unique && all.contains(&c)) {
                            all.insert(i.min(all.len()), c);
                        }
                    }
                    Value::Array(all)
                })
                .boxed();
        // Boundary lengths: the fewest, one more, and the most, with the items' own edges.
        let mut edges = Vec::new();
        let fill = |n: usize, shift: usize| -> Option<Value> {
            let mut out = Vec::new();
            for i in 0..n {
                let pool = if i < prefix_n { prefix_edges[i].clone() } else { item_edges.clone() };
                if pool.is_empty() {
                    return None;
                }
                out.push(pool[(i + shift) % pool.len()].clone());
            }
            if let Some(c) = contains.as_ref().and_then(|c| c.edges.first()) {
                if out.len() >= max {
                    out.pop();
                }
                out.push(c.clone());
            }
            Some(Value::Array(out))
        };
        let mut lengths = vec![min, min + 1, max];
        lengths.dedup();
        for (shift, n) in lengths.into_iter().filter(|n| *n <= max).enumerate() {
            edges.extend(fill(n, shift));
        }
        if !unique {
            edges.extend(sample(&strategy, 1));
        }
        Ok(Gen { strategy, edges })
    }

    fn object(&self, m: &Merged, spath: &str, bpath: &str) -> Result<Gen, SetupError> {
        let required: Vec<String> = m
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let depends: Vec<(String, Vec<String>)> = m
            .get("dependentRequired")
            .and_then(Value::as_object)
            .map(|d| {
                d.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let props = m.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut names = Vec::new();
        let mut values = Vec::new();
        let mut edges: Vec<Vec<Value>> = Vec::new();
        let mut must = Vec::new();
        for (name, sub) in &props {
            let sub_b = format!("{bpath}/{name}");
            if matches!(self.override_of(&sub_b), Some(Override::Omit)) {
                if required.contains(name) && !self.rejecting() {
                    return Err(SetupError::Argument(format!(
                        "the override omits `{sub_b}`, which the schema requires"
                    )));
                }
                continue;
            }
            let g = self.node(sub, &format!("{spath}/properties/{name}"), &sub_b)?;
            let mut e = g.edges;
            if e.is_empty() {
                e = sample(&g.strategy, 1);
            }
            names.push(name.clone());
            values.push(g.strategy);
            edges.push(e);
            must.push(self.full || required.contains(name));
        }
        for r in &required {
            if !props.contains_key(r) && !self.rejecting() {
                return Err(self.error(spath, format!("`required` names `{r}`, which `properties` does not describe")));
            }
        }
        // patternProperties: one optional field whose name the pattern makes.
        let mut extra: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
        if let Some(pp) = m.get("patternProperties").and_then(Value::as_object) {
            for (pattern, sub) in pp {
                let at = format!("{spath}/patternProperties/{}", pattern.replace('~', "~0").replace('/', "~1"));
                let key = regex_strategy(pattern).map_err(|e| self.error(&at, format!("cannot make a name: {e}")))?;
                let value = self.node(sub, &at, &format!("{bpath}/*"))?.strategy;
                let known: Vec<String> = props.keys().cloned().collect();
                extra.push(
                    prop::option::of((key, value)).prop_map(move |kv| kv.filter(|(k, _)| !known.contains(k))).boxed(),
                );
            }
        }
        if let Some(ap) = m.get("additionalProperties").filter(|a| a.is_object()) {
            let value = self.node(ap, &format!("{spath}/additionalProperties"), &format!("{bpath}/*"))?.strategy;
            let patterns: Vec<String> = m
                .get("patternProperties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            // A name no pattern matches is hard to promise; add extras only where none are given.
            if patterns.is_empty() {
                extra.push(prop::option::of(value.prop_map(|v| ("x_extra".to_string(), v))).boxed());
            }
        }
        let names2 = names.clone();
        let must2 = must.clone();
        let depends2 = depends.clone();
        let strategy = (values, prop::collection::vec(any::<bool>(), names.len()), extra)
            .prop_map(move |(vals, present, extra)| {
                let mut on: Vec<bool> = must2.iter().zip(&present).map(|(m, p)| *m || *p).collect();
                close_dependencies(&names2, &mut on, &depends2);
                let mut o: Map<String, Value> =
                    names2.iter().zip(vals).zip(&on).filter(|(_, on)| **on).map(|((n, v), _)| (n.clone(), v)).collect();
                for (k, v) in extra.into_iter().flatten() {
                    o.entry(k).or_insert(v);
                }
                Value::Object(o)
            })
            .boxed();
        // Boundary objects: edge i of every field; optional fields in on even rounds, out on odd.
        let rounds = edges.iter().map(Vec::len).max().unwrap_or(0).max(2);
        let mut out = Vec::new();
        for i in 0..rounds {
            let mut on: Vec<bool> = must.iter().map(|m| *m || i % 2 == 0).collect();
            close_dependencies(&names, &mut on, &depends);
            let o: Map<String, Value> = names
                .iter()
                .zip(&edges)
                .zip(&on)
                .filter(|(_, on)| **on)
                .map(|((n, e), _)| (n.clone(), e[i % e.len()].clone()))
                .collect();
            out.push(Value::Object(o));
        }
        Ok(Gen { strategy, edges: out })
    }

    /// An `ids` override: the case's kinds of id, within what the schema allows at this place
    /// (its size bounds, and each id checked against the items' schema).
    fn ids(&self, m: &Merged, spec: &crate::cases::IdsSpec, spath: &str, bpath: &str) -> Result<Gen, SetupError> {
        let mut spec = spec.clone();
        let min_items = m.get("minItems").and_then(Value::as_u64).map(|n| n as usize);
        let max_items = m.get("maxItems").and_then(Value::as_u64).map(|n| n as usize);
        if !self.rejecting() {
            spec.min = spec.min.max(min_items.unwrap_or(0));
            spec.max = spec.max.min(max_items.unwrap_or(usize::MAX));
            if spec.min > spec.max {
                return Err(SetupError::Argument(format!(
                    "the `ids` override of `{bpath}` asks for {}..={} ids and the schema at `{spath}` allows {}..={}",
                    spec.min,
                    spec.max,
                    min_items.unwrap_or(0),
                    max_items.map(|n| n.to_string()).unwrap_or("any".into())
                )));
            }
            if m.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
                spec.repeat_percent = 0;
            }
        }
        let item_schema = m.get("items").cloned().unwrap_or(Value::Bool(true));
        let item = self.merged(&item_schema, &format!("{spath}/items"))?;
        let plain =
            item.keys().all(|k| k == "type") && item.get("type").and_then(Value::as_str).is_none_or(|t| t == "string");
        let fallback = if plain || self.rejecting() {
            None
        } else {
            let g = self.node(&item_schema, &format!("{spath}/items"), &format!("{bpath}/*"))?;
            Some((g.strategy, compile_at(self.root, &item_schema).map(std::sync::Arc::new)))
        };
        let mut strategy = super::ids::ids_strategy_fitted(&spec, self.fixtures, fallback.clone());
        if m.get("uniqueItems").and_then(Value::as_bool) == Some(true) && !self.rejecting() {
            // A fixture may be drawn twice: drop repeats, and top up with made-up ids.
            let top_up = crate::cases::IdsSpec::made_up(spec.min, spec.min);
            let extra = super::ids::ids_strategy_fitted(&top_up, &[], fallback.clone());
            let min = spec.min;
            strategy = (strategy, extra)
                .prop_map(move |(ids, extra)| {
                    let mut seen = std::collections::BTreeSet::new();
                    let mut out: Vec<Value> = Vec::new();
                    let pool = ids.as_array().cloned().unwrap_or_default();
                    for id in pool.into_iter().chain(extra.as_array().cloned().unwrap_or_default()) {
                        if out.len() >= min.max(ids.as_array().map_or(0, Vec::len)) {
                            break;
                        }
                        if seen.insert(id.to_string()) {
                            out.push(id);
                        }
                    }
                    Value::Array(out)
                })
                .boxed();
        }
        let edges = super::ids::edges(&spec, fallback);
        Ok(Gen { strategy, edges })
    }
}

fn close_dependencies(names: &[String], on: &mut [bool], depends: &[(String, Vec<String>)]) {
    // Repeat until nothing changes: a dependency may itself have dependencies.
    loop {
        let mut changed = false;
        for (field, needs) in depends {
            let Some(i) = names.iter().position(|n| n == field) else { continue };
            if !on[i] {
                continue;
            }
            for need in needs {
                if let Some(j) = names.iter().position(|n| n == need) {
                    if !on[j] {
                        on[j] = true;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// The type a schema without `type` implies by its keywords.
fn infer_type(m: &Merged) -> Option<&'static str> {
    let has = |ks: &[&str]| ks.iter().any(|k| m.contains_key(*k));
    if has(&["properties", "required", "additionalProperties", "patternProperties", "dependentRequired"]) {
        Some("object")
    } else if has(&["items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"]) {
        Some("array")
    } else if has(&["minLength", "maxLength", "pattern", "format"]) {
        Some("string")
    } else if has(&["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]) {
        Some("number")
    } else {
        None
    }
}

/// Strings that match `pattern` (a JSON Schema pattern is unanchored; leading `^` and trailing
/// `$` are dropped, since a whole match also matches anywhere).
pub(crate) fn regex_strategy(pattern: &str) -> Result<BoxedStrategy<String>, String> {
    let mut p = pattern;
    p = p.strip_prefix('^').unwrap_or(p);
    if p.ends_with('$') && !p.ends_with("\\$") {
        p = &p[..p.len() - 1];
    }
    proptest::string::string_regex(p).map(|s| s.boxed()).map_err(|e| e.to_string())
}

fn format_strategy(format: &str) -> Option<BoxedStrategy<String>> {
    let re = |r: &str| proptest::string::string_regex(r).expect("a fixed regex").boxed();
    Some(match format {
        "date-time" => re("(19[7-9][0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?(Z|[+-]0[0-9]:00)"),
        "date" => re("(19[7-9][0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"),
        "time" => re("([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|[+-]0[0-9]:00)"),
        "uuid" => re("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
        "email" => re("[a-z][a-z0-9]{0,8}(\\.[a-z0-9]{1,4})?@[a-z]{1,10}\\.(com|org|example)"),
        "uri" => re("https://[a-z]{1,10}\\.example(/[a-z0-9]{1,8}){0,3}"),
        "ipv4" => re("(1?[0-9]{1,2}|2[0-4][0-9]|25[0-5])(\\.(1?[0-9]{1,2}|2[0-4][0-9]|25[0-5])){3}"),
        "hostname" => re("[a-z]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,10}[a-z0-9])?){0,3}"),
        _ => return None,
    })
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
    fn edges_are_valid_and_hold_every_enum_value() {
        let contract = Contract::bundled().unwrap();
        let edges = body_edges(&contract, &property(BTreeMap::new()), &[]).unwrap();
        let actions: std::collections::BTreeSet<&str> = edges.iter().filter_map(|e| e["action"].as_str()).collect();
        assert_eq!(actions.len(), 7, "{edges:?}");
        assert!(edges.iter().any(|e| e["asset_ids"] == serde_json::json!([])));
        assert!(edges.iter().all(|e| contract.request_body.is_valid(e)));
    }

    #[test]
    fn unsupported_keywords_are_errors() {
        let (dir, path) = crate::generate::tests::schema_copy();
        let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        schema["properties"]["params"]["propertyNames"] = serde_json::json!({"pattern": "^a"});
        std::fs::write(&path, schema.to_string()).unwrap();
        let contract = Contract::load(dir.path()).unwrap();
        let e = body_strategy(&contract, &property(BTreeMap::new()), &[]).unwrap_err().to_string();
        assert!(e.contains("`propertyNames`") && e.contains("/properties/params"), "{e}");
    }

    /// Every keyword of the list, on a schema that uses them all, gives valid values.
    #[test]
    fn every_keyword_generates_valid_values() {
        let (dir, path) = crate::generate::tests::schema_copy();
        let schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["action", "asset_ids"],
            "additionalProperties": false,
            "patternProperties": { "^x_[a-z]{2}$": { "type": ["integer", "null"] } },
            "dependentRequired": { "params": ["when"] },
            "$defs": { "id": { "type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 3, "maxLength": 64 } },
            "properties": {
                "action": { "enum": ["DELETE", "ACTIVE"] },
                "asset_ids": { "type": "array", "items": { "$ref": "#/$defs/id" }, "minItems": 1, "maxItems": 50, "uniqueItems": true },
                "params": { "type": "string", "format": "uri" },
                "when": { "type": "string", "format": "date-time" },
                "who": { "type": "string", "format": "email" },
                "uid": { "type": "string", "format": "uuid" },
                "count": { "type": "integer", "minimum": 1, "exclusiveMaximum": 100, "multipleOf": 3 },
                "ratio": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
                "big": { "type": "integer", "exclusiveMinimum": 5000 },
                "neg": { "type": "number", "maximum": -5000.5 },
                "pair": { "type": "array", "prefixItems": [{ "const": "a" }, { "type": "boolean" }], "items": false },
                "tags": { "type": "array", "items": { "type": "string", "maxLength": 4 }, "contains": { "const": "t" }, "maxItems": 3 },
                "mode": { "oneOf": [{ "type": "string", "enum": ["x", "y"] }, { "type": "integer", "minimum": 0 }] },
                "alt": { "anyOf": [{ "type": "null" }, { "type": "string", "minLength": 2 }] },
                "both": { "allOf": [{ "type": "string", "minLength": 2 }, { "maxLength": 5 }], "not": { "const": "ab" } }
            }
        });
        std::fs::write(&path, schema.to_string()).unwrap();
        let contract = Contract::load(dir.path()).unwrap();
        let s = body_strategy(&contract, &property(BTreeMap::new()), &[]).unwrap();
        let mut runner = TestRunner::deterministic();
        for _ in 0..300 {
            let v = s.new_tree(&mut runner).unwrap().current();
            assert!(contract.request_body.is_valid(&v), "{v}: {:?}", contract.request_body.errors(&v));
        }
        for e in body_edges(&contract, &property(BTreeMap::new()), &[]).unwrap() {
            assert!(contract.request_body.is_valid(&e), "{e}");
        }
    }
}
