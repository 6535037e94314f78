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

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
