//! Time: a UTC timestamp with microsecond precision and the injectable [`Clock`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time: microseconds since the Unix epoch, UTC. Stored as an integer in every backend.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// This time plus `seconds` (saturating).
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1_000_000)))
    }

    /// Parses RFC 3339 (any offset; converted to UTC).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let micros = parsed.unix_timestamp_nanos() / 1_000;
        i64::try_from(micros).ok().map(Self)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with exactly six fractional digits: `2026-11-28T02:12:30.123456Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = i128::from(self.0) * 1_000;
        match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            // Every check writes several timestamps (audit hash, response): digits by hand, not
            // through the formatting machinery's padding.
            Ok(t) if (0..=9999).contains(&t.year()) => {
                let mut out = *b"0000-00-00T00:00:00.000000Z";
                let mut put = |at: usize, width: usize, mut value: u32| {
                    for slot in out[at..at + width].iter_mut().rev() {
                        *slot = b'0' + (value % 10) as u8;
                        value /= 10;
                    }
                };
                put(0, 4, t.year().unsigned_abs());
                put(5, 2, u32::from(u8::from(t.month())));
                put(8, 2, u32::from(t.day()));
                put(11, 2, u32::from(t.hour()));
                put(14, 2, u32::from(t.minute()));
                put(17, 2, u32::from(t.second()));
                put(20, 6, t.microsecond());
                f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
            }
            Ok(t) => write_formatted(f, t),
            Err(_) => write!(f, "invalid-timestamp({})", self.0),
        }
    }
}

/// RFC 3339 through the formatting machinery: the path for years outside 0–9999, and the
/// reference the fast path is tested against.
fn write_formatted(f: &mut impl fmt::Write, t: OffsetDateTime) -> fmt::Result {
    write!(
        f,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 timestamp"))
    }
}

/// Where "now" comes from. Production uses [`SystemClock`]; tests move a [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let micros = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000;
        Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until a test moves it. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock set to `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.micros())))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds.saturating_mul(1_000_000), Ordering::SeqCst);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written digits agree with the formatting machinery over the whole range of
    /// four-digit years, including the edges of months, leap days and microseconds.
    #[test]
    fn fast_formatting_agrees_with_the_formatter() {
        let slow = |micros: i64| {
            let mut text = String::new();
            write_formatted(&mut text, OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).unwrap()).unwrap();
            text
        };
        let first = Timestamp::parse_rfc3339("0000-01-01T00:00:00Z").unwrap().micros();
        let last = Timestamp::parse_rfc3339("9999-12-31T23:59:59.999999Z").unwrap().micros();
        let mut micros = first;
        let mut step: i64 = 1;
        while micros <= last {
            assert_eq!(Timestamp(micros).to_string(), slow(micros), "{micros}");
            micros = micros.saturating_add(step);
            step = step.saturating_mul(3) % 9_876_543_210_987 + 1;
        }
        for edge in [first, last, 0, -1, 951_782_400_000_000 - 1, 951_782_400_000_000] {
            assert_eq!(Timestamp(edge).to_string(), slow(edge), "{edge}");
        }
    }

    #[test]
    fn formats_and_parses_rfc3339() {
        let t = Timestamp::from_micros(1_795_832_350_123_456);
        let text = t.to_string();
        assert_eq!(text, "2026-11-28T02:19:10.123456Z");
        assert_eq!(Timestamp::parse_rfc3339(&text), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("2026-11-28T03:19:10.123456+01:00"), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_micros(0));
        assert_eq!(clock.now().micros(), 0);
        clock.advance_seconds(60);
        assert_eq!(clock.now().unix_seconds(), 60);
    }
}
