//! The loopback ceiling: the cheapest server that answers loadgen's requests (bucket PUT,
//! object PUT and GET, ListObjectsV2), objects kept in memory, nothing checked, nothing
//! logged or made durable. What loadgen reaches against it is what this machine's loopback
//! and loadgen itself allow; `benches/compare.sh --servers "tollgate ceiling"` measures
//! tollgate against it. HTTP/1.1, one task per connection, `TCP_NODELAY`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

#[derive(Parser)]
#[command(about = "In-memory S3 stand-in answering loadgen's requests: the benchmarks' loopback ceiling")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:19099")]
    listen: String,
}

/// Objects by their request path (`/bucket/key`, as sent: percent-encoded).
type Objects = Arc<RwLock<BTreeMap<String, Bytes>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let objects: Objects = Arc::default();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let objects = objects.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(objects.clone(), req));
            // A client that goes away ends its connection; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp
}

async fn answer(objects: Objects, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    let is_bucket = path.trim_start_matches('/').split_once('/').is_none_or(|(_, key)| key.is_empty());
    Ok(match (req.method().clone(), is_bucket) {
        (Method::PUT, true) => reply(StatusCode::OK, Bytes::new()),
        (Method::PUT, false) => {
            let body = req.into_body().collect().await?.to_bytes();
            objects.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(path, body);
            let mut resp = reply(StatusCode::OK, Bytes::new());
            resp.headers_mut().insert("etag", hyper::header::HeaderValue::from_static("\"0\""));
            resp
        }
        (Method::GET, false) => match objects.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&path) {
            Some(body) => reply(StatusCode::OK, body.clone()),
            None => reply(StatusCode::NOT_FOUND, Bytes::new()),
        },
        (Method::GET, true) => reply(StatusCode::OK, Bytes::from(list(&objects, &path, req.uri().query().unwrap_or("")))),
        _ => reply(StatusCode::METHOD_NOT_ALLOWED, Bytes::new()),
    })
}

/// A ListObjectsV2 answer: the first `max-keys` (default 1000) keys under `prefix`.
fn list(objects: &Objects, bucket_path: &str, query: &str) -> String {
    let param = |name: &str| query.split('&').find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(percent_decode);
    let prefix = param("prefix").unwrap_or_default();
    let max_keys: usize = param("max-keys").and_then(|m| m.parse().ok()).unwrap_or(1000);
    let base = format!("{}/", bucket_path.trim_end_matches('/'));
    let start = format!("{base}{prefix}");
    let objects = objects.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut matching = objects.range(start.clone()..).take_while(|(k, _)| k.starts_with(&start));
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#);
    let mut count = 0;
    for (key, body) in matching.by_ref().take(max_keys) {
        let _ = write!(xml, "<Contents><Key>{}</Key><Size>{}</Size><ETag>\"0\"</ETag></Contents>", &key[base.len()..], body.len());
        count += 1;
    }
    let truncated = matching.next().is_some();
    let _ = write!(xml, "<KeyCount>{count}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated></ListBucketResult>");
    xml
}

/// A query value with its `%XX` escapes decoded (anything else is kept as it is).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_first_keys_under_a_prefix_as_list_objects_v2_does() {
        let objects: Objects = Arc::default();
        for key in ["a/1", "a/2", "a/3", "b/1"] {
            objects.write().unwrap().insert(format!("/bkt/{key}"), Bytes::from_static(b"xyz"));
        }
        let xml = list(&objects, "/bkt", "list-type=2&max-keys=2&prefix=a%2F");
        assert!(xml.contains("<Key>a/1</Key><Size>3</Size>") && xml.contains("<Key>a/2</Key>"), "{xml}");
        assert!(!xml.contains("a/3") && xml.contains("<KeyCount>2</KeyCount>") && xml.contains("<IsTruncated>true</IsTruncated>"), "{xml}");
        let all = list(&objects, "/bkt/", "prefix=a%2F&list-type=2");
        assert!(all.contains("<KeyCount>3</KeyCount>") && all.contains("<IsTruncated>false</IsTruncated>") && !all.contains("b/1"), "{all}");
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
