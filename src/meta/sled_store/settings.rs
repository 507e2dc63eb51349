//! The gateway's own settings: topic rules, the keyring, bucket configuration documents,
//! rate-limit overrides, named values.

use super::*;

impl SledStore {
    pub(super) fn topic_put(&self, rule: &TopicRule, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(rule);
        flatten((&self.topics, &self.audit).transaction(|(topics, audit)| {
            topics.insert(object_key(&rule.bucket, &rule.topic), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn topic_delete(&self, bucket: &str, topic: &str, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        flatten((&self.topics, &self.audit).transaction(|(topics, audit)| {
            if topics.remove(object_key(bucket, topic))?.is_none() {
                return abort(Error::NotFound);
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn topic_list(&self) -> Result<Vec<TopicRule>> {
        self.topics.iter().values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn keyring_get(&self, id: &str) -> Result<Option<KeyringKey>> {
        self.keyring.get(id.as_bytes())?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn keyring_list(&self) -> Result<Vec<KeyringKey>> {
        self.keyring.iter().values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn keyring_put(&self, key: &KeyringKey, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(key);
        flatten((&self.keyring, &self.audit).transaction(|(keyring, audit)| {
            keyring.insert(key.id.as_bytes(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn bucket_config_get(&self, bucket: &str, kind: BucketConfigKind) -> Result<Option<String>> {
        Ok(self.bucket_config.get(object_key(bucket, kind.name()))?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub(super) fn bucket_config_set(&self, bucket: &str, kind: BucketConfigKind, document: Option<&str>, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let key = object_key(bucket, kind.name());
        // In the bucket's transaction: a document set while the bucket is being deleted
        // either lands before the deletion (which removes it) or finds no bucket.
        flatten((&self.buckets, &self.bucket_config, &self.audit).transaction(|(buckets, config, audit)| {
            if buckets.get(bucket.as_bytes())?.is_none() {
                return abort(Error::NoSuchBucket);
            }
            match document {
                Some(d) => config.insert(key.as_slice(), d.as_bytes())?,
                None => config.remove(key.as_slice())?,
            };
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn bucket_acl_set(&self, bucket: &str, visibility: Visibility, grants: Option<&str>, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let key = object_key(bucket, BucketConfigKind::Acl.name());
        flatten((&self.buckets, &self.bucket_config, &self.audit).transaction(|(buckets, config, audit)| {
            let Some(raw) = buckets.get(bucket.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let mut rec: BucketRecord = tx_decode(&raw)?;
            rec.visibility = visibility;
            buckets.insert(bucket.as_bytes(), encode(&rec))?;
            match grants {
                Some(d) => config.insert(key.as_slice(), d.as_bytes())?,
                None => config.remove(key.as_slice())?,
            };
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn bucket_config_list(&self) -> Result<Vec<(String, BucketConfigKind, String)>> {
        let mut all = Vec::new();
        for row in self.bucket_config.iter() {
            let (k, v) = row?;
            let text = String::from_utf8_lossy(&k);
            let Some((bucket, name)) = text.split_once('\0') else { continue };
            // A kind a newer version wrote is left alone, not misread.
            let Some(kind) = BucketConfigKind::ALL.into_iter().find(|c| c.name() == name) else { continue };
            all.push((bucket.to_owned(), kind, String::from_utf8_lossy(&v).into_owned()));
        }
        Ok(all)
    }

    pub(super) fn limits_all(&self) -> Result<Vec<(String, Rates)>> {
        self.limits
            .iter()
            .map(|r| {
                let (k, v) = r?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    pub(super) fn limits_set(&self, subject: &str, rates: Option<&Rates>, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = rates.map(encode);
        flatten((&self.limits, &self.audit).transaction(|(limits, audit)| {
            match &value {
                Some(v) => limits.insert(subject.as_bytes(), v.as_slice())?,
                None => limits.remove(subject.as_bytes())?,
            };
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn setting_get(&self, name: &str) -> Result<Option<String>> {
        Ok(self.settings.get(name)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub(super) fn setting_put(&self, name: &str, value: &str) -> Result<()> {
        self.settings.insert(name, value.as_bytes())?;
        Ok(())
    }
}
