//! The small key-value layer the families are written on: JSON values, composite keys,
//! and sled transactions that abort with a store [`Error`].

use super::*;

pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(e.to_string()))
}

pub(super) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data: serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(super) fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Runs a sled transaction whose closure aborts with a store [`Error`].
pub(super) fn flatten<T>(r: std::result::Result<T, TransactionError<Error>>) -> Result<T> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    })
}

pub(super) fn abort<T>(e: Error) -> std::result::Result<T, ConflictableTransactionError<Error>> {
    Err(ConflictableTransactionError::Abort(e))
}

pub(super) fn tx_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, ConflictableTransactionError<Error>> {
    decode(bytes).map_err(ConflictableTransactionError::Abort)
}

/// Writes the audit entry (if any) inside a transaction.
pub(super) fn tx_audit(tree: &TransactionalTree, entry: Option<&(Vec<u8>, Vec<u8>)>) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    if let Some((k, v)) = entry {
        tree.insert(k.as_slice(), v.as_slice())?;
    }
    Ok(())
}
