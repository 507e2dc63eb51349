//! Versions of keys in versioned buckets: every version (the current one too) and delete
//! marker, newest first per key, and where each key's null version is.

use super::*;

/// A key's versions are ordered by `n`, the sequence number of the commit that made each
/// (taken under the tenant's write lock, so commits of one key are numbered in order).
/// Its version id is `n` in hex, then random hex: opaque to clients, ordered, and located
/// without an index.
pub(super) fn version_id(n: u64) -> String {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the OS random source is available");
    format!("{n:016x}{}", hex_simd::encode_to_string(random, hex_simd::AsciiCase::Lower))
}

/// The sequence number a version id starts with (none: not an id this store gave).
pub(super) fn sequence_of(version_id: &str) -> Option<u64> {
    if version_id.len() != 32 || !version_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&version_id[..16], 16).ok()
}

/// `bucket 0x00 escaped(key)`: the start of the keys of every version of every key
/// starting with `key` (NUL in a key is written `0x00 0xff`, so that `0x00 0x00` ends a key
/// and keys keep their byte order).
fn version_prefix(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 3 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    for b in key.bytes() {
        k.push(b);
        if b == 0 {
            k.push(0xff);
        }
    }
    k
}

/// The start of the keys of the versions of exactly `key`.
fn versions_of(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = version_prefix(bucket, key);
    k.extend_from_slice(&[0, 0]);
    k
}

/// The tree key of version `n` of `key`: newer versions sort first.
pub(super) fn version_key(bucket: &str, key: &str, n: u64) -> Vec<u8> {
    let mut k = versions_of(bucket, key);
    k.extend_from_slice(&(u64::MAX - n).to_be_bytes());
    k
}

/// The key and `n` of a version's tree key, given its bucket's prefix length.
fn parse_version_key(raw: &[u8], bucket_prefix: usize) -> Result<(String, u64)> {
    let corrupt = || Error::Corrupt("a version key without its terminator".into());
    let body = raw.get(bucket_prefix..).ok_or_else(corrupt)?;
    let (escaped, n) = body.split_at_checked(body.len().checked_sub(10).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
    if n[..2] != [0, 0] {
        return Err(corrupt());
    }
    let mut key = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter();
    while let Some(&b) = bytes.next() {
        key.push(b);
        if b == 0 {
            bytes.next();
        }
    }
    let inverted = u64::from_be_bytes(n[2..].try_into().map_err(|_| corrupt())?);
    Ok((String::from_utf8(key).map_err(|e| Error::Corrupt(e.to_string()))?, u64::MAX - inverted))
}

/// The version a commit of `n` adds to a versioned bucket, and what it releases: in a
/// suspended bucket the new version is the null version, replacing the previous one.
pub(super) struct NewVersion {
    pub id: String,
    pub null_replaced: Option<u64>,
}

impl SledStore {
    /// The sequence number of the key's null version, if it has one.
    pub(super) fn null_version(&self, bucket: &str, key: &str) -> Result<Option<u64>> {
        Ok(self.null_versions.get(object_key(bucket, key))?.map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// The id and the replaced null version of a version committed as `n` in a bucket in
    /// state `versioning` (read under the tenant's lock, as the transaction is).
    pub(super) fn new_version(&self, bucket: &str, key: &str, versioning: Versioning, n: u64) -> Result<NewVersion> {
        Ok(match versioning {
            Versioning::Unversioned => NewVersion { id: String::new(), null_replaced: None },
            Versioning::Enabled => NewVersion { id: version_id(n), null_replaced: None },
            Versioning::Suspended => NewVersion { id: NULL_VERSION.to_owned(), null_replaced: self.null_version(bucket, key)? },
        })
    }

    pub(super) fn version_get(&self, bucket: &str, key: &str, version_id: &str) -> Result<Option<VersionRecord>> {
        let n = if version_id == NULL_VERSION { self.null_version(bucket, key)? } else { sequence_of(version_id) };
        let Some(n) = n else { return Ok(None) };
        let found: Option<VersionRecord> = self.versions.get(version_key(bucket, key, n))?.map(|v| decode(&v)).transpose()?;
        Ok(found.filter(|v| v.version_id == version_id))
    }

    /// The key's versions, newest first, with their sequence numbers.
    fn versions_of_key(&self, bucket: &str, key: &str) -> impl Iterator<Item = Result<(u64, VersionRecord)>> + '_ {
        let strip = object_key(bucket, "").len();
        self.versions.scan_prefix(versions_of(bucket, key)).map(move |r| {
            let (k, v) = r?;
            let (_, n) = parse_version_key(&k, strip)?;
            Ok((n, decode(&v)?))
        })
    }

    pub(super) fn version_delete(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        (now_ns, bypass_governance): (i128, bool),
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft>,
    ) -> Result<Option<VersionRecord>> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        let (bucket_rec, mut locked) = self.lock_bucket_owner(bucket, &[])?;
        // Under the tenant's lock no version of the key changes: what is read here holds
        // in the transaction (sled's transactions cannot scan).
        let Some(target) = self.version_get(bucket, key, version_id)? else {
            return Ok(None);
        };
        // Object Lock is checked here, where a version goes for good, so no path removes a
        // locked version; its retention and hold cannot change meanwhile (their updates
        // are transactions on this record, checked again below).
        if let Some(why) = target.object.as_ref().and_then(|o| o.lock_refusal(now_ns, bypass_governance)) {
            return Err(Error::Locked(why.to_owned()));
        }
        let mut newest = self.versions_of_key(bucket, key);
        let latest = newest.next().transpose()?;
        let n = if version_id == NULL_VERSION { self.null_version(bucket, key)?.unwrap_or(0) } else { sequence_of(version_id).unwrap_or(0) };
        let was_latest = latest.as_ref().is_some_and(|(l, _)| *l == n);
        let next = if was_latest { newest.next().transpose()?.map(|(_, v)| v) } else { None };
        drop(newest);
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
        loop {
            let object_n = self.db.generate_id()?;
            let sealed = match (proof, &target.object) {
                (Some(draft), Some(_)) => Some(self.seal(draft, object_n, &target.version_id)?),
                _ => None,
            };
            let row = versioned_row(row.as_ref(), audit, &target.version_id);
            let attempt = flatten(trees.transaction(|(buckets, objects, versions, null_versions, completed, audit, proofs, index, heads)| {
                if !tx_chain_holds(heads, sealed.as_ref())? {
                    return Ok(super::objects::Attempt::Stale);
                }
                // A retention or hold set since it was read must hold too.
                let now: Option<VersionRecord> = versions.remove(version_key(bucket, key, n))?.map(|raw| tx_decode(&raw)).transpose()?;
                if now.as_ref() != Some(&target) {
                    return abort(Error::Locked("The object version changed meanwhile; try again".to_owned()));
                }
                if version_id == NULL_VERSION {
                    null_versions.remove(okey.as_slice())?;
                }
                if was_latest {
                    completed.remove(okey.as_slice())?;
                    match next.as_ref().and_then(|v| v.object.as_ref()) {
                        Some(current) => objects.insert(okey.as_slice(), encode(current))?,
                        None => objects.remove(okey.as_slice())?,
                    };
                }
                if let Some(gone) = &target.object {
                    super::objects::update_usage(buckets, bucket, Some(gone), None, (0, 0))?;
                }
                tx_audit(audit, row.as_deref())?;
                tx_proof(proofs, index, heads, sealed.as_ref())?;
                Ok(super::objects::Attempt::Committed(()))
            }))?;
            let super::objects::Attempt::Committed(()) = attempt else { continue };
            if let (Some(b), Some(gone)) = (&bucket_rec, &target.object) {
                locked.apply(&b.tenant, Some(gone.size), None);
            }
            return Ok(Some(target));
        }
    }

    pub(super) fn version_scan<'a>(
        &'a self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
    ) -> Box<dyn Iterator<Item = Result<(String, VersionRecord)>> + 'a> {
        let strip = object_key(bucket, "").len();
        let scan_prefix = version_prefix(bucket, prefix);
        let mut start = scan_prefix.clone();
        if let Some((key, version)) = after.filter(|(key, _)| *key >= prefix) {
            start = match version.and_then(|v| if v == NULL_VERSION { self.null_version(bucket, key).ok().flatten() } else { sequence_of(v) }) {
                // Just after that version: the next older one of the key.
                Some(n) if n > 0 => version_key(bucket, key, n - 1),
                Some(_) => return Box::new(std::iter::empty()),
                // Past every version of the key.
                None => {
                    let mut k = versions_of(bucket, key);
                    k.extend_from_slice(&[0xff; 8]);
                    k.push(0);
                    k
                }
            };
        }
        Box::new(self.versions.range(start..).take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&scan_prefix))).map(move |r| {
            let (k, v) = r?;
            let (key, _) = parse_version_key(&k, strip)?;
            Ok((key, decode(&v)?))
        }))
    }

    pub(super) fn version_entries<'a>(&'a self, bucket: &str) -> Box<dyn Iterator<Item = Result<(String, u64, VersionRecord)>> + 'a> {
        let strip = object_key(bucket, "").len();
        Box::new(self.versions.scan_prefix(version_prefix(bucket, "")).map(move |r| {
            let (k, v) = r?;
            let (key, n) = parse_version_key(&k, strip)?;
            Ok((key, n, decode(&v)?))
        }))
    }

    pub(super) fn version_import(&self, bucket: &str, key: &str, n: u64, version: &VersionRecord) -> Result<()> {
        // Later commits must sort newer than what comes back (the generator is monotonic;
        // it persists its position every so many ids, so this loop is cheap per id).
        while self.db.generate_id()? <= n {}
        let okey = object_key(bucket, key);
        let (bucket_rec, mut locked) = self.lock_bucket_owner(bucket, &[])?;
        let Some(bucket_rec) = bucket_rec else { return Err(Error::NoSuchBucket) };
        let newest = self.versions_of_key(bucket, key).next().transpose()?.map(|(latest, _)| latest);
        let becomes_current = newest.is_none_or(|latest| n > latest);
        let replaced: Option<VersionRecord> = self.versions.get(version_key(bucket, key, n))?.map(|v| decode(&v)).transpose()?;
        flatten((&self.buckets, &self.objects, &self.versions, &self.null_versions).transaction(|(buckets, objects, versions, null_versions)| {
            versions.insert(version_key(bucket, key, n), encode(version))?;
            if version.version_id == NULL_VERSION {
                null_versions.insert(okey.as_slice(), &n.to_be_bytes())?;
            }
            if becomes_current {
                match &version.object {
                    Some(object) => objects.insert(okey.as_slice(), encode(object))?,
                    None => objects.remove(okey.as_slice())?,
                };
            }
            super::objects::update_usage(buckets, bucket, replaced.as_ref().and_then(|r| r.object.as_ref()), version.object.as_ref(), (0, 0))?;
            Ok(())
        }))?;
        if let Some(object) = &version.object {
            locked.apply(&bucket_rec.tenant, replaced.as_ref().and_then(|r| r.object.as_ref()).map(|o| o.size), Some(object.size));
        }
        Ok(())
    }

    pub(super) fn bucket_set_versioning(&self, name: &str, versioning: Versioning, at_key: bool, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        if versioning == Versioning::Unversioned {
            return Err(Error::Invalid("a versioned bucket cannot become unversioned".into()));
        }
        if versioning == Versioning::Suspended && self.bucket_get(name)?.is_some_and(|b| b.object_lock.is_some()) {
            return Err(Error::InvalidState("An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into()));
        }
        let row = self.audit_row(audit)?;
        // Under the tenant's lock, no object of the bucket is committed meanwhile.
        let (Some(before), _locked) = self.lock_bucket_owner(name, &[])? else {
            return Err(Error::NoSuchBucket);
        };
        if before.versioning == Versioning::Unversioned {
            self.materialize_null_versions(name, at_key)?;
        }
        flatten((&self.buckets, &self.audit).transaction(|(buckets, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let mut rec: BucketRecord = tx_decode(&raw)?;
            rec.versioning = versioning;
            buckets.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(rec)
        }))
    }

    pub(super) fn bucket_set_lock(&self, name: &str, lock: LockConfig, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        let row = self.audit_row(audit)?;
        // Under the tenant's lock, as versioning changes are: no suspension meanwhile.
        let _locked = self.lock_bucket_owner(name, &[])?;
        flatten((&self.buckets, &self.audit).transaction(|(buckets, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let mut rec: BucketRecord = tx_decode(&raw)?;
            if rec.versioning != Versioning::Enabled {
                return abort(Error::InvalidState("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration".into()));
            }
            rec.object_lock = Some(lock);
            buckets.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(rec)
        }))
    }

    /// Makes each current object of a bucket about to be versioned its key's null version
    /// (batches of transactions, under the tenant's lock; a repeat after a crash redoes
    /// what it finds). `at_key`: the objects' bytes are at their keys, so their versions
    /// name no segments.
    fn materialize_null_versions(&self, bucket: &str, at_key: bool) -> Result<()> {
        const BATCH: usize = 512;
        let mut from: Option<String> = None;
        loop {
            let batch: Vec<(String, ObjectRecord)> = self
                .object_scan(bucket, "", from.as_deref())
                .filter(|r| r.as_ref().map_or(true, |(k, _)| Some(k) != from.as_ref()))
                .take(BATCH)
                .collect::<Result<_>>()?;
            let Some((last, _)) = batch.last() else { return Ok(()) };
            from = Some(last.clone());
            let mut rows = Vec::with_capacity(batch.len());
            for (key, rec) in batch {
                let n = self.db.generate_id()?;
                let stale = self.null_version(bucket, &key)?;
                let segments = if at_key { Vec::new() } else { rec.segments.clone() };
                let object = ObjectRecord { version_id: NULL_VERSION.to_owned(), segments, ..rec };
                let version = VersionRecord {
                    version_id: NULL_VERSION.to_owned(),
                    last_modified_ns: object.last_modified_ns,
                    owner: object.owner.clone(),
                    object: Some(object),
                };
                rows.push((key, n, stale, version));
            }
            flatten((&self.objects, &self.versions, &self.null_versions).transaction(|(objects, versions, null_versions)| {
                for (key, n, stale, version) in &rows {
                    let okey = object_key(bucket, key);
                    if let Some(stale) = stale {
                        versions.remove(version_key(bucket, key, *stale))?;
                    }
                    versions.insert(version_key(bucket, key, *n), encode(version))?;
                    null_versions.insert(okey.as_slice(), &n.to_be_bytes())?;
                    if let Some(object) = &version.object {
                        objects.insert(okey.as_slice(), encode(object))?;
                    }
                }
                Ok(())
            }))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_keys_keep_key_order_and_put_newer_versions_first() {
        let mut keys = vec![
            (version_key("b", "a", 5), ("a", 5)),
            (version_key("b", "a", 9), ("a", 9)),
            (version_key("b", "a\0z", 1), ("a\0z", 1)),
            (version_key("b", "a/b", 1), ("a/b", 1)),
            (version_key("b", "ab", 3), ("ab", 3)),
        ];
        keys.sort();
        let order: Vec<(&str, u64)> = keys.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, vec![("a", 9), ("a", 5), ("a\0z", 1), ("a/b", 1), ("ab", 3)]);
        let strip = object_key("b", "").len();
        for (raw, (key, n)) in &keys {
            assert_eq!(parse_version_key(raw, strip).unwrap(), ((*key).to_owned(), *n));
        }
        assert!(version_key("b", "a\0z", 1).starts_with(&version_prefix("b", "a\0")));
        assert!(!version_key("b", "a\0z", 1).starts_with(&versions_of("b", "a")));
    }

    #[test]
    fn version_ids_carry_their_sequence() {
        let id = version_id(0x1234);
        assert_eq!(id.len(), 32);
        assert_eq!(sequence_of(&id), Some(0x1234));
        assert_ne!(version_id(7), version_id(7));
        assert_eq!(sequence_of("null"), None);
        assert_eq!(sequence_of("zz34567890123456789012345678901z"), None);
    }
}
