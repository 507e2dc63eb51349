//! Object records, the writes on their way to a backend, and the blobs they reference.

use super::*;

/// Applies the usage change of replacing `old` by `new` to the bucket record.
pub(super) fn update_usage(
    buckets: &TransactionalTree,
    bucket: &str,
    old: Option<&ObjectRecord>,
    new: Option<&ObjectRecord>,
) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    let Some(raw) = buckets.get(bucket.as_bytes())? else {
        return abort(Error::NoSuchBucket);
    };
    let mut rec: BucketRecord = tx_decode(&raw)?;
    if let Some(new) = new
        && let Err(why) = rec.quota.admits(rec.objects, rec.bytes, old.map(|o| o.size), new.size)
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
    pub(super) fn check_tenant_quota(&self, locked: &mut LockedTenants<'_>, bucket: Option<&BucketRecord>, okey: &[u8], new_size: u64) -> Result<()> {
        // A missing bucket is reported by the transaction.
        let Some(b) = bucket else { return Ok(()) };
        let Some(t) = self.tenant_get(&b.tenant)? else {
            return Ok(());
        };
        if t.quota.is_unlimited() {
            return Ok(());
        }
        let old: Option<ObjectRecord> = self.objects.get(okey)?.map(|v| decode(&v)).transpose()?;
        let (objects, bytes) = locked.usage(&b.tenant);
        t.quota.admits(objects, bytes, old.map(|o| o.size), new_size).map_err(|why| Error::QuotaExceeded(format!("tenant {}: {why}", t.name)))
    }
}

impl SledStore {
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
        proof: Option<&ProofDraft<'_>>,
    ) -> Result<Option<ObjectRecord>> {
        let parts = match completes {
            Completes::Upload(id) | Completes::Multipart { upload: id, .. } => self.part_keys(id)?,
            Completes::Nothing | Completes::Pending(_) => Vec::new(),
        };
        let okey = object_key(bucket, key);
        let value = encode(record);
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
        let trees = (
            &self.buckets,
            &self.objects,
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
        self.check_tenant_quota(&mut locked, bucket_rec.as_ref(), &okey, record.size)?;
        loop {
            // Taken under the lock, so that the order of an object's manifests is the order of its commits.
            let object_n = self.db.generate_id()?;
            let sealed = proof.map(|draft| self.seal(draft, object_n)).transpose()?;
            let attempt =
                flatten(trees.transaction(|(buckets, objects, uploads, upload_keys, parts_tree, completed, pending, audit, proofs, index, heads)| {
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
                    update_usage(buckets, bucket, old.as_ref(), Some(record))?;
                    objects.insert(okey.as_slice(), value.as_slice())?;
                    tx_audit(audit, row.as_ref())?;
                    tx_proof(proofs, index, heads, sealed.as_ref())?;
                    Ok(Attempt::Committed(old))
                }))?;
            let Attempt::Committed(old) = attempt else { continue };
            if let Some(b) = bucket_rec {
                locked.apply(&b.tenant, old.as_ref().map(|o| o.size), Some(record.size));
            }
            return Ok(old);
        }
    }

    pub(super) fn object_delete(
        &self,
        bucket: &str,
        key: &str,
        precondition: &Precondition,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft<'_>>,
    ) -> Result<Option<ObjectRecord>> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        let trees = (&self.buckets, &self.objects, &self.completed, &self.audit, &self.proofs, &self.proof_index, &self.proof_heads);
        let (bucket_rec, mut locked) = self.lock_bucket_owner(bucket, &[])?;
        loop {
            let object_n = self.db.generate_id()?;
            // A deletion is proved only if there is something to delete: no signature for the rest.
            let sealed = match proof {
                Some(draft) if self.objects.contains_key(okey.as_slice())? => Some(self.seal(draft, object_n)?),
                _ => None,
            };
            let attempt = flatten(trees.transaction(|(buckets, objects, completed, audit, proofs, index, heads)| {
                if !tx_chain_holds(heads, sealed.as_ref())? {
                    return Ok(Attempt::Stale);
                }
                let Some(raw) = objects.get(okey.as_slice())? else {
                    tx_audit(audit, row.as_ref())?;
                    if buckets.get(bucket.as_bytes())?.is_none() {
                        return abort(Error::NoSuchBucket);
                    }
                    return match precondition.check(None) {
                        Ok(()) => Ok(Attempt::Committed(None)),
                        Err(e) => abort(e),
                    };
                };
                if proof.is_some() && sealed.is_none() {
                    return Ok(Attempt::Stale);
                }
                tx_audit(audit, row.as_ref())?;
                let old: ObjectRecord = tx_decode(&raw)?;
                if let Err(e) = precondition.check(Some(&old)) {
                    return abort(e);
                }
                objects.remove(okey.as_slice())?;
                completed.remove(okey.as_slice())?;
                update_usage(buckets, bucket, Some(&old), None)?;
                tx_proof(proofs, index, heads, sealed.as_ref())?;
                Ok(Attempt::Committed(Some(old)))
            }))?;
            let Attempt::Committed(old) = attempt else { continue };
            if let (Some(b), Some(o)) = (&bucket_rec, &old) {
                locked.apply(&b.tenant, Some(o.size), None);
            }
            return Ok(old);
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

    pub(super) fn object_set_tags(&self, bucket: &str, key: &str, tags: Vec<(String, String)>, audit: Option<&AuditEntry>) -> Result<bool> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        flatten((&self.objects, &self.audit).transaction(|(objects, audit)| {
            let Some(raw) = objects.get(okey.as_slice())? else {
                return Ok(false);
            };
            let mut rec: ObjectRecord = tx_decode(&raw)?;
            rec.tags.clone_from(&tags);
            objects.insert(okey.as_slice(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(true)
        }))
    }

    pub(super) fn object_scan<'a>(&'a self, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = Result<ObjectEntry>> + 'a> {
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
