//! Observability: logging setup, metrics and the operational endpoints (`/health`, `/ready`,
//! `/metrics`).

pub mod metrics;

use metrics::Metrics;

use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// `[log]` of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter, such as `info` or `tollgate=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

/// How log lines are written to stderr (`[log] format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        // s3s logs refused requests at ERROR; tollgate logs each outcome itself.
        Self { format: LogFormat::Text, level: "info,s3s=off".into() }
    }
}

/// What the operational endpoints ask of the gateway (the server answers, so this module
/// does not depend on it).
#[async_trait::async_trait]
pub trait Readiness: Send + Sync {
    /// Whether the gateway can serve now; otherwise what cannot, and why.
    async fn ready(&self) -> Result<(), Unready>;

    /// Bytes the metadata database takes on disk (0 if it cannot tell), for `/metrics`.
    fn metadata_size(&self) -> u64;
}

/// The parts of the gateway that cannot serve now, each with its reason as `/ready` shows it
/// (in name order, as the answer always listed them).
#[derive(Debug, Default, Serialize)]
pub struct Unready {
    /// A storage engine does not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The cluster's control log has not been read lately: this instance may not know
    /// the latest changes to keys, tenants and settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// The metadata store does not take a durable write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

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
    http::Response::builder().status(status).header(http::header::CONTENT_TYPE, "application/json").body(s3s::Body::from(body.to_string())).unwrap_or_default()
}

/// Answers the operational endpoints; `None` for everything else (the S3 front).
pub async fn route(gateway: &impl Readiness, metrics: &Metrics, req: &http::Request<Incoming>) -> Option<http::Response<s3s::Body>> {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    match req.uri().path() {
        "/metrics" => {
            let text = metrics.render(gateway.metadata_size());
            let mut resp = http::Response::new(s3s::Body::from(text));
            resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"));
            Some(resp)
        }
        "/health" => Some(json(http::StatusCode::OK, &serde_json::json!({"status": "ok"}))),
        "/ready" => Some(match gateway.ready().await {
            Ok(()) => json(http::StatusCode::OK, &serde_json::json!({"status": "ready"})),
            Err(failed) => json(http::StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({"status": "not ready", "failed": failed})),
        }),
        _ => None,
    }
}

/// Why `tollgate probe` failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The gateway at `addr` did not answer in time.
    #[error("{addr}: no answer within 5 s")]
    Timeout {
        /// The address probed.
        addr: String,
    },
    /// No connection to `addr`, or it broke.
    #[error("{addr}: {source}")]
    Io {
        /// The address probed.
        addr: String,
        /// The connection error.
        source: std::io::Error,
    },
    /// Any answer but 200: its status line and body.
    #[error("{path} answered {status:?} {body}")]
    NotOk {
        /// The path asked for, `/ready` or `/health`.
        path: String,
        /// The HTTP status line.
        status: String,
        /// The response body, which says what is not ready.
        body: String,
    },
}

/// `tollgate probe`: asks a running gateway's `/ready` (or `/health`) over plain HTTP/1.1,
/// for container health checks, which have no curl. `Ok` only on a 200 answer.
pub async fn probe(addr: &str, path: &str) -> Result<(), ProbeError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = async {
        let mut conn = tokio::net::TcpStream::connect(addr).await?;
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), io)
        .await
        .map_err(|_| ProbeError::Timeout { addr: addr.to_owned() })?
        .map_err(|source| ProbeError::Io { addr: addr.to_owned(), source })?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Err(ProbeError::NotOk { path: path.to_owned(), status: status.to_owned(), body: body.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unready_parts_are_listed_in_name_order() {
        let all = Unready { backend: Some("b".into()), control: Some("c".into()), metadata: Some("m".into()) };
        assert_eq!(serde_json::to_string(&all).unwrap(), r#"{"backend":"b","control":"c","metadata":"m"}"#);
        let metadata = Unready { backend: None, control: None, metadata: Some("m".into()) };
        assert_eq!(serde_json::to_string(&metadata).unwrap(), r#"{"metadata":"m"}"#);
    }

    #[test]
    fn probe_failures_read_as_the_cli_prints_them() {
        let refused = ProbeError::NotOk { path: "/ready".into(), status: "HTTP/1.1 503 Service Unavailable".into(), body: "{}".into() };
        assert_eq!(refused.to_string(), r#"/ready answered "HTTP/1.1 503 Service Unavailable" {}"#);
        assert_eq!(ProbeError::Timeout { addr: "127.0.0.1:1".into() }.to_string(), "127.0.0.1:1: no answer within 5 s");
    }
}
