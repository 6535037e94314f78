//! What one checked exchange costs batchconf itself, apart from the network and the server:
//! generating a request, signing it, and judging its answer with every check. `bench/run.sh`
//! measures the whole run against a live server; these say where its time would go.
//!
//! `cargo bench --bench exchange`

use std::hint::black_box;

use batchconf::cases::{self, CaseBody};
use batchconf::checks::{self, Context, Expect, RunState};
use batchconf::contract::Contract;
use batchconf::exchange::{Exchange, Request};
use batchconf::generate::{body_strategy, AuthMode, GenRequest, Source};
use batchconf::send::{self, Credentials, Transport, TransportConfig};
use batchconf::server::{RefServer, ServerConfig};
use criterion::{criterion_group, criterion_main, Criterion};

/// The allocator the `batchconf` binary uses, so these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CASE: &str = "ordinary-batches";
const FIXTURES: [&str; 3] = ["bench-1", "bench-2", "bench-3"];
const URL: &str = "http://127.0.0.1:1/v1/bench-project/digital-assets/batch-action";

fn creds() -> Credentials {
    Credentials {
        token: None,
        aksk: Some(("BENCHAK0000000000001".into(), "bench-secret-key-0123456789".into())),
        app_user_id: None,
    }
}

/// The contract and the strategy of the case every run sends most of: ordinary batches.
fn setup() -> (Contract, proptest::strategy::BoxedStrategy<serde_json::Value>) {
    let contract = Contract::bundled().expect("the bundled contract loads");
    let all = cases::load_builtin(&contract).expect("the bundled cases load");
    let case = all.iter().find(|c| c.name == CASE).expect("the ordinary-batches case");
    let CaseBody::Property(property) = &case.body else { panic!("`{CASE}` is a property case") };
    let fixtures: Vec<String> = FIXTURES.iter().map(|f| f.to_string()).collect();
    let strategy = body_strategy(&contract, property, &fixtures).expect("a strategy");
    (contract, strategy)
}

fn generate(source: &mut Source, strategy: &proptest::strategy::BoxedStrategy<serde_json::Value>) -> Request {
    let body = source.tree(strategy).expect("a value").current();
    send::build(&GenRequest::json(body), "POST", URL.to_string(), "property::ordinary-batches#0", &creds())
}

/// One real answer of the reference server to a signed ordinary batch, to judge over and over.
fn real_exchange(request: Request) -> Exchange {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        let creds = creds();
        let config = ServerConfig {
            aksk: creds.aksk.iter().cloned().collect(),
            fixtures: FIXTURES.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        };
        let server = RefServer::start(config).await.expect("the server starts");
        let mut request = request;
        request.url = format!("{}/v1/bench-project/digital-assets/batch-action", server.uri());
        let transport = Transport::new(TransportConfig::default()).expect("a transport");
        let exchange = transport
            .send(|| {
                let mut r = request.clone();
                send::authenticate(&mut r, AuthMode::Valid, &creds, chrono::Utc::now());
                r
            })
            .await;
        server.stop().await;
        assert_eq!(exchange.response().map(|r| r.status), Some(200), "{:?}", exchange.outcome);
        exchange
    })
}

fn per_exchange(c: &mut Criterion) {
    let (contract, strategy) = setup();
    let mut source = Source::new(20261129, "property::ordinary-batches");
    c.bench_function("generate one request", |b| b.iter(|| black_box(generate(&mut source, &strategy))));

    let unsigned = generate(&mut source, &strategy);
    let creds = creds();
    let now = chrono::Utc::now();
    c.bench_function("sign one request", |b| {
        b.iter(|| {
            let mut r = unsigned.clone();
            send::authenticate(&mut r, AuthMode::Valid, &creds, now);
            black_box(r)
        })
    });

    let exchange = real_exchange(unsigned);
    let run = RunState::new(None);
    let expect = Expect::Accepted;
    c.bench_function("judge one exchange (all checks)", |b| {
        b.iter(|| {
            // The same label every time: the request-id check sees the id as this exchange's own.
            let ctx = Context::new(&contract, &exchange, &expect, &run, "property::ordinary-batches#0");
            black_box(checks::run_all(&ctx, None))
        })
    });
    let ctx = Context::new(&contract, &exchange, &expect, &run, "property::ordinary-batches#0");
    assert!(checks::run_all(&ctx, None).is_empty(), "the benchmark exchange must be conformant");
}

criterion_group!(benches, per_exchange);
criterion_main!(benches);
