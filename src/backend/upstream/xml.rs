//! The upstream's XML answers, parsed with quick-xml, and the few XML bodies sent to it.

use crate::backend::Error;

use http::StatusCode;
use quick_xml::escape::escape;
use serde::Deserialize;

/// `ListBucketResult` of ListObjectsV2 (asked with `encoding-type=url`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListResult {
    pub is_truncated: bool,
    pub contents: Vec<Listed>,
    pub common_prefixes: Vec<Prefix>,
    pub encoding_type: Option<String>,
    pub next_continuation_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Listed {
    pub key: String,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Prefix {
    pub prefix: String,
}

/// `InitiateMultipartUploadResult`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Initiated {
    pub upload_id: String,
}

/// `CompleteMultipartUploadResult`, `CopyObjectResult`, `CopyPartResult`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ETagResult {
    #[serde(rename = "ETag")]
    pub etag: String,
    pub last_modified: String,
}

/// `Tagging`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tagging {
    pub tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagSet {
    pub tag: Vec<Tag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorBody {
    code: String,
    message: String,
}

pub fn parse<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, Error> {
    let text = std::str::from_utf8(body).map_err(|_| Error::Unavailable("the upstream answered XML that is not UTF-8".into()))?;
    quick_xml::de::from_str(text).map_err(|e| Error::Unavailable(format!("the upstream answered unreadable XML: {e}")))
}

/// Whether a 200 answer is in fact an error (CopyObject, CompleteMultipartUpload).
pub fn is_error(body: &[u8]) -> bool {
    let start = body.iter().position(|b| *b == b'<').map_or(body, |i| &body[i..]);
    let start = if start.starts_with(b"<?xml") { start.iter().position(|b| *b == b'>').map_or(start, |i| &start[i + 1..]) } else { start };
    start.trim_ascii_start().starts_with(b"<Error>")
}

/// The error an upstream answered: its S3 code and message, kept for the client.
pub fn error(status: StatusCode, body: &[u8]) -> Error {
    let parsed: ErrorBody = parse(body).unwrap_or_default();
    let code = if parsed.code.is_empty() {
        match status {
            StatusCode::NOT_FOUND => "NoSuchKey",
            StatusCode::FORBIDDEN => "AccessDenied",
            StatusCode::RANGE_NOT_SATISFIABLE => "InvalidRange",
            s if s.is_server_error() => "ServiceUnavailable",
            _ => "InvalidRequest",
        }
        .to_owned()
    } else {
        parsed.code
    };
    Error::Upstream { status: status.as_u16(), code, message: parsed.message }
}

/// A `CompleteMultipartUpload` body naming `parts` (number, quoted ETag).
pub fn complete_body(parts: &[(u32, String)]) -> String {
    let mut s = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        s.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>", escape(etag.as_str())));
    }
    s.push_str("</CompleteMultipartUpload>");
    s
}

/// A `Tagging` body.
pub fn tagging_body(tags: &[(String, String)]) -> String {
    let mut s = String::from("<Tagging><TagSet>");
    for (k, v) in tags {
        s.push_str(&format!("<Tag><Key>{}</Key><Value>{}</Value></Tag>", escape(k.as_str()), escape(v.as_str())));
    }
    s.push_str("</TagSet></Tagging>");
    s
}

/// A quiet `Delete` body (DeleteObjects) naming `keys`.
pub fn delete_body(keys: &[String]) -> String {
    let mut s = String::from("<Delete><Quiet>true</Quiet>");
    for key in keys {
        s.push_str(&format!("<Object><Key>{}</Key></Object>", escape(key.as_str())));
    }
    s.push_str("</Delete>");
    s
}

/// `DeleteResult`: in a quiet answer, only the keys that could not be deleted.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteResult {
    pub error: Vec<DeleteError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteError {
    pub key: String,
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_parse_with_prefixes_and_encoded_keys() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>t%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<Contents><Key>t/a%20b</Key><LastModified>2026-11-23T10:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>t/d/</Prefix></CommonPrefixes><NextContinuationToken>xyz</NextContinuationToken></ListBucketResult>"#;
        let r: ListResult = parse(body).unwrap();
        assert!(r.is_truncated);
        assert_eq!(r.contents.len(), 1);
        assert_eq!(r.contents[0].key, "t/a%20b");
        assert_eq!(r.contents[0].etag, "\"abc\"");
        assert_eq!(r.contents[0].size, 5);
        assert_eq!(r.common_prefixes[0].prefix, "t/d/");
        assert_eq!(r.encoding_type.as_deref(), Some("url"));
        let empty: ListResult = parse(b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>").unwrap();
        assert!(empty.contents.is_empty() && !empty.is_truncated);
    }

    #[test]
    fn errors_keep_their_code_even_in_a_200() {
        let body = b"<?xml version=\"1.0\"?>\n<Error><Code>InvalidPart</Code><Message>nope</Message></Error>";
        assert!(is_error(body));
        assert!(!is_error(b"<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>"));
        match error(StatusCode::BAD_REQUEST, body) {
            Error::Upstream { status, code, message } => assert_eq!((status, code.as_str(), message.as_str()), (400, "InvalidPart", "nope")),
            e => panic!("{e:?}"),
        }
        assert!(matches!(error(StatusCode::NOT_FOUND, b""), Error::Upstream { code, .. } if code == "NoSuchKey"));
    }

    #[test]
    fn deletions_name_their_keys_and_answer_their_failures() {
        assert_eq!(
            delete_body(&["a&b".into(), "c".into()]),
            "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>"
        );
        let answer = br#"<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Error><Key>c</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>"#;
        let r: DeleteResult = parse(answer).unwrap();
        assert_eq!((r.error.len(), r.error[0].key.as_str(), r.error[0].code.as_str()), (1, "c", "AccessDenied"));
        let quiet: DeleteResult = parse(br#"<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>"#).unwrap();
        assert!(quiet.error.is_empty());
    }

    #[test]
    fn bodies_escape_what_they_carry() {
        assert_eq!(tagging_body(&[("a<b".into(), "&".into())]), "<Tagging><TagSet><Tag><Key>a&lt;b</Key><Value>&amp;</Value></Tag></TagSet></Tagging>");
        assert_eq!(
            complete_body(&[(1, "\"e\"".into())]),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e&quot;</ETag></Part></CompleteMultipartUpload>"
        );
        let t: Tagging = parse(b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>").unwrap();
        assert_eq!((t.tag_set.tag[0].key.as_str(), t.tag_set.tag[0].value.as_str()), ("k", "v"));
    }
}
