//! The HTTP client of the gateway's own APIs (admin and proofs), shared by the
//! `tollgate admin` and `tollgate proof` commands: where the gateway is, who calls it, and
//! one SigV4-signed JSON request.

use std::time::SystemTime;

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// Where the admin API is and who calls it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Gateway endpoint.
    #[arg(long, env = "TOLLGATE_ENDPOINT", default_value = "http://127.0.0.1:9000", global = true)]
    pub endpoint: String,
    /// Access key of an admin or root user.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", global = true, hide_env_values = true)]
    pub access_key: Option<String>,
    /// Secret key of that user.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Region the gateway signs for.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// PEM file of the certificates an `https://` endpoint is verified against, instead of
    /// the system's (a gateway serving its own `[tls]` certificate from a private CA).
    #[arg(long, env = "AWS_CA_BUNDLE", global = true)]
    pub ca_bundle: Option<std::path::PathBuf>,
}

/// One call to the gateway's own endpoints (`full_path` from the root), signed when
/// credentials are given, anonymous otherwise.
pub async fn request(conn: &Connection, method: &str, full_path: &str, payload: Vec<u8>) -> Result<Value, String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use sha2::Digest;

    let url = format!("{}{full_path}", conn.endpoint.trim_end_matches('/'));
    let mut req = http::Request::builder()
        .method(method)
        .uri(&url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let (Some(ak), Some(sk)) = (&conn.access_key, &conn.secret_key) else {
        *req.body_mut() = Full::new(Bytes::from(payload));
        return send(conn, req).await;
    };
    let payload_hash = hex_simd::encode_to_string(sha2::Sha256::digest(&payload), hex_simd::AsciiCase::Lower);
    let identity = aws_credential_types::Credentials::new(ak, sk, None, None, "tollgate-admin").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&conn.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers = [("x-amz-content-sha256", payload_hash.as_str())];
    let signable = SignableRequest::new(method, &url, headers.iter().copied(), SignableBody::Precomputed(payload_hash.clone())).map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    req.headers_mut().insert("x-amz-content-sha256", payload_hash.parse().map_err(|_| "bad hash".to_owned())?);
    *req.body_mut() = Full::new(Bytes::from(payload));
    instructions.apply_to_request_http1x(&mut req);
    send(conn, req).await
}

async fn send(conn: &Connection, req: http::Request<Full<Bytes>>) -> Result<Value, String> {
    let https = crate::tls::client_connector(conn.ca_bundle.as_deref())
        .map_err(|e| format!("cannot reach {}: {e}", conn.endpoint))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let resp = client.request(req).await.map_err(|e| format!("cannot reach {}: {e}", conn.endpoint))?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"error": String::from_utf8_lossy(&bytes)}));
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!("{status}: {}", value.get("error").map_or_else(|| value.to_string(), |e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))))
    }
}
