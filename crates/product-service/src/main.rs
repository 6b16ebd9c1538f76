use product_service::{app, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = telemetry::init("product-service");
    let server = app::build(Config::from_env()?).await?;
    server.run_until(server::shutdown::signal()).await?;
    Ok(())
}
