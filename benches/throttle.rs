//! What throttling costs a run: the same requests through the transport against a server that
//! answers 200, then against one that answers every 25th request `429` with `Retry-After: 1`.
//! Only the throttled requests should wait (as long as the server asks, and again when a retry is
//! throttled too); the others go on at full speed. So the cost is the last few rounds of
//! `Retry-After` (a retry is throttled again one time in 25), the same few seconds at 20,000
//! requests as at 200,000: not a slower pace.
//!
//! `cargo bench --bench throttle`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use batchconf::exchange::{Headers, Request};
use batchconf::send::{Transport, TransportConfig};
use futures::StreamExt;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// Answers every `every`th request 429 (never, for 0).
struct Throttling {
    seen: Arc<AtomicU64>,
    every: u64,
}

impl Respond for Throttling {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if self.every > 0 && n % self.every == 0 {
            ResponseTemplate::new(429).insert_header("Retry-After", "1")
        } else {
            ResponseTemplate::new(200).set_body_string("{}")
        }
    }
}

async fn run(requests: usize, every: u64) -> f64 {
    let server = MockServer::builder().disable_request_recording().start().await;
    Mock::given(any()).respond_with(Throttling { seen: Arc::new(AtomicU64::new(0)), every }).mount(&server).await;
    let transport = Transport::new(TransportConfig::default()).expect("a transport");
    let url = format!("{}/throttled", server.uri());
    let request = Request { method: "GET".into(), url, headers: Headers::default(), body: vec![] };
    let started = Instant::now();
    // Every request is started at once, as a trial's examples are; the transport keeps 8 in flight.
    let answers: Vec<_> = futures::stream::iter((0..requests).map(|_| transport.send(|| request.clone())))
        .buffer_unordered(requests)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let ok = answers.iter().filter(|x| x.response().is_some_and(|r| r.status == 200)).count();
    let (sent, throttled) = transport.counts();
    let what = if every == 0 { "no throttling".to_string() } else { format!("1 in {every} answered 429") };
    println!("{what:>22}: {requests} requests ({ok} ended 200, {sent} sent, {throttled} retried) in {seconds:.2} s");
    seconds
}

#[tokio::main]
async fn main() {
    for requests in [20_000, 200_000] {
        let plain = run(requests, 0).await;
        let throttled = run(requests, 25).await;
        println!("  throttling 1 in 25 cost {:.1} s at {requests} requests", throttled - plain);
    }
}
