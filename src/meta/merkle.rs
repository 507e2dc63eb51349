//! Merkle tree hashing, inclusion and consistency proofs exactly as RFC 9162 (Certificate
//! Transparency v2) section 2.1 defines them. Pure: no storage, so the same code serves the
//! gateway (which builds proofs from stored subtree hashes) and an offline verifier.
//!
//! - leaf hash: `SHA-256(0x00 || leaf)`; interior node: `SHA-256(0x01 || left || right)`;
//! - `MTH(D[n])` splits at `k`, the largest power of two smaller than `n`;
//! - an appended log keeps a [`Frontier`]: the roots of its complete subtrees, largest first,
//!   so appending is O(log n) and the root is a fold of at most log n hashes.

use sha2::Digest as _;

/// A SHA-256 digest: a leaf or node hash, or a tree root.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`: the hash of a leaf.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = sha2::Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// `MTH({})`: the SHA-256 of the empty string.
#[must_use]
pub fn empty_root() -> Hash {
    sha2::Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n >= 2`).
#[must_use]
pub fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Lower-case hex of a hash.
#[must_use]
pub fn to_hex(h: &Hash) -> String {
    hex_simd::encode_to_string(h, hex_simd::AsciiCase::Lower)
}

/// A hash from 64 hex digits.
#[must_use]
pub fn from_hex(s: &str) -> Option<Hash> {
    hex_simd::decode_to_vec(s.as_bytes()).ok()?.try_into().ok()
}

/// The compact state of an append-only tree: its size and the roots of its complete
/// subtrees, left to right (one per set bit of the size, largest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    roots: Vec<Hash>,
}

/// A complete subtree an append finished: `level` (0 for a leaf) and `index` (its leaves
/// are `index << level .. (index + 1) << level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height above the leaves.
    pub level: u8,
    /// Position among the subtrees of its level.
    pub index: u64,
    /// Its hash.
    pub hash: Hash,
}

impl Frontier {
    /// A frontier of `size` leaves from its subtree roots (as [`Frontier::roots`] gives them);
    /// `None` if their number does not match the size.
    #[must_use]
    pub fn from_parts(size: u64, roots: Vec<Hash>) -> Option<Self> {
        (roots.len() == size.count_ones() as usize).then_some(Self { size, roots })
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The complete subtrees' roots, largest first.
    #[must_use]
    pub fn roots(&self) -> &[Hash] {
        &self.roots
    }

    /// Appends a leaf (its hash); returns the subtrees it completed, the leaf first, so a
    /// store can keep every complete subtree's hash and build any proof from them.
    pub fn append(&mut self, leaf: Hash) -> Vec<Node> {
        let index = self.size;
        let mut done = vec![Node { level: 0, index, hash: leaf }];
        let mut h = leaf;
        let mut level = 0u8;
        while (index >> level) & 1 == 1 {
            // The frontier has a root for each set bit: the lowest is the last one.
            let left = self.roots.pop().expect("one root per set bit of the size");
            h = node_hash(&left, &h);
            level += 1;
            done.push(Node { level, index: index >> level, hash: h });
        }
        self.roots.push(h);
        self.size += 1;
        done
    }

    /// `MTH` of the tree: the roots folded right to left (the RFC's split puts the largest
    /// complete subtree on the left at every level).
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut it = self.roots.iter().rev();
        let Some(last) = it.next() else { return empty_root() };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// Where proofs get the hash of a complete subtree `(level, index)` from (a store's table
/// of them, or a list of leaves); `None` if it does not have it.
pub trait Subtrees {
    /// The hash of the complete subtree over leaves `index << level .. (index + 1) << level`.
    fn subtree(&self, level: u8, index: u64) -> Option<Hash>;
}

/// Leaf hashes in memory, for tests and small trees.
impl Subtrees for [Hash] {
    fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
        let width = 1u64.checked_shl(u32::from(level))?;
        let start = usize::try_from(index.checked_mul(width)?).ok()?;
        let end = start.checked_add(usize::try_from(width).ok()?)?;
        Some(naive_root(self.get(start..end)?))
    }
}

/// `MTH(D[start..end])` straight from the RFC's recursion, the leaves given by hash.
#[must_use]
pub fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = usize::try_from(split(n as u64)).unwrap_or(n / 2);
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

/// `MTH(D[start..end])`, from complete subtrees: a range whose size is a power of two and
/// whose start is aligned to it is one subtree; any other splits as the RFC does.
pub fn range_root(t: &(impl Subtrees + ?Sized), start: u64, end: u64) -> Option<Hash> {
    let n = end.checked_sub(start)?;
    if n == 0 {
        return Some(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return t.subtree(u8::try_from(n.trailing_zeros()).ok()?, start / n);
    }
    let k = split(n);
    Some(node_hash(&range_root(t, start, start + k)?, &range_root(t, start + k, end)?))
}

/// `PATH(m, D[n])` (RFC 9162 2.1.3.1): the audit path of leaf `m` in the tree of the first
/// `n` leaves, bottom up. `None` if `m >= n` or a subtree is missing.
pub fn inclusion_proof(t: &(impl Subtrees + ?Sized), m: u64, n: u64) -> Option<Vec<Hash>> {
    if m >= n {
        return None;
    }
    let mut path = Vec::new();
    path_of(t, m, 0, n, &mut path)?;
    Some(path)
}

/// PATH of leaf `m` (absolute) in `D[start..end]`, appended to `out` bottom up.
fn path_of(t: &(impl Subtrees + ?Sized), m: u64, start: u64, end: u64, out: &mut Vec<Hash>) -> Option<()> {
    let n = end - start;
    if n <= 1 {
        return Some(());
    }
    let k = split(n);
    if m - start < k {
        path_of(t, m, start, start + k, out)?;
        out.push(range_root(t, start + k, end)?);
    } else {
        path_of(t, m, start + k, end, out)?;
        out.push(range_root(t, start, start + k)?);
    }
    Some(())
}

/// `PROOF(m, D[n])` (RFC 9162 2.1.4.1): that the tree of the first `m` leaves is a prefix of
/// the tree of `n`. Empty when `m == n` or `m == 0`; `None` if `m > n` or a subtree is missing.
pub fn consistency_proof(t: &(impl Subtrees + ?Sized), m: u64, n: u64) -> Option<Vec<Hash>> {
    if m > n {
        return None;
    }
    let mut out = Vec::new();
    if m > 0 {
        subproof(t, m, 0, n, true, &mut out)?;
    }
    Some(out)
}

/// `SUBPROOF(m, D[start..end], b)`, `m` counted from `start`.
fn subproof(t: &(impl Subtrees + ?Sized), m: u64, start: u64, end: u64, b: bool, out: &mut Vec<Hash>) -> Option<()> {
    let n = end - start;
    if m == n {
        if !b {
            out.push(range_root(t, start, end)?);
        }
        return Some(());
    }
    let k = split(n);
    if m <= k {
        subproof(t, m, start, start + k, b, out)?;
        out.push(range_root(t, start + k, end)?);
    } else {
        subproof(t, m - k, start + k, end, false, out)?;
        out.push(range_root(t, start, start + k)?);
    }
    Some(())
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size, or the old size is above the new one.
    #[error("index or size out of range")]
    OutOfRange,
    /// The proof has the wrong number of hashes for the sizes.
    #[error("proof has the wrong length")]
    BadLength,
    /// The hashes do not lead to the root(s) given.
    #[error("proof does not lead to the root hash")]
    RootMismatch,
}

/// Verifies an inclusion proof (RFC 9162 2.1.3.2): `leaf` (a leaf hash) is leaf `index` of
/// the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange);
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return Err(ProofError::BadLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::BadLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 2.1.4.2): the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root `second_root`.
pub fn verify_consistency(first: u64, second: u64, first_root: &Hash, second_root: &Hash, path: &[Hash]) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::OutOfRange);
    }
    if first == second || first == 0 {
        // Nothing to prove beyond equal roots (an empty tree is a prefix of any).
        if !path.is_empty() {
            return Err(ProofError::BadLength);
        }
        return if first == 0 || first_root == second_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if path.is_empty() {
        return Err(ProofError::BadLength);
    }
    let mut path: Vec<Hash> = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::BadLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::BadLength);
    }
    if fr != *first_root || sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MTH` by the RFC's definition over the leaf data itself, sharing nothing with the
    /// code under test but SHA-256.
    fn mth(d: &[Vec<u8>]) -> Hash {
        let sha = |parts: &[&[u8]]| -> Hash {
            let mut h = sha2::Sha256::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().into()
        };
        match d.len() {
            0 => sha(&[]),
            1 => sha(&[&[0], &d[0]]),
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                sha(&[&[1], &mth(&d[..k]), &mth(&d[k..])])
            }
        }
    }

    fn data(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("leaf {i}").into_bytes()).collect()
    }

    fn hashes(d: &[Vec<u8>]) -> Vec<Hash> {
        d.iter().map(|x| leaf_hash(x)).collect()
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        assert_eq!([2, 3, 4, 5, 8, 9, 64, 65].map(split), [1, 2, 2, 4, 4, 8, 32, 64]);
    }

    /// The vectors of the reference implementation's tests (the 8 leaves of RFC 6962's test
    /// data): the root of every prefix.
    #[test]
    fn known_answers_of_the_reference_test_data() {
        let leaves: Vec<Vec<u8>> = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
            .iter()
            .map(|h| hex_simd::decode_to_vec(h.as_bytes()).unwrap())
            .collect();
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut f = Frontier::default();
        for (i, leaf) in leaves.iter().enumerate() {
            f.append(leaf_hash(leaf));
            assert_eq!(to_hex(&f.root()), roots[i], "root of {} leaves", i + 1);
            assert_eq!(to_hex(&mth(&leaves[..=i])), roots[i]);
        }
        assert_eq!(to_hex(&empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn the_incremental_root_is_the_recursive_one_and_every_completed_subtree_is_right() {
        let d = data(70);
        let h = hashes(&d);
        let mut f = Frontier::default();
        assert_eq!(f.root(), mth(&[]));
        for n in 1..=d.len() {
            for node in f.append(h[n - 1]) {
                let width = 1usize << node.level;
                let start = usize::try_from(node.index).unwrap() * width;
                assert_eq!(start + width, n, "a subtree completes with its last leaf");
                assert_eq!(node.hash, mth(&d[start..n]), "subtree {}/{}", node.level, node.index);
            }
            assert_eq!(f.root(), mth(&d[..n]), "n = {n}");
            assert_eq!(range_root(h.as_slice(), 0, n as u64), Some(mth(&d[..n])));
            let back = Frontier::from_parts(f.size(), f.roots().to_vec()).unwrap();
            assert_eq!(back, f);
        }
        assert!(Frontier::from_parts(3, vec![[0; 32]]).is_none());
    }

    #[test]
    fn every_inclusion_proof_up_to_64_leaves_verifies_and_tampering_fails() {
        let d = data(64);
        let h = hashes(&d);
        for n in 1..=64u64 {
            let root = mth(&d[..n as usize]);
            for m in 0..n {
                let path = inclusion_proof(h.as_slice(), m, n).unwrap();
                let leaf = &h[m as usize];
                verify_inclusion(leaf, m, n, &path, &root).unwrap_or_else(|e| panic!("m={m} n={n}: {e}"));
                // Every hash of the path matters.
                for i in 0..path.len() {
                    let mut bad = path.clone();
                    bad[i][0] ^= 1;
                    assert!(verify_inclusion(leaf, m, n, &bad, &root).is_err());
                }
                // Another leaf, index, size, root, or a path cut short or padded, fails.
                let other = leaf_hash(b"not a leaf");
                assert!(verify_inclusion(&other, m, n, &path, &root).is_err());
                if n > 1 {
                    assert!(verify_inclusion(leaf, (m + 1) % n, n, &path, &root).is_err(), "m={m} n={n}");
                    assert!(verify_inclusion(leaf, m, n, &path[..path.len() - 1], &root).is_err());
                }
                // The size alone is not bound by a path (a signed head binds it to its
                // root): against the bigger tree's own root, this path fails.
                if n < 64 {
                    assert!(verify_inclusion(leaf, m, n + 1, &path, &mth(&d[..=n as usize])).is_err());
                }
                assert!(verify_inclusion(leaf, m, n, &[path.clone(), vec![other]].concat(), &root).is_err());
                assert!(verify_inclusion(leaf, m, n, &path, &other).is_err());
            }
            assert_eq!(verify_inclusion(&h[0], n, n, &[], &root), Err(ProofError::OutOfRange));
            assert!(inclusion_proof(h.as_slice(), n, n).is_none());
        }
    }

    #[test]
    fn every_consistency_proof_up_to_64_leaves_verifies_and_tampering_fails() {
        let d = data(64);
        let h = hashes(&d);
        let roots: Vec<Hash> = (0..=64).map(|n| mth(&d[..n])).collect();
        for n in 0..=64u64 {
            for m in 0..=n {
                let path = consistency_proof(h.as_slice(), m, n).unwrap();
                let (rm, rn) = (&roots[m as usize], &roots[n as usize]);
                verify_consistency(m, n, rm, rn, &path).unwrap_or_else(|e| panic!("m={m} n={n}: {e}"));
                if m == 0 || m == n {
                    assert!(path.is_empty());
                    continue;
                }
                for i in 0..path.len() {
                    let mut bad = path.clone();
                    bad[i][31] ^= 0x80;
                    assert!(verify_consistency(m, n, rm, rn, &bad).is_err(), "m={m} n={n} i={i}");
                }
                // A rewritten old tree (another root of the same size) or a new tree that
                // does not extend it: a fork.
                let forged = leaf_hash(b"forged");
                assert!(verify_consistency(m, n, &forged, rn, &path).is_err());
                assert!(verify_consistency(m, n, rm, &forged, &path).is_err());
                assert!(verify_consistency(m, n, rm, rn, &path[..path.len() - 1]).is_err());
                assert!(verify_consistency(m, n + 1, rm, &roots.get(n as usize + 1).copied().unwrap_or(forged), &path).is_err());
                // A tree that rewrote leaf 0 after the old head: consistent proofs cannot exist.
                let mut rewritten = h.clone();
                rewritten[0] = forged;
                let fork_root = naive_root(&rewritten[..n as usize]);
                let fork_path = consistency_proof(rewritten.as_slice(), m, n).unwrap();
                assert!(verify_consistency(m, n, rm, &fork_root, &fork_path).is_err());
            }
        }
        assert_eq!(verify_consistency(5, 4, &roots[5], &roots[4], &[]), Err(ProofError::OutOfRange));
        assert_eq!(verify_consistency(4, 4, &roots[4], &roots[3], &[]), Err(ProofError::RootMismatch));
    }

    #[test]
    fn proofs_need_every_subtree() {
        struct Missing;
        impl Subtrees for Missing {
            fn subtree(&self, _: u8, _: u64) -> Option<Hash> {
                None
            }
        }
        assert!(inclusion_proof(&Missing, 0, 3).is_none());
        assert!(consistency_proof(&Missing, 2, 3).is_none());
        assert_eq!(inclusion_proof(&Missing, 0, 1), Some(Vec::new()));
    }
}
