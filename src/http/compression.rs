//! gzip for the clients that ask for it (tower-http's compression, with a 1 KiB floor).
//!
//! A request without `Accept-Encoding` has nothing to negotiate, so it skips the compression
//! service altogether: no header parsing, no wrapped body, no boxing of the body back into axum's
//! type. Written here rather than taken from tower-http because its `Compression` service does all
//! of that for every request (about 4 % of the instructions of a cached book read).

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::{body::Body, extract::Request, response::Response};
use futures::future::{Either, MapOk};
use futures::TryFutureExt;
use http::header::ACCEPT_ENCODING;
use tower::{Layer, Service};
use tower_http::compression::{
    predicate::{And, NotForContentType, Predicate, SizeAbove},
    Compression, CompressionBody, CompressionLayer,
};

/// Bodies below this many bytes are sent as they are, whatever the client accepts: a single book
/// (about 250 bytes) gains nothing from gzip, and deciding costs time on every read.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

type CompressWhen =
    And<And<And<SizeAbove, NotForContentType>, NotForContentType>, NotForContentType>;

/// tower-http's default rule (not gRPC, images or event streams) with a 1 KiB floor instead of
/// 32 bytes, the size checked first.
fn compress_when() -> CompressWhen {
    SizeAbove::new(COMPRESS_ABOVE_BYTES)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
}

/// Wraps a service in [`Gzip`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GzipLayer;

impl<S: Clone> Layer<S> for GzipLayer {
    type Service = Gzip<S>;

    fn layer(&self, inner: S) -> Gzip<S> {
        Gzip {
            compressed: CompressionLayer::new()
                .gzip(true)
                .compress_when(compress_when())
                .layer(inner.clone()),
            plain: inner,
        }
    }
}

/// The inner service as it is for requests without `Accept-Encoding`, through tower-http's
/// compression for the others.
#[derive(Clone)]
pub struct Gzip<S> {
    plain: S,
    compressed: Compression<S, CompressWhen>,
}

type ToAxumBody = fn(http::Response<CompressionBody<Body>>) -> Response;

impl<S> Service<Request> for Gzip<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        MapOk<tower_http::compression::ResponseFuture<S::Future, CompressWhen>, ToAxumBody>,
        S::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both hold the same service; whichever is called below must be ready.
        match self.plain.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.compressed.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.headers().contains_key(ACCEPT_ENCODING) {
            let to_axum: ToAxumBody = |res| res.map(Body::new);
            Either::Left(self.compressed.call(req).map_ok(to_axum))
        } else {
            Either::Right(self.plain.call(req))
        }
    }
}
