//! Observability: logging setup and the operational endpoints (`/health`, `/ready`).

use crate::config::{LogConfig, LogFormat};
use crate::server::App;

use hyper::body::Incoming;
use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber (text or JSON lines on stderr).
pub fn init_logging(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
    };
}

fn json(status: http::StatusCode, body: &serde_json::Value) -> http::Response<s3s::Body> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(s3s::Body::from(body.to_string()))
        .unwrap_or_default()
}

/// Answers the operational endpoints; `None` for everything else (the S3 front).
pub async fn route(app: &App, req: &http::Request<Incoming>) -> Option<http::Response<s3s::Body>> {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    match req.uri().path() {
        "/health" => Some(json(http::StatusCode::OK, &serde_json::json!({"status": "ok"}))),
        "/ready" => Some(match app.ready().await {
            Ok(()) => json(http::StatusCode::OK, &serde_json::json!({"status": "ready"})),
            Err(reason) => json(
                http::StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"status": "not ready", "failed": {"backend": reason}}),
            ),
        }),
        _ => None,
    }
}
