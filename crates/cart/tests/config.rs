//! Settings from the real environment: each variable overrides its default, and an unusable value
//! refuses the start naming the variable. One test in its own binary, since it changes this process's
//! environment.
use env_config::with_vars;
use std::time::Duration;

use cart::Config;

#[test]
fn each_variable_overrides_its_default_and_unusable_ones_are_refused() {
    // Fail closed: a service that serves users does not start without its identity provider's keys.
    let error = Config::from_env().expect_err("no keys");
    assert!(error.to_string().contains("AUTH_JWKS"), "{error}");
    std::env::set_var("AUTH_JWKS", "/etc/route256/jwks.json");
    let default = Config::from_env().expect("the defaults are valid");
    let contract = Config::default();
    assert_eq!(default.grpc_addr, contract.grpc_addr);
    assert_eq!(default.http_addr, contract.http_addr);
    assert_eq!(default.product_rps, 10, "the course's 10 RPS");
    assert_eq!(
        default.limiter_redis_url, None,
        "a local limiter unless told"
    );
    assert_eq!(default.upstream_timeout, Duration::from_secs(5));

    let set = with_vars(
        &[
            ("CART_GRPC_ADDR", "127.0.0.1:1"),
            ("CART_HTTP_ADDR", "127.0.0.1:2"),
            ("PRODUCT_SERVICE_URL", "http://p:1"),
            ("LOMS_URL", "http://l:2"),
            ("CART_UPSTREAM_TIMEOUT_MS", "300000"),
            ("CART_LIST_WORKERS", "256"),
            ("CART_PRODUCT_RPS", "0"),
            ("CART_PRODUCT_BURST", "100000"),
            ("CART_LIMITER_REDIS_URL", "redis://r:3"),
            ("CART_LIMITER_KEY", "k"),
        ],
        Config::from_env,
    )
    .expect("valid");
    assert_eq!((set.grpc_addr.port(), set.http_addr.port()), (1, 2));
    assert_eq!(
        (set.product_service_url.as_str(), set.loms_url.as_str()),
        ("http://p:1", "http://l:2")
    );
    assert_eq!(set.upstream_timeout, Duration::from_secs(300));
    assert_eq!(set.list_workers.get(), 256);
    assert_eq!((set.product_rps, set.product_burst.get()), (0, 100_000));
    assert_eq!(set.limiter_redis_url.as_deref(), Some("redis://r:3"));
    assert_eq!(set.limiter_key, "k");

    for (key, value) in [
        ("CART_GRPC_ADDR", "nowhere"),
        ("CART_UPSTREAM_TIMEOUT_MS", "0"),
        ("CART_UPSTREAM_TIMEOUT_MS", "300001"),
        ("CART_LIST_WORKERS", "0"),
        ("CART_LIST_WORKERS", "257"),
        ("CART_PRODUCT_RPS", "100001"),
        ("CART_PRODUCT_BURST", "0"),
        ("STORAGE", "disk"),
    ] {
        let error = with_vars(&[(key, value)], Config::from_env).expect_err(value);
        assert!(error.to_string().contains(key), "{key}={value}: {error}");
    }
}
