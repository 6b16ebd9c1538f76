//! Settings from the real environment. One test in its own binary, since it changes this process's
//! environment.
use std::time::Duration;

use env_config::with_vars;
use identity::{Authentication, JwksLocation, VerifySettings};

#[test]
fn keys_are_required_the_rest_has_defaults_and_only_yes_turns_checking_off() {
    let error = Authentication::from_env().expect_err("no keys");
    assert!(error.to_string().contains("AUTH_JWKS"), "{error}");
    let blank = with_vars(&[("AUTH_JWKS", "  ")], Authentication::from_env);
    assert!(blank.is_err(), "blank is unset");

    let defaults = with_vars(&[("AUTH_JWKS", "/srv/jwks.json")], Authentication::from_env);
    assert_eq!(
        defaults.expect("valid"),
        Authentication::Verify(VerifySettings::new(JwksLocation::File(
            "/srv/jwks.json".into()
        )))
    );
    let set = with_vars(
        &[
            ("AUTH_JWKS", "https://idp.example/jwks"),
            ("AUTH_ISSUER", "https://idp.example"),
            ("AUTH_AUDIENCE", "shop"),
            ("AUTH_LEEWAY_SECS", "0"),
            ("AUTH_JWKS_MIN_REFRESH_MS", "100"),
        ],
        Authentication::from_env,
    );
    assert_eq!(
        set.expect("valid"),
        Authentication::Verify(VerifySettings {
            jwks: JwksLocation::Url("https://idp.example/jwks".into()),
            issuer: "https://idp.example".into(),
            audience: "shop".into(),
            leeway: Duration::ZERO,
            min_refresh: Duration::from_millis(100),
        })
    );
    for (key, value) in [
        ("AUTH_LEEWAY_SECS", "301"),
        ("AUTH_JWKS_MIN_REFRESH_MS", "99"),
        ("AUTH_UNCHECKED_FOR_BENCHMARKS", "true"),
    ] {
        let vars = [("AUTH_JWKS", "/srv/jwks.json"), (key, value)];
        let error = with_vars(&vars, Authentication::from_env).expect_err(value);
        assert!(error.to_string().contains(key), "{key}={value}: {error}");
    }
    let off = with_vars(
        &[("AUTH_UNCHECKED_FOR_BENCHMARKS", "yes")],
        Authentication::from_env,
    );
    assert_eq!(off.expect("valid"), Authentication::Unchecked);
}
