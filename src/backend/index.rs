//! The gateway's object index, shared by every backend: buckets and their usage, object
//! records (what was written through the gateway: sizes, ETags, attributes, checksums,
//! SHA-256 and proof ids), multipart uploads and parts, all in the metadata store. Each
//! change records its audit entry and, when proofs are on, its signed manifest in the same
//! transaction.

use crate::backend::Error;
use crate::meta::{AuditEntry, BucketRecord, Manifest, ObjectRecord, Precondition, ProofDraft, Store, UploadRecord};
use crate::proof::Prover;

use std::sync::Arc;

pub struct Index {
    pub store: Arc<dyn Store>,
    /// Signs a proof manifest for every stored or deleted object version (if enabled).
    pub prover: Option<Arc<Prover>>,
    /// Make each change durable before acknowledging it.
    pub fsync: bool,
}

impl Index {
    /// Makes the writes so far durable, when configured to.
    pub async fn sync(&self) -> Result<(), Error> {
        if self.fsync {
            self.store.flush().await?;
        }
        Ok(())
    }

    pub fn bucket(&self, name: &str) -> Result<BucketRecord, Error> {
        self.store.bucket_get(name)?.ok_or(Error::NoSuchBucket)
    }

    pub fn object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, Error> {
        match self.store.object_get(bucket, key)? {
            Some(rec) => Ok(rec),
            None => {
                self.bucket(bucket)?;
                Err(Error::NoSuchKey)
            }
        }
    }

    /// The upload `id`, checked to belong to `bucket`/`key`.
    pub fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<UploadRecord, Error> {
        match self.store.upload_get(id)? {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => {
                self.bucket(bucket)?;
                Err(Error::NoSuchUpload)
            }
        }
    }

    fn sign(&self, m: &mut Manifest) {
        if let Some(p) = &self.prover {
            p.sign(m);
        }
    }

    /// Records `record` under `key` if `precondition` holds, with its proof manifest, and
    /// makes it durable. Returns the record as stored (with its proof id) and the record it
    /// replaced. When `upload` is given, that upload and its parts go in the same transaction.
    pub async fn commit(
        &self,
        bucket: &str,
        key: &str,
        mut record: ObjectRecord,
        precondition: &Precondition,
        upload: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(ObjectRecord, Option<ObjectRecord>), Error> {
        let tenant = self.bucket(bucket)?.tenant;
        let draft = self.prover.as_ref().map(|p| {
            p.draft(&crate::proof::Change {
                op: "put",
                tenant: &tenant,
                bucket,
                key,
                size: record.size,
                sha256: &record.sha256,
                etag: &record.etag,
                content_type: record.attrs.content_type.as_deref().unwrap_or(""),
                principal: &audit.principal,
            })
        });
        if let Some(d) = &draft {
            record.proof_id.clone_from(&d.id);
        }
        let sign = |m: &mut Manifest| self.sign(m);
        let proof = draft.map(|manifest| ProofDraft { manifest, sign: &sign });
        let old = self.store.object_commit(bucket, key, &record, precondition, upload, Some(audit), proof.as_ref())?;
        self.sync().await?;
        Ok((record, old))
    }

    /// Removes `key` from the index, if `precondition` holds, with the proof of its
    /// deletion; returns the removed record (none if the key was not indexed).
    pub async fn delete(&self, bucket: &str, key: &str, precondition: &Precondition, audit: &AuditEntry) -> Result<Option<ObjectRecord>, Error> {
        let tenant = self.bucket(bucket)?.tenant;
        let sign = |m: &mut Manifest| self.sign(m);
        let proof = self.prover.as_ref().map(|p| ProofDraft {
            manifest: p.draft(&crate::proof::Change {
                op: "delete",
                tenant: &tenant,
                bucket,
                key,
                size: 0,
                sha256: "",
                etag: "",
                content_type: "",
                principal: &audit.principal,
            }),
            sign: &sign,
        });
        let old = self.store.object_delete(bucket, key, precondition, Some(audit), proof.as_ref())?;
        if old.is_some() {
            self.sync().await?;
        }
        Ok(old)
    }

    /// Removes the entry of an object whose bytes are gone (a repair by the gateway,
    /// audited, with the proof of its deletion), unless it changed since `rec` was read.
    /// Returns whether it removed it.
    pub async fn remove_orphan(&self, bucket: &str, key: &str, rec: &ObjectRecord) -> Result<bool, Error> {
        let gateway = crate::auth::Principal::anonymous();
        let audit = crate::audit::entry_for(&gateway, None, "RepairOrphanEntry", bucket, key, "ok", 0);
        match self.delete(bucket, key, &Precondition::Is(Box::new(rec.clone())), &audit).await {
            Ok(removed) => Ok(removed.is_some()),
            Err(Error::PreconditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
