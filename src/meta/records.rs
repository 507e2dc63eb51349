//! Records kept in the metadata store (serialized as JSON: small, inspectable, and
//! tolerant of added fields).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A bucket and the usage counters kept exact by every object commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketRecord {
    /// The bucket name (global across tenants).
    pub name: String,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: i128,
    /// Owning tenant.
    pub tenant: String,
    /// Current objects in the bucket.
    #[serde(default)]
    pub objects: u64,
    /// Bytes of the current objects' bodies (uploads in progress not counted).
    #[serde(default)]
    pub bytes: u64,
    /// Who besides the tenant may read it.
    #[serde(default)]
    pub visibility: Visibility,
    /// The bucket's own limits (the tenant's apply as well).
    #[serde(default)]
    pub quota: Quota,
    /// The tenant that created the bucket (it may since have changed owner): fixes where
    /// the bucket lives in an upstream mapped by prefix. Empty in records older than it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
    /// Whether writes keep the versions they replace.
    #[serde(default, skip_serializing_if = "Versioning::is_unversioned")]
    pub versioning: Versioning,
    /// S3 Object Lock: set once enabled (never cleared), with the default retention of new versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<LockConfig>,
}

/// A bucket's Object Lock configuration (lock is enabled when it exists).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockConfig {
    /// The retention given to each new version written without one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

/// A bucket's default retention: a mode and a period counted from each version's write.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct DefaultRetention {
    /// The mode new versions get.
    pub mode: LockMode,
    /// The period, in days (S3 takes days or years; years are kept as such).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// The period, in years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
}

impl DefaultRetention {
    /// The retention of a version written at `now_ns` (a year is 365 days, as in S3).
    #[must_use]
    pub fn from_write(&self, now_ns: i128) -> Retention {
        const DAY_NS: i128 = 86_400 * 1_000_000_000;
        let days = i128::from(self.days.unwrap_or(0)) + 365 * i128::from(self.years.unwrap_or(0));
        Retention { mode: self.mode, retain_until_ns: now_ns.saturating_add(days * DAY_NS) }
    }
}

/// An Object Lock retention mode.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockMode {
    /// Removable or shortened early only by a tenant admin (or root) who asks to bypass it.
    Governance,
    /// Removable or shortened by no one until it expires.
    Compliance,
}

impl LockMode {
    /// The S3 name of the mode.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Governance => "GOVERNANCE",
            Self::Compliance => "COMPLIANCE",
        }
    }

    /// The mode of that S3 name, if it is one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(Self::Governance),
            "COMPLIANCE" => Some(Self::Compliance),
            _ => None,
        }
    }
}

/// The retention of one version: it cannot be removed before `retain_until_ns`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Retention {
    /// Who may lift it early.
    pub mode: LockMode,
    /// Until when, nanoseconds since the Unix epoch.
    pub retain_until_ns: i128,
}

impl Retention {
    /// Whether it still protects its version at `now_ns`.
    #[must_use]
    pub fn active(&self, now_ns: i128) -> bool {
        self.retain_until_ns > now_ns
    }
}

/// A bucket's versioning state: unversioned until first enabled, never again after.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Versioning {
    /// Every write replaces the key's object; no version ids.
    #[default]
    Unversioned,
    /// Every write and delete adds a version (a delete: a delete marker) with a new id.
    Enabled,
    /// Writes and deletes replace the key's `null` version; older versions stay.
    Suspended,
}

impl Versioning {
    /// Whether the bucket was never versioned.
    #[must_use]
    pub fn is_unversioned(&self) -> bool {
        *self == Self::Unversioned
    }
}

/// The version id S3 names a version without an id by: written while versioning was
/// suspended, or before it was first enabled.
pub const NULL_VERSION: &str = "null";

/// A version of a key in a versioned bucket: an object, or a delete marker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionRecord {
    /// Its id ([`NULL_VERSION`] for the null version).
    pub version_id: String,
    /// When it was written, nanoseconds since the Unix epoch.
    pub last_modified_ns: i128,
    /// Access key id of its writer.
    #[serde(default)]
    pub owner: String,
    /// The object; `None`: a delete marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRecord>,
}

impl VersionRecord {
    /// The current object of a bucket never versioned, as the `null` version S3 lists it as.
    #[must_use]
    pub fn current_null(object: ObjectRecord) -> Self {
        Self { version_id: NULL_VERSION.to_owned(), last_modified_ns: object.last_modified_ns, owner: object.owner.clone(), object: Some(object) }
    }
}

/// What an object commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The version id the object was given (empty in an unversioned bucket).
    pub version_id: String,
    /// The object no version references any more (the key's previous object in an
    /// unversioned bucket, the previous null version in a suspended one): its bytes can go.
    pub released: Option<ObjectRecord>,
}

/// What a deletion of a key (without a version id) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The object no version references any more: its bytes can go.
    pub released: Option<ObjectRecord>,
    /// The delete marker's version id, when the bucket is versioned.
    pub marker: Option<String>,
}

/// Limits on what a bucket or a tenant may hold; 0 means no limit.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Quota {
    /// Most bytes of object bodies; 0: no limit.
    pub max_bytes: u64,
    /// Most objects; 0: no limit.
    pub max_objects: u64,
}

impl Quota {
    /// Whether neither limit is set.
    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        self.max_bytes == 0 && self.max_objects == 0
    }

    /// Whether replacing an object of `old_size` (`None`: a new key) by one of `new_size`
    /// keeps usage `(objects, bytes)` within the quota. A write that does not grow usage
    /// is always allowed, so a tenant over a lowered quota can still shrink.
    pub fn admits(&self, objects: u64, bytes: u64, old_size: Option<u64>, new_size: u64) -> Result<(), String> {
        if old_size.is_none() && self.max_objects > 0 && objects + 1 > self.max_objects {
            return Err(format!("the object count quota ({}) is reached", self.max_objects));
        }
        let old = old_size.unwrap_or(0);
        if new_size > old && self.max_bytes > 0 && bytes - old.min(bytes) + new_size > self.max_bytes {
            return Err(format!("the storage quota ({} bytes) would be exceeded", self.max_bytes));
        }
        Ok(())
    }
}

/// One contiguous run of an object's bytes, stored as one blob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    /// Id of the blob in the backend's blob store.
    pub blob: String,
    /// Length of the run, in bytes.
    pub size: u64,
}

/// Content checksums (base64, as on the wire), stored as uploaded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checksums {
    /// `x-amz-checksum-crc32`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    /// `x-amz-checksum-crc32c`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    /// `x-amz-checksum-crc64nvme`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    /// `x-amz-checksum-sha1`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// `x-amz-checksum-sha256`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Checksums {
    /// Whether no checksum is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The HTTP attributes of an object that S3 keeps and returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectAttrs {
    /// `Content-Type`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Language`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Cache-Control`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires`, as an HTTP date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-amz-website-redirect-location`; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
    /// `x-amz-meta-*`, names lower-cased, in name order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_metadata: Vec<(String, String)>,
}

/// What a listing shows of an object: its record's size, ETag and time, decoded without
/// the rest of the record (a listing of 1,000 keys spent most of its time decoding whole
/// records).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ObjectSummary {
    /// Body length, in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last-Modified, nanoseconds since the Unix epoch.
    pub last_modified_ns: i128,
}

impl From<ObjectRecord> for ObjectSummary {
    fn from(rec: ObjectRecord) -> Self {
        Self { size: rec.size, etag: rec.etag, last_modified_ns: rec.last_modified_ns }
    }
}

/// The index entry of a visible object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRecord {
    /// Body length, in bytes.
    pub size: u64,
    /// ETag without quotes: hex MD5, or `"{md5 of part md5s}-{n}"` for multipart objects.
    pub etag: String,
    /// Last-Modified, nanoseconds since the Unix epoch.
    pub last_modified_ns: i128,
    /// The bytes, in order. One segment, or one per part of a multipart object.
    pub segments: Vec<Segment>,
    /// True if completed from a multipart upload (segments are its parts).
    #[serde(default)]
    pub multipart: bool,
    /// The HTTP attributes given at upload.
    #[serde(default)]
    pub attrs: ObjectAttrs,
    /// The checksums given at upload (see `checksum_type` for a multipart object).
    #[serde(default, skip_serializing_if = "Checksums::is_empty")]
    pub checksums: Checksums,
    /// The object's tags, `(key, value)`; empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Access key id of the writer.
    #[serde(default)]
    pub owner: String,
    /// Lower-case hex SHA-256 of the whole body.
    #[serde(default)]
    pub sha256: String,
    /// Id of the proof manifest recording this version.
    #[serde(default)]
    pub proof_id: String,
    /// `COMPOSITE` or `FULL_OBJECT`: what `checksums` are of a multipart object completed
    /// from an upload that declared a checksum algorithm (a composite value ends `-{parts}`).
    /// `None` for other objects (their checksums are of the whole body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// The parts of a multipart object, in order (empty for other objects and in records
    /// older than it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<ObjectPartRecord>,
    /// The version id in a versioned bucket ([`NULL_VERSION`] for the null version);
    /// empty in a bucket never versioned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version_id: String,
    /// The version's Object Lock retention; `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Whether the version is under an Object Lock legal hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// The version's own ACL grants, besides its bucket tenant's full control (which is
    /// implicit); empty: `private`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<AclGrant>,
    /// How its bytes are encrypted at rest; `None`: stored as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<Sealing>,
    /// A sealed object kept by a store at its key: the store's ETag of its ciphertext,
    /// which a conditional delete sent there names (`etag` is the plaintext's, the
    /// client's); empty otherwise, and for records older than it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stored_etag: String,
}

/// A key of the gateway's keyring (SSE-KMS): every version of its 256-bit key, each
/// wrapped by the keyring's own key (derived from the master key, never stored); the last
/// is current, the older ones only open what they wrapped until a re-wrap moves it on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyringKey {
    /// Its id, as clients name it (`x-amz-server-side-encryption-aws-kms-key-id`).
    pub id: String,
    /// When it was created, nanoseconds since the Unix epoch.
    pub created_ns: i128,
    /// Whether it seals and opens; a disabled key does neither (S3's `KMS.DisabledException`).
    pub enabled: bool,
    /// Its versions' key material, wrapped (base64), oldest first.
    pub versions: Vec<String>,
}

/// The server-side encryption mode of an object, as S3 names it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SseMode {
    /// SSE-S3 (`AES256`): the data key is wrapped by the gateway's key.
    S3,
    /// SSE-KMS (`aws:kms`): wrapped by a named key of the gateway's keyring.
    Kms,
    /// SSE-C: wrapped by the customer's key, which the gateway never stores.
    Customer,
}

/// How an object's (or an upload's) bytes are encrypted at rest ([`crate::crypt`], format
/// version 1): each part a sealed stream under one data key, kept here wrapped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sealing {
    /// The mode the client asked for (or the bucket's or gateway's default).
    pub mode: SseMode,
    /// The keyring key's id (SSE-KMS); empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_id: String,
    /// SSE-C: the base64 MD5 of the customer's key (returned in answers, as S3 does).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub customer_key_md5: String,
    /// SSE-C: a keyed hash recognising the customer's key (never the key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub customer_key_digest: String,
    /// SSE-KMS: the encryption context the client gave (base64 JSON, as sent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
    /// SSE-KMS: the version of the keyring key that wrapped the data key (from 1).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub key_version: u32,
    /// The data key, wrapped by the mode's key (base64).
    pub wrapped_key: String,
    /// The random nonce prefix of the object's frames (hex, 5 bytes).
    pub nonce_prefix: String,
    /// Length of each sealed stream's header, in bytes.
    pub header_len: u64,
    /// SSE-KMS with an S3 Bucket Key, as the write or its bucket's default asked: answered
    /// back as S3 does. (A Bucket Key spares KMS calls; the keyring costs none, so the data
    /// key is wrapped the same way.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key: bool,
}

impl Sealing {
    /// The mode as proof manifests record it: `AES256`, `aws:kms:{key id}` or `SSE-C`.
    #[must_use]
    pub fn described(&self) -> String {
        match self.mode {
            SseMode::S3 => "AES256".to_owned(),
            SseMode::Kms => format!("aws:kms:{}", self.key_id),
            SseMode::Customer => "SSE-C".to_owned(),
        }
    }

    /// A sealing in `mode` naming no key yet (the data key, prefix and header are set per object).
    #[must_use]
    pub fn of(mode: SseMode) -> Self {
        Self {
            mode,
            key_id: String::new(),
            customer_key_md5: String::new(),
            customer_key_digest: String::new(),
            context: String::new(),
            key_version: 0,
            wrapped_key: String::new(),
            nonce_prefix: String::new(),
            header_len: 0,
            bucket_key: false,
        }
    }
}

impl ObjectRecord {
    /// A new object's record before its bytes are stored: what its request decided.
    #[must_use]
    pub fn new(attrs: ObjectAttrs, tags: Vec<(String, String)>, owner: String, last_modified_ns: i128) -> Self {
        Self {
            size: 0,
            etag: String::new(),
            last_modified_ns,
            segments: Vec::new(),
            multipart: false,
            attrs,
            checksums: Checksums::default(),
            tags,
            owner,
            sha256: String::new(),
            proof_id: String::new(),
            checksum_type: None,
            parts: Vec::new(),
            version_id: String::new(),
            retention: None,
            legal_hold: false,
            acl: Vec::new(),
            sealing: None,
            stored_etag: String::new(),
        }
    }
}

impl ObjectRecord {
    /// Why the version may not be removed for good at `now_ns` (`bypass`: by a caller who
    /// may and asks to bypass GOVERNANCE retention); `None`: it may.
    #[must_use]
    pub fn lock_refusal(&self, now_ns: i128, bypass: bool) -> Option<&'static str> {
        if self.legal_hold {
            return Some("The object version is under a legal hold");
        }
        match self.retention {
            Some(r) if r.active(now_ns) && (r.mode == LockMode::Compliance || !bypass) => Some("Access Denied because object protected by object lock."),
            _ => None,
        }
    }
}

impl ObjectRecord {
    /// The checksums of the whole body (a composite checksum is not one).
    #[must_use]
    pub fn whole_body_checksums(&self) -> Checksums {
        if self.checksum_type.as_deref() == Some("COMPOSITE") { Checksums::default() } else { self.checksums.clone() }
    }
}

/// One part of a completed multipart object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectPartRecord {
    /// The part number the client gave it (1 to 10 000).
    pub number: u32,
    /// Length of the part, in bytes.
    pub size: u64,
    /// The part's checksums, as uploaded; empty: none.
    #[serde(default, skip_serializing_if = "Checksums::is_empty")]
    pub checksums: Checksums,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadRecord {
    /// The bucket the object will be in.
    pub bucket: String,
    /// The key the object will have.
    pub key: String,
    /// When CreateMultipartUpload was answered, nanoseconds since the Unix epoch.
    pub initiated_ns: i128,
    /// The HTTP attributes the completed object will have, given at creation.
    pub attrs: ObjectAttrs,
    /// The tags the completed object will have, given at creation; empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Checksum algorithm announced at creation (upper case), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    /// `COMPOSITE` or `FULL_OBJECT` when a checksum algorithm was announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// Access key id of the caller that created the upload.
    #[serde(default)]
    pub owner: String,
    /// Where the engine assembles the upload when not at its key (a blob of its naming,
    /// for a version of a versioned bucket); empty: at the key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// The Object Lock retention the completed object gets (`x-amz-object-lock-*` at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Whether the completed object is put under legal hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// The ACL grants the completed object gets (given at creation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<AclGrant>,
    /// How the parts (and so the object) are encrypted at rest, chosen at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<Sealing>,
    /// The upload's data key wrapped by the gateway's key while the upload is open (base64),
    /// so the completion can read the object back for its digest without an SSE-C key;
    /// it goes with the upload record.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub escrow_key: String,
}

/// The completion of a multipart upload, kept while the object it made is the key's
/// current object (an overwrite or a deletion of the key removes it in the same
/// transaction), so that a repeated CompleteMultipartUpload (an SDK retry whose first
/// answer was lost) answers as the first did, as AWS does. One per key at most.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompletedUpload {
    /// The upload that was completed.
    pub upload_id: String,
    /// Lower-case hex SHA-256 of the completed part list (`{number} {etag}\n` per part,
    /// ETags unquoted): a fixed size whatever the number of parts.
    pub parts: String,
    /// The object made: its ETag, last-modified time and proof id.
    pub etag: String,
    /// The object's last-modified time, nanoseconds since the Unix epoch.
    pub last_modified_ns: i128,
    /// The object's proof id; empty when no manifest was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proof_id: String,
}

impl CompletedUpload {
    /// Whether `current` is still the object this completion made.
    #[must_use]
    pub fn made(&self, current: &ObjectRecord) -> bool {
        current.multipart && current.etag == self.etag && current.last_modified_ns == self.last_modified_ns && current.proof_id == self.proof_id
    }
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartRecord {
    /// The part number the client gave it (1 to 10 000); a new upload of it replaces this one.
    pub number: u32,
    /// Id of the blob holding the part's bytes.
    pub blob: String,
    /// Length of the part, in bytes.
    pub size: u64,
    /// Hex MD5 of the part, unquoted.
    pub etag: String,
    /// When the part was uploaded, nanoseconds since the Unix epoch.
    pub last_modified_ns: i128,
    /// The part's checksums, as uploaded; empty: none.
    #[serde(default, skip_serializing_if = "Checksums::is_empty")]
    pub checksums: Checksums,
    /// Length of the bytes stored for it when they are not the part's (sealed: its
    /// ciphertext); 0: `size`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stored_size: u64,
    /// The ETag the store gave the bytes stored for it when they are not the part's
    /// (sealed: its ciphertext; a completion upstream names the part by it); empty: `etag`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stored_etag: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

impl PartRecord {
    /// Length of the bytes stored for the part.
    #[must_use]
    pub fn stored_len(&self) -> u64 {
        if self.stored_size == 0 { self.size } else { self.stored_size }
    }

    /// The record of the bytes stored for the part, as the store knows them (their length
    /// and ETag), for composing them.
    #[must_use]
    pub fn as_stored(&self) -> PartRecord {
        let etag = if self.stored_etag.is_empty() { self.etag.clone() } else { self.stored_etag.clone() };
        PartRecord { size: self.stored_len(), etag, stored_size: 0, stored_etag: String::new(), ..self.clone() }
    }
}

/// One of the S3 configuration documents a bucket can carry, each stored as the gateway
/// validated it (its text; the policy layer compiles it once, at write and at start).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum BucketConfigKind {
    /// The bucket policy (JSON, as the client wrote it).
    Policy,
    /// The CORS rules.
    Cors,
    /// The bucket's tags.
    Tagging,
    /// The bucket's ACL grants.
    Acl,
    /// Object ownership controls.
    Ownership,
    /// The Block Public Access flags.
    PublicAccessBlock,
    /// The lifecycle rules.
    Lifecycle,
    /// The default server-side encryption.
    Encryption,
}

impl BucketConfigKind {
    /// Every kind, in storage order.
    pub const ALL: [Self; 8] =
        [Self::Policy, Self::Cors, Self::Tagging, Self::Acl, Self::Ownership, Self::PublicAccessBlock, Self::Lifecycle, Self::Encryption];

    /// The kind's name in keys and audit entries.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Cors => "cors",
            Self::Tagging => "tagging",
            Self::Acl => "acl",
            Self::Ownership => "ownership",
            Self::PublicAccessBlock => "public-access-block",
            Self::Lifecycle => "lifecycle",
            Self::Encryption => "encryption",
        }
    }
}

/// Object ownership (`Put/GetBucketOwnershipControls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ownership {
    /// ACLs are disabled: only the owner's full control may be set (AWS's default since 2023).
    #[default]
    BucketOwnerEnforced,
    /// ACLs are enabled; objects written with `bucket-owner-full-control` belong to the bucket owner.
    BucketOwnerPreferred,
    /// ACLs are enabled; the writer owns what it writes.
    ObjectWriter,
}

impl Ownership {
    /// The setting's S3 name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BucketOwnerEnforced => "BucketOwnerEnforced",
            Self::BucketOwnerPreferred => "BucketOwnerPreferred",
            Self::ObjectWriter => "ObjectWriter",
        }
    }

    /// The setting named `s` (S3's spelling).
    ///
    /// # Errors
    /// The reason an unknown name is refused.
    pub fn parse(s: &str) -> Result<Self, String> {
        [Self::BucketOwnerEnforced, Self::BucketOwnerPreferred, Self::ObjectWriter]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("Invalid ObjectOwnership {s:?}: expected BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter"))
    }
}

/// Block Public Access: the four flags, per bucket or gateway-wide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicAccessBlock {
    /// Refuse ACLs that grant to `AllUsers` or `AuthenticatedUsers` (and public visibility).
    pub block_public_acls: bool,
    /// Ignore such grants (and public visibility) when deciding.
    pub ignore_public_acls: bool,
    /// Refuse bucket policies that allow anyone.
    pub block_public_policy: bool,
    /// A public policy applies only to the bucket's own tenant.
    pub restrict_public_buckets: bool,
}

/// Who an ACL grant is for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum AclGrantee {
    /// Every user of a tenant (its canonical user id is the tenant's name).
    Tenant(String),
    /// Anyone, anonymous callers included (S3's `AllUsers` group).
    AllUsers,
    /// Any caller with a valid key of any tenant (`AuthenticatedUsers`).
    AuthenticatedUsers,
    /// S3's log delivery group (kept and shown; tollgate delivers no logs).
    LogDelivery,
}

/// What an ACL grant allows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AclPermission {
    /// List the bucket (and, objects having no ACLs of their own, read its objects).
    Read,
    /// Write and delete the bucket's objects.
    Write,
    /// Read the ACL.
    ReadAcp,
    /// Change the ACL.
    WriteAcp,
    /// All of the above.
    FullControl,
}

/// One ACL grant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct AclGrant {
    /// Who it is for.
    pub grantee: AclGrantee,
    /// What it allows.
    pub permission: AclPermission,
}

/// Who may read a bucket without being its tenant.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    /// Only the tenant's users (and root) may read.
    #[default]
    Private,
    /// Anyone, anonymous included, may GET, HEAD and list; writes stay with the tenant.
    PublicRead,
}

/// What every tenant and bucket stored at one time: a point of the usage history the
/// `usage_history` job records (charted by the console).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UsageSample {
    /// When it was taken, nanoseconds since the Unix epoch.
    pub at_ns: i128,
    /// `[objects, bytes]` by tenant (what this instance stores).
    pub tenants: BTreeMap<String, [u64; 2]>,
    /// By bucket: its tenant, objects and bytes.
    pub buckets: BTreeMap<String, BucketUsage>,
}

/// A bucket's usage in a [`UsageSample`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketUsage {
    /// The tenant owning the bucket then.
    pub tenant: String,
    /// Objects (every version).
    pub objects: u64,
    /// Bytes of their bodies.
    pub bytes: u64,
}

/// An organisation: owns buckets and users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant name, unique.
    pub name: String,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: i128,
    /// Limits on all the tenant's buckets together.
    #[serde(default)]
    pub quota: Quota,
}

/// A user's role within its tenant.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May list the tenant's buckets and read their objects.
    Reader,
    /// May also write and delete objects.
    Writer,
    /// May also create and delete the tenant's buckets and change their settings.
    Admin,
}

/// A user of a tenant; its access keys act with its role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRecord {
    /// The tenant the user belongs to.
    pub tenant: String,
    /// The user name, unique within the tenant.
    pub name: String,
    /// What the user may do in its tenant.
    pub role: Role,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: i128,
}

/// An access key. The secret is stored encrypted (AEAD under the master key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    /// The access key id, as in a SigV4 credential.
    pub access_key: String,
    /// The tenant of the key's user.
    pub tenant: String,
    /// The user the key acts as.
    pub user: String,
    /// Nonce and ciphertext of the secret, base64.
    pub secret_sealed: String,
    /// False: requests signed with the key are refused.
    pub enabled: bool,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: i128,
    /// Last authenticated use, nanoseconds since the Unix epoch; persisted now and then,
    /// not on every request; 0: never used.
    #[serde(default)]
    pub last_used_ns: i128,
}

/// A write forwarded to a backend that has not answered yet, recorded durably before it
/// answers so that the gateway's own sync overlaps the backend's work (see
/// `backend::index::Index::prepare`). Its commit removes it; after a crash, the gateway
/// commits it at start if the backend holds exactly these bytes, and drops it otherwise.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingWrite {
    /// The bucket written to.
    pub bucket: String,
    /// The key written.
    pub key: String,
    /// The record to commit, but for the backend's ETag; its proof id is already chosen
    /// (the client is told it before the commit is durable).
    pub record: ObjectRecord,
    /// The audit entry its commit writes.
    pub audit: AuditEntry,
}

/// One audit log entry: a state change or a denial.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    /// Time, nanoseconds since the Unix epoch.
    pub time_ns: i128,
    /// The request's id (as in `x-amz-request-id`); empty for changes no request made.
    pub request_id: String,
    /// Access key id of the caller; empty when anonymous.
    pub principal: String,
    /// The caller's user name; empty when anonymous.
    #[serde(default)]
    pub user: String,
    /// The caller's tenant; empty when anonymous.
    pub tenant: String,
    /// The caller's socket address; empty for changes no request made.
    pub source: String,
    /// The operation's name (an S3 operation or an admin action).
    pub operation: String,
    /// The bucket acted on; empty if none.
    #[serde(default)]
    pub bucket: String,
    /// The object key acted on; empty if none.
    #[serde(default)]
    pub key: String,
    /// `ok` or `denied`.
    pub outcome: String,
    /// Body bytes written or read by the request; 0 if none.
    #[serde(default)]
    pub bytes: u64,
    /// How many requests this entry stands for: more than one for the unauthenticated
    /// denials of one source address in one minute, which are recorded together.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// In a versioned bucket, the version an object write made, the delete marker a
    /// delete made, or the version a delete by version id removed (filled in by the store,
    /// which assigns version ids); empty otherwise, and then omitted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version_id: String,
    /// What decided, when it was not the caller's tenant role: the bucket policy statement
    /// (`policy:{Sid}`), an ACL grant (`acl:READ`), public-read, a topic rule, or for a
    /// denial its reason; empty otherwise, and then omitted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decided_by: String,
}

fn one() -> u64 {
    1
}

// serde's skip_serializing_if passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &u64) -> bool {
    *n == 1
}

/// Who may write under a topic (see `policy::topics`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WriteMode {
    /// Only `{owner}`; one current object per owner, replaced under `If-Match`.
    SingleAuth,
    /// Any signed caller; one current object per owner, replaced under `If-Match`.
    SingleOpen,
    /// Only `{owner}`; immutable.
    AppendAuth,
    /// Any signed caller (a mailbox to `{owner}`); immutable.
    AppendOpen,
}

/// Who may read and list under a topic.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    /// `{owner}` and the bucket's tenant admins.
    Auth,
    /// Any signed caller.
    Open,
    /// Anyone, anonymous included.
    Public,
}

/// A topic: keys `{topic}/{owner}/{name}` of `bucket` follow these rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TopicRule {
    /// The bucket the rule applies in.
    pub bucket: String,
    /// The key prefix, without its trailing `/`.
    pub topic: String,
    /// Who may write under the topic.
    pub write: WriteMode,
    /// Who may read and list under the topic.
    pub read: ReadMode,
    /// `{name}` must be the lower-case hex SHA-256 of the body (checked as it streams).
    #[serde(default)]
    pub content_addressed: bool,
    /// Largest object accepted, in bytes; 0: no limit beyond the gateway's.
    #[serde(default)]
    pub max_size: u64,
    /// Content types accepted; empty: any.
    #[serde(default)]
    pub content_types: Vec<String>,
}

/// Per-second limits of one subject; 0 means unlimited. Each allows a burst of one
/// second's worth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rates {
    /// GET, HEAD and list requests per second.
    pub read_requests: u32,
    /// Every other request per second.
    pub write_requests: u32,
    /// Response body bytes per second of reads.
    pub read_bytes: u64,
    /// Request body bytes per second of writes.
    pub write_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_older_than_parts_and_checksum_types_load() {
        let old = r#"{"size":3,"etag":"e-1","last_modified_ns":0,"segments":[{"blob":"b","size":3}],"multipart":true}"#;
        let rec: ObjectRecord = serde_json::from_str(old).unwrap();
        assert!(rec.parts.is_empty() && rec.checksum_type.is_none());
        let up: UploadRecord = serde_json::from_str(r#"{"bucket":"b","key":"k","initiated_ns":0,"attrs":{},"checksum_algorithm":"CRC32"}"#).unwrap();
        assert_eq!((up.checksum_algorithm.as_deref(), up.checksum_type), (Some("CRC32"), None));
        let composite = ObjectRecord {
            checksums: Checksums { sha256: Some("x-2".into()), ..Checksums::default() },
            checksum_type: Some("COMPOSITE".into()),
            parts: vec![ObjectPartRecord { number: 1, size: 3, checksums: Checksums::default() }],
            ..rec
        };
        let again: ObjectRecord = serde_json::from_str(&serde_json::to_string(&composite).unwrap()).unwrap();
        assert_eq!(again, composite);
        assert!(again.whole_body_checksums().is_empty(), "a composite checksum is not of the whole body");
    }
}
