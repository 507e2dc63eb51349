//! Checksums of multipart objects, from the checksums and sizes of their parts:
//! `COMPOSITE` (the checksum of the concatenated raw part checksums, then `-{parts}`) and
//! `FULL_OBJECT` (the CRC of the whole object, combined from the part CRCs without reading
//! the bytes again: zlib's `crc32_combine`, generalised to the reflected CRCs S3 uses).

use crate::meta::Checksums;

/// `x-amz-checksum-type` of a checksum of the parts' checksums, suffixed `-{parts}`.
pub const COMPOSITE: &str = "COMPOSITE";
/// `x-amz-checksum-type` of a CRC of the whole object's bytes.
pub const FULL_OBJECT: &str = "FULL_OBJECT";

/// A reflected CRC with all-ones initial value and final xor (CRC32, CRC32C, CRC64NVME).
#[derive(Debug, Clone, Copy)]
struct Crc {
    /// The polynomial, reflected.
    poly: u64,
    width: u32,
}

const CRC32: Crc = Crc { poly: 0xedb8_8320, width: 32 };
const CRC32C: Crc = Crc { poly: 0x82f6_3b78, width: 32 };
const CRC64NVME: Crc = Crc { poly: 0x9a6c_9329_ac4b_c9b5, width: 64 };

impl Crc {
    /// The bit standing for x^0 (reflected: the highest).
    fn one(self) -> u64 {
        1 << (self.width - 1)
    }

    /// a(x) * b(x) mod P(x), both reflected.
    fn multiply(self, a: u64, mut b: u64) -> u64 {
        let mut m = self.one();
        let mut p = 0;
        while m != 0 {
            if a & m != 0 {
                p ^= b;
            }
            m >>= 1;
            b = if b & 1 != 0 { (b >> 1) ^ self.poly } else { b >> 1 };
        }
        p
    }

    /// x^(8 * n) mod P(x): what appending `n` zero bytes multiplies a CRC register by.
    fn shift_bytes(self, mut n: u64) -> u64 {
        let mut result = self.one();
        let mut square = self.one() >> 8; // x^8
        while n != 0 {
            if n & 1 != 0 {
                result = self.multiply(result, square);
            }
            square = self.multiply(square, square);
            n >>= 1;
        }
        result
    }

    /// The CRC of `A ++ B` from `crc(A)`, `crc(B)` and `B`'s length.
    fn combine(self, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
        self.multiply(self.shift_bytes(len_b), crc_a) ^ crc_b
    }

    fn decode(self, b64: &str) -> Option<u64> {
        let raw = base64_simd::STANDARD.decode_to_vec(b64).ok()?;
        let bytes = usize::try_from(self.width / 8).ok()?;
        (raw.len() == bytes).then(|| raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn encode(self, crc: u64) -> String {
        let bytes = crc.to_be_bytes();
        base64_simd::STANDARD.encode_to_string(&bytes[8 - (self.width / 8) as usize..])
    }
}

fn crc_of(algorithm: &str) -> Option<Crc> {
    match algorithm {
        "CRC32" => Some(CRC32),
        "CRC32C" => Some(CRC32C),
        "CRC64NVME" => Some(CRC64NVME),
        _ => None,
    }
}

/// The checksum type an upload gets when it declares `algorithm` without a type: CRC64NVME
/// exists only as a full-object checksum, the others default to composite (as on AWS).
#[must_use]
pub fn default_type(algorithm: &str) -> &'static str {
    if algorithm == "CRC64NVME" { FULL_OBJECT } else { COMPOSITE }
}

/// Whether `algorithm` (upper case) supports checksum type `ty`.
#[must_use]
pub fn supports(algorithm: &str, ty: &str) -> bool {
    match ty {
        FULL_OBJECT => crc_of(algorithm).is_some(),
        COMPOSITE => algorithm != "CRC64NVME",
        _ => false,
    }
}

/// The value of `algorithm` (upper case) in `c`.
#[must_use]
pub fn value<'a>(c: &'a Checksums, algorithm: &str) -> Option<&'a String> {
    match algorithm {
        "CRC32" => c.crc32.as_ref(),
        "CRC32C" => c.crc32c.as_ref(),
        "CRC64NVME" => c.crc64nvme.as_ref(),
        "SHA1" => c.sha1.as_ref(),
        "SHA256" => c.sha256.as_ref(),
        _ => None,
    }
}

/// Checksums holding `value` for `algorithm` alone.
#[must_use]
pub fn only(algorithm: &str, value: String) -> Checksums {
    let mut c = Checksums::default();
    match algorithm {
        "CRC32" => c.crc32 = Some(value),
        "CRC32C" => c.crc32c = Some(value),
        "CRC64NVME" => c.crc64nvme = Some(value),
        "SHA1" => c.sha1 = Some(value),
        _ => c.sha256 = Some(value),
    }
    c
}

/// The checksum (base64; a composite one followed by `-{parts}`) of a multipart object of
/// `parts` (each part's size and checksums), for `algorithm` and checksum type `ty`.
/// `None` if a part lacks that checksum (e.g. a part copied upstream, whose bytes the
/// gateway never saw), or the combination does not exist.
#[must_use]
pub fn multipart(algorithm: &str, ty: &str, parts: &[(u64, &Checksums)]) -> Option<String> {
    let values: Vec<&String> = parts.iter().map(|(_, c)| value(c, algorithm)).collect::<Option<_>>()?;
    match ty {
        FULL_OBJECT => {
            let crc = crc_of(algorithm)?;
            let mut whole: Option<u64> = None;
            for ((size, _), v) in parts.iter().zip(&values) {
                let part = crc.decode(v)?;
                whole = Some(match whole {
                    None => part,
                    Some(acc) => crc.combine(acc, part, *size),
                });
            }
            whole.map(|w| crc.encode(w))
        }
        COMPOSITE => {
            let mut raw = Vec::new();
            for v in &values {
                raw.extend(base64_simd::STANDARD.decode_to_vec(v.as_str()).ok()?);
            }
            let mut set = crate::proof::hashing::ChecksumSet::default();
            set.add(algorithm).then_some(())?;
            let mut h = crate::proof::hashing::BodyHasher::new(set).without_md5();
            h.update(&raw);
            let digest = value(&h.finish().checksums, algorithm)?.clone();
            Some(format!("{digest}-{}", parts.len()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::hashing::{BodyHasher, ChecksumSet};

    fn digest(algorithm: &str, data: &[u8]) -> String {
        let mut set = ChecksumSet::default();
        assert!(set.add(algorithm));
        let mut h = BodyHasher::new(set);
        h.update(data);
        value(&h.finish().checksums, algorithm).unwrap().clone()
    }

    #[test]
    fn crcs_match_their_catalogued_check_values() {
        // The "check" of each CRC in the CRC catalogue: the CRC of "123456789".
        for (alg, check) in [("CRC32", 0xcbf4_3926u64), ("CRC32C", 0xe306_9283), ("CRC64NVME", 0xae8b_1486_0a79_9888)] {
            let crc = crc_of(alg).unwrap();
            assert_eq!(crc.decode(&digest(alg, b"123456789")), Some(check), "{alg}");
            assert_eq!(crc.encode(check), digest(alg, b"123456789"));
        }
    }

    #[test]
    fn full_object_crcs_combine_to_the_crc_of_the_whole_body() {
        // Part sizes around the interesting edges: empty, one byte, odd, a power of two.
        let body: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let cuts = [0usize, 1, 1, 4096, 12_345, 65_536, 70_000];
        for alg in ["CRC32", "CRC32C", "CRC64NVME"] {
            let parts: Vec<(u64, Checksums)> = cuts.windows(2).map(|w| ((w[1] - w[0]) as u64, only(alg, digest(alg, &body[w[0]..w[1]])))).collect();
            let refs: Vec<(u64, &Checksums)> = parts.iter().map(|(s, c)| (*s, c)).collect();
            assert_eq!(multipart(alg, FULL_OBJECT, &refs), Some(digest(alg, &body)), "{alg}");
        }
    }

    #[test]
    fn composite_checksums_hash_the_concatenated_part_checksums() {
        let (a, b) = (b"hello ".as_slice(), b"world".as_slice());
        for alg in ["CRC32", "CRC32C", "SHA1", "SHA256"] {
            let (ca, cb) = (only(alg, digest(alg, a)), only(alg, digest(alg, b)));
            let mut raw = base64_simd::STANDARD.decode_to_vec(value(&ca, alg).unwrap()).unwrap();
            raw.extend(base64_simd::STANDARD.decode_to_vec(value(&cb, alg).unwrap()).unwrap());
            let expected = format!("{}-2", digest(alg, &raw));
            assert_eq!(multipart(alg, COMPOSITE, &[(6, &ca), (5, &cb)]), Some(expected), "{alg}");
        }
        // crc32 of "hello " is 0xed81f9f6, of "world" 0x3a771143: the CRC32 of those 8 bytes.
        let ca = only("CRC32", digest("CRC32", a));
        assert_eq!(value(&ca, "CRC32").unwrap(), &crc_of("CRC32").unwrap().encode(0xed81_f9f6));
    }

    #[test]
    fn types_follow_the_algorithms() {
        assert!(supports("CRC32", FULL_OBJECT) && supports("CRC32", COMPOSITE));
        assert!(!supports("SHA256", FULL_OBJECT) && !supports("CRC64NVME", COMPOSITE));
        assert_eq!(default_type("CRC64NVME"), FULL_OBJECT);
        assert_eq!(default_type("SHA1"), COMPOSITE);
        let none = Checksums::default();
        assert_eq!(multipart("CRC32", FULL_OBJECT, &[(3, &none)]), None, "a part without the checksum");
    }
}
