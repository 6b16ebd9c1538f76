//! The gateway's documentation over HTTP: `/openapi.json`, the OpenAPI 3 document of its routes, and
//! `/swagger/`, Swagger UI over that document from files built into the binary, whose "Try it out"
//! calls the same origin.
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use http_body_util::Full;

use crate::{HttpError, HttpResponse};

/// The OpenAPI document and Swagger UI of one gateway.
pub struct Docs {
    openapi: Bytes,
    swagger: Arc<utoipa_swagger_ui::Config<'static>>,
}

impl Docs {
    /// The documentation of `openapi` ([`crate::openapi()`] of the gateway's routes).
    pub fn new(openapi: &serde_json::Value) -> Self {
        // No validator badge: it would be fetched from swagger.io, and nothing here needs the network.
        let swagger = utoipa_swagger_ui::Config::new(["/openapi.json"])
            .persist_authorization(true)
            .validator_url("none");
        Self {
            openapi: Bytes::from(openapi.to_string()),
            swagger: Arc::new(swagger),
        }
    }

    /// Whether `path` is the documentation's, not a route's.
    pub fn serves(path: &str) -> bool {
        matches!(path, "/openapi.json" | "/swagger") || path.starts_with("/swagger/")
    }

    /// Answers a GET of one of the documentation's paths ([`Docs::serves`]).
    pub fn respond(&self, path: &str) -> HttpResponse {
        match path {
            "/openapi.json" => {
                let mut response = http::Response::new(Full::new(self.openapi.clone()));
                set(&mut response, header::CONTENT_TYPE, "application/json");
                response
            }
            "/swagger" => {
                let mut response = http::Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
                set(&mut response, header::LOCATION, "/swagger/");
                response
            }
            _ => self.swagger_file(path.trim_start_matches("/swagger/")),
        }
    }

    fn swagger_file(&self, file: &str) -> HttpResponse {
        match utoipa_swagger_ui::serve(file, self.swagger.clone()) {
            Ok(Some(found)) => {
                let mut response =
                    http::Response::new(Full::new(Bytes::from(found.bytes.into_owned())));
                if let Ok(kind) = HeaderValue::try_from(found.content_type) {
                    response.headers_mut().insert(header::CONTENT_TYPE, kind);
                }
                if found.gzpipped {
                    set(&mut response, header::CONTENT_ENCODING, "gzip");
                }
                response
            }
            Ok(None) => HttpError::no_route(&format!("/swagger/{file}")).into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot serve swagger ui");
                HttpError::from_status(&tonic::Status::internal("internal error")).into_response()
            }
        }
    }
}

fn set(response: &mut HttpResponse, name: header::HeaderName, value: &'static str) {
    response
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
}
