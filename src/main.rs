//! The `walkout` command line: parses arguments and calls the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use walkout::config::Config;

#[derive(Parser)]
#[command(
    name = "walkout",
    version,
    about = "Cashierless walk-out store: shelves + cameras -> carts -> charges and receipts"
)]
struct Cli {
    /// TOML config file (default: ./walkout.toml when present, else built-in defaults).
    #[arg(long, global = true, env = "WALKOUT_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (healthz, metrics) until SIGINT/SIGTERM.
    Serve,
    /// Set up the embedded demo store and report what was loaded.
    Demo,
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), std::env::vars()).context("invalid configuration")?;
    walkout::telemetry::init_logging(cli.log_json || config.log.format == "json", &config.log.level);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve => walkout::service::serve(&config).await.context("serve failed"),
            Command::Demo => {
                let report = walkout::demo::run(&config).await.context("demo failed")?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Migrate => {
                let (backend, applied, version) = walkout::migrate(&config.database).await?;
                println!(
                    "{}",
                    serde_json::json!({ "database": backend, "applied": applied, "schema_version": version })
                );
                Ok(())
            }
        }
    })
}
