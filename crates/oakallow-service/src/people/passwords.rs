//! Passwords: argon2id hashes in PHC strings (parameters and salt inside), hashed and checked
//! off the async threads, because each costs ~19 MiB and tens of milliseconds by design.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use oakallow_domain::secret::random_bytes;

use crate::error::{ServiceError, ServiceResult};

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// A hash of a password nobody has, verified when the email is unknown so that a sign-in takes
/// as long whether or not the account exists.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b2FrYWxsb3ctZGVjb3k$0G0x1YoTkO8n5mUVnJ0rF0Vd7bd8vHqYtKkSRbZ6n9E";

/// OWASP's recommended argon2id parameters: 19 MiB, two passes, one lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Refuses a password that is too short or too long (400, without echoing it).
pub fn check_password(password: &str) -> ServiceResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ServiceError::invalid(format!("the password must have at least {MIN_PASSWORD_CHARS} characters")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ServiceError::invalid(format!("the password must have at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub async fn hash(password: String) -> ServiceResult<String> {
    let salt = random_bytes::<16>().map_err(|_| ServiceError::Unavailable)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(|_| ServiceError::Internal)?;
        let hash = hasher().hash_password(password.as_bytes(), &salt).map_err(|_| ServiceError::Internal)?;
        Ok(hash.to_string())
    })
    .await
    .map_err(|_| ServiceError::Internal)?
}

/// Whether `password` matches `stored` (a PHC string; any algorithm parameters it names). With
/// no stored hash, a decoy is checked so that the answer (false) takes as long.
pub async fn verify(password: String, stored: Option<String>) -> ServiceResult<bool> {
    let real = stored.is_some();
    let stored = stored.unwrap_or_else(|| DECOY_HASH.to_owned());
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash is not a valid PHC string");
            return false;
        };
        hasher().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await
    .map_err(|_| ServiceError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let first = hash("correct horse battery".into()).await.unwrap();
        let second = hash("correct horse battery".into()).await.unwrap();
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("correct horse battery".into(), Some(first.clone())).await.unwrap());
        assert!(!verify("correct horse battery!".into(), Some(first)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies_even_with_the_decoys_password() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok(), "the decoy is a well-formed hash, so it costs a real check");
        assert!(!verify(String::new(), None).await.unwrap());
    }

    #[test]
    fn password_length_is_bounded_both_ways() {
        assert!(check_password("short").is_err());
        assert!(check_password("ten chars!").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        let err = check_password("hunter2").unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "the password is never echoed");
    }
}
