//! Errors as HTTP answers: the gRPC code → HTTP status map of grpc-gateway, and the error body
//! `{"code": <gRPC code>, "message": "...", "details": [...]}`.
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use http_body_util::Full;
use tonic::Code;

/// The HTTP status grpc-gateway answers for a gRPC code.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        // nginx's "client closed request": the caller gave up.
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answer: `http` is the status line, `code` the gRPC code in the body. They differ only for
/// what the gateway itself refuses before any call (405, 408, 413, 415).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub http: StatusCode,
    pub code: Code,
    pub message: String,
    /// For a 405: the methods the path takes (the `Allow` header).
    pub allow: Option<String>,
}

impl HttpError {
    fn new(http: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            http,
            code,
            message: message.into(),
            allow: None,
        }
    }

    /// The answer for a call's status.
    pub fn from_status(status: &tonic::Status) -> Self {
        let code = status.code();
        Self::new(http_status(code), code, status.message())
    }

    /// A request the gateway could not turn into a call: 400 INVALID_ARGUMENT.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidArgument, message)
    }

    /// No route for the path: 404 NOT_FOUND.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            format!("no route for {path}"),
        )
    }

    /// A route for the path, but not for the method: 405 with UNIMPLEMENTED, as grpc-gateway answers,
    /// and the methods that are (`allowed`, e.g. `GET, HEAD`).
    pub fn method_not_allowed(method: &http::Method, path: &str, allowed: &str) -> Self {
        Self {
            allow: Some(allowed.to_owned()),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unimplemented,
                format!("method {method} is not allowed for {path}"),
            )
        }
    }

    /// A body past the request size limit: 413 with OUT_OF_RANGE, the code gRPC answers for an
    /// oversized message.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::OutOfRange,
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// A request that declares a body type other than JSON, or sends a body without declaring one: 415
    /// with INVALID_ARGUMENT.
    pub fn not_json(content_type: Option<&str>) -> Self {
        let declared = match content_type {
            Some(kind) => format!("Content-Type {kind:?}"),
            None => "no Content-Type".to_owned(),
        };
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            format!("a request body must be application/json (UTF-8); this request has {declared}"),
        )
    }

    /// A body that did not arrive in time: 408 with DEADLINE_EXCEEDED.
    pub fn body_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            Code::DeadlineExceeded,
            format!(
                "the request body did not arrive within {} s",
                limit.as_secs()
            ),
        )
    }

    /// The error body as JSON. The services attach no details, so `details` is always empty.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code as i32,
            "message": self.message,
            "details": [],
        })
    }

    /// The whole HTTP answer.
    pub fn into_response(self) -> http::Response<Full<Bytes>> {
        let mut response = http::Response::new(Full::new(Bytes::from(self.body().to_string())));
        *response.status_mut() = self.http;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::try_from(a).ok()) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_table() {
        for (code, status) in [
            (Code::InvalidArgument, 400),
            (Code::FailedPrecondition, 400),
            (Code::NotFound, 404),
            (Code::Unauthenticated, 401),
            (Code::ResourceExhausted, 429),
            (Code::Unavailable, 503),
            (Code::Internal, 500),
            (Code::DeadlineExceeded, 504),
            (Code::OutOfRange, 400),
            (Code::Cancelled, 499),
            (Code::Unimplemented, 501),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
        ] {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
        }
    }

    #[test]
    fn the_body_carries_the_grpc_code_and_message() {
        let error = HttpError::from_status(&tonic::Status::not_found("order 7 not found"));
        assert_eq!(error.http, StatusCode::NOT_FOUND);
        assert_eq!(
            error.body(),
            serde_json::json!({"code": 5, "message": "order 7 not found", "details": []})
        );
        let response =
            HttpError::method_not_allowed(&http::Method::PUT, "/x", "GET, POST").into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
