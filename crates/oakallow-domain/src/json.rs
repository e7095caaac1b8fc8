//! JSON as the API accepts it: the limits every accepted value keeps, so that what is accepted
//! is exactly what both stores keep, what the audit chain hashes, and what every client reads.

/// The largest integer every JSON client reads exactly (2^53 − 1, JavaScript's
/// `Number.MAX_SAFE_INTEGER`); integer fields of the API (durations) are bounded by it, which
/// also keeps them well inside the stores' signed 64-bit columns.
pub const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;
