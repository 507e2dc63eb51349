//! Multipart uploads, their parts, and the completions remembered for a retry.

use super::*;

pub(super) fn upload_key(bucket: &str, key: &str, id: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

pub(super) fn part_key(upload_id: &str, number: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 5);
    k.extend_from_slice(upload_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

pub(super) fn part_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k
}

impl SledStore {
    pub(super) fn part_keys(&self, upload_id: &str) -> Result<Vec<(sled::IVec, PartRecord)>> {
        self.parts
            .scan_prefix(part_prefix(upload_id))
            .map(|r| {
                let (k, v) = r?;
                Ok((k, decode(&v)?))
            })
            .collect()
    }
}

impl SledStore {
    pub(super) fn upload_create(&self, id: &str, record: &UploadRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let value = encode(record);
        let ukey = upload_key(&record.bucket, &record.key, id);
        let row = self.audit_row(audit)?;
        flatten((&self.buckets, &self.uploads, &self.upload_keys, &self.audit).transaction(|(buckets, uploads, upload_keys, audit)| {
            if buckets.get(record.bucket.as_bytes())?.is_none() {
                return abort(Error::NoSuchBucket);
            }
            uploads.insert(id.as_bytes(), value.as_slice())?;
            upload_keys.insert(ukey.as_slice(), &[])?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn upload_get(&self, id: &str) -> Result<Option<UploadRecord>> {
        self.uploads.get(id)?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn upload_delete(&self, id: &str, audit: Option<&AuditEntry>) -> Result<Vec<PartRecord>> {
        let parts = self.part_keys(id)?;
        let row = self.audit_row(audit)?;
        flatten((&self.uploads, &self.upload_keys, &self.parts, &self.audit).transaction(|(uploads, upload_keys, parts_tree, audit)| {
            let Some(raw) = uploads.remove(id.as_bytes())? else {
                return abort(Error::NoSuchUpload);
            };
            let rec: UploadRecord = tx_decode(&raw)?;
            upload_keys.remove(upload_key(&rec.bucket, &rec.key, id))?;
            for (k, _) in &parts {
                parts_tree.remove(k)?;
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))?;
        Ok(parts.into_iter().map(|(_, p)| p).collect())
    }

    pub(super) fn upload_list(&self, bucket: &str) -> Result<Vec<(String, UploadRecord)>> {
        let mut out = Vec::new();
        for r in self.upload_keys.scan_prefix(object_key(bucket, "")) {
            let (k, _) = r?;
            let Some(pos) = k.iter().rposition(|b| *b == 0) else {
                continue;
            };
            let id = String::from_utf8_lossy(&k[pos + 1..]).into_owned();
            if let Some(rec) = self.upload_get(&id)? {
                out.push((id, rec));
            }
        }
        Ok(out)
    }

    pub(super) fn part_put(&self, upload_id: &str, record: &PartRecord, audit: Option<&AuditEntry>) -> Result<Option<PartRecord>> {
        let pkey = part_key(upload_id, record.number);
        let value = encode(record);
        let row = self.audit_row(audit)?;
        flatten((&self.uploads, &self.parts, &self.audit).transaction(|(uploads, parts, audit)| {
            if uploads.get(upload_id.as_bytes())?.is_none() {
                return abort(Error::NoSuchUpload);
            }
            tx_audit(audit, row.as_ref())?;
            match parts.insert(pkey.as_slice(), value.as_slice())? {
                Some(old) => Ok(Some(tx_decode(&old)?)),
                None => Ok(None),
            }
        }))
    }

    pub(super) fn part_list(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        Ok(self.part_keys(upload_id)?.into_iter().map(|(_, p)| p).collect())
    }

    pub(super) fn completed_get(&self, bucket: &str, key: &str) -> Result<Option<CompletedUpload>> {
        self.completed.get(object_key(bucket, key))?.map(|v| decode(&v)).transpose()
    }
}
