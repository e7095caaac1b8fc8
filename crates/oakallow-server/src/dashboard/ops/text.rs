//! How the operations pages write times and JSON for people.

use oakallow_domain::Timestamp;
use serde_json::Value;

/// `2026-11-28 02:12:30 UTC`: to the second, which is as precise as a person reads.
pub(super) fn time(at: Timestamp) -> String {
    let full = at.to_string();
    match (full.get(..10), full.get(11..19)) {
        (Some(date), Some(clock)) => format!("{date} {clock} UTC"),
        _ => full,
    }
}

/// A JSON value on one line, as compact as it is stored.
pub(super) fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_to_the_second_in_utc() {
        let at = Timestamp::parse_rfc3339("2026-11-28T02:12:30.123456Z").unwrap();
        assert_eq!(time(at), "2026-11-28 02:12:30 UTC");
    }
}
