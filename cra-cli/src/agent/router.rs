//! The agent's routes, and the middleware that counts every answer and makes axum's own
//! plain-text errors JSON.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tracing::debug;

use crate::agent::error::{self, ApiError};
use crate::agent::routes;
use crate::agent::scan;
use crate::agent::state::AppState;

/// The agent's routes over `state`.
pub(crate) fn router(state: AppState) -> Router {
    let scans = Router::new()
        .route("/scan", post(scan::scan_v2))
        .route("/discover", post(scan::discover_v1))
        .layer(DefaultBodyLimit::max(scan::MAX_BODY));
    Router::new()
        .route("/healthcheck", get(routes::healthcheck))
        .route("/ready", get(routes::ready))
        .route("/systemcheck", get(routes::systemcheck))
        .route("/validate-credentials", get(routes::validate_credentials))
        .route("/list", get(routes::list_repositories))
        .route("/list/{*repository}", get(routes::list_tags))
        .route("/list-paginated/{*repository}", get(routes::list_paginated))
        .route(
            "/list-with-metadata/{*repository}",
            get(routes::list_with_metadata),
        )
        .route("/image-metadata/{*image}", get(routes::image_metadata))
        .route("/get-state-identifier", get(routes::state_identifier))
        .route("/metrics", get(routes::metrics))
        .merge(scans)
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Routes that still answer while the agent shuts down: liveness and metrics.
const ALWAYS: [&str; 2] = ["/healthcheck", "/metrics"];

/// Counts and logs every answer, answers 503 `shutting_down` once the agent stops (but for
/// [`ALWAYS`]), and turns the plain-text errors axum produces itself (wrong method, unreadable
/// path or body) into the agent's JSON errors.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route: Option<String> = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let started = Instant::now();
    let stopping = !state.queue.is_open() && !route.as_deref().is_some_and(|r| ALWAYS.contains(&r));
    let mut response = if stopping {
        ApiError::shutting_down().into_response()
    } else {
        next.run(request).await
    };
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut headers = std::mem::take(response.headers_mut());
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_LENGTH);
        let body = axum::body::to_bytes(std::mem::take(response.body_mut()), 4096)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let message = if text.trim().is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text.trim().to_owned()
        };
        response = ApiError::new(status, error::code_of_status(status), message).into_response();
        // Keep what axum said besides the body (`Allow` on a 405, `Retry-After`).
        response.headers_mut().extend(headers);
    }
    state
        .metrics
        .request(&method, route.as_deref(), status.as_u16());
    // Both are escaped: the method is the client's choice, and so is an unmatched path.
    debug!(
        method = %cra_core::text::escape_untrusted(method.as_str()),
        route = route.as_deref().unwrap_or("other"),
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
