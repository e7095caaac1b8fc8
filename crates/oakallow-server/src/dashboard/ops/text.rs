//! How the operations pages write times, money and JSON for people.

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

/// Micro-dollars as dollars: `$5.00`, `$0.005`, `-$0.015`; never rounded, so that a price of
/// half a cent reads as one.
pub(super) fn usd(micro: i64) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let micro = micro.unsigned_abs();
    let (dollars, fraction) = (micro / 1_000_000, micro % 1_000_000);
    let digits = format!("{fraction:06}");
    let cents = digits.trim_end_matches('0');
    let shown = if cents.len() < 2 { &digits[..2] } else { cents };
    format!("{sign}${dollars}.{shown}")
}

/// A JSON value on one line, as compact as it is stored.
pub(super) fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_keep_every_digit_that_matters() {
        assert_eq!(usd(5_000_000), "$5.00");
        assert_eq!(usd(5_000), "$0.005");
        assert_eq!(usd(-15_000), "-$0.015");
        assert_eq!(usd(1_230_000), "$1.23");
        assert_eq!(usd(1_200_001), "$1.200001");
        assert_eq!(usd(0), "$0.00");
    }

    #[test]
    fn times_read_to_the_second_in_utc() {
        let at = Timestamp::parse_rfc3339("2026-11-28T02:12:30.123456Z").unwrap();
        assert_eq!(time(at), "2026-11-28 02:12:30 UTC");
    }
}
