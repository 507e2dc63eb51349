//! Buckets and their usage counters.

use super::*;

impl SledStore {
    pub(super) fn bucket_get(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.buckets.get(name)?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn bucket_create(&self, record: &BucketRecord, audit: Option<&AuditEntry>) -> Result<Option<BucketRecord>> {
        let row = self.audit_row(audit)?;
        let value = encode(record);
        flatten((&self.buckets, &self.audit).transaction(|(buckets, audit)| {
            if let Some(raw) = buckets.get(record.name.as_bytes())? {
                return Ok(Some(tx_decode(&raw)?));
            }
            buckets.insert(record.name.as_bytes(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(None)
        }))
    }

    pub(super) fn bucket_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()> {
        // Delete markers are no objects of the usage, but a bucket holding any is not empty.
        let has_uploads =
            self.upload_keys.scan_prefix(object_key(name, "")).next().is_some() || self.versions.scan_prefix(object_key(name, "")).next().is_some();
        let row = self.audit_row(audit)?;
        flatten((&self.buckets, &self.bucket_config, &self.audit).transaction(|(buckets, config, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let rec: BucketRecord = tx_decode(&raw)?;
            if rec.objects > 0 || has_uploads {
                return abort(Error::BucketNotEmpty);
            }
            buckets.remove(name.as_bytes())?;
            for kind in BucketConfigKind::ALL {
                config.remove(object_key(name, kind.name()))?;
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn bucket_update(&self, name: &str, tenant: &str, visibility: Visibility, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        let row = self.audit_row(audit)?;
        // A change of owner moves the bucket's usage between tenants: both are locked.
        let (_, mut locked) = self.lock_bucket_owner(name, &[tenant])?;
        let (rec, old_tenant) = flatten((&self.buckets, &self.tenants, &self.audit).transaction(|(buckets, tenants, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            if tenants.get(tenant.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            let mut rec: BucketRecord = tx_decode(&raw)?;
            let old_tenant = std::mem::replace(&mut rec.tenant, tenant.to_owned());
            rec.visibility = visibility;
            buckets.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok((rec, old_tenant))
        }))?;
        if old_tenant != rec.tenant {
            locked.transfer(&old_tenant, &rec.tenant, (rec.objects, rec.bytes));
        }
        Ok(rec)
    }

    pub(super) fn bucket_list(&self) -> Result<Vec<BucketRecord>> {
        self.buckets.iter().values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn bucket_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        let row = self.audit_row(audit)?;
        flatten((&self.buckets, &self.audit).transaction(|(buckets, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let mut rec: BucketRecord = tx_decode(&raw)?;
            rec.quota = quota;
            buckets.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(rec)
        }))
    }
}
