//! Settings from the real environment: each variable overrides its default, the storage decides where
//! a partition never consumed starts, and an unusable value refuses the start naming the variable. One
//! test in its own binary, since it changes this process's environment.
use env_config::with_vars;
use notifier::adapters::kafka::Start;
use notifier::config::Storage;
use notifier::Config;

#[test]
fn each_variable_overrides_its_default_and_unusable_ones_are_refused() {
    let default = Config::from_env().expect("the defaults are valid");
    assert_eq!(default.http_addr.to_string(), "127.0.0.1:8093");
    assert_eq!(default.storage, Storage::Memory);
    let consumer = &default.consumer;
    assert_eq!(
        (
            consumer.brokers.as_str(),
            consumer.topic.as_str(),
            consumer.group.as_str()
        ),
        ("127.0.0.1:9092", "loms.order-events", "notifier")
    );
    assert_eq!(
        consumer.start,
        Start::Latest,
        "memory forgets offsets: start at the end"
    );
    assert_eq!(consumer.stall_after, std::time::Duration::from_secs(60));

    let set = with_vars(
        &[
            ("NOTIFIER_HTTP_ADDR", "127.0.0.1:1"),
            ("NOTIFIER_KAFKA_BROKERS", "a:1"),
            ("NOTIFIER_KAFKA_TOPIC", "t"),
            ("NOTIFIER_GROUP", "g"),
            ("STORAGE", "postgres"),
            ("NOTIFIER_DATABASE_URL", "postgres://u@h:1/n"),
            ("NOTIFIER_STALL_AFTER_MS", "2500"),
        ],
        Config::from_env,
    )
    .expect("valid");
    assert_eq!(set.http_addr.port(), 1);
    let consumer = &set.consumer;
    assert_eq!(
        (
            consumer.brokers.as_str(),
            consumer.topic.as_str(),
            consumer.group.as_str()
        ),
        ("a:1", "t", "g")
    );
    assert_eq!(
        consumer.start,
        Start::Earliest,
        "stored offsets: a new partition from its start"
    );
    assert!(matches!(&set.storage, Storage::Postgres(pg) if pg.url == "postgres://u@h:1/n"));
    assert_eq!(consumer.stall_after, std::time::Duration::from_millis(2500));

    for (key, value) in [
        ("NOTIFIER_HTTP_ADDR", "nowhere"),
        ("STORAGE", "disk"),
        ("NOTIFIER_STALL_AFTER_MS", "0"),
    ] {
        let error = with_vars(&[(key, value)], Config::from_env).expect_err(value);
        assert!(error.to_string().contains(key), "{key}={value}: {error}");
    }
}
