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
    /// Copy every object (or one bucket's) between the local and the upstream backend,
    /// verified against its proof manifest; resumable. Run with the gateway stopped; a
    /// complete run switches the data directory to the destination (README, "Migration").
    Migrate {
        /// Configuration file: the data directory and the `[upstream]` to use.
        #[arg(long, env = "TOLLGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory (overrides the config).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The upstream, as for `serve --upstream` (overrides the config).
        #[arg(long)]
        upstream: Option<String>,
        /// Where the objects are now: local or upstream.
        #[arg(long)]
        from: tollgate::config::BackendKind,
        /// Where they go: local or upstream.
        #[arg(long)]
        to: tollgate::config::BackendKind,
        /// Only this bucket (the run then does not switch backends).
        #[arg(long)]
        bucket: Option<String>,
        /// Count what would be copied; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Objects copied at once.
        #[arg(long, default_value_t = 4)]
        parallel: usize,
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
        Command::Probe { addr, alive } => client("probe", tollgate::obs::probe(&addr, if alive { "/health" } else { "/ready" })),
        Command::Migrate { config, data_dir, upstream, from, to, bucket, dry_run, parallel } => {
            let opts = tollgate::migrate::Options { from, to, bucket, dry_run, parallel };
            migrate(config, data_dir, upstream.as_deref(), &opts)
        }
        Command::Admin { conn, command } => client("admin", tollgate::admin::client::run(&conn, command)),
        Command::Proof { conn, command } => client("proof", tollgate::proof::cli::run(&conn, command)),
    }
}

/// Runs one client command of the CLI.
fn client<E: std::fmt::Display>(name: &str, command: impl std::future::Future<Output = Result<(), E>>) -> ExitCode {
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

/// The configuration from `config`, with the command line's overrides.
fn load_config(config: Option<PathBuf>, data_dir: Option<PathBuf>, upstream: Option<&str>) -> Result<Config, String> {
    let mut cfg = Config::load(config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(url) = upstream {
        cfg.backend = tollgate::config::BackendKind::Upstream;
        cfg.upstream.set_url(url).map_err(|e| e.to_string())?;
        cfg.validate().map_err(|e| e.to_string())?;
    }
    if let Some(d) = data_dir {
        cfg.data_dir = d;
    }
    Ok(cfg)
}

fn migrate(config: Option<PathBuf>, data_dir: Option<PathBuf>, upstream: Option<&str>, opts: &tollgate::migrate::Options) -> ExitCode {
    let mut cfg = match load_config(config, data_dir, upstream) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    // The upstream is configured for the migration whichever backend serves today.
    cfg.backend = opts.from;
    tollgate::obs::init_logging(&cfg.log);
    let Some(runtime) = multi_thread_runtime() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        let progress = tollgate::migrate::Progress::default();
        let started = std::time::Instant::now();
        let result = tokio::select! {
            r = tollgate::migrate::run(&cfg, opts, &progress) => r,
            () = tollgate::migrate::show_progress(&progress) => unreachable!("the display runs until the migration ends"),
        };
        eprintln!("\r\x1b[2K{}", progress.line(started.elapsed()));
        match result {
            Ok(report) => {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                match (&opts.bucket, report.switched) {
                    (Some(bucket), true) => eprintln!("tollgate: bucket {bucket} is now held by the {} backend; the gateway serves it from there (keep [upstream] configured while any bucket is held upstream)", opts.to.name()),
                    (None, true) => eprintln!("tollgate: the objects are now held by the {} backend: set backend = \"{}\" before starting the gateway", opts.to.name(), opts.to.name()),
                    (_, false) => {}
                }
                if report.failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
            }
            Err(e) => {
                eprintln!("tollgate migrate: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn serve(config: Option<PathBuf>, listen: Option<std::net::SocketAddr>, data_dir: Option<PathBuf>, upstream: Option<&str>) -> ExitCode {
    let mut cfg = match load_config(config, data_dir, upstream) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(l) = listen {
        cfg.listen = l;
    }
    tollgate::obs::init_logging(&cfg.log);
    let Some(runtime) = multi_thread_runtime() else {
        return ExitCode::FAILURE;
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
        let health = match app.config.tls.plain_health_listen {
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::error!(%addr, error = %e, "cannot listen for health checks");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        match server::run(server::Listeners { main: listener, health }, app, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}

fn multi_thread_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| eprintln!("tollgate: cannot start the runtime: {e}")).ok()
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
