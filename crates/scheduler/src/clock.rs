//! The scheduler's one clock: waits use tokio's clock, and the wall-clock times it
//! reports (ECS `createdAt`, `startedAt`...) are derived from the same clock, so that
//! a test on a paused tokio clock sees consistent timestamps move with it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Maps tokio instants to Unix epoch seconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    origin_epoch: f64,
}

impl Clock {
    /// A clock anchored at the current tokio instant and wall-clock time.
    pub fn new() -> Clock {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Clock {
            origin: Instant::now(),
            origin_epoch: epoch.as_secs_f64(),
        }
    }

    /// Now, in tokio's clock.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Now, as Unix epoch seconds (millisecond precision, as ECS reports).
    pub fn epoch(&self) -> f64 {
        self.epoch_at(Instant::now())
    }

    /// The tokio instant of Unix epoch second `epoch` (now, if it is in the past).
    pub fn instant_at_epoch(&self, epoch: f64) -> Instant {
        let ahead = epoch - self.epoch();
        if ahead <= 0.0 {
            Instant::now()
        } else {
            Instant::now() + Duration::from_secs_f64(ahead)
        }
    }

    /// `at`, as Unix epoch seconds.
    pub fn epoch_at(&self, at: Instant) -> f64 {
        let secs = self.origin_epoch + at.saturating_duration_since(self.origin).as_secs_f64();
        (secs * 1000.0).round() / 1000.0
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
