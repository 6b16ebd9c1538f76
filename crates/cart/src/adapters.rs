//! Implementations of the ports: in-memory cart storage, and gRPC clients of product-service and loms.
pub mod loms_client;
pub mod memory;
pub mod product_client;

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::ports::UpstreamError;

/// A lazily connecting channel: cart starts even while the other services are still starting, and
/// reconnects by itself. `timeout` bounds each call.
pub fn channel(url: &str, timeout: Duration) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .connect_lazy())
}

/// What a gRPC status from another service means to cart.
fn upstream_error(status: Status) -> UpstreamError {
    match status.code() {
        Code::NotFound => UpstreamError::NotFound,
        Code::Unauthenticated => UpstreamError::Unauthenticated(status.message().to_owned()),
        Code::FailedPrecondition => UpstreamError::Refused(status.message().to_owned()),
        Code::ResourceExhausted => UpstreamError::RateLimited(status.message().to_owned()),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            UpstreamError::Unavailable(Box::new(status))
        }
        _ => UpstreamError::Failed(Box::new(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_upstream_errors() {
        let map = |code, msg: &str| upstream_error(Status::new(code, msg));
        assert!(matches!(map(Code::NotFound, ""), UpstreamError::NotFound));
        assert!(
            matches!(map(Code::Unauthenticated, "x"), UpstreamError::Unauthenticated(m) if m == "x")
        );
        assert!(
            matches!(map(Code::FailedPrecondition, "short"), UpstreamError::Refused(m) if m == "short")
        );
        assert!(matches!(
            map(Code::ResourceExhausted, ""),
            UpstreamError::RateLimited(_)
        ));
        assert!(matches!(
            map(Code::Unavailable, ""),
            UpstreamError::Unavailable(_)
        ));
        assert!(matches!(
            map(Code::DeadlineExceeded, ""),
            UpstreamError::Unavailable(_)
        ));
        assert!(matches!(map(Code::Internal, ""), UpstreamError::Failed(_)));
        assert!(matches!(
            map(Code::InvalidArgument, ""),
            UpstreamError::Failed(_)
        ));
    }
}
