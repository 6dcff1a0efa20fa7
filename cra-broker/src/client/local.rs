//! The client's local port: `/healthcheck`, `/ready`, `/systemcheck`, and every other path as an agent
//! callback that the `public` rules must allow before it goes out through the tunnel.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Shared;
use crate::filter::{Direction, RequestParts};
use crate::protocol::event::Event;
use crate::protocol::message::{headers_to_map, map_to_headers, RequestEvent, HOP_BY_HOP};
use crate::protocol::{ejson, CLIENT_VERSION};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthcheck", get(healthcheck))
        .route("/ready", get(ready))
        .route("/systemcheck", get(systemcheck))
        .fallback(callback)
        .with_state(shared)
}

async fn healthcheck(State(shared): State<Arc<Shared>>) -> Response {
    let open = shared.tunnel().is_some();
    let body = json!({
        "ok": open,
        "websocketConnectionOpen": open,
        "brokerServerUrl": format!("{}?connection_role=primary", shared.config.server_url),
        "version": CLIENT_VERSION,
        "transport": "websocket",
    });
    let status = if open {
        http::StatusCode::OK
    } else {
        http::StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(body)).into_response()
}

/// Readiness: 200 while the tunnel to the server is open, 503 otherwise; no credentials.
async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    let open = shared.tunnel().is_some();
    let status = if open {
        http::StatusCode::OK
    } else {
        http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"ok": open}))).into_response()
}

/// First 3 + `***` + last 3 of the credential (the header value after its first space).
pub(super) fn mask(authorization: Option<&str>) -> Value {
    let Some(value) = authorization else {
        return Value::Null;
    };
    let credential = value.split_once(' ').map_or(value, |(_, c)| c);
    let chars: Vec<char> = credential.chars().collect();
    if chars.len() <= 6 {
        return Value::String("***".into());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    Value::String(format!("{head}***{tail}"))
}

async fn systemcheck(State(shared): State<Arc<Shared>>) -> Response {
    let Some(validation) = &shared.config.validation else {
        let body = json!([{"ok": false, "error": "BROKER_CLIENT_VALIDATION_URL is not set"}]);
        return (http::StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
    };
    let shown_url = match shared.config.vars.get("CR_AGENT_URL") {
        Some(agent) if !agent.is_empty() => validation.url.replace(agent, "${CR_AGENT_URL}"),
        _ => validation.url.clone(),
    };
    let mut request = shared.http.get(&validation.url).timeout(validation.timeout);
    if let Some(auth) = &validation.authorization {
        request = request.header(http::header::AUTHORIZATION, auth);
    }
    // The agent checks its callback base too; it learns it from this header.
    if let Some(client_url) = &shared.config.client_url {
        request = request.header(super::forward::CLIENT_URL_HEADER, client_url);
    }
    let mut result = json!({
        "brokerClientValidationUrl": shown_url,
        "brokerClientValidationMethod": "GET",
        "brokerClientValidationTimeoutMs": validation.timeout.as_millis() as u64,
        "maskedCredentials": mask(validation.authorization.as_deref()),
    });
    let ok = match request.send().await {
        Ok(response) => {
            let status = response.status();
            result["brokerClientValidationUrlStatusCode"] = json!(status.as_u16());
            if !status.is_success() {
                let reason = if matches!(status.as_u16(), 401 | 403) {
                    "Failed due to invalid credentials"
                } else {
                    "Status code is not 2xx"
                };
                result["error"] = json!(reason);
            }
            status.is_success()
        }
        Err(_) => {
            result["error"] = json!("Failed to reach the validation URL");
            false
        }
    };
    result["ok"] = json!(ok);
    let status = if ok {
        http::StatusCode::OK
    } else {
        http::StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(json!([result]))).into_response()
}

async fn callback(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let url = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let Ok(body) = axum::body::to_bytes(body, shared.config.max_local_body).await else {
        return (
            http::StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({"message": "request body too large"})),
        )
            .into_response();
    };
    let parts_for_filter = RequestParts {
        method: parts.method.as_str(),
        url: &url,
        headers: &parts.headers,
        body: (!body.is_empty()).then_some(&body[..]),
    };
    if shared
        .config
        .filter
        .check(Direction::Public, &parts_for_filter)
        .allowed()
        .is_none()
    {
        tracing::info!(method = %parts.method, "callback blocked by the public rules");
        let body = json!({"message": "blocked", "reason": "Request does not match any accept rule, blocking HTTP request", "url": url});
        return (http::StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let Some(tunnel) = shared.tunnel() else {
        return (
            http::StatusCode::BAD_GATEWAY,
            Json(json!({"message": "the tunnel to the broker server is down"})),
        )
            .into_response();
    };
    let mut headers = headers_to_map(&parts.headers);
    let request_id = headers
        .get("snyk-request-id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    headers.insert("snyk-request-id".into(), Value::String(request_id.clone()));
    let event = RequestEvent {
        url,
        method: parts.method.to_string(),
        headers,
        body: (!body.is_empty()).then(|| ejson::binary(&body)),
        streaming_id: String::new(),
    };
    let Ok(ack) = tunnel.handle.request(Event::Request(Box::new(event))).await else {
        return (
            http::StatusCode::BAD_GATEWAY,
            Json(json!({"message": "the tunnel closed"})),
        )
            .into_response();
    };
    let Some(object) = ack else {
        return (
            http::StatusCode::BAD_GATEWAY,
            Json(json!({"message": "invalid response from the server"})),
        )
            .into_response();
    };
    let mut headers = map_to_headers(&object.headers);
    for name in HOP_BY_HOP.iter().chain(&["content-length"]) {
        headers.remove(*name);
    }
    headers.insert(
        "x-broker-ws-response",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(value) = http::HeaderValue::try_from(request_id) {
        headers.insert("snyk-request-id", value);
    }
    let mut response = Response::new(Body::from(
        ejson::body_bytes(&object.body).unwrap_or_default(),
    ));
    *response.status_mut() =
        http::StatusCode::from_u16(object.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = headers;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_as_the_stock_client_masks_them() {
        assert_eq!(mask(Some("eyJ0eXBlIjoiYWNyIn0K")), json!("eyJ***n0K"));
        assert_eq!(mask(Some("Bearer abcdefgh")), json!("abc***fgh"));
        assert_eq!(mask(Some("Basic abc")), json!("***"));
        assert_eq!(mask(None), Value::Null);
    }
}
