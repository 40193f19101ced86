//! The bodies the gateway passes on: the client's request body on its way to an
//! instance, counted against HTTP API's 10 MB payload limit, and the response body on
//! its way to the client, counted for the access log, which writes the request's line
//! when the response body is done (or dropped).
//!
//! Both stream frame by frame; neither is buffered. An instance's response body also
//! holds the pooled connection it arrives on, and gives it back to the pool when the
//! body has been read to its end (see `pool`).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::access_log::PendingLine;
use crate::pool::Lease;

/// A boxed body error.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// HTTP API's payload limit: 10 MB, counted as 10 × 2^20 bytes, the number AWS prints
/// when it refuses one (`HTTP content length exceeded 10485760 bytes.`, §1.5, I-LGTM10).
pub(crate) const MAX_PAYLOAD: u64 = 10 * 1024 * 1024;

/// The request body sent to an instance.
#[derive(Debug)]
pub(crate) struct UpstreamBody {
    /// `None` for an empty body (a retried request has none).
    inner: Option<Incoming>,
    seen: u64,
}

/// A request body grew past [`MAX_PAYLOAD`] while it streamed.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {MAX_PAYLOAD} bytes")]
pub(crate) struct PayloadTooLarge;

impl UpstreamBody {
    /// The client's body, limited.
    pub(crate) fn new(body: Incoming) -> UpstreamBody {
        UpstreamBody {
            inner: Some(body),
            seen: 0,
        }
    }

    /// No body.
    pub(crate) fn empty() -> UpstreamBody {
        UpstreamBody {
            inner: None,
            seen: 0,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.seen += data.len() as u64;
                    if self.seen > MAX_PAYLOAD {
                        return Poll::Ready(Some(Err(Box::new(PayloadTooLarge))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(Box::new(err)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(inner) => inner.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}

/// The body of a response to a client: an instance's, streamed, or a gateway answer's.
pub(crate) struct ResponseBody {
    inner: Either<Incoming, Full<Bytes>>,
    /// The access-log line to write when the body ends, if the log is on.
    line: Option<Box<PendingLine>>,
    /// The connection an instance's body arrives on, until the body is dropped.
    lease: Option<Lease>,
    /// The inner body returned its end.
    ended: bool,
}

impl ResponseBody {
    /// An instance's body, arriving on the connection `lease`.
    pub(crate) fn upstream(body: Incoming, lease: Lease) -> ResponseBody {
        ResponseBody {
            inner: Either::Left(body),
            line: None,
            lease: Some(lease),
            ended: false,
        }
    }

    /// A body the gateway made.
    pub(crate) fn full(bytes: Bytes) -> ResponseBody {
        ResponseBody {
            inner: Either::Right(Full::new(bytes)),
            line: None,
            lease: None,
            ended: false,
        }
    }

    /// Attaches the access-log line, written once the body has been sent or dropped.
    pub(crate) fn log_on_end(&mut self, line: Box<PendingLine>) {
        self.line = Some(line);
    }
}

impl Default for ResponseBody {
    fn default() -> Self {
        ResponseBody::full(Bytes::new())
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.ended = true;
        }
        if let (Poll::Ready(Some(Ok(frame))), Some(line)) = (&polled, self.line.as_mut())
            && let Some(data) = frame.data_ref()
        {
            line.add_bytes(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // A connection whose response was read whole can carry the next request; one
        // dropped halfway is closed with its sender (hyper cannot skip the rest).
        if let Some(lease) = self.lease.take()
            && (self.ended || self.inner.is_end_stream())
        {
            lease.release();
        }
        if let Some(line) = self.line.take() {
            line.write();
        }
    }
}
