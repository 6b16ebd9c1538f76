use cart::app;
use cart::config::{Config, DEFAULT_DATABASE_URL};
use storage::PgSettings;

/// `cart` serves; `cart migrate` applies the migrations to `CART_DATABASE_URL` and exits.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = telemetry::init("cart");
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        app::postgres_repo(&PgSettings::from_env("CART", DEFAULT_DATABASE_URL)?).await?;
        return Ok(());
    }
    let server = app::build(Config::from_env()?).await?;
    server.run_until(server::shutdown::signal()).await?;
    Ok(())
}
