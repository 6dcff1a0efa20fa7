//! Requests a client sends through its tunnel (agent callbacks), filtered by the server's
//! `private` rules and sent to the rule's origin; the answer is the acknowledgement object.

use serde_json::{json, Map, Value};

use super::Shared;
use crate::filter::{Direction, RequestParts};
use crate::protocol::ejson;
use crate::protocol::message::{
    headers_to_map, map_to_headers, RequestEvent, ResponseObject, HOP_BY_HOP,
};
use crate::token::Token;

/// Request headers never forwarded upstream.
const STRIPPED: &[&str] = &[
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
];

/// Relays one tunnel request; always returns a response object (errors included).
pub(crate) async fn relay(shared: &Shared, token: &Token, event: RequestEvent) -> ResponseObject {
    let mut headers = map_to_headers(&event.headers);
    let body = event.body.as_ref().and_then(ejson::body_bytes);
    let verdict = shared.config.filter.check(
        Direction::Private,
        &RequestParts {
            method: &event.method,
            url: &event.url,
            headers: &headers,
            body: body.as_deref(),
        },
    );
    let Some(allowed) = verdict.allowed().filter(|a| a.url.contains("://")) else {
        tracing::info!(token = %token, method = %event.method, "client request blocked by the server's private rules");
        return ResponseObject {
            status: 401,
            body: json!({"message": "blocked", "reason": "Response does not match any accept rule, blocking websocket request", "url": event.url}),
            ..ResponseObject::default()
        };
    };
    for name in STRIPPED.iter().chain(HOP_BY_HOP) {
        headers.remove(*name);
    }
    if let Some(auth) = &allowed.authorization {
        if let Ok(value) = http::HeaderValue::try_from(auth.as_str()) {
            headers.insert(http::header::AUTHORIZATION, value);
        }
    }
    if let Ok(value) = http::HeaderValue::try_from(token.expose()) {
        headers.insert("x-broker-token", value);
    }
    if let Ok(value) = http::HeaderValue::try_from(token.masked()) {
        headers.insert("x-snyk-broker", value);
    }
    let Ok(method) = http::Method::from_bytes(event.method.as_bytes()) else {
        return error(400, "invalid method");
    };
    let mut request = shared.http.request(method, &allowed.url).headers(headers);
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %e, "upstream unreachable");
            return error(502, "upstream unreachable");
        }
    };
    let status = response.status().as_u16();
    let headers = headers_to_map(response.headers());
    match response.bytes().await {
        Ok(body) => ResponseObject {
            status,
            headers,
            body: Value::String(String::from_utf8_lossy(&body).into_owned()),
            error_type: None,
            original_body_size: None,
        },
        Err(_) => error(502, "upstream response was cut"),
    }
}

/// A broker-made error answer.
pub(crate) fn error(status: u16, message: &str) -> ResponseObject {
    ResponseObject {
        status,
        headers: Map::new(),
        body: json!({"message": message}),
        error_type: None,
        original_body_size: None,
    }
}
