//! Browser form uploads (`POST` object): what s3s 0.14 leaves to the gateway.
//!
//! s3s parses the form, checks its policy signature and conditions, and serves it as a
//! PutObject. It does not substitute `${filename}` in the key (the file part's name is
//! dropped with the form before any hook runs), and words some refusals otherwise than
//! S3. So the server taps the body for the file part's `filename` ([`FormTap`], read by
//! the `post_object` access hook through [`FormFile`]), the answer of a stored form names
//! the key really written ([`PostedObject`], [`complete_answer`]), and refusals get S3's
//! codes and messages ([`s3_refusal`]).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Part headers are scanned this far into the body at most: past it (s3s allows 20 MB of
/// fields) the form has no readable file part, and s3s refuses it.
const SCAN_LIMIT: usize = 21 * 1024 * 1024;

/// What the server saw of a form before its file (an extension of the request): the file
/// part's `filename` (empty when it names none), the `policy` field and the `acl` field.
/// s3s verified the policy's signature and conditions, then drops it with the form before
/// the hooks run; s3s 0.14 reads a form's canned ACL from `x-amz-acl` only, where S3 names
/// the field `acl`.
#[derive(Debug, Clone, Default)]
pub struct FormFile(Arc<OnceLock<Seen>>);

#[derive(Debug)]
struct Seen {
    filename: String,
    policy: Option<String>,
    acl: Option<String>,
}

impl FormFile {
    /// The file name, if the file part was seen.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.0.get().map(|s| s.filename.as_str())
    }

    /// The form's `acl` field, if it had one.
    #[must_use]
    pub fn acl(&self) -> Option<&str> {
        self.0.get()?.acl.as_deref()
    }

    /// The form's policy (as s3s checked it), if it had one.
    #[must_use]
    pub fn policy(&self) -> Option<s3s::post_policy::PostPolicy> {
        s3s::post_policy::PostPolicy::from_base64(self.0.get()?.policy.as_deref()?).ok()
    }
}

/// The object a form upload stored (an extension of the answer): the answer names it.
#[derive(Debug, Clone)]
pub struct PostedObject {
    /// The bucket.
    pub bucket: String,
    /// The key written, `${filename}` substituted.
    pub key: String,
    /// Its ETag, quoted.
    pub etag: String,
}

/// The boundary of a `multipart/form-data` content type, if it is one.
#[must_use]
pub fn form_boundary(headers: &http::HeaderMap) -> Option<String> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let (essence, params) = ct.split_once(';')?;
    if !essence.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// `key` with each `${filename}` replaced by the base name of the uploaded file (what a
/// browser sends, without a path some old browsers put before it), as S3 does.
#[must_use]
pub fn substitute_filename(key: &str, filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    key.replace("${filename}", base)
}

struct Scan {
    /// `\r\n--boundary\r\n` (the first delimiter is matched without its leading CRLF).
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    /// Where the next search for a part starts.
    from: usize,
}

impl Scan {
    /// What was seen of the form once `buf` holds the file part's headers.
    fn file_name(&mut self) -> Option<Seen> {
        let delimiter = &self.delimiter[2..];
        loop {
            let Some(found) = find(&self.buf[self.from..], delimiter) else {
                // The next search resumes where a delimiter cut by the frame's end may start.
                self.from = self.from.max(self.buf.len().saturating_sub(delimiter.len()));
                return None;
            };
            let at = self.from + found;
            let start = at + delimiter.len();
            let Some(end) = find(&self.buf[start..], b"\r\n\r\n").map(|e| e + start) else {
                self.from = at;
                return None;
            };
            self.from = end;
            let headers = String::from_utf8_lossy(&self.buf[start..end]);
            for line in headers.split("\r\n") {
                let Some((name, value)) = line.split_once(':') else { continue };
                if !name.trim().eq_ignore_ascii_case("content-disposition") {
                    continue;
                }
                let param = |wanted: &str| {
                    value.split(';').find_map(|p| {
                        let (n, v) = p.split_once('=')?;
                        n.trim().eq_ignore_ascii_case(wanted).then(|| v.trim().trim_matches('"').to_owned())
                    })
                };
                if param("name").is_some_and(|n| n.eq_ignore_ascii_case("file")) {
                    return Some(Seen { filename: param("filename").unwrap_or_default(), policy: self.field(at, "policy"), acl: self.field(at, "acl") });
                }
            }
        }
    }
}

impl Scan {
    /// The value of field `name` among the parts before `end` (where the file's starts).
    fn field(&self, end: usize, name: &str) -> Option<String> {
        let wanted = format!("name=\"{name}\"");
        let delimiter = &self.delimiter[2..];
        let mut rest = &self.buf[..end];
        while let Some(at) = find(rest, delimiter) {
            rest = &rest[at + delimiter.len()..];
            let Some(head_end) = find(rest, b"\r\n\r\n") else { break };
            let head = String::from_utf8_lossy(&rest[..head_end]).to_ascii_lowercase();
            let value = &rest[head_end + 4..];
            let value = &value[..find(value, &self.delimiter).unwrap_or(value.len())];
            let named = head.split("\r\n").any(|l| l.starts_with("content-disposition:") && l.split(';').any(|p| p.trim().replace(' ', "") == wanted));
            if named {
                return Some(String::from_utf8_lossy(value).trim_end_matches("\r\n").to_owned());
            }
        }
        None
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A request body that notes, as it streams, the `filename` of a form's file part in a
/// [`FormFile`]; bytes pass through untouched. A body that is not a form is not scanned.
pub struct FormTap<B> {
    inner: B,
    scan: Option<Scan>,
    file: FormFile,
}

impl<B> FormTap<B> {
    /// Wraps `inner`; `boundary` is the form's (`None`: not a form, nothing scanned).
    pub fn new(inner: B, boundary: Option<&str>, file: FormFile) -> Self {
        let scan = boundary.map(|b| Scan { delimiter: format!("\r\n--{b}\r\n").into_bytes(), buf: Vec::new(), from: 0 });
        Self { inner, scan, file }
    }
}

impl<B> Body for FormTap<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let (Some(Ok(frame)), Some(scan)) = (&frame, &mut this.scan)
            && let Some(data) = frame.data_ref()
        {
            scan.buf.extend_from_slice(data);
            if let Some(seen) = scan.file_name() {
                let _ = this.file.0.set(seen);
                this.scan = None;
            } else if scan.buf.len() > SCAN_LIMIT {
                this.scan = None;
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Escapes XML element text (quotes need none there: S3 writes its ETags' as they are).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Makes the answer to a stored form name the object stored (and its ETag): s3s writes the form's key
/// as sent (`${filename}` unsubstituted) in the `201` document and the `303` location.
pub fn complete_answer(resp: &mut http::Response<s3s::Body>) {
    let Some(posted) = resp.extensions().get::<PostedObject>().cloned() else { return };
    // S3 answers a stored form's ETag as a PUT's (s3s does not).
    if let Ok(v) = http::HeaderValue::from_str(&posted.etag) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    match resp.status() {
        http::StatusCode::CREATED => {
            let location = format!("/{}/{}", posted.bucket, posted.key);
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                escape(&location),
                escape(&posted.bucket),
                escape(&posted.key),
                escape(&posted.etag)
            );
            if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
                resp.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(doc.len()));
            }
            *resp.body_mut() = s3s::Body::from(doc);
        }
        http::StatusCode::SEE_OTHER => {
            let Some(location) = resp.headers().get(http::header::LOCATION).and_then(|v| v.to_str().ok()) else { return };
            let Ok(mut url) = url::Url::parse(location) else { return };
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = match &*k {
                        "key" => posted.key.clone(),
                        "etag" => posted.etag.clone(),
                        _ => v.into_owned(),
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
            if let Ok(v) = http::HeaderValue::from_str(url.as_str()) {
                resp.headers_mut().insert(http::header::LOCATION, v);
            }
        }
        _ => {}
    }
}

/// A refusal of a form upload as S3 words it, for what s3s words otherwise: the code,
/// status and message S3 gives, or `None` to keep s3s's.
///
/// - expired policy: `403 AccessDenied` "Invalid according to Policy: Policy expired."
/// - a field no condition covers: `403 AccessDenied` "Invalid according to Policy: Extra
///   input fields: NAME"
/// - a failed `eq` / `starts-with` (s3s: `400 InvalidPolicyDocument`): `403 AccessDenied`
///   "Invalid according to Policy: Policy Condition failed: ..."
/// - no `key` field (s3s: `InvalidRequest`): `400 InvalidArgument`.
/// - a form s3s cannot read (no file part, mostly): `400 MalformedPOSTRequest`, with S3's message.
#[must_use]
pub fn s3_refusal(code: &str, message: &str) -> Option<(http::StatusCode, &'static str, String)> {
    let denied = |m: String| Some((http::StatusCode::FORBIDDEN, "AccessDenied", m));
    match code {
        "AccessDenied" if message == "Request has expired" => denied("Invalid according to Policy: Policy expired.".into()),
        "AccessDenied" if message.ends_with("not specified in the policy.") => {
            let field = message.rsplit('"').nth(1).unwrap_or("");
            denied(format!("Invalid according to Policy: Extra input fields: {field}"))
        }
        // s3s checks the conditions before it looks for the key: a key condition failed on
        // an empty value is a form without a key.
        "InvalidPolicyDocument" if message.starts_with("Policy condition") && message.contains("for field 'key' failed") && message.ends_with("got ''") => {
            s3_refusal("InvalidRequest", "missing key")
        }
        "InvalidPolicyDocument" if message.starts_with("Policy condition") || message.starts_with("Bucket in form field") => {
            denied(format!("Invalid according to Policy: Policy Condition failed: {}", failed_condition(message).unwrap_or_else(|| message.to_owned())))
        }
        // s3s says nothing of a form it cannot read (one without a file part, mostly).
        "MalformedPOSTRequest" if message.is_empty() => {
            Some((http::StatusCode::BAD_REQUEST, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.".into()))
        }
        "InvalidRequest" if message == "missing key" => Some((
            http::StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.".into(),
        )),
        _ => None,
    }
}

/// The condition s3s names in "Policy condition 'OP' for field 'FIELD' failed: expected
/// [prefix ]'VALUE', got '...'", as S3 quotes it: `["OP", "$FIELD", "VALUE"]`.
fn failed_condition(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Policy condition '")?;
    let (op, rest) = rest.split_once("' for field '")?;
    let (field, rest) = rest.split_once("' failed: expected ")?;
    let value = rest.strip_prefix("prefix ").unwrap_or(rest).strip_prefix('\'')?;
    let value = &value[..value.rfind("', got '")?];
    Some(serde_json::json!([op, format!("${field}"), value]).to_string().replace("\",\"", "\", \""))
}

/// Rewrites the error document of a refused form upload into S3's (see [`s3_refusal`]).
pub fn complete_refusal(resp: &mut http::Response<s3s::Body>, request_id: &str) {
    if resp.status().as_u16() < 400 {
        return;
    }
    let Some(body) = resp.body().bytes() else { return };
    let Ok(text) = std::str::from_utf8(&body) else { return };
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{tag}>"))? + start;
        Some(unescape(&text[start..end]))
    };
    let Some(code) = field("Code") else { return };
    let message = field("Message").unwrap_or_default();
    let Some((status, code, message)) = s3_refusal(&code, &message) else { return };
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        escape(&message),
        escape(request_id)
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(doc.len()));
    *resp.body_mut() = s3s::Body::from(doc);
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[test]
    fn filename_substitution_takes_the_base_name() {
        assert_eq!(substitute_filename("up/${filename}", "a b.txt"), "up/a b.txt");
        assert_eq!(substitute_filename("up/${filename}", "C:\\fakepath\\x.png"), "up/x.png");
        assert_eq!(substitute_filename("fixed", "x"), "fixed");
    }

    #[test]
    fn boundaries_of_forms_only() {
        let h = |ct: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_str(ct).unwrap());
            form_boundary(&m)
        };
        assert_eq!(h("multipart/form-data; boundary=XyZ").as_deref(), Some("XyZ"));
        assert_eq!(h("Multipart/Form-Data; charset=x; boundary=\"a b\"").as_deref(), Some("a b"));
        assert_eq!(h("text/plain; boundary=x"), None);
    }

    #[tokio::test]
    async fn the_tap_finds_the_file_name_across_frames() {
        let form = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nup/${filename}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"Policy\"\r\n\r\neyJleHBpcmF0aW9uIjoiMjA5OS0wMS0wMVQwMDowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYnVja2V0IjoiYiJ9XX0=\r\n--XyZ\r\nContent-Disposition: form-data; name=\"acl\"\r\n\r\npublic-read\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nDATA\r\n--XyZ--\r\n";
        for split in [1, 7, 40, 60, 90, 150, 250, 300, form.len() - 1] {
            let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
                vec![Ok(Frame::data(Bytes::copy_from_slice(&form[..split]))), Ok(Frame::data(Bytes::copy_from_slice(&form[split..])))];
            let file = FormFile::default();
            let tap = FormTap::new(http_body_util::StreamBody::new(futures::stream::iter(chunks)), Some("XyZ"), file.clone());
            let all = tap.collect().await.unwrap().to_bytes();
            assert_eq!(&all[..], &form[..], "bytes pass through");
            assert_eq!(file.name(), Some("photo.jpg"), "split at {split}");
            assert_eq!(file.policy().map(|p| p.conditions.len()), Some(1), "split at {split}");
            assert_eq!(file.acl(), Some("public-read"), "split at {split}");
        }
    }

    #[test]
    fn refusals_get_s3_wording() {
        let (status, code, msg) = s3_refusal("AccessDenied", "Request has expired").unwrap();
        assert_eq!((status.as_u16(), code, msg.as_str()), (403, "AccessDenied", "Invalid according to Policy: Policy expired."));
        let extra = "Each form field that you specify in a form must appear in the list of policy conditions. \"x-amz-meta-evil\" not specified in the policy.";
        assert_eq!(s3_refusal("AccessDenied", extra).unwrap().2, "Invalid according to Policy: Extra input fields: x-amz-meta-evil");
        let (status, code, msg) = s3_refusal("InvalidPolicyDocument", "Policy condition 'eq' for field 'key' failed: expected 'a', got 'b'").unwrap();
        assert_eq!((status.as_u16(), code), (403, "AccessDenied"));
        assert_eq!(msg, r#"Invalid according to Policy: Policy Condition failed: ["eq", "$key", "a"]"#);
        let msg =
            s3_refusal("InvalidPolicyDocument", "Policy condition 'starts-with' for field 'content-type' failed: expected prefix 'image/', got 'text/html'")
                .unwrap()
                .2;
        assert_eq!(msg, r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$content-type", "image/"]"#);
        assert_eq!(s3_refusal("InvalidRequest", "missing key").unwrap().1, "InvalidArgument");
        let no_key = s3_refusal("InvalidPolicyDocument", "Policy condition 'eq' for field 'key' failed: expected 'k', got ''").unwrap();
        assert_eq!((no_key.0.as_u16(), no_key.1), (400, "InvalidArgument"));
        assert_eq!(s3_refusal("AccessDenied", "Access Denied"), None);
        assert_eq!(s3_refusal("InvalidPolicyDocument", "failed to parse POST policy"), None);
    }
}
