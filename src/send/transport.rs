//! The transport: many requests in flight over kept-alive connections, a timeout per request, a
//! cap on the bytes read per response, an optional rate limit that slows down on 429.
//! A request never fails here: what went wrong on the wire becomes [`Outcome::Transport`], to be
//! judged like any answer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::exchange::{Exchange, Headers, Outcome, Request, Response};

#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub concurrency: usize,
    pub timeout: Duration,
    /// Bytes read of one response body at most; past that the answer is a transport failure.
    pub max_body_bytes: usize,
    /// Requests per second at most.
    pub rate: Option<f64>,
    /// How often a 429 answer is retried (after waiting) before it is given back.
    pub throttle_retries: u32,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            concurrency: 8,
            timeout: Duration::from_secs(10),
            max_body_bytes: 4 << 20,
            rate: None,
            throttle_retries: 4,
        }
    }
}

pub struct Transport {
    client: reqwest::Client,
    config: TransportConfig,
    inflight: Semaphore,
    /// The earliest time the next request may start, and the spacing between requests.
    pace: Mutex<(Instant, Duration)>,
    throttled: std::sync::atomic::AtomicU64,
    sent: std::sync::atomic::AtomicU64,
}

impl Transport {
    pub fn new(config: TransportConfig) -> Result<Transport, crate::error::SetupError> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(config.concurrency.max(1))
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .user_agent(concat!("batchconf/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::error::SetupError::Argument(format!("cannot build the HTTP client: {e}")))?;
        let spacing = config.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r)).unwrap_or_default();
        Ok(Transport {
            client,
            inflight: Semaphore::new(config.concurrency.max(1)),
            pace: Mutex::new((Instant::now(), spacing)),
            config,
            throttled: 0.into(),
            sent: 0.into(),
        })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Requests sent so far, and how many of them were answered 429.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.sent.load(Relaxed), self.throttled.load(Relaxed))
    }

    /// Waits for a rate slot (when a rate is set).
    async fn pace(&self) {
        let wait = {
            let mut pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
            let (next, spacing) = *pace;
            if spacing.is_zero() {
                return;
            }
            let now = Instant::now();
            let start = next.max(now);
            pace.0 = start + spacing;
            start - now
        };
        tokio::time::sleep(wait).await;
    }

    /// A 429 slows every later request down (and sets a rate if there was none).
    fn slow_down(&self) {
        let mut pace = self.pace.lock().unwrap_or_else(|e| e.into_inner());
        pace.1 = (pace.1 * 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
    }

    /// Sends `prepare()`'s request (called again for each retry, so a signature is fresh) and
    /// reads the whole answer.
    pub async fn send(&self, mut prepare: impl FnMut() -> Request) -> Exchange {
        let mut attempt = 0;
        loop {
            let request = prepare();
            let exchange = self.send_once(request).await;
            let throttled = matches!(&exchange.outcome, Outcome::Response(r) if r.status == 429);
            if !throttled || attempt >= self.config.throttle_retries {
                return exchange;
            }
            self.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.slow_down();
            let retry_after = exchange
                .response()
                .and_then(|r| r.header("retry-after"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(30)))
                .unwrap_or(Duration::from_millis(250 << attempt));
            tokio::time::sleep(retry_after).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, request: Request) -> Exchange {
        let _slot = self.inflight.acquire().await.expect("the semaphore is never closed");
        self.pace().await;
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        // Set once the status line and headers are in: from then on the target has answered.
        let head = std::sync::atomic::AtomicBool::new(false);
        let outcome = match tokio::time::timeout(self.config.timeout, self.exchange(&request, &head)).await {
            Ok(Ok(response)) => Outcome::Response(response),
            Ok(Err((reason, silent))) => {
                Outcome::Transport { reason, elapsed_ms: started.elapsed().as_millis() as u64, silent }
            }
            Err(_) => Outcome::Transport {
                reason: format!("no complete answer within {} ms (timeout)", self.config.timeout.as_millis()),
                elapsed_ms: started.elapsed().as_millis() as u64,
                silent: !head.load(std::sync::atomic::Ordering::Relaxed),
            },
        };
        Exchange { request, outcome, elapsed_ms: Some(started.elapsed().as_millis() as u64) }
    }

    /// The answer, or why there is none and whether the target said nothing at all.
    async fn exchange(
        &self,
        request: &Request,
        head: &std::sync::atomic::AtomicBool,
    ) -> Result<Response, (String, bool)> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| (format!("bad method: {e}"), false))?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in request.headers.iter() {
            // Bytes, not text: a header may carry UTF-8 on purpose (Chinese characters in
            // `X-App-UserId` must reach the target to be rejected there).
            let value = reqwest::header::HeaderValue::from_bytes(value.as_bytes())
                .map_err(|e| (format!("header `{name}` cannot be sent: {e}"), false))?;
            builder = builder.header(name, value);
        }
        let mut resp = builder.body(request.body.clone()).send().await.map_err(|e| (describe(&e), !answered(&e)))?;
        head.store(true, std::sync::atomic::Ordering::Relaxed);
        let status = resp.status().as_u16();
        let headers = Headers::from(resp.headers());
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| (format!("the answer broke off after {} bytes: {}", body.len(), describe(&e)), false))?
        {
            if body.len() + chunk.len() > self.config.max_body_bytes {
                return Err((
                    format!("the body is larger than {} bytes; stopped reading", self.config.max_body_bytes),
                    false,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, headers: Some(headers), body })
    }
}

/// Did the target send anything before the request failed? Bytes that are not HTTP are an
/// answer (a wrong one); a refused, reset or closed connection is not.
fn answered(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_parse() || h.is_parse_status() || h.is_parse_too_large();
        }
        source = s.source();
    }
    false
}

impl super::Exchanger for Transport {
    fn exchange<'a>(
        &'a self,
        prepare: &'a (dyn Fn() -> Request + Send + Sync),
    ) -> futures::future::BoxFuture<'a, Exchange> {
        Box::pin(self.send(prepare))
    }
}

/// reqwest's error with its causes, in one line.
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Can anything be reached at `url`'s host and port? Used before a run so an unreachable target
/// is reported at once (exit 3), not as hundreds of failures.
pub async fn reachable(url: &url::Url, within: Duration) -> Result<(), String> {
    let host = url.host_str().ok_or("the URL has no host")?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let connect = async {
        let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
            .collect();
        let mut last = format!("`{host}` resolves to no address");
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(_) => return Ok(()),
                Err(e) => last = format!("cannot connect to {addr}: {e}"),
            }
        }
        Err(last)
    };
    tokio::time::timeout(within, connect)
        .await
        .map_err(|_| format!("no connection to `{host}:{port}` within {} s", within.as_secs()))?
}
