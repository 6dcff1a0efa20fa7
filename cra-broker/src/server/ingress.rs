//! `/broker/<token>/*`: a caller's request, filtered by the `public` rules, sent down the tunnel,
//! and answered either from the client's response stream or from its acknowledgement.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::response_data::InFlight;
use super::{no_connection, Shared};
use crate::filter::{Direction, RequestParts};
use crate::protocol::ejson;
use crate::protocol::event::Event;
use crate::protocol::message::{
    headers_to_map, map_to_headers, RequestEvent, ResponseObject, HOP_BY_HOP,
};
use crate::token::Token;

/// Relays one caller request.
pub(crate) async fn relay(
    State(shared): State<Arc<Shared>>,
    Path(params): Path<Vec<(String, String)>>,
    request: Request,
) -> Response {
    let Some(token) = params
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| Token::new(v))
    else {
        return no_connection();
    };
    let Some(connection) = shared.connections.pick(&token) else {
        let known = !shared.connections.all(&token).is_empty();
        return if known { not_ready() } else { no_connection() };
    };
    let (parts, body) = request.into_parts();
    let url = tunnel_url(&parts.uri);
    let body = match axum::body::to_bytes(body, shared.config.max_request_body).await {
        Ok(body) => body,
        Err(_) => {
            return (
                http::StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({"message": "request body too large"})),
            )
                .into_response()
        }
    };
    let verdict = shared.config.filter.check(
        Direction::Public,
        &RequestParts {
            method: parts.method.as_str(),
            url: &url,
            headers: &parts.headers,
            body: (!body.is_empty()).then_some(&body[..]),
        },
    );
    if verdict.allowed().is_none() {
        tracing::info!(token = %token, method = %parts.method, "blocked by the server's public rules");
        return blocked(&url);
    }
    let mut headers = headers_to_map(&parts.headers);
    let request_id = headers
        .get("snyk-request-id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    headers.insert("snyk-request-id".into(), Value::String(request_id.clone()));
    let mut event = RequestEvent {
        url,
        method: parts.method.to_string(),
        headers,
        body: (!body.is_empty()).then(|| ejson::binary(&body)),
        streaming_id: String::new(),
    };
    let wants_ack =
        parts.headers.contains_key("x-broker-ws-response") || !connection.posts_streams();
    tracing::debug!(token = %token, method = %event.method, request_id, "relaying");
    if wants_ack {
        return match connection
            .handle
            .request(Event::Request(Box::new(event)))
            .await
        {
            Ok(ack) => ack_response(ack, &request_id),
            Err(_) => no_connection(),
        };
    }
    let (id, _ticket, started) = InFlight::register(&shared, token.clone());
    event.streaming_id = id;
    if connection
        .handle
        .emit(Event::Request(Box::new(event)))
        .await
        .is_err()
    {
        return no_connection();
    }
    match tokio::time::timeout(shared.config.response_timeout, started).await {
        Ok(Ok(started)) => {
            let mut response = Response::new(Body::from_stream(started.body));
            *response.status_mut() = http::StatusCode::from_u16(started.head.status)
                .unwrap_or(http::StatusCode::BAD_GATEWAY);
            *response.headers_mut() = response_headers(&started.head.headers, &request_id);
            response
        }
        Ok(Err(_)) => no_connection(),
        Err(_) => (
            http::StatusCode::GATEWAY_TIMEOUT,
            Json(json!({"message": "client did not answer in time"})),
        )
            .into_response(),
    }
}

/// The URL the client sees: the path after `/broker/<token>`, raw, with the query minus
/// `connection_role`.
fn tunnel_url(uri: &http::Uri) -> String {
    let path = uri.path();
    let after_prefix = path.strip_prefix("/broker/").unwrap_or(path);
    let rest = after_prefix
        .find('/')
        .map(|i| &after_prefix[i..])
        .unwrap_or("/");
    let query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("connection_role="))
        .collect();
    if query.is_empty() {
        rest.to_owned()
    } else {
        format!("{rest}?{}", query.join("&"))
    }
}

fn response_headers(map: &serde_json::Map<String, Value>, request_id: &str) -> http::HeaderMap {
    let mut headers = map_to_headers(map);
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    if let Ok(value) = http::HeaderValue::try_from(request_id) {
        headers.insert("snyk-request-id", value);
    }
    headers
}

fn ack_response(ack: Option<ResponseObject>, request_id: &str) -> Response {
    let Some(object) = ack else {
        return (
            http::StatusCode::BAD_GATEWAY,
            Json(json!({"message": "invalid response from client"})),
        )
            .into_response();
    };
    let body = ejson::body_bytes(&object.body).unwrap_or_default();
    let mut headers = response_headers(&object.headers, request_id);
    headers.remove(http::header::CONTENT_LENGTH);
    headers.insert(
        "x-broker-ws-response",
        http::HeaderValue::from_static("true"),
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        http::StatusCode::from_u16(object.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = headers;
    response
}

fn blocked(url: &str) -> Response {
    (
        http::StatusCode::UNAUTHORIZED,
        Json(json!({
            "message": "blocked",
            "reason": "Request does not match any accept rule, blocking HTTP request",
            "url": url,
        })),
    )
        .into_response()
}

fn not_ready() -> Response {
    (
        http::StatusCode::SERVICE_UNAVAILABLE,
        [
            ("x-broker-failure", "connection-not-ready"),
            ("retry-after", "1"),
        ],
        Json(json!({"ok": false})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_urls_keep_raw_encoding_and_drop_connection_role() {
        let cases = [
            (
                "/broker/tok/list/foo%2Fbar?page=2&x=a%20b",
                "/list/foo%2Fbar?page=2&x=a%20b",
            ),
            ("/broker/tok/list?connection_role=primary&x=1", "/list?x=1"),
            ("/broker/tok/list?connection_role=primary", "/list"),
            ("/broker/tok", "/"),
            ("/broker/tok/", "/"),
        ];
        for (uri, expected) in cases {
            assert_eq!(tunnel_url(&uri.parse().unwrap()), expected, "{uri}");
        }
    }
}
