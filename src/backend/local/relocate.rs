//! Migration to and from local disk: an object's bytes become one new blob, verified
//! before its entry points at it (a sealed object's ciphertext moves as it is).

use super::LocalBackend;
use crate::backend::s3util::{BodyCheck, Expected};
use crate::backend::scrub::ByteStream;
use crate::backend::sealed::stored_size;
use crate::backend::{Error, Relocation};
use crate::meta::{ObjectRecord, Segment};

use s3s::dto::StreamingBlob;

#[async_trait::async_trait]
impl Relocation for LocalBackend {
    async fn prepare(&self, _bucket: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn holds(&self, _bucket: &str, _key: &str, rec: &ObjectRecord) -> Result<bool, Error> {
        if rec.segments.iter().map(|s| s.size).sum::<u64>() != stored_size(rec) {
            return Ok(false);
        }
        for seg in &rec.segments {
            if self.blobs.size_of(&seg.blob).await? != Some(seg.size) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn read(&self, bucket: &str, key: &str, rec: &ObjectRecord) -> Result<ByteStream, Error> {
        crate::backend::Engine::open(self, bucket, key, rec, 0..stored_size(rec)).await
    }

    async fn write(&self, bucket: &str, key: &str, rec: &ObjectRecord, body: ByteStream, expect: Expected) -> Result<Option<Vec<Segment>>, Error> {
        let check = BodyCheck::expecting(expect)?;
        let (pending, hasher) = self.blobs.write(StreamingBlob::wrap(body), check.hasher(), u64::MAX).await?;
        check.verify(&hasher.finish())?;
        if pending.size != stored_size(rec) {
            return Err(Error::IncompleteBody(format!("read {} bytes of {}", pending.size, stored_size(rec))));
        }
        if !rec.version_id.is_empty() {
            // A version: its record stays as the source reads it until the switch. A version
            // the upstream keeps in a blob of its own gets a local blob of that id, which
            // the unchanged record names on both backends; any other (an object from before
            // versioning, at its key upstream) gets a new blob, named at the switch.
            if let [only] = rec.segments.as_slice()
                && only.size == stored_size(rec)
            {
                return match self.blobs.install_as(pending, &only.blob).await? {
                    Some(_) => Ok(None),
                    // Not a blob id, or one held already by other bytes (its size differs).
                    None => Err(Error::InvalidRequest(format!("the version's blob {} cannot be placed on local disk", only.blob))),
                };
            }
            return Ok(Some(vec![self.blobs.install(pending).await?]));
        }
        let segment = self.blobs.install(pending).await?;
        let gateway = crate::auth::Principal::Gateway;
        let audit = crate::audit::entry_for(&gateway, None, crate::audit::GatewayOp::MigrateObject, bucket, key, crate::audit::Outcome::Ok, rec.size);
        if let Err(e) = self.store.object_relocate(bucket, key, rec, vec![segment.clone()], Some(&audit)) {
            self.blobs.remove([segment.blob.as_str()]);
            return Err(e.into());
        }
        Ok(None)
    }
}
