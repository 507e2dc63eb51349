use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tollgate::config::Config;
use tollgate::server::{self, App};

#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about = "An S3-compatible gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (defaults: local backend in ./data, 127.0.0.1:9000).
    Serve {
        /// Configuration file (see conf/tollgate.toml).
        #[arg(long, env = "TOLLGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on (overrides the config).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (overrides the config).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Forward to this S3 endpoint (`backend = "upstream"`), e.g.
        /// `https://s3.eu-west-1.amazonaws.com` or `http://KEY:SECRET@127.0.0.1:9100`.
        #[arg(long)]
        upstream: Option<String>,
    },
    /// Proof manifests: fetch, verify a file (offline with --manifest and --pubkey),
    /// verify a tenant's chain.
    Proof {
        #[command(flatten)]
        conn: tollgate::admin::client::Connection,
        #[command(subcommand)]
        command: tollgate::proof::cli::ProofCommand,
    },
    /// Exit 0 if a running gateway is ready (`GET /ready` answers 200): for health checks.
    Probe {
        /// host:port of the gateway.
        #[arg(long, default_value = "127.0.0.1:9000", env = "TOLLGATE_PROBE_ADDR")]
        addr: String,
        /// Check only that the process answers (`/health`), not that it can serve (`/ready`).
        #[arg(long)]
        alive: bool,
    },
    /// Manage a running gateway through its admin API.
    Admin {
        #[command(flatten)]
        conn: tollgate::admin::client::Connection,
        #[command(subcommand)]
        command: tollgate::admin::client::AdminCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, listen, data_dir, upstream } => serve(config, listen, data_dir, upstream.as_deref()),
        Command::Probe { addr, alive } => {
            client("probe", tollgate::obs::probe(&addr, if alive { "/health" } else { "/ready" }))
        }
        Command::Admin { conn, command } => client("admin", tollgate::admin::client::run(&conn, command)),
        Command::Proof { conn, command } => client("proof", tollgate::proof::cli::run(&conn, command)),
    }
}

/// Runs one client command of the CLI.
fn client(name: &str, command: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Option<PathBuf>, listen: Option<std::net::SocketAddr>, data_dir: Option<PathBuf>, upstream: Option<&str>) -> ExitCode {
    let loaded = Config::load(config.as_deref()).and_then(|mut cfg| {
        if let Some(url) = upstream {
            cfg.backend = tollgate::config::BackendKind::Upstream;
            cfg.upstream.set_url(url)?;
            cfg.validate()?;
        }
        Ok(cfg)
    });
    let mut cfg = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(l) = listen {
        cfg.listen = l;
    }
    if let Some(d) = data_dir {
        cfg.data_dir = d;
    }
    tollgate::obs::init_logging(&cfg.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listen = cfg.listen;
        let app = match App::open(cfg) {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the gateway");
                return ExitCode::FAILURE;
            }
        };
        if let Some((key, secret)) = &app.generated_root {
            println!(
                "Generated root credentials (shown once; kept in {}):\n  access key: {key}\n  secret key: {}",
                app.config.data_dir.join("root-credentials").display(),
                secret.expose()
            );
        }
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(addr = %listen, error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        match server::run(listener, app, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutdown signal received");
}
