//! The HTTP server: hyper's HTTP/1 connections, with what a service on a network must hold against
//! slow and idle clients. A request's headers must arrive within `header_timeout` (hyper starts the
//! same clock when a kept-alive connection goes idle, so it is also the idle timeout); a request's
//! body within `body_timeout` of its start (`408` otherwise); at most `max_connections` are open (one
//! more is closed at once; an `accept` that fails, out of descriptors, is retried). At stop the
//! listener closes, connections finish the request they are in, and whatever is left after
//! `shutdown_timeout` is dropped. (`axum::serve` sets none of these limits.)

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;

/// The address a request came from (its connection's peer), for the log.
#[derive(Clone, Copy, Debug)]
pub struct Client(pub std::net::SocketAddr);

/// The limits of [`serve`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

/// Serve `router` on `listener` until `stop` turns true, then stop within `limits.shutdown_timeout`.
pub async fn serve(listener: tokio::net::TcpListener, router: Router, limits: Limits, stop: watch::Receiver<bool>) {
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let mut stopping = stop.clone();
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped(&mut stopping) => break,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: the connections that hold them end (idle ones
                // within the header timeout); keep serving.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            continue; // over the cap: closed at once, not held
        };
        let service =
            hyper_util::service::TowerToHyperService::new(router.clone().layer(axum::Extension(Client(peer))));
        let mut stopping = stop.clone();
        let header_timeout = limits.header_timeout;
        connections.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped(&mut stopping) => {
                    // Finish the request in progress (if any), take no other.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let all = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_timeout, all).await.is_err() {
        tracing::warn!(
            "connections still open after {:?}; closing them",
            limits.shutdown_timeout
        );
    }
    connections.abort_all();
}

/// Once `stop` turns true (its guard not held past this, so the future stays `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// A request body that must arrive within its deadline: past it, reading fails with [`TooSlow`].
pub async fn body_deadline(timeout: Duration, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = Body::new(Deadline {
        inner: body,
        sleep: Box::pin(tokio::time::sleep(timeout)),
        timeout,
    });
    next.run(Request::from_parts(parts, body)).await
}

/// The error a body past its deadline gives.
#[derive(Debug)]
pub struct TooSlow(pub Duration);

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {:?}", self.0)
    }
}

impl std::error::Error for TooSlow {}

struct Deadline {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(TooSlow(self.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
