//! `load`: the shopping flow against a running cart and loms (`just load`). See `load --help`, and
//! the `bench::shopping` module for how calls are paced and measured.
use std::time::Duration;

use bench::credentials::Credentials;
use bench::shopping::{self, Pace, Settings};

const HELP: &str = "\
load: shoppers going through the shopping flow against cart and loms

usage: load [--rate CALLS_PER_S | --concurrency N] [options]

  --rate R          open loop: R calls per second on schedule (latency counts from the schedule)
  --concurrency N   closed loop: N calls in flight at all times (default 32)
  --duration S      seconds to run (default 30)
  --shoppers N      users going through the flow, one call at a time each (default 1000)
  --first-user ID   the first shopper's user id (default 1000000)
  --cart URL        cart's gRPC address (default http://127.0.0.1:8082)
  --loms URL        loms's gRPC address (default http://127.0.0.1:8083)
  --connections N   HTTP/2 connections to each service (default 4)
  --token T         one bearer token for every call (services with authentication off); by default
                    each shopper's own, signed with ROUTE256_SIGNING_KEY's key when it is set, else
                    testtoken
  --timeout-ms MS   each call's deadline (default 5000)
  --seed N          the shoppers' random choices (default 1)
  --json            print the report as JSON instead of a table
  --quiet           no progress line
";

/// The settings `args` ask for, and whether the report is JSON; `Ok(None)` for `--help`.
fn parse(args: &[String]) -> anyhow::Result<Option<(Settings, bool)>> {
    let mut settings = Settings {
        credentials: Credentials::from_env()?,
        ..Settings::default()
    };
    let mut json = false;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--json" => json = true,
            "--quiet" => settings.progress = false,
            "--rate" => {
                let rate: f64 = value()?.parse()?;
                anyhow::ensure!(rate.is_finite() && rate > 0.0, "--rate must be above 0");
                settings.pace = Pace::Open { rate };
            }
            "--concurrency" => {
                let concurrency: usize = value()?.parse()?;
                anyhow::ensure!(concurrency > 0, "--concurrency must be above 0");
                settings.pace = Pace::Closed { concurrency };
            }
            "--duration" => settings.duration = Duration::from_secs_f64(value()?.parse()?),
            "--shoppers" => settings.shoppers = value()?.parse()?,
            "--first-user" => settings.first_user = value()?.parse()?,
            "--cart" => settings.cart.clone_from(value()?),
            "--loms" => settings.loms.clone_from(value()?),
            "--connections" => settings.connections = value()?.parse()?,
            "--token" => settings.credentials = Credentials::Static(value()?.clone()),
            "--timeout-ms" => settings.timeout = Duration::from_millis(value()?.parse()?),
            "--seed" => settings.seed = value()?.parse()?,
            other => anyhow::bail!("unknown flag {other}\n\n{HELP}"),
        }
    }
    anyhow::ensure!(settings.shoppers > 0, "--shoppers must be above 0");
    anyhow::ensure!(settings.first_user > 0, "--first-user must be above 0");
    Ok(Some((settings, json)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((settings, json)) = parse(&args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let report = shopping::run(&settings).await?;
    if json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_set_the_pace_and_the_rest() {
        let (settings, json) = parse(&args("--rate 250 --duration 2.5 --shoppers 10 --json"))
            .expect("valid")
            .expect("not help");
        assert_eq!(settings.pace, Pace::Open { rate: 250.0 });
        assert_eq!(settings.duration, Duration::from_millis(2500));
        assert_eq!(settings.shoppers, 10);
        assert!(json);
        let (settings, json) = parse(&args("--concurrency 8 --quiet"))
            .expect("valid")
            .expect("not help");
        assert_eq!(settings.pace, Pace::Closed { concurrency: 8 });
        assert!(!settings.progress && !json);
    }

    #[test]
    fn bad_flags_are_refused_with_a_reason() {
        for (line, reason) in [
            ("--rate 0", "above 0"),
            ("--rate nan", "above 0"),
            ("--concurrency 0", "above 0"),
            ("--shoppers 0", "above 0"),
            ("--rate", "needs a value"),
            ("--frobnicate 1", "unknown flag"),
        ] {
            let error = parse(&args(line)).expect_err(line).to_string();
            assert!(error.contains(reason), "{line}: {error}");
        }
        assert!(parse(&args("--help")).expect("help").is_none());
    }
}
