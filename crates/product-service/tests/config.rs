//! Settings from the real environment: unusable values refuse the start. One test in its own binary,
//! since it changes this process's environment.
use product_service::Config;

#[test]
fn unusable_settings_are_refused() {
    // Fail closed: a service that serves users does not start without its identity provider's keys.
    let error = Config::from_env().expect_err("no keys");
    assert!(error.to_string().contains("AUTH_JWKS"), "{error}");
    std::env::set_var("AUTH_JWKS", "/etc/route256/jwks.json");
    let refused = |key: &str, value: &str| {
        std::env::set_var(key, value);
        let error = Config::from_env().expect_err("refused");
        std::env::remove_var(key);
        assert!(error.to_string().contains(key), "{key}={value:?}: {error}");
    };
    refused("PRODUCT_TOKENS", "");
    refused("PRODUCT_TOKENS", " , ");
    refused("PRODUCT_RPS", "4294967295");
    refused("PRODUCT_BURST", "0");
    refused("PRODUCT_LATENCY_MS", "86400000");
    refused("GRPC_MAX_IN_FLIGHT", "0");

    std::env::set_var("PRODUCT_TOKENS", "one,two");
    let config = Config::from_env().expect("valid");
    std::env::remove_var("PRODUCT_TOKENS");
    assert_eq!(config.tokens.len(), 2);
    let default = Config::from_env().expect("valid");
    assert_eq!(
        default
            .tokens
            .iter()
            .map(|t| t.expose())
            .collect::<Vec<_>>(),
        ["testtoken"],
        "unset means the contract's default"
    );
}
