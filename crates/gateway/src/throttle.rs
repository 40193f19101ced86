//! Token-bucket throttling per route (aws-behavior.md §1.5, §6.15): each route has its
//! own bucket, sized by the route's `throttle` or else the API's default one, the way a
//! stage's `routeSettings` override its `defaultRouteSettings`. A request that finds the
//! bucket empty is answered 429 `{"message":"Too Many Requests"}`.
//!
//! The bucket is kept as the generic cell rate algorithm, which admits exactly what a
//! token bucket of `burst` tokens refilled at `rate` per second admits, in one atomic
//! word: the "theoretical arrival time" of the next request. Checking it is a load and a
//! compare-and-swap, no lock, so throttled routes cost the hot path next to nothing.
//!
//! Known limits: the account-level limit (10,000 rps, burst 5,000) is not applied; AWS
//! calls its limits "targets, not guarantees", while this one is exact.

use std::sync::atomic::{AtomicU64, Ordering};

use albless_spec::Throttle;
use tokio::time::Instant;

/// One route's bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Nanoseconds between two tokens: `1e9 / rate`.
    interval: u64,
    /// How far ahead of now the theoretical arrival time may run: `(burst - 1) * interval`.
    /// `None` when the burst is 0, which rejects everything.
    tolerance: Option<u64>,
    /// Nanoseconds since `base` at which the bucket is full again.
    tat: AtomicU64,
    /// The clock's origin for `tat`.
    base: Instant,
}

impl Bucket {
    /// A full bucket for `limit`. A rate of 0 or below never refills: the bucket then
    /// admits `burst` requests in all (AWS's rate is a positive double; the spec rejects
    /// 0, so this only guards arithmetic).
    pub(crate) fn new(limit: Throttle, base: Instant) -> Bucket {
        let interval = if limit.rate > 0.0 && limit.rate.is_finite() {
            // At least 1 ns, so a huge rate still counts requests.
            ((1e9 / limit.rate) as u64).max(1)
        } else {
            u64::MAX / 2
        };
        let tolerance = limit
            .burst
            .checked_sub(1)
            .map(|b| interval.saturating_mul(u64::from(b)));
        Bucket {
            interval,
            tolerance,
            tat: AtomicU64::new(0),
            base,
        }
    }

    /// Takes a token if one is left; `false` means throttled.
    pub(crate) fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }

    fn try_acquire_at(&self, now: Instant) -> bool {
        let Some(tolerance) = self.tolerance else {
            return false;
        };
        let now = u64::try_from(now.duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > tolerance {
                return false;
            }
            match self.tat.compare_exchange_weak(
                tat,
                start.saturating_add(self.interval),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn admitted(bucket: &Bucket, at: Instant, n: u32) -> u32 {
        (0..n).filter(|_| bucket.try_acquire_at(at)).count() as u32
    }

    #[test]
    fn a_full_bucket_admits_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let bucket = Bucket::new(
            Throttle {
                rate: 10.0,
                burst: 5,
            },
            t0,
        );
        // Five at once, then nothing until a token comes back.
        assert_eq!(admitted(&bucket, t0, 20), 5);
        assert_eq!(admitted(&bucket, t0 + Duration::from_millis(99), 5), 0);
        assert_eq!(admitted(&bucket, t0 + Duration::from_millis(100), 5), 1);
        // One second later the bucket holds 5 again (10 tokens came, 5 fit).
        assert_eq!(admitted(&bucket, t0 + Duration::from_secs(2), 20), 5);
    }

    #[test]
    fn burst_zero_rejects_everything() {
        let t0 = Instant::now();
        let bucket = Bucket::new(
            Throttle {
                rate: 1000.0,
                burst: 0,
            },
            t0,
        );
        assert_eq!(admitted(&bucket, t0 + Duration::from_secs(5), 10), 0);
    }

    #[test]
    fn burst_one_is_a_strict_rate() {
        let t0 = Instant::now();
        let bucket = Bucket::new(
            Throttle {
                rate: 2.0,
                burst: 1,
            },
            t0,
        );
        let got: Vec<u32> = (0..6)
            .map(|i| admitted(&bucket, t0 + Duration::from_millis(250 * i), 3))
            .collect();
        assert_eq!(got, [1, 0, 1, 0, 1, 0]);
    }
}
