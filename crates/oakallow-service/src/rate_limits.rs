//! Rate limits (PRODUCT.md §14: 429 `rate_limited` with `Retry-After`), so that no key or org
//! can take the server from the others. Every authenticated request spends from its key's and
//! its org's buckets before any work is done; lookups of keys this node has not cached yet (one
//! database query each, the cost of a flood of made-up keys) spend from one bucket per node;
//! each key may hold only so many long-polls open at once, and each org only so many exports
//! of its activity (each one reads the whole trail). Limits are per node.
//!
//! The buckets are the generic cell rate algorithm: each holds only the theoretical arrival
//! time of its next request, which moves one interval (1 / rate) forward per admitted request;
//! a request is admitted while that time is less than a burst ahead of now. Time comes from the
//! service's clock, so tests can stand it still.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use oakallow_domain::Timestamp;
use oakallow_domain::id::{KeyId, OrgId};

use crate::error::{ServiceError, ServiceResult};

/// Buckets kept before full ones (those with nothing to remember) are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// How many requests per second, and how many at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second; 0 turns the limit off.
    pub per_second: u32,
    /// Requests that may come at once (at least 1).
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const OFF: Self = Self { per_second: 0, burst: 0 };

    /// Microseconds between requests at the sustained rate, and how far ahead of now the next
    /// arrival time may run; `None` when off.
    fn cell(self) -> Option<(i64, i64)> {
        if self.per_second == 0 {
            return None;
        }
        let interval = (1_000_000 / i64::from(self.per_second)).max(1);
        Some((interval, interval * i64::from(self.burst.max(1) - 1)))
    }
}

/// The rate limits a service enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests of one key.
    pub per_key: Rate,
    /// Requests of all the keys of one org together.
    pub per_org: Rate,
    /// Database lookups of keys this node has not cached.
    pub key_lookups: Rate,
    /// Long-polls one key may hold open at once; 0: no limit.
    pub long_polls_per_key: u32,
    /// Activity exports one org may run at once; 0: no limit.
    pub exports_per_org: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_key: Rate { per_second: 500, burst: 1000 },
            per_org: Rate { per_second: 2000, burst: 4000 },
            key_lookups: Rate { per_second: 1000, burst: 1000 },
            long_polls_per_key: 128,
            exports_per_org: 2,
        }
    }
}

impl RateLimitConfig {
    /// No limits at all (benchmarks).
    pub fn off() -> Self {
        Self { per_key: Rate::OFF, per_org: Rate::OFF, key_lookups: Rate::OFF, long_polls_per_key: 0, exports_per_org: 0 }
    }
}

/// A map on the hot path of every request; its keys are ids the server made, so a fast hash
/// (seeded per process) is safe.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Next arrival times, in microseconds.
#[derive(Default)]
struct Buckets {
    keys: FastMap<KeyId, i64>,
    orgs: FastMap<OrgId, i64>,
    lookups: i64,
}

/// The limits' state on this node.
pub(crate) struct RateLimits {
    config: RateLimitConfig,
    buckets: Mutex<Buckets>,
    long_polls: Holders<KeyId>,
    exports: Holders<OrgId>,
}

/// How many of something (long-polls, exports) each key or org holds at once.
struct Holders<K> {
    limit: u32,
    held: Arc<Mutex<HashMap<K, u32>>>,
}

impl<K: Hash + Eq + Copy> Holders<K> {
    fn new(limit: u32) -> Self {
        Self { limit, held: Arc::default() }
    }

    /// One more for `id`, given back when the permit is dropped; 429 at the limit.
    fn take(&self, id: K) -> ServiceResult<Permit<K>> {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = held.entry(id).or_insert(0);
        if self.limit > 0 && *count >= self.limit {
            return Err(ServiceError::RateLimited { retry_after_seconds: 1 });
        }
        *count += 1;
        Ok(Permit { id, held: Arc::clone(&self.held) })
    }
}

/// One long-poll's or export's place; given back when dropped.
pub(crate) struct Permit<K: Hash + Eq + Copy> {
    id: K,
    held: Arc<Mutex<HashMap<K, u32>>>,
}

impl<K: Hash + Eq + Copy> Drop for Permit<K> {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.id) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.id);
            }
        }
    }
}

/// What a full bucket asks a caller to wait, in microseconds.
struct Wait(i64);

/// Admits a request at `now` into `bucket` (its next arrival time) at `rate`, answering the
/// bucket's new next arrival time; or how long to wait.
fn admit(rate: Rate, bucket: i64, now: i64) -> Result<i64, Wait> {
    let Some((interval, tolerance)) = rate.cell() else { return Ok(bucket) };
    let next = bucket.max(now);
    if next - now > tolerance {
        return Err(Wait(next - tolerance - now));
    }
    Ok(next + interval)
}

impl Wait {
    fn refusal(self) -> ServiceError {
        let seconds = u64::try_from(self.0).unwrap_or(0).div_ceil(1_000_000).max(1);
        ServiceError::RateLimited { retry_after_seconds: seconds }
    }
}

impl RateLimits {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        let (long_polls, exports) = (Holders::new(config.long_polls_per_key), Holders::new(config.exports_per_org));
        Self { config, buckets: Mutex::new(Buckets::default()), long_polls, exports }
    }

    fn buckets(&self) -> MutexGuard<'_, Buckets> {
        // Plain numbers that every step leaves consistent, whatever panicked elsewhere.
        self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Spends one request of `key` and of its `org`, or answers 429 (spending nothing).
    pub(crate) fn admit_request(&self, key: KeyId, org: OrgId, now: Timestamp) -> ServiceResult<()> {
        let now = now.micros();
        let mut guard = self.buckets();
        let buckets = &mut *guard;
        if buckets.keys.len() > PRUNE_ABOVE || buckets.orgs.len() > PRUNE_ABOVE {
            buckets.keys.retain(|_, next| *next > now);
            buckets.orgs.retain(|_, next| *next > now);
        }
        let key_bucket = buckets.keys.entry(key).or_insert(now);
        let org_bucket = buckets.orgs.entry(org).or_insert(now);
        let key_next = admit(self.config.per_key, *key_bucket, now).map_err(Wait::refusal)?;
        *org_bucket = admit(self.config.per_org, *org_bucket, now).map_err(Wait::refusal)?;
        *key_bucket = key_next;
        Ok(())
    }

    /// Spends one lookup of a key this node has not cached, or answers 429.
    pub(crate) fn admit_lookup(&self, now: Timestamp) -> ServiceResult<()> {
        let mut buckets = self.buckets();
        buckets.lookups = admit(self.config.key_lookups, buckets.lookups, now.micros()).map_err(Wait::refusal)?;
        Ok(())
    }

    /// A place for one more long-poll of `key`, held until the permit is dropped; 429 if the
    /// key holds as many as it may.
    pub(crate) fn long_poll(&self, key: KeyId) -> ServiceResult<Permit<KeyId>> {
        self.long_polls.take(key)
    }

    /// A place for one more export of `org`'s activity, held until the permit is dropped; 429
    /// if the org runs as many as it may.
    pub(crate) fn export(&self, org: OrgId) -> ServiceResult<Permit<OrgId>> {
        self.exports.take(org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    /// Requests admitted at `now` in a row, until the first refusal; and that refusal's wait.
    fn admitted_in_a_row(rate: Rate, bucket: &mut i64, now: i64) -> (u32, i64) {
        let mut admitted = 0;
        loop {
            match admit(rate, *bucket, now) {
                Ok(next) => {
                    *bucket = next;
                    admitted += 1;
                }
                Err(Wait(wait)) => return (admitted, wait),
            }
        }
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let rate = Rate { per_second: 10, burst: 5 };
        let mut bucket = 0;
        assert_eq!(admitted_in_a_row(rate, &mut bucket, 0), (5, SECOND / 10), "a burst of 5, then one every 100 ms");
        assert_eq!(admitted_in_a_row(rate, &mut bucket, SECOND / 10), (1, SECOND / 10));
        assert_eq!(admitted_in_a_row(rate, &mut bucket, 10 * SECOND), (5, SECOND / 10), "a rested bucket is full again");
        assert!(Rate::OFF.cell().is_none());
        assert_eq!(admit(Rate::OFF, 0, 0).ok(), Some(0), "off admits everything");
    }

    #[test]
    fn a_key_is_refused_with_a_retry_time_and_another_org_is_not() {
        let limits = RateLimits::new(RateLimitConfig { per_key: Rate { per_second: 1, burst: 2 }, ..RateLimitConfig::default() });
        let (key, org, other_key, other_org) = (KeyId::generate(), OrgId::generate(), KeyId::generate(), OrgId::generate());
        let now = Timestamp::from_micros(0);
        assert!(limits.admit_request(key, org, now).is_ok());
        assert!(limits.admit_request(key, org, now).is_ok());
        assert_eq!(limits.admit_request(key, org, now), Err(ServiceError::RateLimited { retry_after_seconds: 1 }));
        assert!(limits.admit_request(other_key, other_org, now).is_ok());
    }

    #[test]
    fn long_polls_are_capped_per_key_and_given_back() {
        let limits = RateLimits::new(RateLimitConfig { long_polls_per_key: 2, ..RateLimitConfig::default() });
        let key = KeyId::generate();
        let first = limits.long_poll(key).unwrap();
        let _second = limits.long_poll(key).unwrap();
        assert!(limits.long_poll(key).is_err());
        assert!(limits.long_poll(KeyId::generate()).is_ok(), "another key has its own");
        drop(first);
        assert!(limits.long_poll(key).is_ok());
    }
}
