//! The transport: many requests in flight over kept-alive connections, a timeout per request, a
//! cap on the bytes read per response, an optional rate limit, and a pace that slows down when
//! the target throttles (429) and speeds up again when it stops (`Pacer`).
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
            throttle_retries: 8,
        }
    }
}

pub struct Transport {
    client: reqwest::Client,
    config: TransportConfig,
    inflight: Semaphore,
    pacer: Mutex<Pacer>,
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
            pacer: Mutex::new(Pacer::new(spacing, Instant::now())),
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

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.pacer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a start slot (when the run is paced).
    async fn pace(&self) {
        let wait = self.pacer().slot(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `prepare()`'s request (called again for each retry, so a signature is fresh) and
    /// reads the whole answer.
    pub async fn send(&self, mut prepare: impl FnMut() -> Request) -> Exchange {
        let mut attempt = 0;
        loop {
            let request = prepare();
            let exchange = self.send_once(request).await;
            let throttled = matches!(&exchange.outcome, Outcome::Response(r) if r.status == 429);
            if exchange.response().is_some() {
                // When it was sent, a millisecond early rather than late: an answer to a request
                // sent before the last back-off must not count as news (see `Pacer::answered`).
                let now = Instant::now();
                let took = Duration::from_millis(exchange.elapsed_ms.unwrap_or(0) + 1);
                self.pacer().answered(throttled, now.checked_sub(took).unwrap_or(now), now);
            }
            if !throttled || attempt >= self.config.throttle_retries {
                return exchange;
            }
            self.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Only this request waits as long as the server asked; the others go on at the pace.
            // Without `Retry-After` a paced run retries at the pace (its next start slot is the
            // wait); an odd 429 in an unpaced run backs off on its own.
            let paced = !self.pacer().spacing.is_zero();
            let wait = exchange
                .response()
                .and_then(|r| r.header("retry-after"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(30)))
                .unwrap_or(if paced { Duration::ZERO } else { Duration::from_millis(250 << attempt) });
            tokio::time::sleep(wait).await;
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
        // Sized once from the announced length, not grown chunk by chunk; at most 1 MiB up front,
        // as a length is only a claim (a hostile target may announce gigabytes and send nothing).
        let announced = resp.content_length().unwrap_or(0).min(self.config.max_body_bytes.min(1 << 20) as u64);
        let mut body = Vec::with_capacity(announced as usize);
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

    fn pace(&self) -> super::Throttling {
        let answers = self.throttled.load(std::sync::atomic::Ordering::Relaxed);
        super::Throttling { answers, allowed_rate: self.pacer().allowed_rate() }
    }
}

/// When requests may start: the AWS SDKs' "adaptive" retry mode (botocore's `ClientRateLimiter`
/// and `CubicCalculator`), with one difference. Unpaced (or at `--rate`) until the target
/// throttles; then a throttle cuts the rate to 0.85 of the rate measured when it came (`w_max`),
/// and answers that are not 429 grow it back along CUBIC's curve in time: quickly at first, slowly
/// near `w_max` (where the target throttled last), faster again beyond it, never above twice the
/// rate measured, and unpaced again once the curve is past that.
///
/// The difference: a 429 cuts the rate only when it is more than an odd one out. A target that
/// throttles a few percent of requests whatever the pace must cost a few percent of the run (the
/// retries, each waiting as the server asked in [`Transport::send`]), not slow it for good; so
/// the rate is cut once the recent share of 429 answers passes [`Pacer::TOLERATED`], and once
/// per round of requests sent at the old pace (answers to requests sent before the last cut say
/// nothing new).
#[derive(Debug)]
pub(crate) struct Pacer {
    /// The earliest start of the next request.
    next: Instant,
    /// The gap between starts now; zero is no pacing.
    spacing: Duration,
    /// The gap `--rate` asks for (zero: none): the pace never goes faster.
    floor: Duration,
    /// Recent gaps between starts (a moving average): the rate measured is its inverse.
    observed: Duration,
    last_start: Option<Instant>,
    /// The share of 429s among recent answers (a moving average over about 16).
    throttled_share: f64,
    /// The last cut: answers to requests sent before it were sent at the older pace.
    backed_off_at: Option<Instant>,
    /// CUBIC's state since the last cut: the rate then (requests/s) and the time its curve takes
    /// to come back to it (K, in seconds).
    cubic: Option<(f64, f64)>,
    /// Since the first cut: the second being counted and its answers that were not 429, and the
    /// counts of the whole seconds before it (what the target let through).
    window: Option<(Instant, u32)>,
    seconds: Vec<u32>,
}

impl Pacer {
    /// The recent share of 429 answers taken in stride: one in 25 stays under it, two in a row
    /// go over it.
    const TOLERATED: f64 = 0.1;
    /// Weight of one answer in the moving share.
    const WEIGHT: f64 = 1.0 / 16.0;
    /// What a cut keeps of the rate (botocore's `_BETA` is 0.7; a cut here comes only past the
    /// tolerated share, when the rate is already above the limit, so a shallower one suffices).
    const BETA: f64 = 0.85;
    /// How fast the curve grows, in requests/s per s³ (botocore's `_SCALE_CONSTANT`).
    const SCALE: f64 = 0.4;
    /// The rate never grows past this multiple of the rate measured (botocore's
    /// `_MAX_RATE_ADJUST_SCALE`); past it the pace no longer holds anything back.
    const MAX_GROWTH: f64 = 2.0;
    /// The slowest pace: one request every 5 s.
    const SLOWEST: Duration = Duration::from_secs(5);
    /// Below this, a gap does nothing any more (timers are coarser), and pacing stops.
    const NEGLIGIBLE: Duration = Duration::from_micros(20);

    pub(crate) fn new(floor: Duration, now: Instant) -> Pacer {
        Pacer {
            next: now,
            spacing: floor,
            floor,
            observed: Duration::ZERO,
            last_start: None,
            throttled_share: 0.0,
            backed_off_at: None,
            cubic: None,
            window: None,
            seconds: Vec::new(),
        }
    }

    /// Claims the next start slot; how long to wait for it.
    pub(crate) fn slot(&mut self, now: Instant) -> Duration {
        if let Some(last) = self.last_start {
            let gap = now.saturating_duration_since(last);
            self.observed = self.observed.mul_f64(0.875) + gap.mul_f64(0.125);
        }
        self.last_start = Some(now);
        if self.spacing.is_zero() {
            return Duration::ZERO;
        }
        let start = self.next.max(now);
        self.next = start + self.spacing;
        start - now
    }

    /// The rate requests start at, as measured (requests/s).
    fn measured(&self) -> f64 {
        1.0 / self.observed.max(Pacer::NEGLIGIBLE).as_secs_f64()
    }

    /// An answer came: `throttled` if it was a 429, to a request that started at `sent_at`.
    pub(crate) fn answered(&mut self, throttled: bool, sent_at: Instant, now: Instant) {
        let hit = if throttled { 1.0 } else { 0.0 };
        self.throttled_share += (hit - self.throttled_share) * Pacer::WEIGHT;
        if !throttled {
            self.count_allowed(now);
            self.grow(now);
            return;
        }
        let news = self.backed_off_at.is_none_or(|at| sent_at >= at);
        if self.throttled_share > Pacer::TOLERATED && news {
            // The rate when the throttle came: what was measured, or the pace if it was slower.
            let gap = self.spacing.max(self.observed).max(Pacer::NEGLIGIBLE);
            let w_max = 1.0 / gap.as_secs_f64();
            let k = (w_max * (1.0 - Pacer::BETA) / Pacer::SCALE).cbrt();
            self.cubic = Some((w_max, k));
            self.spacing = gap.div_f64(Pacer::BETA).min(Pacer::SLOWEST).max(self.floor);
            self.backed_off_at = Some(now);
            self.window.get_or_insert((now, 0));
        }
    }

    /// Along CUBIC's curve since the last cut: `SCALE·(t − K)³ + w_max`.
    fn grow(&mut self, now: Instant) {
        let (Some((w_max, k)), Some(at)) = (self.cubic, self.backed_off_at) else { return };
        let t = now.saturating_duration_since(at).as_secs_f64();
        let rate = Pacer::SCALE * (t - k).powi(3) + w_max;
        let ceiling = Pacer::MAX_GROWTH * self.measured();
        if rate >= ceiling || rate >= 1.0 / Pacer::NEGLIGIBLE.as_secs_f64() {
            // The pace holds nothing back any more.
            self.spacing = self.floor;
            self.cubic = None;
            return;
        }
        let gap = Duration::from_secs_f64(1.0 / rate.max(1.0 / Pacer::SLOWEST.as_secs_f64()));
        self.spacing = gap.min(Pacer::SLOWEST).max(self.floor);
    }

    /// The rate the target let through once it throttled: the upper quartile of the answers
    /// that were not 429 per whole second since the pace was first cut (the first second may
    /// hold a burst the target allowed before it throttled; a second at the end may be idle).
    pub(crate) fn allowed_rate(&self) -> Option<f64> {
        let mut seconds = self.seconds.clone();
        seconds.sort_unstable();
        let at = seconds.len().checked_sub(1)? * 3 / 4;
        Some(f64::from(seconds[at]))
    }

    /// Counts an answer that was not 429 into the second it came in (once the pace was cut).
    fn count_allowed(&mut self, now: Instant) {
        let Some((start, count)) = self.window.as_mut() else { return };
        let elapsed = now.saturating_duration_since(*start);
        if elapsed >= Duration::from_secs(1) {
            // At most a day of seconds is kept (a soak run's memory stays flat).
            if self.seconds.len() < 86_400 {
                self.seconds.push(*count);
            }
            // A second with no answer at all counts nothing; the next starts now.
            *start += Duration::from_secs(elapsed.as_secs());
            *count = 0;
        }
        *count += 1;
    }

    /// The gap between starts now (zero: unpaced).
    #[cfg(test)]
    pub(crate) fn spacing(&self) -> Duration {
        self.spacing
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// An unpaced pacer that has seen starts 1 ms apart.
    fn running(t0: Instant) -> Pacer {
        let mut p = Pacer::new(Duration::ZERO, t0);
        for i in 0..50 {
            assert_eq!(p.slot(t0 + MS * i), Duration::ZERO);
        }
        p
    }

    #[test]
    fn an_odd_429_costs_only_its_retry() {
        let t0 = Instant::now();
        let mut p = running(t0);
        // One answer in 25 throttled, for a long time: the pace never changes.
        for i in 0..2500u32 {
            p.answered(i % 25 == 24, t0, t0 + MS * 50);
            assert_eq!(p.spacing(), Duration::ZERO, "answer {i}");
        }
    }

    #[test]
    fn throttling_cuts_the_pace_once_per_round_then_it_grows_back_in_time() {
        let t0 = Instant::now();
        let mut p = running(t0);
        let now = t0 + MS * 50;
        p.answered(true, t0, now);
        p.answered(true, t0, now);
        let slowed = p.spacing();
        let cut = MS.div_f64(Pacer::BETA);
        assert!(slowed >= cut - MS / 10 && slowed <= cut + MS / 10, "{slowed:?}: 0.85 of the observed 1000/s");
        // More 429s to requests sent before the cut say nothing new.
        for _ in 0..6 {
            p.answered(true, now - MS, now + MS);
        }
        assert_eq!(p.spacing(), slowed);
        // One to a request sent after it does.
        let cut_at = now + MS * 2;
        p.answered(true, now + MS, cut_at);
        let again = p.spacing();
        assert_eq!(again, slowed.div_f64(Pacer::BETA));
        // Slots are now that far apart.
        let later = now + MS * 3;
        assert_eq!(p.slot(later), Duration::ZERO);
        assert_eq!(p.slot(later), again);
        // Answers that are not 429 grow it back along CUBIC's curve, in time: at once hardly…
        p.answered(false, later, later);
        assert!(p.spacing() > slowed, "{:?}", p.spacing());
        // …back at the rate of the last cut after K seconds…
        let w_max = 1.0 / slowed.as_secs_f64();
        let k = (w_max * (1.0 - Pacer::BETA) / Pacer::SCALE).cbrt();
        p.answered(false, later, cut_at + Duration::from_secs_f64(k));
        let back = p.spacing();
        assert!(back.abs_diff(slowed) < Duration::from_micros(5), "{back:?} after K = {k:.1} s, not {slowed:?}");
        // …and unpaced once the curve is past twice the rate measured.
        p.answered(false, later, cut_at + Duration::from_secs(60));
        assert_eq!(p.spacing(), Duration::ZERO);
    }

    #[test]
    fn the_pace_never_goes_past_the_rate_asked_for_nor_below_one_request_in_5_s() {
        let t0 = Instant::now();
        let floor = Duration::from_millis(100);
        let mut p = Pacer::new(floor, t0);
        for i in 0..200u32 {
            p.answered(true, t0 + MS * i, t0 + MS * (i + 1));
        }
        assert_eq!(p.spacing(), Pacer::SLOWEST);
        // Growing back takes time: an hour later the pace is the one asked for, and no faster.
        let hour = t0 + Duration::from_secs(3600);
        for _ in 0..1000 {
            p.answered(false, hour, hour);
        }
        assert_eq!(p.spacing(), floor);
    }

    #[test]
    fn the_rate_allowed_is_what_came_through_per_second_once_throttled() {
        let t0 = Instant::now();
        let mut p = running(t0);
        assert_eq!(p.allowed_rate(), None);
        p.answered(true, t0, t0 + MS);
        p.answered(true, t0, t0 + MS);
        assert_eq!(p.allowed_rate(), None, "not a whole second yet");
        // A burst of 400 in the first second, then 100 a second for five seconds.
        for i in 0..400u32 {
            p.answered(false, t0, t0 + MS * 2 + Duration::from_micros(u64::from(i)));
        }
        for i in 0..500u32 {
            p.answered(false, t0, t0 + MS * 2 + Duration::from_secs(1) + MS * (i * 10));
        }
        p.answered(false, t0, t0 + Duration::from_secs(7));
        assert_eq!(p.allowed_rate(), Some(100.0));
    }

    /// Answers 429 (`Retry-After: 0`) to every request `throttle` says, 200 to the others.
    struct Throttling {
        seen: Arc<AtomicU64>,
        throttle: fn(u64) -> bool,
    }

    impl Respond for Throttling {
        fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
            let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
            if (self.throttle)(n) {
                ResponseTemplate::new(429).insert_header("Retry-After", "0")
            } else {
                ResponseTemplate::new(200)
            }
        }
    }

    /// Sends `n` requests, 8 at a time, through a transport; every one must end 200.
    async fn send_all(throttle: fn(u64) -> bool, n: usize) -> (Transport, u64) {
        let server = MockServer::builder().disable_request_recording().start().await;
        let seen = Arc::new(AtomicU64::new(0));
        Mock::given(any()).respond_with(Throttling { seen: Arc::clone(&seen), throttle }).mount(&server).await;
        let transport = Transport::new(TransportConfig::default()).unwrap();
        let url = format!("{}/x", server.uri());
        let request = Request { method: "GET".into(), url, headers: Headers::default(), body: vec![] };
        let sends = (0..n).map(|_| transport.send(|| request.clone()));
        for exchange in futures::future::join_all(sends).await {
            assert_eq!(exchange.response().map(|r| r.status), Some(200), "{:?}", exchange.outcome);
        }
        let seen = seen.load(Ordering::Relaxed);
        (transport, seen)
    }

    #[tokio::test]
    async fn a_target_throttling_one_request_in_25_is_retried_and_never_slows_the_run() {
        let (transport, seen) = send_all(|n| n % 25 == 0, 500).await;
        let (sent, throttled) = transport.counts();
        assert_eq!((sent, throttled), (seen, seen / 25));
        assert_eq!(sent, 500 + throttled);
        assert_eq!(transport.pacer().spacing(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_target_that_throttles_for_a_while_slows_the_run_and_lets_it_recover() {
        // Everything is throttled at first, as a quota would; then nothing.
        let (transport, _) = send_all(|n| n <= 20, 300).await;
        let (sent, throttled) = transport.counts();
        assert_eq!((sent, throttled), (320, 20));
        let pacer = transport.pacer();
        assert!(pacer.backed_off_at.is_some(), "the run never slowed down");
        assert_eq!(pacer.spacing(), Duration::ZERO, "the run never recovered");
    }
}
