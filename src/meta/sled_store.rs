//! The sled implementation of [`Store`].
//!
//! Trees and key encodings:
//! - `buckets`:  bucket name → [`BucketRecord`]
//! - `objects`:  bucket `0x00` key → [`ObjectRecord`] (bucket names never contain NUL, so a
//!   bucket's keys form one contiguous range in byte order)
//! - `uploads`:  upload id → [`UploadRecord`]
//! - `upload_keys`: bucket `0x00` key `0x00` upload id → `[]` (ordered listing of uploads)
//! - `parts`:    upload id `0x00` part number (big endian u32) → [`PartRecord`]
//! - `schema`:   `"version"` → schema version

use super::*;

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Db, Transactional, Tree};

use std::path::Path;

const SCHEMA_VERSION: &[u8] = b"1";

pub struct SledStore {
    db: Db,
    buckets: Tree,
    objects: Tree,
    uploads: Tree,
    upload_keys: Tree,
    parts: Tree,
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data: serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn upload_key(bucket: &str, key: &str, id: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn part_key(upload_id: &str, number: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 5);
    k.extend_from_slice(upload_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

fn part_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k
}

/// Runs a sled transaction whose closure aborts with a store [`Error`].
fn flatten<T>(r: std::result::Result<T, TransactionError<Error>>) -> Result<T> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    })
}

fn abort<T>(e: Error) -> std::result::Result<T, ConflictableTransactionError<Error>> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<T, ConflictableTransactionError<Error>> {
    decode(bytes).map_err(ConflictableTransactionError::Abort)
}

/// Applies the usage change of replacing `old` by `new` to the bucket record.
fn update_usage(
    buckets: &TransactionalTree,
    bucket: &str,
    old: Option<&ObjectRecord>,
    new: Option<&ObjectRecord>,
) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    let Some(raw) = buckets.get(bucket.as_bytes())? else {
        return abort(Error::NoSuchBucket);
    };
    let mut rec: BucketRecord = tx_decode(&raw)?;
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

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .open()?;
        let schema = db.open_tree("schema")?;
        match schema.get("version")? {
            None => {
                schema.insert("version", SCHEMA_VERSION)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(Error::Corrupt(format!(
                    "unsupported schema version {}",
                    String::from_utf8_lossy(&v)
                )));
            }
        }
        Ok(Self {
            buckets: db.open_tree("buckets")?,
            objects: db.open_tree("objects")?,
            uploads: db.open_tree("uploads")?,
            upload_keys: db.open_tree("upload_keys")?,
            parts: db.open_tree("parts")?,
            db,
        })
    }

    fn part_keys(&self, upload_id: &str) -> Result<Vec<(sled::IVec, PartRecord)>> {
        self.parts
            .scan_prefix(part_prefix(upload_id))
            .map(|r| {
                let (k, v) = r?;
                Ok((k, decode(&v)?))
            })
            .collect()
    }
}

impl Store for SledStore {
    fn bucket_get(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.buckets.get(name)?.map(|v| decode(&v)).transpose()
    }

    fn bucket_create(&self, record: &BucketRecord) -> Result<Option<BucketRecord>> {
        match self
            .buckets
            .compare_and_swap(&record.name, None::<&[u8]>, Some(encode(record)))?
        {
            Ok(()) => Ok(None),
            Err(cas) => cas.current.map(|v| decode(&v)).transpose(),
        }
    }

    fn bucket_delete(&self, name: &str) -> Result<()> {
        let has_uploads = self
            .upload_keys
            .scan_prefix(object_key(name, ""))
            .next()
            .is_some();
        flatten(self.buckets.transaction(|buckets| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let rec: BucketRecord = tx_decode(&raw)?;
            if rec.objects > 0 || has_uploads {
                return abort(Error::BucketNotEmpty);
            }
            buckets.remove(name.as_bytes())?;
            Ok(())
        }))
    }

    fn bucket_list(&self) -> Result<Vec<BucketRecord>> {
        self.buckets.iter().values().map(|v| decode(&v?)).collect()
    }

    fn object_get(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        self.objects
            .get(object_key(bucket, key))?
            .map(|v| decode(&v))
            .transpose()
    }

    fn object_commit(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        precondition: &Precondition,
        upload: Option<&str>,
    ) -> Result<Option<ObjectRecord>> {
        let parts = match upload {
            Some(id) => self.part_keys(id)?,
            None => Vec::new(),
        };
        let okey = object_key(bucket, key);
        let value = encode(record);
        flatten(
            (&self.buckets, &self.objects, &self.uploads, &self.upload_keys, &self.parts).transaction(
                |(buckets, objects, uploads, upload_keys, parts_tree)| {
                    let old: Option<ObjectRecord> = match objects.get(&okey)? {
                        Some(raw) => Some(tx_decode(&raw)?),
                        None => None,
                    };
                    if !precondition.holds(old.as_ref()) {
                        return abort(Error::PreconditionFailed);
                    }
                    if let Some(id) = upload {
                        if uploads.remove(id.as_bytes())?.is_none() {
                            return abort(Error::NoSuchUpload);
                        }
                        upload_keys.remove(upload_key(bucket, key, id))?;
                        for (k, _) in &parts {
                            parts_tree.remove(k)?;
                        }
                    }
                    update_usage(buckets, bucket, old.as_ref(), Some(record))?;
                    objects.insert(okey.as_slice(), value.as_slice())?;
                    Ok(old)
                },
            ),
        )
    }

    fn object_delete(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        let okey = object_key(bucket, key);
        flatten((&self.buckets, &self.objects).transaction(|(buckets, objects)| {
            let Some(raw) = objects.remove(okey.as_slice())? else {
                if buckets.get(bucket.as_bytes())?.is_none() {
                    return abort(Error::NoSuchBucket);
                }
                return Ok(None);
            };
            let old: ObjectRecord = tx_decode(&raw)?;
            update_usage(buckets, bucket, Some(&old), None)?;
            Ok(Some(old))
        }))
    }

    fn object_set_tags(&self, bucket: &str, key: &str, tags: Vec<(String, String)>) -> Result<bool> {
        let okey = object_key(bucket, key);
        flatten(self.objects.transaction(|objects| {
            let Some(raw) = objects.get(okey.as_slice())? else {
                return Ok(false);
            };
            let mut rec: ObjectRecord = tx_decode(&raw)?;
            rec.tags.clone_from(&tags);
            objects.insert(okey.as_slice(), encode(&rec))?;
            Ok(true)
        }))
    }

    fn object_scan<'a>(
        &'a self,
        bucket: &str,
        prefix: &str,
        from: Option<&str>,
    ) -> Box<dyn Iterator<Item = Result<ObjectEntry>> + 'a> {
        let base = object_key(bucket, "");
        let strip = base.len();
        let scan_prefix = object_key(bucket, prefix);
        let start = match from {
            Some(from) if from > prefix => object_key(bucket, from),
            _ => scan_prefix.clone(),
        };
        Box::new(
            self.objects
                .range(start..)
                .take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&scan_prefix)))
                .map(move |r| {
                    let (k, v) = r?;
                    let key = String::from_utf8(k[strip..].to_vec())
                        .map_err(|e| Error::Corrupt(e.to_string()))?;
                    Ok((key, decode(&v)?))
                }),
        )
    }

    fn upload_create(&self, id: &str, record: &UploadRecord) -> Result<()> {
        let value = encode(record);
        let ukey = upload_key(&record.bucket, &record.key, id);
        flatten((&self.buckets, &self.uploads, &self.upload_keys).transaction(
            |(buckets, uploads, upload_keys)| {
                if buckets.get(record.bucket.as_bytes())?.is_none() {
                    return abort(Error::NoSuchBucket);
                }
                uploads.insert(id.as_bytes(), value.as_slice())?;
                upload_keys.insert(ukey.as_slice(), &[])?;
                Ok(())
            },
        ))
    }

    fn upload_get(&self, id: &str) -> Result<Option<UploadRecord>> {
        self.uploads.get(id)?.map(|v| decode(&v)).transpose()
    }

    fn upload_delete(&self, id: &str) -> Result<Vec<PartRecord>> {
        let parts = self.part_keys(id)?;
        flatten((&self.uploads, &self.upload_keys, &self.parts).transaction(
            |(uploads, upload_keys, parts_tree)| {
                let Some(raw) = uploads.remove(id.as_bytes())? else {
                    return abort(Error::NoSuchUpload);
                };
                let rec: UploadRecord = tx_decode(&raw)?;
                upload_keys.remove(upload_key(&rec.bucket, &rec.key, id))?;
                for (k, _) in &parts {
                    parts_tree.remove(k)?;
                }
                Ok(())
            },
        ))?;
        Ok(parts.into_iter().map(|(_, p)| p).collect())
    }

    fn upload_list(&self, bucket: &str) -> Result<Vec<(String, UploadRecord)>> {
        let mut out = Vec::new();
        for r in self.upload_keys.scan_prefix(object_key(bucket, "")) {
            let (k, _) = r?;
            let Some(pos) = k.iter().rposition(|b| *b == 0) else { continue };
            let id = String::from_utf8_lossy(&k[pos + 1..]).into_owned();
            if let Some(rec) = self.upload_get(&id)? {
                out.push((id, rec));
            }
        }
        Ok(out)
    }

    fn part_put(&self, upload_id: &str, record: &PartRecord) -> Result<Option<PartRecord>> {
        let pkey = part_key(upload_id, record.number);
        let value = encode(record);
        flatten((&self.uploads, &self.parts).transaction(|(uploads, parts)| {
            if uploads.get(upload_id.as_bytes())?.is_none() {
                return abort(Error::NoSuchUpload);
            }
            match parts.insert(pkey.as_slice(), value.as_slice())? {
                Some(old) => Ok(Some(tx_decode(&old)?)),
                None => Ok(None),
            }
        }))
    }

    fn part_list(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        Ok(self.part_keys(upload_id)?.into_iter().map(|(_, p)| p).collect())
    }

    fn referenced_blobs(&self) -> Result<BTreeSet<String>> {
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

    fn flush(&self) -> futures::future::BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.db.flush_async().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        (dir, s)
    }

    fn bucket(name: &str) -> BucketRecord {
        BucketRecord { name: name.into(), created_ns: 0, tenant: "t".into(), objects: 0, bytes: 0 }
    }

    fn object(etag: &str, size: u64) -> ObjectRecord {
        ObjectRecord {
            size,
            etag: etag.into(),
            last_modified_ns: 0,
            segments: vec![Segment { blob: format!("blob-{etag}"), size }],
            multipart: false,
            attrs: ObjectAttrs::default(),
            checksums: Checksums::default(),
            tags: vec![],
            owner: String::new(),
        }
    }

    #[test]
    fn commit_checks_preconditions_and_keeps_usage_exact() {
        let (_d, s) = store();
        assert_eq!(s.bucket_create(&bucket("b")).unwrap(), None);
        assert!(s.bucket_create(&bucket("b")).unwrap().is_some());
        s.object_commit("b", "k", &object("e1", 10), &Precondition::Absent, None).unwrap();
        assert!(matches!(
            s.object_commit("b", "k", &object("e2", 5), &Precondition::Absent, None),
            Err(Error::PreconditionFailed)
        ));
        assert!(matches!(
            s.object_commit("b", "k", &object("e2", 5), &Precondition::ETagIs("zz".into()), None),
            Err(Error::PreconditionFailed)
        ));
        let old = s
            .object_commit("b", "k", &object("e2", 5), &Precondition::ETagIs("e1".into()), None)
            .unwrap();
        assert_eq!(old.unwrap().etag, "e1");
        let b = s.bucket_get("b").unwrap().unwrap();
        assert_eq!((b.objects, b.bytes), (1, 5));
        assert!(matches!(s.bucket_delete("b"), Err(Error::BucketNotEmpty)));
        assert!(s.object_delete("b", "k").unwrap().is_some());
        assert!(s.object_delete("b", "k").unwrap().is_none());
        let b = s.bucket_get("b").unwrap().unwrap();
        assert_eq!((b.objects, b.bytes), (0, 0));
        s.bucket_delete("b").unwrap();
        assert!(matches!(
            s.object_commit("b", "k", &object("e3", 1), &Precondition::None, None),
            Err(Error::NoSuchBucket)
        ));
    }

    #[test]
    fn scan_is_ordered_and_bounded_by_bucket_and_prefix() {
        let (_d, s) = store();
        s.bucket_create(&bucket("a")).unwrap();
        s.bucket_create(&bucket("ab")).unwrap();
        for k in ["x/2", "x/1", "y", "x/10", ""] {
            if !k.is_empty() {
                s.object_commit("a", k, &object(k, 1), &Precondition::None, None).unwrap();
            }
        }
        s.object_commit("ab", "x/0", &object("o", 1), &Precondition::None, None).unwrap();
        let keys: Vec<String> = s.object_scan("a", "x/", None).map(|r| r.unwrap().0).collect();
        assert_eq!(keys, ["x/1", "x/10", "x/2"]);
        let keys: Vec<String> = s.object_scan("a", "", Some("x/10")).map(|r| r.unwrap().0).collect();
        assert_eq!(keys, ["x/10", "x/2", "y"]);
    }

    #[test]
    fn completing_an_upload_removes_it_with_its_parts() {
        let (_d, s) = store();
        s.bucket_create(&bucket("b")).unwrap();
        let up = UploadRecord {
            bucket: "b".into(),
            key: "k".into(),
            initiated_ns: 0,
            attrs: ObjectAttrs::default(),
            tags: vec![],
            checksum_algorithm: None,
            owner: String::new(),
        };
        s.upload_create("u1", &up).unwrap();
        let part = PartRecord {
            number: 1,
            blob: "p1".into(),
            size: 3,
            etag: "e".into(),
            last_modified_ns: 0,
            checksums: Checksums::default(),
        };
        assert!(s.part_put("u1", &part).unwrap().is_none());
        assert_eq!(s.upload_list("b").unwrap().len(), 1);
        assert!(s.referenced_blobs().unwrap().contains("p1"));
        assert!(matches!(s.bucket_delete("b"), Err(Error::BucketNotEmpty)));
        s.object_commit("b", "k", &object("m", 3), &Precondition::None, Some("u1")).unwrap();
        assert!(s.upload_get("u1").unwrap().is_none());
        assert!(s.part_list("u1").unwrap().is_empty());
        assert!(s.upload_list("b").unwrap().is_empty());
        assert!(matches!(
            s.object_commit("b", "k", &object("m", 3), &Precondition::None, Some("u1")),
            Err(Error::NoSuchUpload)
        ));
    }
}
