//! Who calls: for a service that serves users ([`Callers`]), every call of its methods but the open
//! ones carries a user token that verifies, or is answered `UNAUTHENTICATED` with the reason before
//! any handler runs. What the token allows ([`identity::Access`]) rides in the request's extensions,
//! where [`RequestContext`](crate::context::RequestContext) finds it; whether the caller may touch the
//! data a request names is the service's to decide (cart: its own cart; loms: its own orders).
//!
//! Health, reflection and the probes are never guarded, and neither is a method the service lists as
//! open (loms's `StocksInfo`). A token sent to an open method is not even read.
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use identity::Authenticator;
use tonic::Status;
use tower::{Layer, Service};

use crate::context::AuthToken;

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// How a service's callers are authenticated: by `authenticator`, on every method of its services
/// but those in `open` (full paths, `/package.Service/Method`).
#[derive(Clone, Debug)]
pub struct Callers {
    pub authenticator: Authenticator,
    pub open: Vec<String>,
}

/// What the layer needs: the callers' rules and the path prefixes (`/package.Service/`) it guards.
#[derive(Debug)]
struct Guard {
    authenticator: Authenticator,
    guarded: Vec<String>,
    open: HashSet<String>,
}

/// See the module doc. Without [`Callers`] it lets every call through.
#[derive(Clone, Debug, Default)]
pub(super) struct AuthenticateLayer {
    guard: Option<Arc<Guard>>,
}

impl AuthenticateLayer {
    pub(super) fn new(callers: Option<Callers>, services: &[&'static str]) -> Self {
        let guard = callers.map(|callers| {
            Arc::new(Guard {
                authenticator: callers.authenticator,
                guarded: services.iter().map(|s| format!("/{s}/")).collect(),
                open: callers.open.into_iter().collect(),
            })
        });
        Self { guard }
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Authenticate<S> {
        Authenticate {
            inner,
            guard: self.guard.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Authenticate<S> {
    inner: S,
    guard: Option<Arc<Guard>>,
}

impl Guard {
    fn guards(&self, path: &str) -> bool {
        !self.open.contains(path) && self.guarded.iter().any(|prefix| path.starts_with(prefix))
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Authenticate<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let guard = match &self.guard {
            Some(guard) if guard.guards(request.uri().path()) => guard.clone(),
            _ => return Box::pin(self.inner.call(request)),
        };
        // The service that was made ready goes with the call; its clone stays for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let token = AuthToken::from_headers(request.headers());
            let token = token.as_ref().map(AuthToken::expose);
            match guard.authenticator.authenticate(token).await {
                Ok(access) => {
                    request.extensions_mut().insert(access);
                    inner.call(request).await
                }
                Err(refusal) => Ok(Status::unauthenticated(refusal.to_string()).into_http()),
            }
        })
    }
}
