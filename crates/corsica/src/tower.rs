//! A `tower` layer applying a [`Policy`]: for axum, hyper, tonic and anything else built on
//! `tower::Service`. Requires the `tower` feature.
//!
//! - Preflights are answered by the layer itself (allowed: 204 with the CORS headers;
//!   denied: 403 without them) and never reach the inner service.
//! - Actual requests go to the inner service; the decision's headers are written on its
//!   response, whatever the status (errors included), replacing any CORS headers the inner
//!   service set and merging `Vary`. Bodies are not touched, so streaming stays streaming.
//! - Every denial is emitted as a `tracing` event (target `corsica`, level DEBUG: enable it
//!   with `RUST_LOG=corsica=debug`) with the reason's label and message: "tell me why it
//!   was rejected". DEBUG because same-origin requests carrying `Origin` (a form POST) are
//!   denials too, and anyone can send them.
//! - The policy can be swapped at runtime through a [`PolicyHandle`]; requests in flight
//!   keep the policy they started with, and none is dropped.
//!
//! ```
//! use axum::{Router, routing::get};
//! use corsica::{Policy, tower::CorsLayer};
//!
//! let policy = Policy::builder()
//!     .allow_origins(["https://app.example.com"])
//!     .allow_methods(["GET", "POST"])
//!     .allow_headers(["content-type", "x-api-key"])
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/api/items", get(|| async { "[]" }))
//!     .layer(CorsLayer::new(policy));
//! # Ok::<(), corsica::ConfigErrors>(())
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use arc_swap::cache::Cache;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::Policy;
use crate::server::{Decision, Outcome, ResponseHeaders};

/// A handle to the policy of one or more [`CorsLayer`]s, to replace it at runtime.
///
/// ```
/// use corsica::{Policy, tower::CorsLayer};
/// let layer = CorsLayer::new(Policy::builder().allow_origins(["https://a.example"]).build()?);
/// let handle = layer.handle();
/// handle.store(Policy::builder().allow_origins(["https://b.example"]).build()?);
/// assert!(handle.load().origins().entries()[0].to_string() == "https://b.example");
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Clone, Debug)]
pub struct PolicyHandle(Arc<ArcSwap<Policy>>);

impl PolicyHandle {
    /// Replaces the policy; requests decided from now on use the new one.
    ///
    /// ```
    /// # use corsica::{Policy, tower::CorsLayer};
    /// # let layer = CorsLayer::new(Policy::builder().allow_origins(["*"]).build()?);
    /// layer.handle().store(Policy::builder().allow_origins(["https://a.example"]).build()?);
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn store(&self, policy: Policy) {
        self.0.store(Arc::new(policy));
    }

    /// The current policy.
    ///
    /// ```
    /// # use corsica::{Policy, tower::CorsLayer};
    /// # let layer = CorsLayer::new(Policy::builder().allow_origins(["*"]).build()?);
    /// assert!(layer.handle().load().origins().is_any());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn load(&self) -> Arc<Policy> {
        self.0.load_full()
    }
}

/// The layer: wraps services in a [`CorsService`].
///
/// ```
/// use corsica::{Policy, tower::CorsLayer};
/// let layer = CorsLayer::new(Policy::builder().allow_origins(["*"]).build()?);
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Clone, Debug)]
pub struct CorsLayer {
    policy: Arc<ArcSwap<Policy>>,
}

impl CorsLayer {
    /// A layer applying `policy`.
    ///
    /// ```
    /// # use corsica::{Policy, tower::CorsLayer};
    /// let layer = CorsLayer::new(Policy::builder().allow_origins(["https://a.example"]).build()?);
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn new(policy: Policy) -> CorsLayer {
        CorsLayer {
            policy: Arc::new(ArcSwap::from_pointee(policy)),
        }
    }

    /// A handle to swap this layer's policy (shared by every service the layer made).
    ///
    /// ```
    /// # use corsica::{Policy, tower::CorsLayer};
    /// # let layer = CorsLayer::new(Policy::builder().allow_origins(["*"]).build()?);
    /// let handle = layer.handle();
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn handle(&self) -> PolicyHandle {
        PolicyHandle(self.policy.clone())
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> CorsService<S> {
        CorsService {
            inner,
            policy: Cache::new(self.policy.clone()),
            shared: self.policy.clone(),
        }
    }
}

/// The service made by [`CorsLayer`].
///
/// ```
/// use corsica::{Policy, tower::CorsLayer};
/// use tower::{Layer, service_fn};
/// let svc = CorsLayer::new(Policy::builder().allow_origins(["*"]).build()?)
///     .layer(service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     }));
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Clone, Debug)]
pub struct CorsService<S> {
    inner: S,
    /// The shared policy, with this service's own reference to its current value: a call
    /// checks with one atomic load that the policy was not replaced, and takes neither a
    /// lock nor a reference count (`arc_swap::Cache`). Until its next call a service keeps
    /// the policy it last used alive.
    policy: Cache<Arc<ArcSwap<Policy>>, Arc<Policy>>,
    /// The shared policy itself, for [`CorsService::handle`].
    shared: Arc<ArcSwap<Policy>>,
}

impl<S> CorsService<S> {
    /// A handle to swap this service's policy.
    ///
    /// ```
    /// # use corsica::{Policy, tower::CorsLayer};
    /// # use tower::{Layer, service_fn};
    /// # let svc = CorsLayer::new(Policy::builder().allow_origins(["*"]).build()?)
    /// #     .layer(service_fn(|_req: http::Request<String>| async {
    /// #         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// #     }));
    /// let handle = svc.handle();
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn handle(&self) -> PolicyHandle {
        PolicyHandle(self.shared.clone())
    }
}

/// Emits the denial event.
fn trace_denial<B>(req: &Request<B>, decision: &Decision) {
    if let Some(reason) = decision.reason() {
        tracing::debug!(
            target: "corsica",
            kind = decision.kind().as_str(),
            reason = reason.label(),
            method = %req.method(),
            path = req.uri().path(),
            "CORS request denied: {reason}"
        );
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let decision = self.policy.load().decide(req.method(), req.headers());
        trace_denial(&req, &decision);
        match decision.into_outcome(ResBody::default()) {
            Outcome::Answer(response) => ResponseFuture {
                state: State::Preflight {
                    response: Some(response),
                },
            },
            Outcome::Forward(headers) => ResponseFuture {
                state: State::Inner {
                    future: self.inner.call(req),
                    headers: Some(headers),
                },
            },
        }
    }
}

pin_project! {
    /// The future of [`CorsService`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Preflight { response: Option<Response<B>> },
        Inner { #[pin] future: F, headers: Option<ResponseHeaders> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Preflight { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                None => panic!("ResponseFuture polled after completion"),
            },
            StateProj::Inner { future, headers } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                if let Some(h) = headers.take() {
                    h.write(response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}
