//! Buckets: listed, and their visibility or tenant changed.

use super::{AdminApi, AdminRequest, ApiError, ApiResult};
use crate::audit::GatewayOp;
use crate::meta::{Applied, ControlChange, Visibility};

use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketSettings {
    visibility: Option<Visibility>,
    tenant: Option<String>,
}

impl AdminApi {
    pub(super) fn list_buckets(&self, req: &AdminRequest<'_>) -> ApiResult {
        let tenant = req.tenant_scope()?;
        let list: Vec<_> = self.store.bucket_list()?.into_iter().filter(|b| tenant.as_ref().is_none_or(|t| *t == b.tenant)).collect();
        Ok(json!(list))
    }

    /// A bucket changing hands needs an admin of both tenants.
    pub(super) async fn set_bucket(&self, req: &AdminRequest<'_>, bucket: &str) -> ApiResult {
        let s: BucketSettings = req.body()?;
        let cur = self.store.bucket_get(bucket)?.ok_or_else(|| ApiError::no_such("bucket"))?;
        let tenant = s.tenant.unwrap_or_else(|| cur.tenant.clone());
        req.require_admin_of(&cur.tenant)?;
        req.require_admin_of(&tenant)?;
        if s.visibility == Some(Visibility::PublicRead) && self.configs.public_access_block(bucket).block_public_acls {
            // Public-read visibility is the bucket ACL's AllUsers READ grant.
            return Err(ApiError::Conflict(format!("bucket {bucket}'s Block Public Access settings refuse public ACLs (BlockPublicAcls)")));
        }
        let change = ControlChange::BucketUpdate { name: bucket.to_owned(), tenant, visibility: s.visibility.unwrap_or(cur.visibility) };
        match self.change(change, req.audit(GatewayOp::AdminSetBucket, bucket)).await? {
            Applied::Bucket(rec) => Ok(json!(rec)),
            _ => Ok(json!(self.store.bucket_get(bucket)?)),
        }
    }
}
