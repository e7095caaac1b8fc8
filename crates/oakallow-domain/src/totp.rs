//! Time-based one-time passwords (RFC 6238) as authenticator apps implement them: HMAC-SHA-1,
//! six digits, 30-second steps, a 160-bit secret shown in base32 (RFC 4648, no padding). Also
//! the single-use recovery codes that stand in for a code when the phone is lost.
//!
//! Written here rather than taken from a crate: it is thirty lines over `hmac` and `sha1`, and
//! the RFC's own test vectors pin it (see the tests).

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::Timestamp;
use crate::secret::{RandomnessUnavailable, constant_time_eq, random_bytes};

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one (clock drift, a code typed as it changed).
pub const DRIFT_STEPS: i64 = 1;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP secret (20 random bytes). Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// A new random 160-bit secret.
    pub fn generate() -> Result<Self, RandomnessUnavailable> {
        Ok(Self(random_bytes::<20>()?.to_vec()))
    }

    /// A secret from its stored bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// A secret from its base32 form (as an app or a test reads it off the page); `None` if it
    /// is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bits: u64 = 0;
        let mut count = 0;
        let mut bytes = Vec::new();
        for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
            let value = BASE32.iter().position(|b| *b == c.to_ascii_uppercase())?;
            bits = (bits << 5) | u64::try_from(value).ok()?;
            count += 5;
            if count >= 8 {
                count -= 8;
                bytes.push(u8::try_from((bits >> count) & 0xff).ok()?);
            }
        }
        Some(Self(bytes))
    }

    /// The raw bytes, to store.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The base32 form people type into an authenticator app.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// The `otpauth://` URI a QR code carries.
    pub fn uri(&self, account_email: &str) -> String {
        let label = percent(&format!("oakallow:{account_email}"));
        format!("otpauth://totp/{label}?secret={}&issuer=oakallow&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}", self.base32())
    }

    /// The six-digit code of `step` (RFC 4226's dynamic truncation), zero-padded.
    pub fn code_at_step(&self, step: i64) -> String {
        let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(&self.0) else { return String::new() };
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[19] & 0x0f);
        let binary = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
        format!("{:0width$}", binary % 10u32.pow(DIGITS), width = DIGITS as usize)
    }

    /// The step a code typed at `now` matches (within [`DRIFT_STEPS`]), compared in constant
    /// time; `None` if it matches none or is not six digits. The caller refuses a step already
    /// used.
    pub fn matching_step(&self, code: &str, now: Timestamp) -> Option<i64> {
        let code = normalize_code(code);
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = step_at(now);
        let mut found = None;
        for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
            if constant_time_eq(self.code_at_step(step).as_bytes(), code.as_bytes()) {
                found = found.or(Some(step));
            }
        }
        found
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

/// The TOTP step of `at`.
pub fn step_at(at: Timestamp) -> i64 {
    at.micros().div_euclid(1_000_000).div_euclid(STEP_SECONDS)
}

/// A code as typed, without spaces and dashes, upper-cased (recovery codes are case-blind).
pub fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect()
}

/// RFC 4648 base32 without padding.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buffer = [0u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let bits = buffer.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let index = (bits >> (35 - 5 * i)) & 0x1f;
            out.push(char::from(BASE32[usize::try_from(index).unwrap_or(0)]));
        }
    }
    out
}

/// A new recovery code: 80 random bits as sixteen base32 characters in four groups
/// (`ABCD-EFGH-IJKL-MNOP`). Stored only as the SHA-256 of its [`normalize_code`] form.
pub fn new_recovery_code() -> Result<String, RandomnessUnavailable> {
    let text = base32(&random_bytes::<10>()?);
    Ok(text.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-"))
}

/// The digest a recovery code is stored and looked up by.
pub fn recovery_code_digest(code: &str) -> [u8; 32] {
    let mut input = b"oakallow recovery code v1\0".to_vec();
    input.extend_from_slice(normalize_code(code).as_bytes());
    crate::secret::sha256(&input)
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' | b':' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: the 8-digit codes, whose last six digits are ours.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (seconds, eight) in vectors {
            let at = Timestamp::from_micros(seconds * 1_000_000);
            assert_eq!(secret.code_at_step(step_at(at)), eight[2..], "at {seconds}");
            assert_eq!(secret.matching_step(&eight[2..], at), Some(step_at(at)));
        }
    }

    #[test]
    fn a_code_matches_one_step_either_side_and_no_further() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let at = Timestamp::from_micros(1_111_111_111 * 1_000_000);
        let step = step_at(at);
        for delta in [-1, 0, 1] {
            assert_eq!(secret.matching_step(&secret.code_at_step(step + delta), at), Some(step + delta));
        }
        for delta in [-2, 2] {
            let code = secret.code_at_step(step + delta);
            assert_eq!(secret.matching_step(&code, at), None, "{delta}");
        }
        assert_eq!(secret.matching_step("12345", at), None);
        assert_eq!(secret.matching_step("abcdef", at), None);
        assert_eq!(secret.matching_step("", at), None);
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for bytes in [&b""[..], b"f", b"fooba", b"foobar", b"12345678901234567890"] {
            assert_eq!(TotpSecret::from_base32(&base32(bytes)).unwrap().bytes(), bytes);
        }
        assert!(TotpSecret::from_base32("not base32!").is_none());
    }

    #[test]
    fn recovery_codes_are_grouped_and_typed_forgivingly() {
        let code = new_recovery_code().unwrap();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(recovery_code_digest(&code), recovery_code_digest(&code.to_lowercase().replace('-', " ")));
        assert_ne!(recovery_code_digest(&code), recovery_code_digest(&new_recovery_code().unwrap()));
    }

    #[test]
    fn the_secret_never_shows_in_debug_and_the_uri_names_the_account() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(format!("{secret:?}"), "TotpSecret(…)");
        let uri = secret.uri("a+b@example.com");
        assert!(
            uri.starts_with("otpauth://totp/oakallow:a%2Bb@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=oakallow"),
            "{uri}"
        );
    }
}
