//! A request as the reference server judges it: method, raw path and query, headers as text,
//! body bytes. Built once from what wiremock hands over.

/// One received request. Header names are lower-case; values that are not UTF-8 are decoded
/// lossily (a rule about their characters still sees what the client meant to send).
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub method: String,
    /// Still percent-encoded, as the signature covers it.
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    pub(crate) fn from_wiremock(req: &wiremock::Request) -> Incoming {
        let mut headers = crate::exchange::Headers::from(&req.headers).0;
        // HTTP/2 carries the host in the request line, not as a header; the signature covers it
        // as `host` all the same.
        if !headers.iter().any(|(n, _)| n == "host") {
            if let Some(host) = req.url.host_str() {
                let host = match req.url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_string(),
                };
                headers.push(("host".to_string(), host));
            }
        }
        Incoming {
            method: req.method.as_str().to_string(),
            path: req.url.path().to_string(),
            query: req.url.query().map(str::to_string),
            headers,
            body: req.body.clone(),
        }
    }

    /// The request as a client built it, for the in-memory server: what wiremock would hand over
    /// after the bytes crossed a socket (lower-case header names, `host` from the URL).
    pub(crate) fn from_request(req: &crate::exchange::Request) -> Incoming {
        let url = url::Url::parse(&req.url).ok();
        let mut headers: Vec<(String, String)> =
            req.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect();
        if !headers.iter().any(|(n, _)| n == "host") {
            if let Some(host) = url.as_ref().and_then(|u| u.host_str().map(|h| (h.to_string(), u.port()))) {
                let host = match host.1 {
                    Some(port) => format!("{}:{port}", host.0),
                    None => host.0,
                };
                headers.push(("host".to_string(), host));
            }
        }
        Incoming {
            method: req.method.clone(),
            path: url.as_ref().map(|u| u.path().to_string()).unwrap_or_default(),
            query: url.as_ref().and_then(|u| u.query()).map(str::to_string),
            headers,
            body: req.body.clone(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
