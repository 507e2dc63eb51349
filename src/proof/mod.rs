//! Proofs of what was stored. For now: the streaming digests every stored body gets.

pub mod hashing;
