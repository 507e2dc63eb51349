//! The per-tenant locks of object writes and the tenants' usage they guard.

use super::*;

/// Objects and bytes stored by each tenant (of those hashed to one shard of [`TenantWrites`]).
pub(super) type TenantUsage = HashMap<String, (u64, u64)>;

/// How many locks [`TenantWrites`] spreads the tenants over.
pub(super) const WRITE_SHARDS: usize = 64;

/// The locks of object writes, one per shard of tenants (by hash of the tenant's name),
/// so that writes of different tenants do not wait for each other. A tenant's shard lock
/// guards:
/// - the tenant's usage (the sum of its buckets' counters, computed at open and kept in
///   step with every commit, for O(1) quota checks): a quota check and the commit it
///   admits cannot interleave with another write of the tenant;
/// - the head of the tenant's proof chain: a manifest is placed after the head (`seq`,
///   `prev`) and signed under the lock but before the transaction, which only checks that
///   the head did not move (see [`SealedProof`]);
/// - the counters of the tenant's buckets, which each object transaction updates.
///
/// sled runs every transaction of the process under one global lock: what a transaction
/// does is kept to reads and inserts of bytes prepared outside it.
pub(super) struct TenantWrites {
    shards: Vec<std::sync::Mutex<TenantUsage>>,
}

/// The shard locks of some tenants, held.
pub(super) struct LockedTenants<'a> {
    guards: Vec<(usize, std::sync::MutexGuard<'a, TenantUsage>)>,
}

impl TenantWrites {
    pub(super) fn new(usage: TenantUsage) -> Self {
        let mut shards: Vec<TenantUsage> = (0..WRITE_SHARDS).map(|_| HashMap::new()).collect();
        for (tenant, u) in usage {
            shards[Self::shard(&tenant)].insert(tenant, u);
        }
        Self { shards: shards.into_iter().map(std::sync::Mutex::new).collect() }
    }

    pub(super) fn shard(tenant: &str) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        tenant.hash(&mut h);
        // The remainder is below WRITE_SHARDS: it fits any usize.
        usize::try_from(h.finish() % WRITE_SHARDS as u64).unwrap_or_default()
    }

    /// Locks the shards of `tenants`, in shard order (so two writers locking two tenants
    /// each cannot deadlock), each shard once.
    pub(super) fn lock<'t>(&self, tenants: impl IntoIterator<Item = &'t str>) -> LockedTenants<'_> {
        let mut shards: Vec<usize> = tenants.into_iter().map(Self::shard).collect();
        shards.sort_unstable();
        shards.dedup();
        let guards = shards.into_iter().map(|i| (i, self.shards[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner))).collect();
        LockedTenants { guards }
    }
}

impl LockedTenants<'_> {
    pub(super) fn shard_of(&mut self, tenant: &str) -> &mut TenantUsage {
        let shard = TenantWrites::shard(tenant);
        let (_, guard) = self.guards.iter_mut().find(|(i, _)| *i == shard).expect("the tenant's shard is locked");
        guard
    }

    /// `(objects, bytes)` of a locked tenant.
    pub(super) fn usage(&mut self, tenant: &str) -> (u64, u64) {
        self.shard_of(tenant).get(tenant).copied().unwrap_or_default()
    }

    /// Applies replacing an object of `old` size by one of `new` size to a locked tenant's usage.
    pub(super) fn apply(&mut self, tenant: &str, old: Option<u64>, new: Option<u64>) {
        let u = self.shard_of(tenant).entry(tenant.to_owned()).or_default();
        if let Some(size) = old {
            *u = (u.0.saturating_sub(1), u.1.saturating_sub(size));
        }
        if let Some(size) = new {
            *u = (u.0 + 1, u.1 + size);
        }
    }

    /// Moves a bucket's `(objects, bytes)` from one locked tenant's usage to another's.
    pub(super) fn transfer(&mut self, from: &str, to: &str, (objects, bytes): (u64, u64)) {
        let u = self.shard_of(from).entry(from.to_owned()).or_default();
        *u = (u.0.saturating_sub(objects), u.1.saturating_sub(bytes));
        let u = self.shard_of(to).entry(to.to_owned()).or_default();
        *u = (u.0 + objects, u.1 + bytes);
    }
}

impl SledStore {
    /// Reads `bucket` and locks the writes of its owner (and of the tenants `also`). The
    /// owner may change until the lock is held, so the bucket is read again under it, until
    /// the two agree.
    pub(super) fn lock_bucket_owner(&self, bucket: &str, also: &[&str]) -> Result<(Option<BucketRecord>, LockedTenants<'_>)> {
        loop {
            let before = self.bucket_get(bucket)?;
            let locked = self.writes.lock(before.iter().map(|b| b.tenant.as_str()).chain(also.iter().copied()));
            let now = self.bucket_get(bucket)?;
            if now.as_ref().map(|b| &b.tenant) == before.as_ref().map(|b| &b.tenant) {
                return Ok((now, locked));
            }
        }
    }
}
