//! Digests computed while a body streams through: every byte is hashed once, by every
//! digest that needs it, on its way to storage.

use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Md5};
use sha2::Digest as _;

use crate::meta::Checksums;

/// The digests of one body: MD5 (the ETag), SHA-256 (the proof manifest) and the S3
/// checksums the client asked for.
pub struct BodyHasher {
    md5: Option<Md5>,
    sha256: Option<sha2::Sha256>,
    checksums: ChecksumHasher,
}

/// Which S3 checksum algorithms to compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumSet {
    /// CRC32 (`x-amz-checksum-crc32`).
    pub crc32: bool,
    /// CRC32C (`x-amz-checksum-crc32c`).
    pub crc32c: bool,
    /// CRC64NVME (`x-amz-checksum-crc64nvme`).
    pub crc64nvme: bool,
    /// SHA-1 (`x-amz-checksum-sha1`).
    pub sha1: bool,
    /// SHA-256 as an S3 checksum (`x-amz-checksum-sha256`, base64), besides the hex digest always computed.
    pub sha256: bool,
}

impl ChecksumSet {
    /// Adds the algorithm named as on the wire (`CRC32`, `crc32c`, ...); false if unknown.
    pub fn add(&mut self, algorithm: &str) -> bool {
        match algorithm.to_ascii_uppercase().as_str() {
            "CRC32" => self.crc32 = true,
            "CRC32C" => self.crc32c = true,
            "CRC64NVME" => self.crc64nvme = true,
            "SHA1" => self.sha1 = true,
            "SHA256" => self.sha256 = true,
            _ => return false,
        }
        true
    }

    /// The algorithms for which `expected` carries a value.
    #[must_use]
    pub fn of(expected: &Checksums) -> Self {
        Self {
            crc32: expected.crc32.is_some(),
            crc32c: expected.crc32c.is_some(),
            crc64nvme: expected.crc64nvme.is_some(),
            sha1: expected.sha1.is_some(),
            sha256: expected.sha256.is_some(),
        }
    }
}

/// The finished digests of a body.
#[derive(Debug, Clone)]
pub struct BodyDigests {
    /// Computed unless the hasher was built [`BodyHasher::without_md5`].
    pub md5: Option<[u8; 16]>,
    /// Lower-case hex SHA-256 of the body.
    pub sha256: String,
    /// The S3 checksums asked for in the [`ChecksumSet`] (the others `None`).
    pub checksums: Checksums,
}

impl BodyDigests {
    /// The MD5 in hex, as a single-part ETag (empty if not computed).
    #[must_use]
    pub fn md5_hex(&self) -> String {
        self.md5.map(|md5| hex_simd::encode_to_string(md5, hex_simd::AsciiCase::Lower)).unwrap_or_default()
    }
}

impl BodyHasher {
    /// A hasher of MD5, SHA-256 and the checksums in `set`.
    #[must_use]
    pub fn new(set: ChecksumSet) -> Self {
        let mut checksums = ChecksumHasher::default();
        if set.crc32 {
            checksums.crc32 = Some(Default::default());
        }
        if set.crc32c {
            checksums.crc32c = Some(Default::default());
        }
        if set.crc64nvme {
            checksums.crc64nvme = Some(Default::default());
        }
        if set.sha1 {
            checksums.sha1 = Some(Default::default());
        }
        if set.sha256 {
            checksums.sha256 = Some(Default::default());
        }
        Self { md5: Some(Md5::new()), sha256: Some(sha2::Sha256::new()), checksums }
    }

    /// Leaves MD5 out: the costliest digest per byte, needed only for an ETag the gateway
    /// computes itself or a declared `Content-MD5`.
    #[must_use]
    pub fn without_md5(self) -> Self {
        Self { md5: None, ..self }
    }

    /// Leaves SHA-256 out (its digest is then empty): for bytes whose digests were taken
    /// before, such as ciphertext sealed from a plaintext hashed on its way in.
    #[must_use]
    pub fn without_sha256(self) -> Self {
        Self { sha256: None, ..self }
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(data);
        }
        self.checksums.update(data);
    }

    /// The digests of everything fed.
    #[must_use]
    pub fn finish(self) -> BodyDigests {
        let c = self.checksums.finalize();
        BodyDigests {
            md5: self.md5.map(Md5::finalize),
            sha256: self.sha256.map(|h| hex_simd::encode_to_string(h.finalize(), hex_simd::AsciiCase::Lower)).unwrap_or_default(),
            checksums: Checksums {
                crc32: c.checksum_crc32,
                crc32c: c.checksum_crc32c,
                crc64nvme: c.checksum_crc64nvme,
                sha1: c.checksum_sha1,
                sha256: c.checksum_sha256,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_vectors() {
        let mut set = ChecksumSet::default();
        assert!(set.add("crc32"));
        assert!(set.add("SHA256"));
        assert!(!set.add("md4"));
        let mut h = BodyHasher::new(set);
        h.update(b"hello ");
        h.update(b"world");
        let d = h.finish();
        assert_eq!(d.md5_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(d.sha256, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
        // crc32("hello world") = 0x0d4a1185
        assert_eq!(d.checksums.crc32.as_deref(), Some("DUoRhQ=="));
        assert_eq!(d.checksums.sha256.as_deref(), Some("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="));
        assert!(d.checksums.crc32c.is_none());
    }
}
