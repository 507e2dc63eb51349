//! The usage history: a sample of what every tenant and bucket stores, taken by the
//! `usage_history` job, keyed by its time so that old samples are a range to forget.

use super::*;

fn time_key(at_ns: i128) -> [u8; 8] {
    u64::try_from(at_ns.max(0)).unwrap_or(u64::MAX).to_be_bytes()
}

impl SledStore {
    pub(super) fn usage_sample(&self, at_ns: i128, forget_before_ns: i128) -> Result<u64> {
        let mut sample = UsageSample { at_ns, ..UsageSample::default() };
        for bucket in self.bucket_list()? {
            let total = sample.tenants.entry(bucket.tenant.clone()).or_default();
            total[0] += bucket.objects;
            total[1] += bucket.bytes;
            sample.buckets.insert(bucket.name, BucketUsage { tenant: bucket.tenant, objects: bucket.objects, bytes: bucket.bytes });
        }
        for tenant in self.tenant_list()? {
            sample.tenants.entry(tenant.name).or_default();
        }
        self.usage_history.insert(time_key(at_ns), encode(&sample))?;
        let mut forgotten = 0;
        for old in self.usage_history.range(..time_key(forget_before_ns)).keys() {
            self.usage_history.remove(old?)?;
            forgotten += 1;
        }
        Ok(forgotten)
    }

    pub(super) fn usage_history(&self, since_ns: i128) -> Result<Vec<UsageSample>> {
        self.usage_history.range(time_key(since_ns)..).values().map(|v| decode(&v?)).collect()
    }
}
