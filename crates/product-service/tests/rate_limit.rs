//! The real server's own rate limit, seen from a client that does not limit itself.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use identity::mint::{key_set, SigningKey};
use identity::{Authentication, JwksLocation, VerifySettings};
use product_service::{app, Config};
use route256_proto::product::product_service_client::ProductServiceClient;
use route256_proto::product::GetProductRequest;
use tonic::Code;

const RPS: u32 = 5;
const CALLS: u32 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_limit_are_resource_exhausted() {
    let server = app::build(Config {
        grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        rps: RPS,
        burst: RPS,
        // A key set of its own: the calls use the static token, but the service needs keys to start.
        authentication: Authentication::Verify(VerifySettings::new(JwksLocation::Inline(
            key_set(&[&SigningKey::generate().expect("a key")]).into(),
        ))),
        ..Config::default()
    })
    .await
    .expect("starts");
    let url = format!("http://{}", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let client = ProductServiceClient::connect(url).await.expect("connects");

    let started = Instant::now();
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                client
                    .get_product(GetProductRequest {
                        token: "testtoken".into(),
                        sku: 1076963,
                    })
                    .await
            })
        })
        .collect();
    let (mut accepted, mut rejected) = (0u32, 0u32);
    for call in calls {
        match call.await.expect("task completes") {
            Ok(_) => accepted += 1,
            Err(status) if status.code() == Code::ResourceExhausted => rejected += 1,
            Err(status) => panic!("unexpected status: {status:?}"),
        }
    }
    let elapsed = started.elapsed();

    // Whatever the machine's speed: no more than the burst plus RPS per second elapsed...
    let seconds = u32::try_from(elapsed.as_secs())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    assert!(
        accepted <= RPS + RPS * seconds,
        "{accepted} accepted in {elapsed:?}"
    );
    assert!(accepted >= 1);
    // ...so unless the calls were spread over more seconds than CALLS / RPS, some were refused.
    if elapsed < Duration::from_secs(u64::from(CALLS / RPS - 1)) {
        assert!(rejected > 0, "none refused in {elapsed:?}");
    }
    assert_eq!(accepted + rejected, CALLS);

    let _ = stop.send(());
    server.await.expect("server task").expect("clean stop");
}
