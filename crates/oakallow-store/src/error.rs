//! The storage layer's one error type.

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken (the message names what, never a secret).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The org's policy or settings changed since they were read; re-read and retry.
    #[error("the org changed concurrently")]
    VersionConflict,
    /// The object to change does not exist (in this org).
    #[error("not found")]
    NotFound,
    /// The database cannot be reached or is shutting down.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Backend(String),
    /// Stored data cannot be read back into domain types.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// An unsigned value as a signed 64-bit column, or an error: a store never keeps a value other
/// than the one it was given (the audit chain hashes the given one), so a value that does not
/// fit is refused, never clamped. The API bounds such values first; this is the last guard.
pub fn exact_i64(value: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| StoreError::Backend(format!("{what} {value} does not fit a 64-bit integer column")))
}
