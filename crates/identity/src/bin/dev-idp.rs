//! The development identity provider behind `just token` and the stack's scripts:
//!
//!   dev-idp keys DIR                      makes DIR's key pair if missing; prints the key set's path
//!   dev-idp token DIR USER [--role ROLE]... [--ttl DURATION]
//!                                         prints a token for USER signed by DIR's key (default 1h;
//!                                         DURATION as `30s`, `15m`, `1h`, `7d`)
use std::time::Duration;

use anyhow::{bail, Context};
use identity::mint::{DevProvider, TokenClaims};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [command, dir] if command == "keys" => {
            let provider = DevProvider::new(dir);
            provider.key().context("the development key pair")?;
            println!("{}", provider.jwks_path().display());
        }
        [command, dir, user, rest @ ..] if command == "token" => {
            let user: i64 =
                user.parse().ok().filter(|u| *u > 0).with_context(|| {
                    format!("user {user:?} is not a user id (a positive integer)")
                })?;
            let mut claims = TokenClaims::for_user(user, Duration::from_secs(3600));
            let mut rest = rest.iter();
            while let Some(flag) = rest.next() {
                let value = rest
                    .next()
                    .with_context(|| format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--role" => claims = claims.with_role(value),
                    "--ttl" => {
                        let ttl = humantime::parse_duration(value)
                            .with_context(|| format!("--ttl {value:?}: want e.g. 30s, 15m, 1h"))?;
                        claims.exp = claims.iat.saturating_add(ttl.as_secs());
                    }
                    _ => bail!("unknown flag {flag}: want --role ROLE or --ttl DURATION"),
                }
            }
            let key = DevProvider::new(dir)
                .key()
                .context("the development key pair")?;
            println!("{}", key.sign(&claims)?);
        }
        _ => bail!(
            "usage: dev-idp keys DIR | dev-idp token DIR USER [--role ROLE]... [--ttl DURATION]"
        ),
    }
    Ok(())
}
