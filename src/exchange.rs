//! One request and the response it got: what every check judges, whether it was recorded by
//! another tool, sent by the runner, or answered by the reference server.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Header list that keeps order and repeats, looked up without regard to case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.0.push((name, value.into()));
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The headers as one JSON object with lower-cased names (what the header schema judges).
    /// A repeated header keeps its first value.
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (n, v) in &self.0 {
            map.entry(n.to_ascii_lowercase()).or_insert_with(|| Value::String(v.clone()));
        }
        Value::Object(map)
    }
}

/// Headers as the HTTP stack holds them (reqwest and wiremock share this type). Values are taken
/// as bytes, never `to_str()`: a header may carry UTF-8 on purpose (Chinese characters in
/// `X-App-UserId` must be seen to be refused).
impl From<&reqwest::header::HeaderMap> for Headers {
    fn from(map: &reqwest::header::HeaderMap) -> Self {
        Headers(
            map.iter()
                .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
        )
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Headers {
    fn from(pairs: [(&str, &str); N]) -> Self {
        Headers(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    /// Absolute URL, or a path with an optional query when the host is unknown.
    pub url: String,
    pub headers: Headers,
    #[serde(with = "body_text")]
    pub body: Vec<u8>,
}

impl Request {
    /// The path of `url`, without query or fragment, still percent-encoded.
    pub fn path(&self) -> &str {
        let rest = match self.url.find("://") {
            Some(i) => {
                let after = &self.url[i + 3..];
                after.find('/').map(|j| &after[j..]).unwrap_or("/")
            }
            None => self.url.as_str(),
        };
        let end = rest.find(['?', '#']).unwrap_or(rest.len());
        &rest[..end]
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    /// `None` when the recording did not keep the headers (the published page prints bodies
    /// only): header checks then have nothing to judge and stay silent.
    pub headers: Option<Headers>,
    #[serde(with = "body_text")]
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.as_ref().and_then(|h| h.get(name))
    }
}

/// What a request got back. A transport failure is an outcome too: it is judged, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    Response(Response),
    /// The connection broke, timed out or the answer was not HTTP; `reason` says which.
    Transport {
        reason: String,
        elapsed_ms: u64,
        /// Nothing at all came back: no connection, a reset or a timeout before the answer began.
        /// A target that only does this has stopped answering; the run cannot judge it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        silent: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: Request,
    pub outcome: Outcome,
    /// Time from sending to the whole answer, when measured.
    pub elapsed_ms: Option<u64>,
}

impl Exchange {
    pub fn new(request: Request, response: Response) -> Exchange {
        Exchange { request, outcome: Outcome::Response(response), elapsed_ms: None }
    }

    pub fn response(&self) -> Option<&Response> {
        match &self.outcome {
            Outcome::Response(r) => Some(r),
            Outcome::Transport { .. } => None,
        }
    }
}

/// Bodies are kept as bytes (they may not be UTF-8) and shown as text where they are.
mod body_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(body))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_of_urls() {
        let r =
            |url: &str| Request { method: "POST".into(), url: url.into(), headers: Headers::default(), body: vec![] };
        assert_eq!(r("https://h:1/v1/p/x?a=1").path(), "/v1/p/x");
        assert_eq!(r("/v1/p/x#f").path(), "/v1/p/x");
        assert_eq!(r("http://h").path(), "/");
    }

    #[test]
    fn headers_are_case_insensitive() {
        let mut h = Headers::from([("Content-Type", "application/json")]);
        assert_eq!(h.get("content-type"), Some("application/json"));
        h.insert("CONTENT-TYPE", "text/plain");
        assert_eq!(h.0.len(), 1);
        assert_eq!(h.to_json()["content-type"], "text/plain");
    }
}
