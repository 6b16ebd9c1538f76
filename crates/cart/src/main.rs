use cart::{App, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init();
    let app = App::build(Config::from_env()?).await?;
    app.run_until(platform::shutdown::signal()).await?;
    Ok(())
}
