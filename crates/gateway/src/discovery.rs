//! The gateway's view of the instances: the registry's snapshot, optionally seen late,
//! and the passive health state of each instance.
//!
//! **Discovery lag** (aws-behavior.md §2.2, §6.2): API Gateway caches what Cloud Map
//! returns for an unpublished time, so it keeps sending requests to a deregistered task
//! for a while (I-1639). With a lag set, a task copies each registry snapshot into the
//! gateway's own `arc-swap` cell `lag` after it was published; the hot path loads that
//! cell, lock-free, exactly as it would load the registry's. With no lag the registry is
//! read directly (the local default, §6.2's `0` for deterministic runs).
//!
//! **Passive health** (beyond AWS, opt-in): after `consecutive_failures` failed attempts
//! in a row (connection errors, timeouts) an instance is skipped for `eject`. If every
//! instance is ejected they are all used again (as Envoy's panic threshold does), since
//! a guess beats a certain 503. Instance states live in a copy-on-write map that only a
//! failure writes; a success resets its instance's counter only if it was not 0.
//!
//! Known limits: the lag delays each snapshot by the same amount, so it reproduces a
//! cache of fixed age, not AWS's unknown refresh schedule; states of instances that went
//! away are kept (a few bytes each) until the gateway stops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use albless_registry::{Registry, Snapshot};
use albless_spec::Outlier;
use arc_swap::ArcSwap;
use rand::Rng;
use tokio::time::Instant;

/// Where the gateway reads instances from.
pub(crate) struct Discovery {
    registry: Registry,
    /// The delayed copy, when a lag is set.
    lagged: Option<Arc<ArcSwap<Snapshot>>>,
    lag: Duration,
}

impl Discovery {
    /// A view of `registry` that trails it by `lag`.
    pub(crate) fn new(registry: Registry, lag: Duration) -> Discovery {
        let lagged = (!lag.is_zero()).then(|| Arc::new(ArcSwap::new(registry.snapshot())));
        Discovery {
            registry,
            lagged,
            lag,
        }
    }

    /// The snapshot the gateway routes by now: a lock-free load.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        match &self.lagged {
            Some(cell) => cell.load_full(),
            None => self.registry.snapshot(),
        }
    }

    /// The task that feeds the delayed copy, if a lag is set; it runs until aborted.
    pub(crate) fn follower(&self) -> Option<impl Future<Output = ()> + Send + 'static> {
        let cell = self.lagged.clone()?;
        let registry = self.registry.clone();
        let lag = self.lag;
        Some(async move {
            let mut changes = registry.changes();
            let mut queue = std::collections::VecDeque::new();
            // What the registry holds when serving starts is also seen `lag` later.
            queue.push_back((Instant::now() + lag, registry.snapshot()));
            loop {
                let next = queue.front().map(|(at, _)| *at);
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        queue.push_back((Instant::now() + lag, registry.snapshot()));
                    }
                    () = sleep_until(next) => {
                        if let Some((_, snapshot)) = queue.pop_front() {
                            cell.store(snapshot);
                        }
                    }
                }
            }
        })
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Passive health: consecutive failures and ejections per instance.
pub(crate) struct Outliers {
    threshold: u32,
    eject: Duration,
    base: Instant,
    states: ArcSwap<HashMap<SocketAddr, Arc<State>>>,
}

#[derive(Default)]
struct State {
    failures: AtomicU32,
    /// Nanoseconds since `base` until which the instance is ejected; 0 when it is not.
    ejected_until: AtomicU64,
}

impl Outliers {
    /// Passive health as `config` sets it.
    pub(crate) fn new(config: Outlier) -> Outliers {
        Outliers {
            threshold: config.consecutive_failures.max(1),
            eject: config.eject,
            base: Instant::now(),
            states: ArcSwap::default(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether `addr` is ejected now.
    pub(crate) fn is_ejected(&self, addr: SocketAddr) -> bool {
        let states = self.states.load();
        states.get(&addr).is_some_and(|s| {
            let until = s.ejected_until.load(Ordering::Relaxed);
            until != 0 && until > self.now()
        })
    }

    /// Records an answered request.
    pub(crate) fn success(&self, addr: SocketAddr) {
        let states = self.states.load();
        if let Some(state) = states.get(&addr)
            && state.failures.load(Ordering::Relaxed) != 0
        {
            state.failures.store(0, Ordering::Relaxed);
        }
    }

    /// Records a failed attempt; ejects the instance when that makes `threshold` in a row.
    pub(crate) fn failure(&self, addr: SocketAddr) {
        let state = {
            let states = self.states.load();
            states.get(&addr).cloned()
        };
        let state = state.unwrap_or_else(|| {
            let mut created = None;
            self.states.rcu(|map| {
                let mut map = HashMap::clone(map);
                let state = map.entry(addr).or_default().clone();
                created = Some(state);
                map
            });
            created.unwrap_or_default()
        });
        let failures = state.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.threshold {
            state.failures.store(0, Ordering::Relaxed);
            let until = self
                .now()
                .saturating_add(u64::try_from(self.eject.as_nanos()).unwrap_or(u64::MAX));
            state.ejected_until.store(until, Ordering::Relaxed);
            tracing::info!(instance = %addr, eject_ms = self.eject.as_millis(), "instance ejected");
        }
    }
}

/// One of `routable`, uniformly at random among those `allowed` accepts: API Gateway's
/// choice among the instances DiscoverInstances returns is undocumented, and §2.1/§6.1
/// suggest uniform random.
pub(crate) fn pick(
    routable: &[SocketAddr],
    allowed: impl Fn(SocketAddr) -> bool,
) -> Option<SocketAddr> {
    match routable {
        [] => None,
        [only] => allowed(*only).then_some(*only),
        all => {
            let first = all[rand::rng().random_range(0..all.len())];
            if allowed(first) {
                return Some(first);
            }
            let n = all.iter().filter(|a| allowed(**a)).count();
            if n == 0 {
                return None;
            }
            let k = rand::rng().random_range(0..n);
            all.iter().copied().filter(|a| allowed(*a)).nth(k)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_spreads_over_every_allowed_instance() {
        let all: Vec<SocketAddr> = (1..=3)
            .map(|i| SocketAddr::from(([127, 0, 0, i], 80)))
            .collect();
        assert_eq!(pick(&[], |_| true), None);
        assert_eq!(pick(&all[..1], |_| true), Some(all[0]));
        assert_eq!(pick(&all[..1], |_| false), None);
        let mut counts = [0u32; 3];
        for _ in 0..3000 {
            let got = pick(&all, |a| a != all[1]).unwrap();
            counts[all.iter().position(|a| *a == got).unwrap()] += 1;
        }
        // Each allowed one expects 1500; below 1300 is over 7 standard deviations away.
        assert_eq!(counts[1], 0);
        assert!(counts[0] > 1300 && counts[2] > 1300, "{counts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn ejection_lasts_its_time() {
        let outliers = Outliers::new(Outlier {
            consecutive_failures: 2,
            eject: Duration::from_secs(10),
        });
        let a = SocketAddr::from(([127, 0, 0, 1], 80));
        outliers.failure(a);
        outliers.success(a);
        outliers.failure(a);
        assert!(!outliers.is_ejected(a), "a success resets the count");
        outliers.failure(a);
        assert!(outliers.is_ejected(a));
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert!(outliers.is_ejected(a));
        tokio::time::advance(Duration::from_millis(2)).await;
        assert!(!outliers.is_ejected(a));
    }
}
