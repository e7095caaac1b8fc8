//! Mapping sqlx and PostgreSQL errors to store errors. Messages name constraints and SQLSTATE
//! codes, never the values that were bound (they may be secrets or personal data).

use oakallow_store::StoreError;
use sqlx::error::DatabaseError;

/// SQLSTATE class of integrity constraint violations.
const INTEGRITY_CLASS: &str = "23";
/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE `foreign_key_violation`.
const FOREIGN_KEY_VIOLATION: &str = "23503";
/// SQLSTATE `deadlock_detected`: PostgreSQL aborted this transaction to break a lock cycle.
const DEADLOCK_DETECTED: &str = "40P01";
/// What a deadlock maps to; [`is_deadlock`] recognizes it.
const DEADLOCK_MESSAGE: &str = "PostgreSQL error 40P01: deadlock detected";
/// SQLSTATE class of data exceptions (bad input values, whose messages quote them).
const DATA_CLASS: &str = "22";
/// SQLSTATE classes meaning the server cannot serve now: connection exceptions, insufficient
/// resources (e.g. too many connections), operator intervention (e.g. shutting down).
const UNAVAILABLE_CLASSES: [&str; 3] = ["08", "53", "57"];

/// Whether `error` is a deadlock PostgreSQL broke by aborting the transaction (which, run
/// again, will most likely succeed).
pub(crate) fn is_deadlock(error: &StoreError) -> bool {
    matches!(error, StoreError::Backend(message) if message == DEADLOCK_MESSAGE)
}

/// Maps an sqlx error to a store error.
pub(crate) fn map_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) => map_database_error(database.as_ref()),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(error.to_string())
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
}

/// Maps an error PostgreSQL reported. The message of a constraint or data error is left out:
/// it may quote a value (the `DETAIL` of a unique violation does, and so do input errors).
fn map_database_error(error: &dyn DatabaseError) -> StoreError {
    let code = error.code().map(|code| code.into_owned()).unwrap_or_default();
    match code.as_str() {
        UNIQUE_VIOLATION => StoreError::Conflict(format!("duplicate: {}", error.constraint().unwrap_or("unique constraint"))),
        FOREIGN_KEY_VIOLATION => StoreError::Conflict("the object is still referenced".into()),
        DEADLOCK_DETECTED => StoreError::Backend(DEADLOCK_MESSAGE.into()),
        _ if code.starts_with(INTEGRITY_CLASS) => {
            StoreError::Conflict(format!("constraint violated: {}", error.constraint().unwrap_or(&code)))
        }
        _ if code.starts_with(DATA_CLASS) => StoreError::Backend(format!("PostgreSQL refused a value (SQLSTATE {code})")),
        _ if UNAVAILABLE_CLASSES.iter().any(|class| code.starts_with(class)) => {
            StoreError::Unavailable(format!("PostgreSQL error {code}: {}", error.message()))
        }
        _ => StoreError::Backend(format!("PostgreSQL error {code}: {}", error.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        assert!(matches!(map_error(sqlx::Error::PoolTimedOut), StoreError::Unavailable(_)));
        assert!(matches!(map_error(sqlx::Error::PoolClosed), StoreError::Unavailable(_)));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(map_error(sqlx::Error::Io(io)), StoreError::Unavailable(_)));
    }

    #[test]
    fn decode_failures_are_corrupt() {
        let error = sqlx::Error::ColumnDecode { index: "3".into(), source: "not a valid id".into() };
        assert!(matches!(map_error(error), StoreError::Corrupt(_)));
    }
}
