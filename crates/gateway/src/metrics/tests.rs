use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Requests of `series` in the second `back` seconds before the snapshot's last one.
fn at_back(series: &SeriesSnapshot, back: usize) -> [u64; STATUS_CLASSES] {
    series.per_second[series.per_second.len() - 1 - back]
}

#[test]
fn status_classes() {
    let cases = [
        (100, 0),
        (204, 1),
        (301, 2),
        (404, 3),
        (429, 3),
        (503, 4),
        (0, 0),
        (999, 4),
    ];
    for (status, class) in cases {
        assert_eq!(status_class(status), class, "status {status}");
    }
}

#[test]
fn latency_buckets_are_ordered_and_bound_their_values() {
    assert_eq!(latency_bucket(Duration::ZERO), 0);
    assert_eq!(latency_bucket(Duration::from_micros(15)), 0);
    assert_eq!(latency_bucket(Duration::from_micros(16)), 1);
    assert_eq!(latency_bucket(secs(3600)), LATENCY_BUCKETS - 1);
    assert_eq!(latency_bucket(Duration::MAX), LATENCY_BUCKETS - 1);

    // Every latency from 1 µs to 40 s falls in a bucket whose bounds contain it, and the
    // buckets grow with the latency.
    let mut previous = 0;
    let mut us = 1u64;
    while us < 40_000_000 {
        let d = Duration::from_micros(us);
        let b = latency_bucket(d);
        assert!(b >= previous, "{us} µs went back to bucket {b}");
        previous = b;
        if b < LATENCY_BUCKETS - 1 {
            assert!(
                d < bucket_upper_bound(b),
                "{us} µs not below its bucket's bound"
            );
            if b > 0 {
                assert!(d >= bucket_upper_bound(b - 1), "{us} µs below its bucket");
            }
            // Four buckets per doubling: a bound is at most 25 % above its lower bound.
            if b > 0 {
                let lower = bucket_upper_bound(b - 1).as_micros();
                assert!(
                    bucket_upper_bound(b).as_micros() * 4 <= lower * 5,
                    "bucket {b}"
                );
            }
        }
        us = us * 9 / 8 + 1;
    }
    assert_eq!(previous, LATENCY_BUCKETS - 1);
}

#[test]
fn counts_land_in_their_second_and_class() {
    let origin = Instant::now();
    let m = Metrics::starting_at(["$default".to_string()], origin);
    let task = addr("127.0.1.1:8080");
    for _ in 0..3 {
        m.record_at(origin + ms(100), Some(0), Some(task), 200, ms(2));
    }
    m.record_at(origin + ms(900), None, None, 404, ms(1));
    m.record_at(origin + ms(1500), Some(0), Some(task), 503, ms(5));

    let snap = m.snapshot_at(origin + ms(1800));
    assert_eq!(snap.now_secs, 1);
    assert_eq!(snap.total.per_second.len(), WINDOW_SECS as usize);
    assert_eq!(at_back(&snap.total, 1), [0, 3, 0, 1, 0]);
    assert_eq!(at_back(&snap.total, 0), [0, 0, 0, 0, 1]);
    let (key, route) = &snap.routes[0];
    assert_eq!(key, "$default");
    assert_eq!(
        at_back(route, 1),
        [0, 3, 0, 0, 0],
        "the 404 matched no route"
    );
    assert_eq!(snap.instances.len(), 1);
    assert_eq!(snap.instances[0].0, task);
    assert_eq!(at_back(&snap.instances[0].1, 0), [0, 0, 0, 0, 1]);
}

#[test]
fn a_second_reused_after_a_window_starts_from_zero() {
    let origin = Instant::now();
    let m = Metrics::starting_at([], origin);
    m.record_at(origin + secs(5), None, None, 200, ms(1));
    m.record_at(origin + secs(5), None, None, 200, ms(1));
    // Same cell (5 + 300), one window later.
    m.record_at(origin + secs(5 + WINDOW_SECS), None, None, 200, ms(1));

    let snap = m.snapshot_at(origin + secs(5 + WINDOW_SECS));
    assert_eq!(at_back(&snap.total, 0), [0, 1, 0, 0, 0]);
    let total: u64 = snap.total.per_second.iter().map(|c| c[1]).sum();
    assert_eq!(total, 1, "the old second is out of the window");

    // A second nobody wrote to since reads as empty, whatever its cell holds.
    let later = m.snapshot_at(origin + secs(5 + 2 * WINDOW_SECS + 1));
    assert!(
        later
            .total
            .per_second
            .iter()
            .all(|c| c.iter().all(|&n| n == 0))
    );
}

#[test]
fn a_late_writer_does_not_count_in_a_newer_second() {
    let origin = Instant::now();
    let m = Metrics::starting_at([], origin);
    m.record_at(origin + secs(WINDOW_SECS + 7), None, None, 200, ms(1));
    // A request stamped a window earlier, landing in the same cell, is dropped.
    m.record_at(origin + secs(7), None, None, 500, ms(1));
    let snap = m.snapshot_at(origin + secs(WINDOW_SECS + 7));
    assert_eq!(at_back(&snap.total, 0), [0, 1, 0, 0, 0]);
}

#[test]
fn percentiles_per_latency_window() {
    let origin = Instant::now();
    let m = Metrics::starting_at([], origin);
    // Window 0: 98 fast requests, 2 slow ones.
    for i in 0..100 {
        let latency = if i < 98 { ms(3) } else { ms(700) };
        m.record_at(origin + secs(i % 10), None, None, 200, latency);
    }
    // Window 1: one request.
    m.record_at(origin + secs(12), None, None, 200, ms(40));

    let snap = m.snapshot_at(origin + secs(15));
    let windows = &snap.total.latency;
    assert_eq!(windows.len(), LATENCY_SLOTS as usize);
    let (w0, w1) = (windows[windows.len() - 2], windows[windows.len() - 1]);
    assert_eq!(w0.count, 100);
    let p50 = w0.p50.unwrap();
    assert!(p50 > ms(3) && p50 <= ms(3) * 5 / 4, "p50 {p50:?}");
    let p99 = w0.p99.unwrap();
    assert!(p99 > ms(700) && p99 <= ms(700) * 5 / 4, "p99 {p99:?}");
    assert_eq!(w1.count, 1);
    assert_eq!(w1.p50, w1.p99);
    assert!(windows[0].p50.is_none(), "no request that long ago");
}

#[test]
fn instances_get_slots_and_idle_ones_are_reused() {
    let origin = Instant::now();
    let m = Metrics::starting_at([], origin);
    for i in 0..INSTANCE_SLOTS {
        let a = SocketAddr::from(([127, 0, 1, i as u8], 8080));
        m.record_at(origin, None, Some(a), 200, ms(1));
    }
    assert_eq!(m.snapshot_at(origin).instances.len(), INSTANCE_SLOTS);

    // The table is full: a new instance is counted only once an old one has been idle
    // for a whole window.
    let newcomer = addr("127.0.2.1:8080");
    m.record_at(origin + secs(10), None, Some(newcomer), 200, ms(1));
    assert!(
        m.snapshot_at(origin + secs(10))
            .instances
            .iter()
            .all(|(a, _)| *a != newcomer)
    );

    let later = origin + secs(WINDOW_SECS + 1);
    m.record_at(later, None, Some(newcomer), 200, ms(1));
    let snap = m.snapshot_at(later);
    assert_eq!(snap.instances.len(), 1, "the idle ones left the window");
    assert_eq!(snap.instances[0].0, newcomer);
    let counted: u64 = snap.instances[0].1.per_second.iter().map(|c| c[1]).sum();
    assert_eq!(counted, 1, "the reused slot starts empty");
}

#[test]
fn ipv6_instances_count_in_the_total_only() {
    let origin = Instant::now();
    let m = Metrics::starting_at(["GET /".to_string()], origin);
    m.record_at(origin, Some(0), Some(addr("[::1]:8080")), 200, ms(1));
    let snap = m.snapshot_at(origin);
    assert!(snap.instances.is_empty());
    assert_eq!(at_back(&snap.total, 0)[1], 1);
    assert_eq!(at_back(&snap.routes[0].1, 0)[1], 1);
}

#[test]
fn concurrent_writers_lose_no_count() {
    let origin = Instant::now();
    let m = Arc::new(Metrics::starting_at(["$default".to_string()], origin));
    let task = addr("127.0.1.1:8080");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..10_000u64 {
                    // Every thread crosses the same second boundaries at once.
                    let at = origin + ms(i / 1000 * 1000 + t);
                    m.record_at(at, Some(0), Some(task), 200, Duration::from_micros(i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let snap = m.snapshot_at(origin + secs(9));
    for series in [&snap.total, &snap.routes[0].1, &snap.instances[0].1] {
        let per_second: Vec<u64> = series
            .per_second
            .iter()
            .rev()
            .take(10)
            .map(|c| c[1])
            .collect();
        assert_eq!(per_second, vec![4000; 10]);
        let in_windows: u64 = series.latency.iter().map(|w| w.count).sum();
        assert_eq!(in_windows, 40_000);
    }
}
