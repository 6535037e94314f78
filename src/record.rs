//! Recorded exchanges read from files: HAR 1.2 (what browsers, proxies and Schemathesis'
//! `--report har` write) and batchconf's JSON exchange form (one request and one response, the
//! way a documentation page prints them).
//!
//! Reading is strict about the shape of a file and lenient about what it recorded: an unknown key
//! in the JSON form or a HAR entry without a URL is an error naming the file and the place, but a
//! body that is not JSON is recorded as it is, for the checks to judge.

use std::path::Path;

use crate::contract::json_kind as kind;
use serde_json::{Map, Value};

use crate::error::SetupError;
use crate::exchange::{Exchange, Headers, Outcome, Request, Response};

/// One exchange read from a file, with a label naming where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `published-example.json#1`, `session.har entry 3`: unique in one invocation.
    pub label: String,
    pub exchange: Exchange,
    /// HAR entries are recordings of everything a browser sent; only some are calls of the
    /// operation. Exchanges of the JSON form are always meant to be judged.
    pub from_har: bool,
}

/// Which of the two formats a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Har,
    Json,
}

/// Reads every exchange of a file. `name` (the path as the user gave it) is used in labels and
/// errors.
pub fn read_file(path: &Path) -> Result<(Format, Vec<Recorded>), SetupError> {
    let name = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| input(&name, format!("cannot be read: {e}")))?;
    let text = String::from_utf8(text).map_err(|e| {
        input(&name, format!("is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
    })?;
    parse(&name, &text)
}

/// Parses the text of a file: HAR when its top level has a `log` key, the JSON form otherwise.
pub fn parse(name: &str, text: &str) -> Result<(Format, Vec<Recorded>), SetupError> {
    let value: Value = serde_json::from_str(text).map_err(|e| input(name, crate::error::not_json(&e)))?;
    if value.get("log").is_some() {
        Ok((Format::Har, har::parse(name, &value)?))
    } else {
        Ok((Format::Json, json_form::parse(name, &value)?))
    }
}

fn input(file: &str, reason: impl Into<String>) -> SetupError {
    SetupError::Input { file: file.to_string(), reason: reason.into() }
}

fn at(file: &str, path: &str, reason: impl std::fmt::Display) -> SetupError {
    input(file, format!("at `{path}`: {reason}"))
}

/// Walks a JSON document with the path so far, so every error says where it is.
struct Node<'a> {
    file: &'a str,
    path: String,
    value: &'a Value,
}

impl<'a> Node<'a> {
    fn root(file: &'a str, value: &'a Value) -> Node<'a> {
        Node { file, path: String::new(), value }
    }

    fn err(&self, reason: impl std::fmt::Display) -> SetupError {
        if self.path.is_empty() {
            input(self.file, reason.to_string())
        } else {
            at(self.file, &self.path, reason)
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn object(&self) -> Result<&'a Map<String, Value>, SetupError> {
        self.value.as_object().ok_or_else(|| self.err(format!("expected an object, found {}", kind(self.value))))
    }

    fn array(&self) -> Result<&'a Vec<Value>, SetupError> {
        self.value.as_array().ok_or_else(|| self.err(format!("expected an array, found {}", kind(self.value))))
    }

    fn str(&self) -> Result<&'a str, SetupError> {
        self.value.as_str().ok_or_else(|| self.err(format!("expected a string, found {}", kind(self.value))))
    }

    fn get(&self, key: &str) -> Result<Option<Node<'a>>, SetupError> {
        Ok(self.object()?.get(key).map(|value| Node { file: self.file, path: self.child_path(key), value }))
    }

    fn need(&self, key: &str) -> Result<Node<'a>, SetupError> {
        self.get(key)?.ok_or_else(|| self.err(format!("missing field `{key}`")))
    }

    /// An optional field; `null` counts as absent (some HAR writers put `null` for "none").
    fn opt(&self, key: &str) -> Result<Option<Node<'a>>, SetupError> {
        Ok(self.get(key)?.filter(|n| !n.value.is_null()))
    }

    fn index(&self, i: usize, value: &'a Value) -> Node<'a> {
        Node { file: self.file, path: format!("{}[{i}]", self.path), value }
    }

    /// Refuses keys this format does not define (a typo would otherwise be silently ignored).
    fn only_keys(&self, allowed: &[&str]) -> Result<(), SetupError> {
        for key in self.object()?.keys() {
            if !allowed.contains(&key.as_str()) {
                let expected: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
                return Err(self.err(format!("unknown field `{key}`, expected one of {}", expected.join(", "))));
            }
        }
        Ok(())
    }
}

/// batchconf's JSON exchange form (see the README).
mod json_form {
    use super::*;

    pub fn parse(name: &str, value: &Value) -> Result<Vec<Recorded>, SetupError> {
        let root = Node::root(name, value);
        let items: Vec<Node> = match value {
            Value::Array(items) if items.is_empty() => {
                return Err(root.err("holds an empty array: no exchange to judge"))
            }
            Value::Array(items) => items.iter().enumerate().map(|(i, v)| root.index(i, v)).collect(),
            Value::Object(_) => vec![root],
            other => {
                return Err(root.err(format!("expected an exchange object or an array of them, found {}", kind(other))))
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, node)| {
                Ok(Recorded { label: format!("{name}#{}", i + 1), exchange: exchange(node)?, from_har: false })
            })
            .collect()
    }

    fn exchange(node: &Node) -> Result<Exchange, SetupError> {
        node.only_keys(&["$comment", "request", "response", "elapsed_ms"])?;
        let req = node.need("request")?;
        req.only_keys(&["method", "url", "headers", "body", "body_text"])?;
        let request = Request {
            method: req.need("method")?.str()?.to_string(),
            url: req.need("url")?.str()?.to_string(),
            headers: match req.opt("headers")? {
                Some(h) => headers(&h)?,
                None => Headers::default(),
            },
            body: body(&req)?,
        };
        let resp = node.need("response")?;
        resp.only_keys(&["status", "headers", "body", "body_text"])?;
        let status_node = resp.need("status")?;
        let status = status_node
            .value
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| {
                status_node.err(format!("expected a status code (100 to 599), found {}", status_node.value))
            })?;
        let response = Response {
            status,
            // Absent headers mean "not recorded", not "none were sent": header checks stay silent.
            headers: resp.opt("headers")?.map(|h| headers(&h)).transpose()?,
            body: body(&resp)?,
        };
        let elapsed_ms = match node.opt("elapsed_ms")? {
            Some(n) => Some(n.value.as_u64().ok_or_else(|| n.err("expected a whole number of milliseconds"))?),
            None => None,
        };
        Ok(Exchange { request, outcome: Outcome::Response(response), elapsed_ms })
    }

    /// `{"Name": "value"}`, or `{"Name": ["value", "value"]}` for a repeated header.
    fn headers(node: &Node) -> Result<Headers, SetupError> {
        let mut out = Vec::new();
        for (name, value) in node.object()? {
            let n = Node { file: node.file, path: node.child_path(name), value };
            match value {
                Value::String(v) => out.push((name.clone(), v.clone())),
                Value::Array(values) => {
                    for (i, v) in values.iter().enumerate() {
                        out.push((name.clone(), n.index(i, v).str()?.to_string()));
                    }
                }
                other => return Err(n.err(format!("expected a string or an array of strings, found {}", kind(other)))),
            }
        }
        Ok(Headers(out))
    }

    /// `body` is the JSON value sent; `body_text` the raw text, for bodies that are not JSON.
    fn body(node: &Node) -> Result<Vec<u8>, SetupError> {
        match (node.get("body")?, node.get("body_text")?) {
            (Some(_), Some(_)) => Err(node.err("has both `body` and `body_text`; give one")),
            (Some(b), None) => Ok(serde_json::to_vec(b.value).map_err(|e| b.err(e))?),
            (None, Some(t)) => Ok(t.str()?.as_bytes().to_vec()),
            (None, None) => Ok(Vec::new()),
        }
    }
}

/// HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>). Only what an exchange needs is
/// read; every other field (`pages`, `cache`, `timings`, Chrome's `_initiator`, …) is ignored.
mod har {
    use super::*;

    pub fn parse(name: &str, value: &Value) -> Result<Vec<Recorded>, SetupError> {
        let root = Node::root(name, value);
        let entries_node = root.need("log")?.need("entries")?;
        let entries = entries_node.array()?;
        if entries.is_empty() {
            return Err(entries_node.err("the HAR file has no entries: nothing to judge"));
        }
        entries
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let node = entries_node.index(i, v);
                Ok(Recorded { label: format!("{name} entry {}", i + 1), exchange: entry(&node)?, from_har: true })
            })
            .collect()
    }

    fn entry(node: &Node) -> Result<Exchange, SetupError> {
        let req = node.need("request")?;
        let mut request = Request {
            method: req.need("method")?.str()?.to_string(),
            url: req.need("url")?.str()?.to_string(),
            headers: headers(&req)?,
            body: Vec::new(),
        };
        if let Some(post) = req.opt("postData")? {
            request.body = post_data(&post)?;
        }
        let resp = node.need("response")?;
        let status_node = resp.need("status")?;
        let status = status_node
            .value
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| status_node.err(format!("expected a status code, found {}", status_node.value)))?;
        let elapsed_ms =
            node.opt("time")?.and_then(|t| t.value.as_f64()).filter(|t| *t >= 0.0).map(|t| t.round() as u64);
        // Browsers record a request that got no answer (refused, reset, blocked) with status 0.
        let outcome = if status == 0 {
            let reason = resp
                .opt("_error")?
                .and_then(|n| n.value.as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "no response was recorded (HAR status 0)".to_string());
            Outcome::Transport { reason, elapsed_ms: elapsed_ms.unwrap_or(0), silent: false }
        } else {
            let body = match resp.opt("content")? {
                Some(content) => text(&content)?,
                None => Vec::new(),
            };
            Outcome::Response(Response { status, headers: Some(headers(&resp)?), body })
        };
        Ok(Exchange { request, outcome, elapsed_ms })
    }

    /// `headers: [{name, value}]`, without HTTP/2 pseudo-headers (`:authority`, …), which Chrome
    /// lists among them but which are not headers a contract speaks of.
    fn headers(parent: &Node) -> Result<Headers, SetupError> {
        let Some(list) = parent.opt("headers")? else { return Ok(Headers::default()) };
        let mut out = Vec::new();
        for (i, v) in list.array()?.iter().enumerate() {
            let h = list.index(i, v);
            let name = h.need("name")?.str()?;
            if name.starts_with(':') {
                continue;
            }
            out.push((name.to_string(), h.need("value")?.str()?.to_string()));
        }
        Ok(Headers(out))
    }

    /// `postData.text`, or its `params` joined as a form when a tool recorded only those.
    fn post_data(post: &Node) -> Result<Vec<u8>, SetupError> {
        if post.opt("text")?.is_some() {
            return text(post);
        }
        let Some(params) = post.opt("params")? else { return Ok(Vec::new()) };
        let mut pairs = Vec::new();
        for (i, v) in params.array()?.iter().enumerate() {
            let p = params.index(i, v);
            let name = p.need("name")?.str()?;
            let value = match p.opt("value")? {
                Some(v) => v.str()?,
                None => "",
            };
            let enc =
                |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            pairs.push(format!("{}={}", enc(name), enc(value)));
        }
        Ok(pairs.join("&").into_bytes())
    }

    /// `text`, decoded when `encoding` is `base64` (how HAR writers keep binary or compressed
    /// bodies).
    fn text(node: &Node) -> Result<Vec<u8>, SetupError> {
        let Some(t) = node.opt("text")? else { return Ok(Vec::new()) };
        let text = t.str()?;
        match node.opt("encoding")? {
            None => Ok(text.as_bytes().to_vec()),
            Some(enc) => match enc.str()? {
                "" => Ok(text.as_bytes().to_vec()),
                e if e.eq_ignore_ascii_case("base64") => {
                    super::base64::decode(text).map_err(|reason| t.err(format!("is not valid base64: {reason}")))
                }
                other => Err(enc.err(format!("unknown encoding `{other}` (HAR knows only `base64`)"))),
            },
        }
    }
}

/// Base64 as HAR writers produce it: the standard or the URL-safe alphabet, with or without
/// padding, line breaks and other whitespace ignored.
mod base64 {
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;

    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

    pub fn decode(text: &str) -> Result<Vec<u8>, String> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        // The standard alphabet's error is the one reported: it is what HAR files use.
        STANDARD.decode(&compact).or_else(|e| URL_SAFE.decode(&compact).map_err(|_| e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON_FORM: &str = r#"[{"request": {"method": "POST", "url": "/v1/p/x", "headers": {"A": ["1"]}, "body": {"a": [1]}},
        "response": {"status": 200, "headers": {"B": "2"}, "body_text": "x"}, "elapsed_ms": 3}]"#;

    const HAR: &str = r#"{"log": {"version": "1.2", "pages": [], "entries": [{"time": 1.5, "_x": 1,
        "request": {"method": "POST", "url": "https://h/v1/p/digital-assets/batch-action",
          "headers": [{"name": "Content-Type", "value": "application/json"}],
          "postData": {"mimeType": "application/json", "text": "{\"action\":\"DELETE\"}"}},
        "response": {"status": 200, "headers": [{"name": "X-Request-Id", "value": "r"}],
          "content": {"mimeType": "application/json", "text": "e30=", "encoding": "base64"}}}]}}"#;

    fn one(text: &str) -> Recorded {
        let (_, mut all) = parse("f.json", text).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    fn err(text: &str) -> String {
        parse("f.json", text).unwrap_err().to_string()
    }

    #[test]
    fn json_form_with_and_without_headers() {
        let r = one(r#"{"request": {"method": "POST", "url": "https://{endpoint}/v1/digital-assets/batch-action",
                "body": {"action": "DELETE", "asset_ids": ["a"]}},
                "response": {"status": 200, "body": {"results": []}}}"#);
        assert_eq!(r.label, "f.json#1");
        assert!(!r.from_har);
        assert_eq!(r.exchange.request.body, br#"{"action":"DELETE","asset_ids":["a"]}"#);
        assert!(r.exchange.request.headers.0.is_empty());
        let resp = r.exchange.response().unwrap();
        assert_eq!(resp.headers, None, "absent headers are 'not recorded'");
        assert_eq!(resp.body, br#"{"results":[]}"#);

        let (_, all) = parse(
            "many.json",
            r#"[{"request": {"method": "POST", "url": "/x", "headers": {"A": "1", "B": ["2", "3"]}, "body_text": "{oops"},
                 "response": {"status": 400, "headers": {}, "body_text": ""}, "elapsed_ms": 12},
                {"$comment": "second", "request": {"method": "GET", "url": "/y"}, "response": {"status": 204}}]"#,
        )
        .unwrap();
        assert_eq!(all[1].label, "many.json#2");
        let x = &all[0].exchange;
        assert_eq!(x.request.headers, Headers::from([("A", "1"), ("B", "2"), ("B", "3")]));
        assert_eq!(x.request.body, b"{oops");
        assert_eq!(x.response().unwrap().headers, Some(Headers::default()));
        assert_eq!(x.elapsed_ms, Some(12));
        assert!(all[1].exchange.request.body.is_empty());
    }

    #[test]
    fn json_form_errors_name_the_place() {
        let e = err(r#"{"request": {"method": "POST", "url": "/x", "bdy": {}}, "response": {"status": 200}}"#);
        assert!(e.starts_with("`f.json`: at `request`: unknown field `bdy`"), "{e}");
        let e = err(r#"[{"request": {"method": "POST", "url": "/x"}, "response": {"status": "200"}}]"#);
        assert!(e.contains("at `[0].response.status`: expected a status code"), "{e}");
        let e = err(
            r#"{"request": {"method": "POST", "url": "/x", "body": 1, "body_text": "1"}, "response": {"status": 200}}"#,
        );
        assert!(e.contains("at `request`: has both"), "{e}");
        let e = err(r#"{"request": {"method": "POST"}, "response": {"status": 200}}"#);
        assert!(e.contains("at `request`: missing field `url`"), "{e}");
        let e =
            err(r#"{"request": {"method": "POST", "url": "/x", "headers": {"A": 1}}, "response": {"status": 200}}"#);
        assert!(e.contains("at `request.headers.A`: expected a string or an array of strings"), "{e}");
        assert!(err("[]").contains("empty array"));
        assert!(err("42").contains("expected an exchange object"));
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = err("{\n  \"request\": ,\n}");
        assert_eq!(e, "`f.json`: not JSON: expected value (line 2, column 14)");
    }

    #[test]
    fn har_entries_with_base64_and_missing_post_data() {
        let text = r#"{"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "pages": [],
            "entries": [
              {"_initiator": {"type": "script"}, "time": 12.6, "cache": {}, "timings": {"send": 1},
               "request": {"method": "POST", "url": "https://h/v1/p/digital-assets/batch-action", "httpVersion": "h2",
                 "headers": [{"name": ":authority", "value": "h"}, {"name": "Content-Type", "value": "application/json"}],
                 "postData": {"mimeType": "application/json", "text": "{\"action\":\"DELETE\"}"}},
               "response": {"status": 200, "headers": [{"name": "x-request-id", "value": "r1"}],
                 "content": {"size": 2, "mimeType": "application/json", "text": "e30=", "encoding": "base64"}}},
              {"request": {"method": "GET", "url": "https://h/other", "headers": []},
               "response": {"status": 0, "headers": [], "content": {}, "_error": "net::ERR_CONNECTION_RESET"}}
            ]}}"#;
        let (format, all) = parse("s.har", text).unwrap();
        assert_eq!(format, Format::Har);
        assert_eq!(all[0].label, "s.har entry 1");
        assert!(all[0].from_har);
        let x = &all[0].exchange;
        assert_eq!(x.request.headers, Headers::from([("Content-Type", "application/json")]));
        assert_eq!(x.request.body, br#"{"action":"DELETE"}"#);
        assert_eq!(x.response().unwrap().body, b"{}");
        assert_eq!(x.elapsed_ms, Some(13));
        let y = &all[1].exchange;
        assert!(y.request.body.is_empty());
        assert_eq!(
            y.outcome,
            Outcome::Transport { reason: "net::ERR_CONNECTION_RESET".into(), elapsed_ms: 0, silent: false }
        );
    }

    #[test]
    fn har_errors() {
        let e = parse("s.har", r#"{"log": {"entries": []}}"#).unwrap_err().to_string();
        assert_eq!(e, "`s.har`: at `log.entries`: the HAR file has no entries: nothing to judge");
        let e = parse("s.har", r#"{"log": {}}"#).unwrap_err().to_string();
        assert!(e.contains("at `log`: missing field `entries`"), "{e}");
        let e = parse("s.har", r#"{"log": {"entries": [{"request": {"method": "GET", "url": "/"}, "response": {"status": 200, "content": {"text": "!!", "encoding": "base64"}}}]}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at `log.entries[0].response.content.text`: is not valid base64"), "{e}");
    }

    #[test]
    fn base64_decodes_standard_and_url_safe_forms() {
        assert_eq!(base64::decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64::decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64::decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(base64::decode("-_8=").unwrap(), vec![0xfb, 0xff]);
        assert!(base64::decode("a").is_err());
        assert!(base64::decode("aG=Vs").is_err());
    }

    proptest::proptest! {
        /// Whatever a file holds, reading it gives exchanges or an error naming the file.
        #[test]
        fn never_panics_on_mutated_inputs(cut in 0usize..2000, byte in proptest::prelude::any::<u8>()) {
            for source in [HAR, JSON_FORM] {
                let mut bytes = source.as_bytes().to_vec();
                let at = cut % bytes.len();
                bytes[at] = byte;
                let mutated = String::from_utf8_lossy(&bytes);
                if let Err(e) = parse("m.har", &mutated) {
                    proptest::prop_assert!(e.to_string().starts_with("`m.har`"));
                }
                let _ = parse("m.har", &source[..at.min(source.len())].chars().collect::<String>());
            }
        }
    }
}
