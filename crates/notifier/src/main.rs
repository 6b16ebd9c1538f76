use notifier::app;
use notifier::config::{Config, DEFAULT_DATABASE_URL};
use storage::PgSettings;

/// `notifier` consumes; `notifier migrate` applies the migrations to `NOTIFIER_DATABASE_URL` and exits.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = telemetry::init("notifier");
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        let settings = PgSettings::from_env("NOTIFIER", DEFAULT_DATABASE_URL)?;
        notifier::adapters::postgres::PgNotificationStore::open(&settings).await?;
        return Ok(());
    }
    let notifier = app::build(Config::from_env()?).await?;
    notifier.run_until(server::shutdown::signal()).await;
    Ok(())
}
