#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use loms::app;
use loms::config::{Config, DEFAULT_DATABASE_URL};
use storage::PgSettings;

/// `loms` serves; `loms migrate` applies the migrations to `LOMS_DATABASE_URL` and exits.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = telemetry::init("loms");
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        app::postgres_store(&PgSettings::from_env("LOMS", DEFAULT_DATABASE_URL)?).await?;
        return Ok(());
    }
    let server = app::build(Config::from_env()?).await?;
    server.run_until(server::shutdown::signal()).await?;
    Ok(())
}
