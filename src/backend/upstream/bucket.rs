//! Bucket operations: buckets are the gateway's (tenants own them, in the index); with a
//! one-to-one mapping each also exists upstream.

use super::client::Call;
use super::{Mapping, UpstreamBackend};
use crate::backend::Error;
use crate::meta::BucketRecord;

use bytes::Bytes;
use http::Method;

/// Creates the upstream bucket of gateway bucket `name` (one-to-one mapping), adopting one
/// the gateway's credentials already own (a rebuilt index, a migration).
pub(super) async fn ensure_upstream_bucket(b: &UpstreamBackend, name: &str) -> Result<(), Error> {
    let Mapping::Buckets { prefix } = &b.mapping else {
        return Ok(());
    };
    let region = b.client.region();
    // us-east-1 takes no location; elsewhere the bucket must be created in the region signed for.
    let body = if region == "us-east-1" {
        Bytes::new()
    } else {
        Bytes::from(format!("<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"))
    };
    let resp = b.client.send(&Call::new(Method::PUT, &format!("{prefix}{name}"), ""), body).await?;
    match b.client.ok(resp).await {
        Ok(_) => Ok(()),
        Err(Error::Upstream { code, .. }) if code == "BucketAlreadyOwnedByYou" => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the upstream bucket of an empty gateway bucket (one-to-one mapping), or checks
/// that its prefix holds nothing (objects another instance wrote).
pub(super) async fn remove(b: &UpstreamBackend, rec: &BucketRecord) -> Result<(), Error> {
    let place = b.place_of(rec);
    match &b.mapping {
        Mapping::Buckets { .. } => match b.call(Call::new(Method::DELETE, &place.bucket, "")).await {
            Ok(_) => {}
            Err(Error::Upstream { code, .. }) if code == "NoSuchBucket" => {}
            Err(e) => return Err(e),
        },
        Mapping::Prefix { .. } => {
            let call = Call::new(Method::GET, &place.bucket, "").query("list-type", "2").query("max-keys", "1").query("prefix", place.root.as_str());
            let resp = b.client.send(&call, Bytes::new()).await?;
            let listed: super::xml::ListResult = super::xml::parse(&b.client.xml(resp).await?)?;
            if !listed.contents.is_empty() {
                return Err(Error::BucketNotEmpty);
            }
        }
    }
    Ok(())
}
