//! Wake on request (beyond AWS, issue #5): a hook through which the gateway tells the
//! scheduler about each request and, when a route's service has no instance, asks it
//! to start one and waits for it instead of answering 503 at once.
//!
//! The gateway knows nothing of tasks: whoever wires it (`albless up`) passes a
//! [`Wake`] implementation to [`Gateway::with_wake`](crate::Gateway::with_wake). Without
//! one, the gateway behaves as HTTP API does (§2.2, §6.4: no instance -> 503).
//!
//! Known limits: the request body is not buffered, so the wait happens before the body
//! is read (a client sending a large body waits with it); the wait ends as soon as the
//! registry has an instance, but a gateway with a discovery lag may see it later and
//! still answer 503.

use std::future::Future;
use std::pin::Pin;

/// The scheduler side of wake on request.
pub trait Wake: Send + Sync + 'static {
    /// A request for `service` arrived (keeps an idle service from being put to sleep).
    /// Called on every routed request: must be cheap and must not block.
    fn request(&self, service: &str);

    /// `service` has no instance: start one if it wakes on request, and resolve once
    /// one is registered or its wake timeout passed.
    fn wake<'a>(&'a self, service: &'a str) -> Pin<Box<dyn Future<Output = Woken> + Send + 'a>>;
}

/// How a wake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The service does not wake on request: answer as HTTP API does (503).
    NotApplicable,
    /// An instance is registered: choose again.
    Ready,
    /// The wake timeout passed first: 503 with `Retry-After`, never 502.
    TimedOut,
}

/// Seconds a client is told to wait (`Retry-After`) when a woken service was not ready
/// in time.
pub const RETRY_AFTER_SECS: u32 = 5;
