//! Run with `cargo run -p lumen` (see `lumen --help`).

use std::process::ExitCode;
use std::sync::Arc;

use lumen::{Config, ConfigError, Lumen};
use mfa_flow::SystemClock;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "lumen=info,mfa_axum=info,mfa_flow::audit=info".into()),
        )
        .init();
    let config = match Config::from_args(std::env::args().skip(1), |name| std::env::var(name).ok())
    {
        Ok(config) => config,
        Err(ConfigError::Help) => {
            println!("{}", lumen::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lumen: {e}");
            return ExitCode::from(2);
        }
    };
    let running = match Lumen::new(config, Arc::new(SystemClock)).await {
        Ok(app) => app.serve().await,
        Err(e) => Err(e),
    };
    let running = match running {
        Ok(running) => running,
        Err(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("lumen: {text}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Lumen is running at http://{}/ (Ctrl-C to stop)",
        running.addr
    );
    let _ = tokio::signal::ctrl_c().await;
    match running.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lumen: {e}");
            ExitCode::FAILURE
        }
    }
}
