//! What the instances of a cluster share through the metadata bucket besides the control
//! log:
//! - multipart uploads in progress. An upload started on one instance can take parts on
//!   any and be listed, completed or aborted on any, because its record and each part's
//!   record are written to `.tollgate-uploads/{upload}/` as they are made, and an instance
//!   asked about an upload it does not know, or completing one, reads them into its index;
//! - the records of objects stored encrypted (`.tollgate-objects/{bucket}/{key}`): the
//!   upstream holds their ciphertext, and how to open it (the sealed data key, the
//!   plaintext's size, ETag and checksums) is in the record, which another instance reads
//!   when asked for such an object, and which listings show the object by (a bucket's
//!   records listed by key range beside each page). A delete through any instance
//!   removes it.
//!
//! Every record written there carries a MAC under a key derived from the master key the
//! instances share ([`ClusterMac`]), binding it to its place: whoever can write to the
//! metadata bucket without that key cannot forge an upload (its owner, ACL or location) or
//! move a part to another upload.

use super::Error;
use super::engine::SharedPageAt;
use super::placement::Backends;
use crate::meta::{ObjectRecord, PartRecord, Store, UploadRecord};

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// Where shared uploads are, in the metadata bucket.
const UPLOADS: &str = ".tollgate-uploads/";
/// Where the records of encrypted objects are.
const OBJECTS: &str = ".tollgate-objects/";
/// Part records read at once when an upload's parts are gathered.
const PARTS_AT_ONCE: usize = 16;

/// A record as stored in the metadata bucket: its JSON and its MAC.
#[derive(Serialize, Deserialize)]
struct Signed {
    entry: String,
    mac: String,
    /// The name its place is made of, for a reader that finds the record without knowing
    /// it (an upload's id, under a folder named by its digest); the MAC, bound to the
    /// place, authenticates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// Authenticates the records a cluster shares, under a key derived from the master key.
pub struct ClusterMac(crate::crypt::Kek);

impl ClusterMac {
    /// Records authenticated under `key`.
    #[must_use]
    pub fn new(key: crate::crypt::Kek) -> Self {
        Self(key)
    }

    fn mac(&self, place: &str, entry: &str) -> String {
        self.0.digest_of(format!("{place}\n{entry}").as_bytes())
    }

    /// `value` as stored at `place` (a name binding it there: a log position, an upload).
    ///
    /// # Errors
    /// If `value` does not serialize.
    pub fn sign(&self, place: &str, value: &impl Serialize) -> Result<Bytes, Error> {
        self.sign_named(place, None, value)
    }

    /// `value` as stored at `place`, made of `name`, which the record carries.
    fn sign_named(&self, place: &str, name: Option<&str>, value: &impl Serialize) -> Result<Bytes, Error> {
        let entry = serde_json::to_string(value).map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let signed = Signed { mac: self.mac(place, &entry), entry, name: name.map(str::to_owned) };
        Ok(Bytes::from(serde_json::to_vec(&signed).map_err(|e| Error::Io(std::io::Error::other(e)))?))
    }

    /// The value stored as `body` at `place`, if it parses and its MAC holds.
    ///
    /// # Errors
    /// Why it is refused.
    pub fn open<T: for<'de> Deserialize<'de>>(&self, place: &str, body: &[u8]) -> Result<T, String> {
        let signed: Signed = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        self.check(place, &signed)
    }

    /// The name a record carries and its value, if its MAC holds at the place `place_of`
    /// makes of that name.
    fn open_named<T: for<'de> Deserialize<'de>>(&self, place_of: impl Fn(&str) -> String, body: &[u8]) -> Result<(String, T), String> {
        let signed: Signed = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let name = signed.name.clone().ok_or("it does not carry its name (written by an older version)")?;
        let value = self.check(&place_of(&name), &signed)?;
        Ok((name, value))
    }

    fn check<T: for<'de> Deserialize<'de>>(&self, place: &str, signed: &Signed) -> Result<T, String> {
        let expected = self.mac(place, &signed.entry);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), signed.mac.as_bytes())) {
            return Err("its MAC does not hold (not written by an instance holding the master key, or moved from another place)".into());
        }
        serde_json::from_str(&signed.entry).map_err(|e| e.to_string())
    }
}

/// The multipart uploads a cluster shares; see the module's documentation.
pub struct SharedUploads {
    log: Arc<Backends>,
    mac: Arc<ClusterMac>,
    /// The bucket of each shared upload's folder read already (records never change):
    /// a listing of a bucket's uploads reads only the folders it has not seen.
    seen: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A name for `bytes` (ids, keys: any byte) that is a safe key: its digest.
fn digest_name(bytes: &[u8]) -> String {
    hex_simd::encode_to_string(&sha2::Sha256::digest(bytes)[..20], hex_simd::AsciiCase::Lower)
}

/// The folder of upload `id`.
fn folder(id: &str) -> String {
    format!("{UPLOADS}{}/", digest_name(id.as_bytes()))
}

fn upload_place(id: &str) -> String {
    format!("upload {id}")
}

fn part_place(id: &str, number: u32) -> String {
    format!("upload {id} part {number}")
}

impl SharedUploads {
    /// Uploads shared through the metadata bucket `log` keeps, authenticated by `mac`.
    #[must_use]
    pub fn new(log: Arc<Backends>, mac: Arc<ClusterMac>) -> Self {
        Self { log, mac, seen: std::sync::Mutex::default() }
    }

    /// Shares upload `id`, just started here.
    ///
    /// # Errors
    /// The metadata bucket's.
    pub async fn publish(&self, id: &str, upload: &UploadRecord) -> Result<(), Error> {
        let body = self.mac.sign_named(&upload_place(id), Some(id), upload)?;
        self.log.shared_put(&format!("{}upload.json", folder(id)), body).await
    }

    /// Shares a part of upload `id`, just recorded here (it replaces a part of its number
    /// taken anywhere).
    ///
    /// # Errors
    /// The metadata bucket's.
    pub async fn publish_part(&self, id: &str, part: &PartRecord) -> Result<(), Error> {
        let body = self.mac.sign(&part_place(id, part.number), part)?;
        self.log.shared_put(&format!("{}part-{:05}.json", folder(id), part.number), body).await
    }

    /// Brings upload `id` up to date here: makes it known if another instance shared it,
    /// and with `parts` (to list or complete it), brings in every part shared since
    /// (newer than this index's of its number), or forgets it if it was completed or
    /// aborted elsewhere (every upload of a cluster is shared when it starts).
    ///
    /// # Errors
    /// The metadata bucket's or the store's.
    pub async fn adopt(&self, store: &dyn Store, id: &str, parts: bool) -> Result<(), Error> {
        let known = store.upload_get(id)?.is_some();
        if known && !parts {
            return Ok(());
        }
        let folder = folder(id);
        let shared = match self.log.shared_get(&format!("{folder}upload.json")).await? {
            Some(body) => match self.mac.open::<UploadRecord>(&upload_place(id), &body) {
                Ok(upload) => Some(upload),
                Err(e) => {
                    tracing::error!(upload_id = id, error = %e, "a shared upload record is refused");
                    None
                }
            },
            None => None,
        };
        match (shared, known) {
            (None, false) => return Ok(()),
            (None, true) => {
                tracing::info!(upload_id = id, "an upload finished on another instance is forgotten here");
                store.upload_delete(id, None)?;
                return Ok(());
            }
            // Recorded by the instance that took the request, audit included.
            (Some(upload), false) => store.upload_create(id, &upload, None)?,
            (Some(_), true) => {}
        }
        if parts {
            self.gather(store, id, &folder).await?;
        }
        Ok(())
    }

    /// Brings this index's uploads of `bucket` in line with the cluster's, for a listing
    /// of them: adopts those started on other instances, and forgets those completed or
    /// aborted elsewhere (their folder gone). One listing of the shared folders, and one
    /// read per folder not seen before.
    ///
    /// # Errors
    /// The metadata bucket's or the store's.
    pub async fn adopt_bucket(&self, store: &dyn Store, bucket: &str) -> Result<(), Error> {
        // Read before the listing: an upload is shared before it is recorded, so each one
        // read here is listed unless it was finished.
        let here = store.upload_list(bucket)?;
        let listed: std::collections::HashSet<String> = self.log.shared_folders(UPLOADS).await?.into_iter().collect();
        let unseen: Vec<String> = {
            let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mine: std::collections::HashSet<String> = here.iter().map(|(id, _)| folder(id)).collect();
            listed.iter().filter(|f| !seen.contains_key(*f) && !mine.contains(*f)).cloned().collect()
        };
        let mut reads = futures::stream::iter(unseen.into_iter().map(|f| async move { (self.log.shared_get(&format!("{f}upload.json")).await, f) }))
            .buffer_unordered(PARTS_AT_ONCE);
        let mut found = Vec::new();
        while let Some((body, f)) = reads.next().await {
            let Some(body) = body? else { continue };
            match self.mac.open_named::<UploadRecord>(upload_place, &body) {
                Ok((id, upload)) if folder(&id) == f => found.push((f, Some((id, upload)))),
                Ok(_) => tracing::error!(folder = %f, "a shared upload record names another upload: refused"),
                Err(e) => {
                    tracing::info!(folder = %f, error = %e, "a shared upload record is not listed");
                    found.push((f, None));
                }
            }
        }
        let mut adopted = Vec::new();
        {
            let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.retain(|f, _| listed.contains(f));
            for (f, record) in found {
                seen.insert(f, record.as_ref().map(|(_, u)| u.bucket.clone()).unwrap_or_default());
                adopted.extend(record.filter(|(_, u)| u.bucket == bucket));
            }
        }
        for (id, upload) in adopted {
            if store.upload_get(&id)?.is_none() {
                store.upload_create(&id, &upload, None)?;
            }
        }
        for (id, _) in here {
            if !listed.contains(&folder(&id)) {
                tracing::info!(upload_id = %id, bucket, "an upload finished on another instance is forgotten here");
                store.upload_delete(&id, None)?;
            }
        }
        Ok(())
    }

    /// Forgets the uploads of `bucket` this index holds that were completed or aborted on
    /// another instance (their shared record is gone): before the bucket is deleted.
    ///
    /// # Errors
    /// The metadata bucket's or the store's.
    pub async fn forget_finished(&self, store: &dyn Store, bucket: &str) -> Result<(), Error> {
        for (id, _) in store.upload_list(bucket)? {
            if self.log.shared_get(&format!("{}upload.json", folder(&id))).await?.is_none() {
                tracing::info!(upload_id = %id, bucket, "an upload finished on another instance is forgotten here");
                store.upload_delete(&id, None)?;
            }
        }
        Ok(())
    }

    /// Brings in the parts shared for upload `id` that this index lacks or has older.
    async fn gather(&self, store: &dyn Store, id: &str, folder: &str) -> Result<(), Error> {
        let paths: Vec<String> = self.log.shared_list(folder).await?.into_iter().filter(|p| p.contains("/part-")).collect();
        let mut reads =
            futures::stream::iter(paths.into_iter().map(|path| async move { (self.log.shared_get(&path).await, path) })).buffer_unordered(PARTS_AT_ONCE);
        let mut shared = Vec::new();
        while let Some((body, path)) = reads.next().await {
            let Some(body) = body? else { continue };
            let number = path.rsplit("part-").next().and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse::<u32>().ok());
            let Some(number) = number else { continue };
            match self.mac.open::<PartRecord>(&part_place(id, number), &body) {
                Ok(part) if part.number == number => shared.push(part),
                Ok(_) => tracing::error!(upload_id = id, path, "a shared part record names another part: refused"),
                Err(e) => tracing::error!(upload_id = id, path, error = %e, "a shared part record is refused"),
            }
        }
        let known = store.part_list(id)?;
        for part in shared {
            let newer = known.iter().find(|k| k.number == part.number).is_none_or(|k| k.last_modified_ns < part.last_modified_ns);
            if newer {
                store.part_put(id, &part, None)?;
            }
        }
        Ok(())
    }

    /// Removes upload `id`'s shared records (it was completed or aborted). Best effort: a
    /// record left behind names an upload the upstream no longer has.
    pub async fn forget(&self, id: &str) {
        let folder = folder(id);
        let removed = match self.log.shared_list(&folder).await {
            Ok(paths) => self.log.shared_delete(&paths).await,
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            tracing::warn!(upload_id = id, error = %e, "a finished upload's shared records could not be removed");
        }
    }
}

/// The records of encrypted objects a cluster shares; see the module's documentation.
pub struct SharedObjects {
    log: Arc<Backends>,
    mac: Arc<ClusterMac>,
    /// What listings show of the records read already, by path and the record's ETag
    /// there (a record changes with each encrypted write of its key).
    listed: std::sync::Mutex<std::collections::HashMap<String, (String, Option<SealedListing>)>>,
}

/// What a listing shows of an object stored encrypted at its key, instead of what the
/// upstream lists (its ciphertext's size and ETag), while the upstream lists `stored_etag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedListing {
    /// The upstream's ETag of the ciphertext the record describes.
    pub stored_etag: String,
    /// The plaintext's size.
    pub size: u64,
    /// The client's ETag.
    pub etag: String,
}

/// A page of a listing of a bucket, whose encrypted objects [`SharedObjects::listed`]
/// describes: its keys under `prefix` after `after` up to `last`, folded at `delimiter`.
#[derive(Debug, Clone, Copy)]
pub struct ListedPage<'a> {
    /// The listing's prefix.
    pub prefix: &'a str,
    /// The listing's delimiter: records of keys it folds are not read.
    pub delimiter: Option<&'a str>,
    /// The key the page starts after.
    pub after: Option<&'a str>,
    /// The page's last key.
    pub last: &'a str,
}

/// Keys longer than this have their record under a digest of bucket and key, not in their
/// bucket's folder under the key itself (the path would pass S3's 1,024 bytes): such
/// records are read, not listed.
const LISTED_KEY_MAX: usize = 900;

/// Records remembered for listings; past this many the memory is cleared, and records are
/// read again as listings meet them.
const LISTED_MAX: usize = 100_000;

/// Records read at once for a listing.
const RECORDS_AT_ONCE: usize = 16;

/// The folder of `bucket`'s records, in which each record is at its key.
fn records_folder(bucket: &str) -> String {
    format!("{OBJECTS}{}/", digest_name(bucket.as_bytes()))
}

/// The place the MAC of the record of `bucket`/`key` binds it to.
fn object_place(bucket: &str, key: &str) -> String {
    format!("object {bucket}\n{key}")
}

/// Where the record of `bucket`/`key` is, and the place its MAC binds it to.
fn object_path(bucket: &str, key: &str) -> (String, String) {
    let place = object_place(bucket, key);
    if key.len() <= LISTED_KEY_MAX { (format!("{}{key}", records_folder(bucket)), place) } else { (digest_path(&place), place) }
}

/// Where records were before they were kept in their bucket's folder (and where those of
/// the longest keys are).
fn digest_path(place: &str) -> String {
    format!("{OBJECTS}{}.json", digest_name(place.as_bytes()))
}

impl SharedObjects {
    /// The records shared through the metadata bucket `log` keeps, authenticated by `mac`.
    #[must_use]
    pub fn new(log: Arc<Backends>, mac: Arc<ClusterMac>) -> Self {
        Self { log, mac, listed: std::sync::Mutex::default() }
    }

    /// Shares the record of an object just stored encrypted here at `bucket`/`key`.
    ///
    /// # Errors
    /// The metadata bucket's.
    pub async fn publish(&self, bucket: &str, key: &str, record: &ObjectRecord) -> Result<(), Error> {
        let (path, place) = object_path(bucket, key);
        self.log.shared_put(&path, self.mac.sign(&place, record)?).await
    }

    /// Removes the record of `bucket`/`key` (its object was deleted), and one an older
    /// version shared. Best effort: a record left behind is only read for bytes marked
    /// sealed at the key, and does not open any other.
    pub async fn forget(&self, bucket: &str, key: &str) {
        let (path, place) = object_path(bucket, key);
        let older = digest_path(&place);
        let paths = if path == older { vec![path] } else { vec![path, older] };
        if let Err(e) = self.log.shared_delete(&paths).await {
            tracing::warn!(bucket, key, error = %e, "a deleted object's shared record could not be removed");
        }
    }

    /// The record another instance shared of the encrypted object at `bucket`/`key`, if
    /// any (one that does not authenticate is refused, and logged). It describes the last
    /// encrypted write there; if the bytes are since another's, they do not open.
    ///
    /// # Errors
    /// The metadata bucket's.
    pub async fn fetch(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, Error> {
        let (path, place) = object_path(bucket, key);
        let older = digest_path(&place);
        let body = match self.log.shared_get(&path).await? {
            Some(body) => body,
            // Shared by an older version, at the digest of its place.
            None if older != path => match self.log.shared_get(&older).await? {
                Some(body) => body,
                None => return Ok(None),
            },
            None => return Ok(None),
        };
        Ok(self.open(bucket, key, &place, &body))
    }

    /// The record `body` of `bucket`/`key`, if it authenticates at `place` (else logged).
    fn open(&self, bucket: &str, key: &str, place: &str, body: &[u8]) -> Option<ObjectRecord> {
        match self.mac.open::<ObjectRecord>(place, body) {
            Ok(record) if record.sealing.is_some() => Some(record),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(bucket, key, error = %e, "a shared object record is refused");
                None
            }
        }
    }

    /// What listings show of the objects of `bucket` stored encrypted, by key, for keys
    /// under `prefix` after `after` up to `last` (a listing's page): one listing of the
    /// bucket's records per 1,000 in that range, and a read of each record not read before.
    ///
    /// # Errors
    /// The metadata bucket's.
    pub async fn listed(&self, bucket: &str, page: &ListedPage<'_>) -> Result<std::collections::HashMap<String, SealedListing>, Error> {
        let folder = records_folder(bucket);
        let under = format!("{folder}{}", page.prefix);
        let end = format!("{folder}{}", page.last);
        let from = format!("{folder}{}", page.after.unwrap_or_default());
        let mut paths = Vec::new();
        let mut token = None;
        loop {
            let at = SharedPageAt { prefix: &under, delimiter: page.delimiter, after: &from, token: token.as_deref() };
            let (listed, next) = self.log.shared_page(&at).await?;
            let beyond = listed.last().is_some_and(|(path, _)| *path >= end);
            paths.extend(listed.into_iter().filter(|(path, _)| *path <= end));
            match next {
                Some(next) if !beyond => token = Some(next),
                _ => break,
            }
        }
        let unread: Vec<(String, String)> = {
            let known = self.listed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            paths.iter().filter(|(path, etag)| known.get(path).is_none_or(|(seen, _)| seen != etag)).cloned().collect()
        };
        let folder_len = folder.len();
        let read: Vec<(String, String, Option<SealedListing>)> = futures::stream::iter(unread)
            .map(|(path, etag)| async move {
                let key = path.get(folder_len..).unwrap_or_default();
                let body = self.log.shared_get(&path).await?;
                let record = body.and_then(|body| self.open(bucket, key, &object_place(bucket, key), &body));
                let listing = record.map(|r| SealedListing { stored_etag: r.stored_etag, size: r.size, etag: r.etag });
                Ok::<_, Error>((path, etag, listing))
            })
            .buffered(RECORDS_AT_ONCE)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let mut known = self.listed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() + read.len() > LISTED_MAX {
            known.clear();
        }
        for (path, etag, listing) in read {
            known.insert(path, (etag, listing));
        }
        Ok(paths.iter().filter_map(|(path, _)| Some((path.get(folder_len..)?.to_owned(), known.get(path)?.1.clone()?))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_only_at_its_place_and_unaltered() {
        let mac = ClusterMac::new(crate::crypt::Kek::from_bytes([7; 32]));
        let body = mac.sign("upload a", &vec![1, 2, 3]).unwrap();
        assert_eq!(mac.open::<Vec<u8>>("upload a", &body).unwrap(), vec![1, 2, 3]);
        assert!(mac.open::<Vec<u8>>("upload b", &body).unwrap_err().contains("MAC"));
        let altered = String::from_utf8(body.to_vec()).unwrap().replace("[1,2,3]", "[1,2,4]");
        assert!(mac.open::<Vec<u8>>("upload a", altered.as_bytes()).unwrap_err().contains("MAC"));
        let other = ClusterMac::new(crate::crypt::Kek::from_bytes([8; 32]));
        assert!(other.open::<Vec<u8>>("upload a", &body).is_err());
    }

    #[test]
    fn object_records_are_at_their_key_in_their_buckets_folder_unless_it_is_too_long() {
        let (path, place) = object_path("b", "photos/a b.jpg");
        assert_eq!(path, format!("{}photos/a b.jpg", records_folder("b")));
        assert_eq!(place, "object b\nphotos/a b.jpg");
        assert_ne!(records_folder("b"), records_folder("c"));
        assert!(records_folder("b").starts_with(OBJECTS) && records_folder("b").ends_with('/'));
        let long = "k".repeat(LISTED_KEY_MAX + 1);
        let (path, place) = object_path("b", &long);
        assert_eq!(path, digest_path(&place));
        assert_eq!(path.len(), OBJECTS.len() + 45);
    }

    #[test]
    fn upload_folders_are_safe_names() {
        let f = folder("../weird id/\u{1}");
        assert!(f.starts_with(UPLOADS) && f.ends_with('/'));
        assert_eq!(f.len(), UPLOADS.len() + 41);
        assert!(f[UPLOADS.len()..f.len() - 1].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
