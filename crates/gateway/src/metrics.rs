//! Live traffic metrics for the dashboard: requests per second by status class and
//! latency histograms, for the whole gateway, per route and per instance, over the last
//! [`WINDOW_SECS`] seconds.
//!
//! Recording is lock-free and allocation-free once an instance has its slot: each cell
//! is one `AtomicU64` holding a time tag (upper 32 bits: the second, or the latency
//! window, it counts for) and a count (lower 32 bits). A cell whose tag is current gets
//! one `fetch_add`; the first request of a new second resets it with a compare-and-swap.
//! A reader counts only cells whose tag matches the second it asks about, so nothing
//! ever sweeps old buckets. One request costs two such adds per series it lands in (its
//! status class and its latency bucket): at most three series (total, route, instance).
//!
//! Counts are per 1-second bucket over [`WINDOW_SECS`]; latencies are histograms in
//! [`LATENCY_BUCKETS`] log-scale buckets (four per doubling, from 16 µs to ~33 s) per
//! [`LATENCY_SLOT_SECS`]-second window. A percentile is reported as the upper bound of
//! the bucket it falls in, so it over-states by at most a fifth.
//!
//! The latency recorded is the gateway's time from the request's arrival to the
//! response head (the request span's `latency_ms`): the same instant the access log's
//! status is known, without waiting for a streamed body.
//!
//! Known limits: instances are tracked by IPv4 address and port only (tasks always
//! have one; an IPv6 instance counts in the total and its route only); at most
//! [`INSTANCE_SLOTS`] instances are tracked at once, a slot idle for a whole window
//! being reused; a writer stalled across a whole window's wrap-around may add one count
//! to the newer second, which a dashboard cannot tell apart.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;

/// How many seconds of history the metrics keep.
pub const WINDOW_SECS: u64 = 300;
/// How many seconds one latency histogram covers.
pub const LATENCY_SLOT_SECS: u64 = 10;
/// Latency windows kept (covering [`WINDOW_SECS`]).
pub const LATENCY_SLOTS: u64 = WINDOW_SECS / LATENCY_SLOT_SECS;
/// Buckets per doubling of latency.
const SUB_BUCKETS: u32 = 4;
/// log2 of the smallest bucketed latency, in µs (16 µs): below it, bucket 0.
const MIN_LOG2: u32 = 4;
/// log2 of the largest bucketed latency, in µs (~33.5 s, above HTTP API's 30 s
/// integration timeout): at or above it, the last bucket.
const MAX_LOG2: u32 = 25;
/// Latency buckets per histogram: one below 16 µs, four per doubling up to ~33.5 s,
/// one above.
pub const LATENCY_BUCKETS: usize = 2 + ((MAX_LOG2 - MIN_LOG2) * SUB_BUCKETS) as usize;
/// Instances tracked at once.
pub const INSTANCE_SLOTS: usize = 128;
/// Status classes counted: 1xx to 5xx.
pub const STATUS_CLASSES: usize = 5;

const COUNT_MASK: u64 = 0xffff_ffff;

/// The gateway's traffic counters. Shared (`Arc`) between the gateway, which records,
/// and readers such as the dashboard, which take snapshots.
pub struct Metrics {
    origin: Instant,
    total: Series,
    routes: Box<[(String, Series)]>,
    instances: Box<[InstanceSlot]>,
}

/// What a snapshot holds for one series (the total, a route or an instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSnapshot {
    /// Requests per second by status class (`[1xx, 2xx, 3xx, 4xx, 5xx]`), oldest
    /// first, [`WINDOW_SECS`] entries; the last is the current, still partial, second.
    pub per_second: Vec<[u64; STATUS_CLASSES]>,
    /// Latency per [`LATENCY_SLOT_SECS`]-second window, oldest first,
    /// [`LATENCY_SLOTS`] entries; the last is the current, partial, window.
    pub latency: Vec<LatencyWindow>,
}

/// One latency window's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyWindow {
    /// Requests in the window.
    pub count: u64,
    /// Median latency (upper bound of its bucket); `None` without requests.
    pub p50: Option<Duration>,
    /// 99th percentile latency (upper bound of its bucket); `None` without requests.
    pub p99: Option<Duration>,
}

/// Every series at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Seconds since the metrics were created, the second the last entries cover.
    pub now_secs: u64,
    /// Every request the gateway answered, routed or not.
    pub total: SeriesSnapshot,
    /// Per route, by route key, in the order the gateway was configured with.
    pub routes: Vec<(String, SeriesSnapshot)>,
    /// Per instance with a request in the window, by address.
    pub instances: Vec<(SocketAddr, SeriesSnapshot)>,
}

impl Metrics {
    /// Counters for a gateway with `route_keys` (index `i` is route `i`), starting now.
    pub fn new(route_keys: impl IntoIterator<Item = String>) -> Metrics {
        Metrics::starting_at(route_keys, Instant::now())
    }

    /// Counters whose second 0 starts at `origin`.
    pub fn starting_at(route_keys: impl IntoIterator<Item = String>, origin: Instant) -> Metrics {
        Metrics {
            origin,
            total: Series::new(),
            routes: route_keys.into_iter().map(|k| (k, Series::new())).collect(),
            instances: (0..INSTANCE_SLOTS)
                .map(|_| InstanceSlot::default())
                .collect(),
        }
    }

    /// Records one answered request, now: the index of the route it matched (if any),
    /// the instance that answered (if any), its status and latency.
    pub fn record(
        &self,
        route: Option<usize>,
        instance: Option<SocketAddr>,
        status: u16,
        latency: Duration,
    ) {
        self.record_at(Instant::now(), route, instance, status, latency);
    }

    /// [`Metrics::record`] at instant `at`.
    pub fn record_at(
        &self,
        at: Instant,
        route: Option<usize>,
        instance: Option<SocketAddr>,
        status: u16,
        latency: Duration,
    ) {
        let sec = self.second(at);
        let class = status_class(status);
        let bucket = latency_bucket(latency);
        self.total.add(sec, class, bucket);
        if let Some((_, series)) = route.and_then(|i| self.routes.get(i)) {
            series.add(sec, class, bucket);
        }
        if let Some(series) = instance.and_then(|a| self.instance(a, sec)) {
            series.add(sec, class, bucket);
        }
    }

    /// Every series, now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.snapshot_at(Instant::now())
    }

    /// Every series at instant `at`.
    pub fn snapshot_at(&self, at: Instant) -> MetricsSnapshot {
        let sec = self.second(at);
        let instances = self
            .instances
            .iter()
            .filter(|slot| slot.last.load(Relaxed) + WINDOW_SECS > sec)
            .filter_map(|slot| {
                let addr = decode(slot.key.load(Relaxed))?;
                Some((addr, slot.series.get()?.snapshot(sec)))
            })
            .collect();
        MetricsSnapshot {
            now_secs: sec,
            total: self.total.snapshot(sec),
            routes: self
                .routes
                .iter()
                .map(|(key, s)| (key.clone(), s.snapshot(sec)))
                .collect(),
            instances,
        }
    }

    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_secs()
    }

    /// The series of `addr`, claiming a slot for it if it has none: open addressing
    /// with linear probing; a slot, once claimed, never becomes empty again, so a probe
    /// ends at the key or at the first empty slot. A full table reuses a slot idle for
    /// a whole window.
    fn instance(&self, addr: SocketAddr, sec: u64) -> Option<&Series> {
        let key = encode(addr)?;
        let start = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57) as usize % INSTANCE_SLOTS;
        for i in 0..INSTANCE_SLOTS {
            let slot = &self.instances[(start + i) % INSTANCE_SLOTS];
            let current = slot.key.load(Relaxed);
            if current == key {
                return Some(slot.touch(sec));
            }
            if current == 0 {
                match slot.key.compare_exchange(0, key, Relaxed, Relaxed) {
                    Ok(_) => return Some(slot.touch(sec)),
                    Err(other) if other == key => return Some(slot.touch(sec)),
                    Err(_) => continue,
                }
            }
        }
        // Full: take over a slot nobody used for a window (its cells' tags are all
        // older than any second a reader asks about, so it reads as empty).
        for slot in self.instances.iter() {
            let current = slot.key.load(Relaxed);
            if slot.last.load(Relaxed) + WINDOW_SECS <= sec
                && slot
                    .key
                    .compare_exchange(current, key, Relaxed, Relaxed)
                    .is_ok()
            {
                return Some(slot.touch(sec));
            }
        }
        None
    }
}

/// One instance's slot: its encoded address (0: free), the last second it counted a
/// request, and its series, allocated when first claimed.
#[derive(Default)]
struct InstanceSlot {
    key: AtomicU64,
    last: AtomicU64,
    series: OnceLock<Box<Series>>,
}

impl InstanceSlot {
    fn touch(&self, sec: u64) -> &Series {
        // A load first: most requests find the second already noted.
        if self.last.load(Relaxed) < sec {
            self.last.fetch_max(sec, Relaxed);
        }
        self.series.get_or_init(|| Box::new(Series::new()))
    }
}

/// One series: per-second counts by status class and per-window latency histograms.
struct Series {
    counts: Box<[[AtomicU64; STATUS_CLASSES]]>,
    latency: Box<[[AtomicU64; LATENCY_BUCKETS]]>,
}

impl Series {
    fn new() -> Series {
        Series {
            counts: (0..WINDOW_SECS)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            latency: (0..LATENCY_SLOTS)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        }
    }

    fn add(&self, sec: u64, class: usize, bucket: usize) {
        bump(&self.counts[(sec % WINDOW_SECS) as usize][class], sec);
        let window = sec / LATENCY_SLOT_SECS;
        bump(
            &self.latency[(window % LATENCY_SLOTS) as usize][bucket],
            window,
        );
    }

    fn snapshot(&self, sec: u64) -> SeriesSnapshot {
        let per_second = (0..WINDOW_SECS)
            .map(|back| {
                let Some(s) = sec.checked_sub(WINDOW_SECS - 1 - back) else {
                    return [0; STATUS_CLASSES];
                };
                let cells = &self.counts[(s % WINDOW_SECS) as usize];
                std::array::from_fn(|c| read(&cells[c], s))
            })
            .collect();
        let now_window = sec / LATENCY_SLOT_SECS;
        let latency = (0..LATENCY_SLOTS)
            .map(|back| {
                let Some(w) = now_window.checked_sub(LATENCY_SLOTS - 1 - back) else {
                    return LatencyWindow::default();
                };
                let cells = &self.latency[(w % LATENCY_SLOTS) as usize];
                let histogram: [u64; LATENCY_BUCKETS] = std::array::from_fn(|b| read(&cells[b], w));
                summarize(&histogram)
            })
            .collect();
        SeriesSnapshot {
            per_second,
            latency,
        }
    }
}

/// Adds one to `cell` for time tag `tag`, resetting it first if it holds an older tag.
fn bump(cell: &AtomicU64, tag: u64) {
    let tagged = (tag & COUNT_MASK) << 32;
    let mut current = cell.load(Relaxed);
    // The common case: the cell already counts for this tag.
    if current & !COUNT_MASK == tagged {
        cell.fetch_add(1, Relaxed);
        return;
    }
    loop {
        let held = current >> 32;
        let next = if held == tag & COUNT_MASK {
            current + 1
        } else if held > tag & COUNT_MASK {
            // A newer second already owns the cell: this request came in late; drop it
            // rather than count it in the wrong second.
            return;
        } else {
            tagged | 1
        };
        match cell.compare_exchange_weak(current, next, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

/// The count `cell` holds for `tag` (0 if it holds another tag).
fn read(cell: &AtomicU64, tag: u64) -> u64 {
    let v = cell.load(Relaxed);
    if v >> 32 == tag & COUNT_MASK {
        v & COUNT_MASK
    } else {
        0
    }
}

/// Index of a status's class: 0 for 1xx (and anything below), 4 for 5xx (and above).
pub fn status_class(status: u16) -> usize {
    usize::from(status / 100).clamp(1, STATUS_CLASSES) - 1
}

/// The histogram bucket of `latency` (see the module docs for the scale).
pub fn latency_bucket(latency: Duration) -> usize {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    if us < 1 << MIN_LOG2 {
        return 0;
    }
    let log = 63 - us.leading_zeros();
    if log >= MAX_LOG2 {
        return LATENCY_BUCKETS - 1;
    }
    // The two bits after the leading one pick the quarter of the doubling.
    let sub = ((us >> (log - 2)) & 3) as usize;
    1 + ((log - MIN_LOG2) * SUB_BUCKETS) as usize + sub
}

/// The exclusive upper bound of bucket `bucket` (the last bucket has none: its lower
/// bound, ~33.5 s, is returned).
pub fn bucket_upper_bound(bucket: usize) -> Duration {
    if bucket == 0 {
        return Duration::from_micros(1 << MIN_LOG2);
    }
    if bucket >= LATENCY_BUCKETS - 1 {
        return Duration::from_micros(1 << MAX_LOG2);
    }
    let i = (bucket - 1) as u32;
    let log = MIN_LOG2 + i / SUB_BUCKETS;
    let sub = u64::from(i % SUB_BUCKETS);
    Duration::from_micros((5 + sub) << (log - 2))
}

/// Count and percentiles of one histogram.
fn summarize(histogram: &[u64; LATENCY_BUCKETS]) -> LatencyWindow {
    let count: u64 = histogram.iter().sum();
    if count == 0 {
        return LatencyWindow::default();
    }
    LatencyWindow {
        count,
        p50: Some(percentile(histogram, count, 50)),
        p99: Some(percentile(histogram, count, 99)),
    }
}

/// The upper bound of the bucket holding the `pct`-th percentile (nearest rank).
fn percentile(histogram: &[u64; LATENCY_BUCKETS], count: u64, pct: u64) -> Duration {
    let rank = (count * pct).div_ceil(100).max(1);
    let mut seen = 0;
    for (bucket, n) in histogram.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return bucket_upper_bound(bucket);
        }
    }
    bucket_upper_bound(LATENCY_BUCKETS - 1)
}

/// An IPv4 instance address as a non-zero key: a marker bit, the address, the port.
fn encode(addr: SocketAddr) -> Option<u64> {
    match addr.ip() {
        IpAddr::V4(ip) => Some(1 << 48 | u64::from(u32::from(ip)) << 16 | u64::from(addr.port())),
        IpAddr::V6(_) => None,
    }
}

fn decode(key: u64) -> Option<SocketAddr> {
    if key >> 48 != 1 {
        return None;
    }
    let ip = std::net::Ipv4Addr::from(((key >> 16) & 0xffff_ffff) as u32);
    Some(SocketAddr::new(IpAddr::V4(ip), (key & 0xffff) as u16))
}

#[cfg(test)]
mod tests;
