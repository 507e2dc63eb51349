//! The web console: its pages and their CSP, sign-in and its session cookie, CSRF, expiry,
//! and that the console's API acts with exactly the session key's rights.

use crate::common::*;
use crate::tenancy::{root_conn, user};

use serde_json::{Value, json};
use tollgate::admin::client::call;

const CONSOLE: &str = "/_tollgate/console/";

/// A signed-in browser: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

fn json_of(r: &RawResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("not JSON ({}): {}", r.status, r.text()))
}

async fn sign_in_raw(gw: &Gateway, ak: &str, sk: &str, extra: &[(String, String)]) -> RawResponse {
    let body = json!({"access_key": ak, "secret_key": sk}).to_string();
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend_from_slice(extra);
    raw(gw.addr, "POST", "/_tollgate/console/session", &headers, body.as_bytes(), None).await
}

async fn sign_in(gw: &Gateway, ak: &str, sk: &str) -> Browser {
    let r = sign_in_raw(gw, ak, sk, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.header("set-cookie").unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    Browser { cookie, csrf: json_of(&r)["csrf"].as_str().unwrap().to_owned() }
}

impl Browser {
    /// A console API call (`path` after `/_tollgate/console/`), with the CSRF token or not.
    async fn call(&self, gw: &Gateway, method: &str, path: &str, body: &[u8], csrf: bool) -> RawResponse {
        let mut headers = vec![("cookie".to_owned(), self.cookie.clone())];
        if csrf {
            headers.push(("x-tollgate-csrf".to_owned(), self.csrf.clone()));
        }
        raw(gw.addr, method, &format!("{CONSOLE}{path}"), &headers, body, None).await
    }

    /// A POST of JSON to the console's own endpoints, with the CSRF token.
    async fn post_json(&self, gw: &Gateway, path: &str, v: &Value) -> RawResponse {
        let headers = vec![
            ("cookie".to_owned(), self.cookie.clone()),
            ("x-tollgate-csrf".to_owned(), self.csrf.clone()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        raw(gw.addr, "POST", &format!("{CONSOLE}{path}"), &headers, v.to_string().as_bytes(), None).await
    }
}

#[tokio::test]
async fn pages_are_embedded_with_a_strict_policy() {
    let gw = Gateway::start().await;
    let page = raw(gw.addr, "GET", CONSOLE, &[], b"", None).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(page.text().contains("assets/app.js"));
    let js = raw(gw.addr, "GET", "/_tollgate/console/assets/app.js", &[], b"", None).await;
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().starts_with("text/javascript"));
    assert_eq!(raw(gw.addr, "GET", "/_tollgate/console/assets/nope.js", &[], b"", None).await.status, 404);
    let redirect = raw(gw.addr, "GET", "/_tollgate/console", &[], b"", None).await;
    assert_eq!((redirect.status, redirect.header("location")), (308, Some(CONSOLE)));

    // Turned off: not served at all.
    let off = Gateway::start_with(|c| c.console.enabled = false).await;
    assert_eq!(raw(off.addr, "GET", CONSOLE, &[], b"", None).await.status, 404);
    assert_eq!(sign_in_raw(&off, ACCESS_KEY, SECRET_KEY, &[]).await.status, 404);
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_a_wrong_secret_is_refused() {
    let gw = Gateway::start().await;
    let bad = sign_in_raw(&gw, ACCESS_KEY, "wrong-secret", &[]).await;
    assert_eq!(bad.status, 403);
    assert!(bad.header("set-cookie").is_none());
    assert!(json_of(&bad)["error"].as_str().unwrap().contains("Sign-in refused"));
    assert_eq!(sign_in_raw(&gw, "NOSUCHKEY", SECRET_KEY, &[]).await.status, 403);

    let ok = sign_in_raw(&gw, ACCESS_KEY, SECRET_KEY, &[]).await;
    assert_eq!(ok.status, 200);
    let cookie = ok.header("set-cookie").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/_tollgate/console"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: a Secure cookie would never come back");
    let v = json_of(&ok);
    assert_eq!(v["who"]["root"], true);
    assert!(!ok.text().contains(SECRET_KEY), "the secret never goes back to the browser");

    // Another site cannot sign a browser in with its own key: a form's body type, or a
    // page of another origin, is refused.
    let form = raw(gw.addr, "POST", "/_tollgate/console/session", &[("content-type".into(), "text/plain".into())], b"{}", None).await;
    assert_eq!(form.status, 415);
    let foreign = sign_in_raw(&gw, ACCESS_KEY, SECRET_KEY, &[("origin".into(), "https://evil.example".into())]).await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.header("set-cookie").is_none());

    // Behind a TLS-terminating proxy the cookie is Secure.
    let tls = sign_in_raw(&gw, ACCESS_KEY, SECRET_KEY, &[("x-forwarded-proto".into(), "https".into())]).await;
    assert!(tls.header("set-cookie").unwrap().contains("; Secure"));

    // Session fixation: a cookie the browser brings is never kept; sign-in makes a new one.
    let first = sign_in(&gw, ACCESS_KEY, SECRET_KEY).await;
    let again = sign_in_raw(&gw, ACCESS_KEY, SECRET_KEY, &[("cookie".into(), first.cookie.clone())]).await;
    let second = again.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    assert_ne!(second, first.cookie);
    assert_eq!(first.call(&gw, "GET", "session", b"", false).await.status, 401, "the old session ended");

    // Sign-out ends the session.
    let b = sign_in(&gw, ACCESS_KEY, SECRET_KEY).await;
    assert_eq!(b.call(&gw, "GET", "session", b"", false).await.status, 200);
    assert_eq!(b.call(&gw, "DELETE", "session", b"", false).await.status, 403, "sign-out needs the CSRF token too");
    assert_eq!(b.call(&gw, "DELETE", "session", b"", true).await.status, 200);
    assert_eq!(b.call(&gw, "GET", "session", b"", false).await.status, 401);
    assert_eq!(b.call(&gw, "GET", "api/", b"", false).await.status, 401);
}

#[tokio::test]
async fn state_changes_need_the_csrf_token() {
    let gw = Gateway::start().await;
    let b = sign_in(&gw, ACCESS_KEY, SECRET_KEY).await;
    let refused = b.call(&gw, "PUT", "api/csrf-bucket", b"", false).await;
    assert_eq!(refused.status, 403);
    assert!(json_of(&refused)["error"].as_str().unwrap().contains("CSRF"));
    let wrong = Browser { cookie: b.cookie.clone(), csrf: "not-the-token".into() };
    assert_eq!(wrong.call(&gw, "PUT", "api/csrf-bucket", b"", true).await.status, 403);
    let client = gw.client();
    assert!(client.head_bucket().bucket("csrf-bucket").send().await.is_err(), "nothing was created");

    assert_eq!(b.call(&gw, "PUT", "api/csrf-bucket", b"", true).await.status, 200);
    client.head_bucket().bucket("csrf-bucket").send().await.unwrap();
    // Reads need no token (a link can download), but a cookie all the same.
    let list = b.call(&gw, "GET", "api/", b"", false).await;
    assert_eq!(list.status, 200);
    assert!(list.text().contains("<Name>csrf-bucket</Name>"));
    let nobody = raw(gw.addr, "GET", "/_tollgate/console/api/", &[], b"", None).await;
    assert_eq!(nobody.status, 401);
}

#[tokio::test]
async fn objects_go_through_the_console_as_the_session_key() {
    let gw = Gateway::start().await;
    let b = sign_in(&gw, ACCESS_KEY, SECRET_KEY).await;
    assert_eq!(b.call(&gw, "PUT", "api/files", b"", true).await.status, 200);
    // A key with characters SigV4 encodes, and one that is markup.
    for key in ["dir/a b(1)!*'.txt", "<img src=x onerror=alert(1)>"] {
        let path = format!("api/files/{}", tollgate::console::uri_encode(key, true));
        let put = b.call(&gw, "PUT", &path, b"hello console", true).await;
        assert_eq!(put.status, 200, "{key}: {}", put.text());
        let got = gw.client().get_object().bucket("files").key(key).send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello console");
        let back = b.call(&gw, "GET", &path, b"", false).await;
        assert_eq!(back.body, b"hello console");
        // Whatever is stored comes back as data: downloaded, sandboxed, never a console page.
        assert_eq!(back.header("content-disposition"), Some("attachment"));
        assert!(back.header("content-security-policy").unwrap().contains("sandbox"));
    }
    // A share link: presigned with the session's key, fetched without any credentials.
    let r = b.post_json(&gw, "presign", &json!({"bucket": "files", "key": "dir/a b(1)!*'.txt", "expires_secs": 600})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = json_of(&r)["url"].as_str().unwrap().to_owned();
    let path = url.split_once(&gw.addr.to_string()).unwrap().1;
    let anon = raw(gw.addr, "GET", path, &[], b"", None).await;
    assert_eq!((anon.status, anon.body.as_slice()), (200, b"hello console".as_slice()), "{}", anon.text());
    let too_long = b.post_json(&gw, "presign", &json!({"bucket": "files", "key": "k", "expires_secs": 700_000})).await;
    assert_eq!(too_long.status, 400);
    // The API does not call the console itself (its session endpoints are the browser's own).
    assert_eq!(b.call(&gw, "GET", "api/_tollgate/console/session", b"", false).await.status, 400);
    // The admin API is reached the same way, with the same answer.
    let tenants = b.call(&gw, "GET", "api/_tollgate/admin/tenants", b"", false).await;
    assert_eq!(tenants.status, 200, "{}", tenants.text());
    assert!(tenants.text().contains("root"));
}

#[tokio::test]
async fn the_console_has_exactly_the_keys_rights() {
    let gw = Gateway::start().await;
    let (wak, wsk) = user(&gw, "acme", "wendy", "writer").await;
    let (rak, rsk) = user(&gw, "acme", "rita", "reader").await;
    let (oak, osk) = user(&gw, "other", "olga", "admin").await;
    let (aak, ask) = user(&gw, "acme", "adam", "admin").await;
    let acme_admin = sign_in(&gw, &aak, &ask).await;
    assert_eq!(acme_admin.call(&gw, "PUT", "api/acme-data", b"", true).await.status, 200);
    let other = sign_in(&gw, &oak, &osk).await;
    assert_eq!(other.call(&gw, "PUT", "api/other-data", b"", true).await.status, 200);

    let writer = sign_in(&gw, &wak, &wsk).await;
    assert_eq!(writer.call(&gw, "PUT", "api/acme-data/w.txt", b"by wendy", true).await.status, 200);
    // Another tenant's bucket: refused by the gateway, with its words.
    let foreign = writer.call(&gw, "GET", "api/other-data?list-type=2", b"", false).await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.text().contains("<Code>AccessDenied</Code>"));
    assert_eq!(writer.call(&gw, "PUT", "api/other-data/x", b"x", true).await.status, 403);
    // A writer is no admin.
    assert_eq!(writer.call(&gw, "GET", "api/_tollgate/admin/users", b"", false).await.status, 403);

    let reader = sign_in(&gw, &rak, &rsk).await;
    let refused = reader.call(&gw, "PUT", "api/acme-data/r.txt", b"by rita", true).await;
    assert_eq!(refused.status, 403);
    assert!(refused.text().contains("AccessDenied"), "{}", refused.text());
    assert_eq!(reader.call(&gw, "GET", "api/acme-data/w.txt", b"", false).await.body, b"by wendy");

    // The requests were audited as the key's own.
    let audit = call(&root_conn(&gw), "GET", "audit?tenant=acme&outcome=denied", None).await.unwrap();
    assert!(audit.to_string().contains(&rak), "the reader's refused upload is in the audit log: {audit}");
}

#[tokio::test]
async fn a_disabled_key_ends_its_sessions_at_once() {
    let gw = Gateway::start().await;
    let (ak, sk) = user(&gw, "acme", "dora", "writer").await;
    let b = sign_in(&gw, &ak, &sk).await;
    assert_eq!(b.call(&gw, "GET", "session", b"", false).await.status, 200);
    call(&root_conn(&gw), "POST", &format!("keys/{ak}/disable"), None).await.unwrap();
    let r = b.call(&gw, "GET", "api/", b"", false).await;
    assert_eq!(r.status, 401);
    assert!(json_of(&r)["error"].as_str().unwrap().contains("disabled or deleted"));
    // Enabling the key again does not bring the session back.
    call(&root_conn(&gw), "POST", &format!("keys/{ak}/enable"), None).await.unwrap();
    assert_eq!(b.call(&gw, "GET", "session", b"", false).await.status, 401);
    assert_eq!(sign_in_raw(&gw, &ak, &sk, &[]).await.status, 200);
}

#[tokio::test]
async fn sessions_expire() {
    let gw = Gateway::start_with(|c| {
        c.console.idle_timeout_secs = 1;
        c.console.max_session_secs = 60;
    })
    .await;
    let b = sign_in(&gw, ACCESS_KEY, SECRET_KEY).await;
    assert_eq!(b.call(&gw, "GET", "session", b"", false).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = b.call(&gw, "GET", "session", b"", false).await;
    assert_eq!(r.status, 401);
    assert!(json_of(&r)["error"].as_str().unwrap().contains("expired"));
}
