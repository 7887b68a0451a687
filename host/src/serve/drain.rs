//! Answers given before a request's body was read (401, 404, 405, 413…) keep the connection usable.
//!
//! hyper closes a connection whose request body was left unread once the answer is written. The
//! client, still sending that body, then gets a reset, often instead of the answer; a pooled client
//! that sends its next request on the connection sees it shut. So what a handler leaves unread is
//! read and dropped here before the answer goes out, up to a bound; past the bound (or a slow
//! sender) the answer says `Connection: close`.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

/// The most that is read and dropped: a little over the largest body a route takes.
const MAX_DRAIN: u64 = 2 << 20;
/// How long a sender may take over the rest of its body.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The middleware: hand the handler a body that gives back what it leaves unread, then drain that.
pub async fn drain_unread(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let (back, mut unread) = oneshot::channel();
    let req = Request::from_parts(
        parts,
        Body::new(Returning {
            inner: Some(body),
            back: Some(back),
        }),
    );
    let mut res = next.run(req).await;
    // `try_recv`: a body still held elsewhere (nothing does that today) is not waited for.
    if let Ok(rest) = unread.try_recv()
        && !matches!(tokio::time::timeout(DRAIN_TIME, drain(rest)).await, Ok(true))
    {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// Read and drop the rest of a body: `true` when it ended within [`MAX_DRAIN`].
async fn drain(mut body: Body) -> bool {
    let mut read = 0u64;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return true,
            Some(Err(_)) => return false,
            Some(Ok(frame)) => {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
                if read > MAX_DRAIN {
                    return false;
                }
            }
        }
    }
}

/// A body that, dropped before its end, sends what is left back to [`drain_unread`].
struct Returning {
    inner: Option<Body>,
    back: Option<oneshot::Sender<Body>>,
}

impl HttpBody for Returning {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let (Some(inner), Some(back)) = (self.inner.take(), self.back.take())
            && !inner.is_end_stream()
        {
            let _ = back.send(inner);
        }
    }
}
