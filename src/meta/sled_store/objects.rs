//! Object records, the writes on their way to a backend, and the blobs they reference.

use super::*;

/// Applies the usage change of replacing `old` by `new` to the bucket record; the quota
/// check also counts `elsewhere`, what other instances of a cluster store in the bucket.
pub(super) fn update_usage(
    buckets: &TransactionalTree,
    bucket: &str,
    old: Option<&ObjectRecord>,
    new: Option<&ObjectRecord>,
    elsewhere: (u64, u64),
) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    let Some(raw) = buckets.get(bucket.as_bytes())? else {
        return abort(Error::NoSuchBucket);
    };
    let mut rec: BucketRecord = tx_decode(&raw)?;
    if let Some(new) = new
        && let Err(why) = rec.quota.admits(rec.objects + elsewhere.0, rec.bytes + elsewhere.1, old.map(|o| o.size), new.size)
    {
        return abort(Error::QuotaExceeded(format!("bucket {bucket}: {why}")));
    }
    if let Some(old) = old {
        rec.objects = rec.objects.saturating_sub(1);
        rec.bytes = rec.bytes.saturating_sub(old.size);
    }
    if let Some(new) = new {
        rec.objects += 1;
        rec.bytes += new.size;
    }
    buckets.insert(bucket.as_bytes(), encode(&rec))?;
    Ok(())
}

/// What one try of an object transaction did.
pub(super) enum Attempt<T> {
    Committed(T),
    /// What its proof was sealed against changed (the tenant's chain head moved, or the
    /// object it records the deletion of appeared): nothing was written; seal and try again.
    Stale,
}

impl SledStore {
    /// Refuses a write that would take the bucket's tenant past its quota. Called with
    /// the tenant locked, so its usage cannot change before the commit.
    pub(super) fn check_tenant_quota(&self, locked: &mut LockedTenants<'_>, bucket: Option<&BucketRecord>, key: &str, new_size: u64) -> Result<()> {
        // A missing bucket is reported by the transaction.
        let Some(b) = bucket else { return Ok(()) };
        let Some(t) = self.tenant_get(&b.tenant)? else {
            return Ok(());
        };
        if t.quota.is_unlimited() {
            return Ok(());
        }
        let old = self.replaced_by_write(b, key)?;
        let (objects, bytes) = locked.usage(&b.tenant);
        let (other_objects, other_bytes) = self.usage_elsewhere(None, Some(&b.tenant));
        t.quota
            .admits(objects + other_objects, bytes + other_bytes, old.map(|o| o.size), new_size)
            .map_err(|why| Error::QuotaExceeded(format!("tenant {}: {why}", t.name)))
    }
}

impl SledStore {
    /// What other instances of a cluster store in `bucket`, or else in `tenant`'s buckets.
    pub(super) fn usage_elsewhere(&self, bucket: Option<&str>, tenant: Option<&str>) -> (u64, u64) {
        let e = self.elsewhere.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match (bucket, tenant) {
            (Some(b), _) => e.buckets.get(b).copied().unwrap_or_default(),
            (None, Some(t)) => e.tenants.get(t).copied().unwrap_or_default(),
            (None, None) => (0, 0),
        }
    }

    /// The object a write to `key` stops counting (the usage a quota check discounts): the
    /// current object in an unversioned bucket, the null version in a suspended one,
    /// nothing in an enabled one.
    fn replaced_by_write(&self, bucket: &BucketRecord, key: &str) -> Result<Option<ObjectRecord>> {
        match bucket.versioning {
            Versioning::Unversioned => self.object_get(&bucket.name, key),
            Versioning::Enabled => Ok(None),
            Versioning::Suspended => Ok(self.version_get(&bucket.name, key, NULL_VERSION)?.and_then(|v| v.object)),
        }
    }

    pub(super) fn object_get(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        self.objects.get(object_key(bucket, key))?.map(|v| decode(&v)).transpose()
    }

    // The arguments of `Store::object_commit`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn object_commit(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        precondition: &Precondition,
        completes: Completes<'_>,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft>,
    ) -> Result<Committed> {
        let parts = match completes {
            Completes::Upload(id) | Completes::Multipart { upload: id, .. } => self.part_keys(id)?,
            Completes::Nothing | Completes::Pending(_) => Vec::new(),
        };
        let okey = object_key(bucket, key);
        let completion = match completes {
            Completes::Multipart { upload, parts } => Some(encode(&CompletedUpload {
                upload_id: upload.to_owned(),
                parts: parts.to_owned(),
                etag: record.etag.clone(),
                last_modified_ns: record.last_modified_ns,
                proof_id: record.proof_id.clone(),
            })),
            _ => None,
        };
        let row = self.audit_row(audit)?;
        let elsewhere = self.usage_elsewhere(Some(bucket), None);
        let trees = (
            &self.buckets,
            &self.objects,
            &self.versions,
            &self.null_versions,
            &self.uploads,
            &self.upload_keys,
            &self.parts,
            &self.completed,
            &self.pending,
            &self.audit,
            &self.proofs,
            &self.proof_index,
            &self.proof_heads,
        );
        let (bucket_rec, mut locked) = self.lock_bucket_owner(bucket, &[])?;
        self.check_tenant_quota(&mut locked, bucket_rec.as_ref(), key, record.size)?;
        // Read under the tenant's lock, which every change of the bucket's versioning and
        // of the key's versions takes: it holds in the transaction.
        let versioning = bucket_rec.as_ref().map_or(Versioning::Unversioned, |b| b.versioning);
        loop {
            // Taken under the lock, so that the order of an object's manifests (and
            // versions) is the order of its commits.
            let object_n = self.db.generate_id()?;
            let version = self.new_version(bucket, key, versioning, object_n)?;
            let replaced_null = version.null_replaced.map(|n| self.versions.get(version_key(bucket, key, n))).transpose()?.flatten();
            let replaced_null: Option<VersionRecord> = replaced_null.map(|v| decode(&v)).transpose()?;
            let mut stored = ObjectRecord { version_id: version.id.clone(), ..record.clone() };
            // A version written without a retention of its own gets the bucket's default.
            if stored.retention.is_none()
                && let Some(default) = bucket_rec.as_ref().and_then(|b| b.object_lock).and_then(|l| l.default_retention)
            {
                stored.retention = Some(default.from_write(stored.last_modified_ns));
            }
            let value = encode(&stored);
            let sealed = proof.map(|draft| self.seal(draft, object_n, &version.id)).transpose()?;
            let row = versioned_row(row.as_ref(), audit, &version.id);
            let attempt = flatten(trees.transaction(
                |(buckets, objects, versions, null_versions, uploads, upload_keys, parts_tree, completed, pending, audit, proofs, index, heads)| {
                    if !tx_chain_holds(heads, sealed.as_ref())? {
                        return Ok(Attempt::Stale);
                    }
                    let old: Option<ObjectRecord> = match objects.get(&okey)? {
                        Some(raw) => Some(tx_decode(&raw)?),
                        None => None,
                    };
                    if let Err(e) = precondition.check(old.as_ref()) {
                        return abort(e);
                    }
                    match completes {
                        Completes::Nothing => {}
                        Completes::Upload(id) | Completes::Multipart { upload: id, .. } => {
                            if uploads.remove(id.as_bytes())?.is_none() {
                                return abort(Error::NoSuchUpload);
                            }
                            upload_keys.remove(upload_key(bucket, key, id))?;
                            for (k, _) in &parts {
                                parts_tree.remove(k)?;
                            }
                        }
                        Completes::Pending(id) => {
                            pending.remove(id.as_bytes())?;
                        }
                    }
                    match &completion {
                        Some(c) => completed.insert(okey.as_slice(), c.as_slice())?,
                        None => completed.remove(okey.as_slice())?,
                    };
                    let released = match versioning {
                        Versioning::Unversioned => old,
                        Versioning::Enabled | Versioning::Suspended => {
                            if let Some(n) = version.null_replaced {
                                versions.remove(version_key(bucket, key, n))?;
                            }
                            if versioning == Versioning::Suspended {
                                null_versions.insert(okey.as_slice(), &object_n.to_be_bytes())?;
                            }
                            let entry = VersionRecord {
                                version_id: version.id.clone(),
                                last_modified_ns: stored.last_modified_ns,
                                owner: stored.owner.clone(),
                                object: Some(stored.clone()),
                            };
                            versions.insert(version_key(bucket, key, object_n), encode(&entry))?;
                            replaced_null.clone().and_then(|v| v.object)
                        }
                    };
                    update_usage(buckets, bucket, released.as_ref(), Some(&stored), elsewhere)?;
                    objects.insert(okey.as_slice(), value.as_slice())?;
                    tx_audit(audit, row.as_deref())?;
                    tx_proof(proofs, index, heads, sealed.as_ref())?;
                    Ok(Attempt::Committed(released))
                },
            ))?;
            let Attempt::Committed(released) = attempt else { continue };
            if let Some(b) = bucket_rec {
                locked.apply(&b.tenant, released.as_ref().map(|o| o.size), Some(record.size));
            }
            return Ok(Committed { version_id: version.id, released });
        }
    }

    pub(super) fn object_delete(
        &self,
        bucket: &str,
        key: &str,
        precondition: &Precondition,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft>,
    ) -> Result<Deleted> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        let trees = (
            &self.buckets,
            &self.objects,
            &self.versions,
            &self.null_versions,
            &self.completed,
            &self.audit,
            &self.proofs,
            &self.proof_index,
            &self.proof_heads,
        );
        let (bucket_rec, mut locked) = self.lock_bucket_owner(bucket, &[])?;
        let versioning = bucket_rec.as_ref().map_or(Versioning::Unversioned, |b| b.versioning);
        let owner = audit.map(|a| a.principal.clone()).unwrap_or_default();
        let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
        loop {
            let object_n = self.db.generate_id()?;
            let version = self.new_version(bucket, key, versioning, object_n)?;
            let replaced_null: Option<VersionRecord> =
                version.null_replaced.map(|n| self.versions.get(version_key(bucket, key, n))).transpose()?.flatten().map(|v| decode(&v)).transpose()?;
            // A deletion is proved only if there is something to delete: no signature for the rest.
            let sealed = match proof {
                Some(draft) if self.objects.contains_key(okey.as_slice())? => Some(self.seal(draft, object_n, &version.id)?),
                _ => None,
            };
            let row = versioned_row(row.as_ref(), audit, &version.id);
            let attempt = flatten(trees.transaction(|(buckets, objects, versions, null_versions, completed, audit, proofs, index, heads)| {
                if !tx_chain_holds(heads, sealed.as_ref())? {
                    return Ok(Attempt::Stale);
                }
                let old: Option<ObjectRecord> = objects.get(okey.as_slice())?.map(|raw| tx_decode(&raw)).transpose()?;
                if old.is_some() && proof.is_some() && sealed.is_none() {
                    return Ok(Attempt::Stale);
                }
                tx_audit(audit, row.as_deref())?;
                if buckets.get(bucket.as_bytes())?.is_none() {
                    return abort(Error::NoSuchBucket);
                }
                if let Err(e) = precondition.check(old.as_ref()) {
                    return abort(e);
                }
                let had_current = old.is_some();
                let deleted = if versioning == Versioning::Unversioned {
                    Deleted { released: old, marker: None }
                } else {
                    // A delete marker goes on top, whether or not there was a current object.
                    if let Some(n) = version.null_replaced {
                        versions.remove(version_key(bucket, key, n))?;
                    }
                    if versioning == Versioning::Suspended {
                        null_versions.insert(okey.as_slice(), &object_n.to_be_bytes())?;
                    }
                    let marker = VersionRecord { version_id: version.id.clone(), last_modified_ns: now_ns, owner: owner.clone(), object: None };
                    versions.insert(version_key(bucket, key, object_n), encode(&marker))?;
                    Deleted { released: replaced_null.clone().and_then(|v| v.object), marker: Some(version.id.clone()) }
                };
                if had_current {
                    objects.remove(okey.as_slice())?;
                    completed.remove(okey.as_slice())?;
                }
                if deleted.released.is_some() {
                    update_usage(buckets, bucket, deleted.released.as_ref(), None, (0, 0))?;
                }
                tx_proof(proofs, index, heads, sealed.as_ref())?;
                Ok(Attempt::Committed(deleted))
            }))?;
            let Attempt::Committed(deleted) = attempt else { continue };
            if let (Some(b), Some(o)) = (&bucket_rec, &deleted.released) {
                locked.apply(&b.tenant, Some(o.size), None);
            }
            return Ok(deleted);
        }
    }

    pub(super) fn object_relocate(&self, bucket: &str, key: &str, expected: &ObjectRecord, segments: Vec<Segment>, audit: Option<&AuditEntry>) -> Result<()> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        flatten((&self.objects, &self.audit).transaction(|(objects, audit)| {
            let current: Option<ObjectRecord> = objects.get(okey.as_slice())?.map(|raw| tx_decode(&raw)).transpose()?;
            if current.as_ref() != Some(expected) {
                return abort(Error::PreconditionFailed);
            }
            let rec = ObjectRecord { segments: segments.clone(), ..expected.clone() };
            objects.insert(okey.as_slice(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn object_set_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: Vec<(String, String)>,
        audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        self.version_update(
            bucket,
            key,
            version,
            &|rec| {
                rec.tags.clone_from(&tags);
                Ok(())
            },
            audit,
        )
    }

    /// Changes one version's record (the current one, or version `version`) with `update`,
    /// in both places the current version is kept (the objects tree and the versions
    /// tree), in one transaction; an error of `update` aborts it. Returns false if there
    /// is no such object version.
    pub(super) fn version_update(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        update: &(dyn Fn(&mut ObjectRecord) -> Result<()> + Sync),
        audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        let current = self.object_get(bucket, key)?;
        let id = match version {
            Some(v) => Some(v.to_owned()),
            None => current.as_ref().map(|c| c.version_id.clone()).filter(|v| !v.is_empty()),
        };
        let n = match id.as_deref() {
            Some(NULL_VERSION) => self.null_version(bucket, key)?,
            Some(v) => versions::sequence_of(v),
            None => None,
        };
        let vkey = n.map(|n| version_key(bucket, key, n));
        flatten((&self.objects, &self.versions, &self.audit).transaction(|(objects, versions, audit)| {
            let mut found = false;
            if let Some(vkey) = &vkey
                && let Some(raw) = versions.get(vkey.as_slice())?
            {
                let mut v: VersionRecord = tx_decode(&raw)?;
                if let Some(object) = v.object.as_mut().filter(|_| Some(&v.version_id) == id.as_ref()) {
                    if let Err(e) = update(object) {
                        return abort(e);
                    }
                    versions.insert(vkey.as_slice(), encode(&v))?;
                    found = true;
                }
            }
            if let Some(raw) = objects.get(okey.as_slice())? {
                let mut rec: ObjectRecord = tx_decode(&raw)?;
                if version.is_none() || id.as_deref() == Some(rec.version_id.as_str()) {
                    if let Err(e) = update(&mut rec) {
                        return abort(e);
                    }
                    objects.insert(okey.as_slice(), encode(&rec))?;
                    found = true;
                }
            }
            if found {
                tx_audit(audit, row.as_ref())?;
            }
            Ok(found)
        }))
    }

    /// The objects of `bucket` under `prefix` from `from`, each record decoded as a `T`
    /// (the whole record, or only what a listing shows of it).
    pub(super) fn scan_objects<'a, T: serde::de::DeserializeOwned + 'a>(
        &'a self,
        bucket: &str,
        prefix: &str,
        from: Option<&str>,
    ) -> Box<dyn Iterator<Item = Result<(String, T)>> + 'a> {
        let base = object_key(bucket, "");
        let strip = base.len();
        let scan_prefix = object_key(bucket, prefix);
        let start = match from {
            Some(from) if from > prefix => object_key(bucket, from),
            _ => scan_prefix.clone(),
        };
        Box::new(self.objects.range(start..).take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&scan_prefix))).map(move |r| {
            let (k, v) = r?;
            let key = String::from_utf8(k[strip..].to_vec()).map_err(|e| Error::Corrupt(e.to_string()))?;
            Ok((key, decode(&v)?))
        }))
    }

    pub(super) fn referenced_blobs(&self) -> Result<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        for v in self.objects.iter().values() {
            let rec: ObjectRecord = decode(&v?)?;
            set.extend(rec.segments.into_iter().map(|s| s.blob));
        }
        for v in self.versions.iter().values() {
            let version: VersionRecord = decode(&v?)?;
            set.extend(version.object.into_iter().flat_map(|o| o.segments).map(|s| s.blob));
        }
        for v in self.parts.iter().values() {
            let rec: PartRecord = decode(&v?)?;
            set.insert(rec.blob);
        }
        Ok(set)
    }

    pub(super) fn pending_put(&self, id: &str, write: &PendingWrite) -> Result<()> {
        self.pending.insert(id.as_bytes(), encode(write))?;
        Ok(())
    }

    pub(super) fn pending_list(&self) -> Result<Vec<(String, PendingWrite)>> {
        self.pending
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    pub(super) fn pending_remove(&self, id: &str) -> Result<()> {
        self.pending.remove(id.as_bytes())?;
        Ok(())
    }
}
