//! Settings from the real environment: each variable overrides its default, and an unusable value
//! refuses the start naming the variable. One test in its own binary, since it changes this process's
//! environment.
use env_config::with_vars;
use std::time::Duration;

use loms::config::{Config, Events, DEFAULT_BROKERS, DEFAULT_TOPIC};
use loms::relay::RelaySettings;

#[test]
fn each_variable_overrides_its_default_and_unusable_ones_are_refused() {
    // Fail closed: a service that serves users does not start without its identity provider's keys.
    let error = Config::from_env().expect_err("no keys");
    assert!(error.to_string().contains("AUTH_JWKS"), "{error}");
    std::env::set_var("AUTH_JWKS", "/etc/route256/jwks.json");
    let default = Config::from_env().expect("the defaults are valid");
    assert_eq!(default.grpc_addr.to_string(), "127.0.0.1:8083");
    assert_eq!(default.http_addr.to_string(), "127.0.0.1:8084");
    assert_eq!(default.unpaid_ttl, Duration::from_secs(600));
    assert_eq!(default.unpaid_check_period, Duration::from_secs(10));
    assert_eq!(
        default.events,
        Some(Events {
            brokers: DEFAULT_BROKERS.into(),
            topic: DEFAULT_TOPIC.into(),
            relay: RelaySettings::default(),
        })
    );

    let set = with_vars(
        &[
            ("LOMS_GRPC_ADDR", "127.0.0.1:1"),
            ("LOMS_HTTP_ADDR", "127.0.0.1:2"),
            ("LOMS_UNPAID_CANCEL_AFTER_SECS", "604800"),
            ("LOMS_UNPAID_CHECK_PERIOD_MS", "10"),
            ("LOMS_KAFKA_BROKERS", "a:1,b:2"),
            ("LOMS_KAFKA_TOPIC", "t"),
            ("LOMS_RELAY_POLL_MS", "200"),
            ("LOMS_RELAY_LINGER_MS", "0"),
            ("LOMS_RELAY_MAX_LINGER_MS", "10000"),
            ("LOMS_RELAY_BATCH", "50000"),
            ("LOMS_RELAY_LEASE_TTL_MS", "1500"),
        ],
        Config::from_env,
    )
    .expect("valid");
    assert_eq!((set.grpc_addr.port(), set.http_addr.port()), (1, 2));
    assert_eq!(set.unpaid_ttl, Duration::from_secs(604_800));
    assert_eq!(set.unpaid_check_period, Duration::from_millis(10));
    let events = set.events.expect("relay on");
    assert_eq!(
        (events.brokers.as_str(), events.topic.as_str()),
        ("a:1,b:2", "t")
    );
    assert_eq!(
        events.relay,
        RelaySettings {
            poll: Duration::from_millis(200),
            linger: Duration::ZERO,
            max_linger: Duration::from_secs(10),
            batch: 50_000,
            lease_ttl: Duration::from_millis(1500),
        }
    );
    let off = with_vars(&[("LOMS_KAFKA_BROKERS", "off")], Config::from_env).expect("valid");
    assert_eq!(off.events, None, "off turns the relay off");

    for (key, value) in [
        ("LOMS_GRPC_ADDR", "nowhere"),
        ("LOMS_UNPAID_CANCEL_AFTER_SECS", "0"),
        ("LOMS_UNPAID_CANCEL_AFTER_SECS", "604801"),
        ("LOMS_UNPAID_CHECK_PERIOD_MS", "9"),
        ("LOMS_RELAY_POLL_MS", "9"),
        ("LOMS_RELAY_LINGER_MS", "10001"),
        ("LOMS_RELAY_MAX_LINGER_MS", "10001"),
        ("LOMS_RELAY_BATCH", "0"),
        ("LOMS_RELAY_BATCH", "50001"),
        ("LOMS_RELAY_LEASE_TTL_MS", "999"),
        ("STORAGE", "disk"),
    ] {
        let error = with_vars(&[(key, value)], Config::from_env).expect_err(value);
        assert!(error.to_string().contains(key), "{key}={value}: {error}");
    }
    // The lease is renewed on its own: a poll as long as the lease is allowed.
    let slow_poll = with_vars(
        &[
            ("LOMS_RELAY_POLL_MS", "1000"),
            ("LOMS_RELAY_LEASE_TTL_MS", "1000"),
        ],
        Config::from_env,
    );
    assert!(slow_poll.is_ok(), "{slow_poll:?}");
}
