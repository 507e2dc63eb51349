//! Topics: rules for key prefixes of a bucket, listed, set and deleted.

use super::{AdminApi, AdminRequest, ApiError, ApiResult, bad};
use crate::audit::GatewayOp;
use crate::meta::{ControlChange, TopicRule};
use crate::names::valid_topic_name;

use serde_json::json;

impl AdminApi {
    /// The rules of the buckets the caller administers (`?bucket=`: of that one).
    pub(super) fn list_topics(&self, req: &AdminRequest<'_>) -> ApiResult {
        let bucket = req.filters.bucket.as_ref();
        let mut out = Vec::new();
        for r in self.store.topic_list()? {
            if bucket.is_some_and(|b| *b != r.bucket) {
                continue;
            }
            if self.store.bucket_get(&r.bucket)?.is_some_and(|b| req.principal.administers(&b.tenant)) {
                out.push(r);
            }
        }
        Ok(json!(out))
    }

    pub(super) async fn set_topic(&self, req: &AdminRequest<'_>, bucket: &str, topic: &str) -> ApiResult {
        self.require_bucket_admin(req, bucket)?;
        if !valid_topic_name(topic) {
            return Err(bad("a topic is a key prefix like inbox or a/b, without leading or trailing /"));
        }
        let mut v = req.json_body()?;
        if let Some(o) = v.as_object_mut() {
            o.insert("bucket".into(), json!(bucket));
            o.insert("topic".into(), json!(topic));
        }
        let rule: TopicRule = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        self.change(ControlChange::TopicPut { rule: rule.clone() }, req.audit(GatewayOp::AdminSetTopic, &format!("{bucket}/{topic}"))).await?;
        Ok(json!(rule))
    }

    pub(super) async fn delete_topic(&self, req: &AdminRequest<'_>, bucket: &str, topic: &str) -> ApiResult {
        self.require_bucket_admin(req, bucket)?;
        let target = format!("{bucket}/{topic}");
        let change = ControlChange::TopicDelete { bucket: bucket.to_owned(), topic: topic.to_owned() };
        self.change(change, req.audit(GatewayOp::AdminDeleteTopic, &target)).await?;
        Ok(json!({"deleted": target}))
    }

    fn require_bucket_admin(&self, req: &AdminRequest<'_>, bucket: &str) -> Result<(), ApiError> {
        let b = self.store.bucket_get(bucket)?.ok_or_else(|| ApiError::no_such("bucket"))?;
        req.require_admin_of(&b.tenant)
    }
}
