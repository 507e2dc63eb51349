//! The condition values of one request, as bucket policies name them (`aws:SourceIp`,
//! `s3:prefix`, `s3:ExistingObjectTag/<k>`...). Values are read from the request only when
//! a policy asks; the only one that costs a lookup (the object's current tags) is read once.

use super::document::ConditionContext;
use crate::auth::Principal;
use crate::meta::Store;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

/// What a policy may ask of one request.
pub struct RequestConditions<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// The client's address.
    pub source: Option<IpAddr>,
    /// The client's address as text, made at the first question (every statement of a
    /// policy may ask).
    pub source_text: OnceLock<String>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The request's headers.
    pub headers: &'a http::HeaderMap,
    /// The request's query string.
    pub query: &'a str,
    /// The bucket's tenant (`s3:ResourceAccount`), read at the first question about it.
    pub bucket_owner: OnceLock<Option<String>>,
    /// The bucket's tags (`aws:ResourceTag/<k>`).
    pub bucket_tags: &'a [super::config::Tag],
    /// Where `s3:ExistingObjectTag/<k>` and `s3:ResourceAccount` are looked up: the store,
    /// bucket and key (empty for a bucket's operations).
    pub object: Option<(&'a dyn Store, &'a str, &'a str)>,
    /// The current object's tags, read at the first question about them.
    pub object_tags: OnceLock<Vec<(String, String)>>,
}

fn one(v: impl Into<String>) -> Option<Vec<Cow<'static, str>>> {
    Some(vec![Cow::Owned(v.into())])
}

impl RequestConditions<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query_value(&self, name: &str) -> Option<String> {
        crate::names::form_value(self.query, name)
    }

    /// How the request authenticates: `REST-HEADER`, `REST-QUERY-STRING` or `POST`.
    fn auth_type(&self) -> Option<&'static str> {
        if self.principal.is_anonymous() {
            None
        } else if self.header("authorization").is_some() {
            Some("REST-HEADER")
        } else if self.query.contains("X-Amz-Signature=") || self.query.contains("Signature=") {
            Some("REST-QUERY-STRING")
        } else {
            Some("POST")
        }
    }

    fn signature_version(&self) -> Option<&'static str> {
        let v4 = self.header("authorization").is_some_and(|a| a.starts_with("AWS4-")) || self.query.contains("X-Amz-Algorithm=");
        match self.auth_type()? {
            _ if v4 => Some("AWS4-HMAC-SHA256"),
            _ => Some("AWS"),
        }
    }

    fn existing_tags(&self) -> &[(String, String)] {
        self.object_tags.get_or_init(|| {
            let Some((store, bucket, key)) = self.object.filter(|(_, _, k)| !k.is_empty()) else { return Vec::new() };
            match store.object_get(bucket, key) {
                Ok(Some(o)) => o.tags,
                Ok(None) => Vec::new(),
                Err(e) => {
                    // Absent tags fail a StringEquals: the request is not let in on them.
                    tracing::error!(error = %e, "object lookup for a policy condition failed");
                    Vec::new()
                }
            }
        })
    }

    fn owner(&self) -> Option<String> {
        let (store, bucket, _) = self.object?;
        self.bucket_owner.get_or_init(|| store.bucket_get(bucket).ok().flatten().map(|b| b.tenant)).clone()
    }

    fn request_tags(&self) -> Vec<(String, String)> {
        self.header("x-amz-tagging").map(|t| serde_urlencoded::from_str(t).unwrap_or_default()).unwrap_or_default()
    }
}

impl ConditionContext for RequestConditions<'_> {
    fn values(&self, key: &str) -> Option<Vec<Cow<'_, str>>> {
        let identity = self.principal.identity();
        if let Some(tag) = key.strip_prefix("s3:ExistingObjectTag/") {
            return self.existing_tags().iter().find(|(k, _)| k == tag).map(|(_, v)| vec![Cow::Borrowed(v.as_str())]);
        }
        if let Some(tag) = key.strip_prefix("s3:RequestObjectTag/") {
            return self.request_tags().into_iter().find(|(k, _)| k == tag).and_then(|(_, v)| one(v));
        }
        if let Some(tag) = key.strip_prefix("aws:ResourceTag/") {
            return self.bucket_tags.iter().find(|t| t.key == tag).map(|t| vec![Cow::Borrowed(t.value.as_str())]);
        }
        match key {
            "aws:SourceIp" => {
                let ip = self.source?;
                Some(vec![Cow::Borrowed(self.source_text.get_or_init(|| ip.to_string()).as_str())])
            }
            // TLS terminated in front of the gateway is not seen here: only its own `[tls]`.
            "aws:SecureTransport" => one(if self.secure_transport { "true" } else { "false" }),
            "aws:CurrentTime" => {
                let now = time::OffsetDateTime::from_unix_timestamp_nanos(crate::clock::now_ns()).ok()?;
                one(now.format(&time::format_description::well_known::Rfc3339).ok()?)
            }
            "aws:EpochTime" => one((crate::clock::now_ns() / 1_000_000_000).to_string()),
            "aws:username" => one(identity?.user.clone()),
            "aws:userid" => one(format!("{}:{}", identity?.tenant, identity?.user)),
            "aws:PrincipalAccount" => one(identity?.tenant.clone()),
            "s3:ResourceAccount" => one(self.owner()?),
            "aws:PrincipalArn" => one(format!("arn:aws:iam::{}:user/{}", identity?.tenant, identity?.user)),
            "aws:PrincipalType" => one(if identity.is_some() { "User" } else { "Anonymous" }),
            "aws:Referer" => one(self.header("referer")?),
            "aws:UserAgent" => one(self.header("user-agent")?),
            "s3:prefix" => one(self.query_value("prefix")?),
            "s3:delimiter" => one(self.query_value("delimiter")?),
            "s3:max-keys" => one(self.query_value("max-keys").or_else(|| self.query_value("max-uploads"))?),
            "s3:VersionId" => one(self.query_value("versionId")?),
            "s3:RequestObjectTagKeys" => {
                let tags = self.request_tags();
                (!tags.is_empty()).then(|| tags.into_iter().map(|(k, _)| Cow::Owned(k)).collect())
            }
            "s3:authType" => one(self.auth_type()?),
            "s3:signatureversion" => one(self.signature_version()?),
            "s3:x-amz-acl"
            | "s3:x-amz-grant-read"
            | "s3:x-amz-grant-write"
            | "s3:x-amz-grant-read-acp"
            | "s3:x-amz-grant-write-acp"
            | "s3:x-amz-grant-full-control"
            | "s3:x-amz-server-side-encryption"
            | "s3:x-amz-server-side-encryption-aws-kms-key-id"
            | "s3:x-amz-content-sha256"
            | "s3:x-amz-copy-source"
            | "s3:x-amz-metadata-directive"
            | "s3:x-amz-storage-class" => one(self.header(&key[3..])?),
            "s3:object-lock-mode" => one(self.header("x-amz-object-lock-mode")?),
            "s3:object-lock-retain-until-date" => one(self.header("x-amz-object-lock-retain-until-date")?),
            "s3:object-lock-legal-hold" => one(self.header("x-amz-object-lock-legal-hold")?),
            // Absent from tollgate's requests (no VPCs, organisations, MFA; no TLS here).
            _ => None,
        }
    }
}
