use product_service::{app, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init();
    let server = app::build(Config::from_env()?).await?;
    server.run_until(platform::shutdown::signal()).await?;
    Ok(())
}
