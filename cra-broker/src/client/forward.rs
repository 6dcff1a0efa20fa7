//! A request from the tunnel: private rules, substitution, header preparation, the call to the
//! agent, and the answer by `/response-data` stream or by acknowledgement.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use super::Shared;
use crate::filter::{Direction, RequestParts};
use crate::protocol::ejson;
use crate::protocol::message::{
    headers_to_map, map_to_headers, RequestEvent, ResponseObject, HOP_BY_HOP,
};
use crate::protocol::response_data::Head;
use crate::protocol::CLIENT_VERSION;
use crate::session::Handle;

/// Request headers removed before the agent sees the request (the stock list).
const STRIPPED: &[&str] = &[
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "snyk-acting-group-public-id",
    "snyk-acting-org-public-id",
    "snyk-acting-user-public-id",
    "snyk-flow-name",
    "snyk-product-line",
    "snyk-project-type",
    "snyk-integration-type",
    "x-snyk-broker-context-id",
];

/// The header that gives the agent this client's `BROKER_CLIENT_URL` as its callback base.
pub const CLIENT_URL_HEADER: &str = "x-broker-client-url";

/// How the response goes back.
#[derive(Debug, Clone)]
enum Reply {
    Post(String),
    Ack(u64),
}

/// What the agent leg produced.
enum Outcome {
    Agent(reqwest::Response),
    Error {
        status: u16,
        error_type: &'static str,
        body: Value,
    },
}

/// Handles one tunnel request to completion; `ack` is the id to answer with, when the server
/// asked for an acknowledgement instead of a response stream.
pub(super) async fn handle(
    shared: &Shared,
    handle: &Handle,
    request: RequestEvent,
    ack: Option<u64>,
) {
    let reply = match ack {
        Some(id) => Reply::Ack(id),
        None if !request.streaming_id.is_empty() => Reply::Post(request.streaming_id.clone()),
        None => {
            tracing::warn!("tunnel request without a way to answer");
            return;
        }
    };
    let request_id = request
        .headers
        .get("snyk-request-id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let outcome = call_agent(shared, request).await;
    deliver(shared, handle, reply, outcome, &request_id).await;
}

/// Answers a tunnel request whose payload does not parse, when it can be answered.
pub(super) async fn invalid(handle: &Handle, ack: Option<u64>) {
    let Some(id) = ack else {
        tracing::warn!("tunnel request without a way to answer");
        return;
    };
    let response = ResponseObject {
        status: 400,
        headers: Map::new(),
        body: json!({"message": "invalid request"}),
        error_type: Some("BAD_REQUEST".to_owned()),
        original_body_size: None,
    };
    if handle.ack(id, response).await.is_err() {
        tracing::warn!("tunnel closed before the response was acknowledged");
    }
}

async fn call_agent(shared: &Shared, request: RequestEvent) -> Outcome {
    let mut headers = map_to_headers(&request.headers);
    let mut body = request.body.as_ref().and_then(ejson::body_bytes);
    if let Err(refusal) =
        shared
            .config
            .vars
            .check_secret_requests(&request.url, &headers, body.as_deref())
    {
        shared
            .refused_secret_requests
            .fetch_add(1, Ordering::Relaxed);
        // The refusal names the variable and the place, never the value.
        tracing::warn!(method = %request.method, variable = %refusal.variable, place = %refusal.place, "tunnel request refused: it asks for a secret outside the Authorization header");
        return Outcome::Error {
            status: 403,
            error_type: "SECRET_REFUSED",
            body: json!({"message": "refused", "reason": refusal.to_string()}),
        };
    }
    let verdict = shared.config.filter.check(
        Direction::Private,
        &RequestParts {
            method: &request.method,
            url: &request.url,
            headers: &headers,
            body: body.as_deref(),
        },
    );
    let Some(allowed) = verdict.allowed() else {
        tracing::info!(method = %request.method, "tunnel request blocked by the private rules");
        return Outcome::Error {
            status: 401,
            error_type: "FILTER_BLOCKED",
            body: json!({"message": "blocked", "reason": "[Websocket Flow][Blocked Request] Does not match any accept rule", "url": request.url}),
        };
    };
    shared.config.vars.substitute_headers(&mut headers);
    if let Some(filled) = body
        .as_deref()
        .and_then(|b| shared.config.vars.substitute_body(b))
    {
        body = Some(filled);
    }
    prepare_headers(
        &mut headers,
        allowed.authorization.as_deref(),
        shared.config.client_url.as_deref(),
    );
    let Ok(method) = http::Method::from_bytes(request.method.as_bytes()) else {
        return Outcome::Error {
            status: 400,
            error_type: "BAD_REQUEST",
            body: json!({"message": "invalid method"}),
        };
    };
    let mut call = shared.http.request(method, &allowed.url).headers(headers);
    if let Some(body) = body {
        call = call.body(body);
    }
    match call.send().await {
        Ok(response) => Outcome::Agent(response),
        Err(e) => {
            tracing::warn!(error = %e, "agent unreachable");
            Outcome::Error {
                status: 502,
                error_type: "DOWNSTREAM_UNREACHABLE",
                body: json!({"code": "DOWNSTREAM_UNREACHABLE", "message": "the downstream service cannot be reached"}),
            }
        }
    }
}

/// The stock header preparation, plus the callback base: whatever the server side sent as
/// [`CLIENT_URL_HEADER`] is replaced by this client's own URL, or dropped when it has none.
fn prepare_headers(
    headers: &mut http::HeaderMap,
    authorization: Option<&str>,
    client_url: Option<&str>,
) {
    for name in STRIPPED.iter().chain(HOP_BY_HOP) {
        headers.remove(*name);
    }
    set_client_url(headers, client_url);
    let original_ua = headers
        .remove(http::header::USER_AGENT)
        .unwrap_or_else(|| http::HeaderValue::from_static("not-provided"));
    headers.insert("x-broker-origin-ua", original_ua);
    if let Ok(ua) = http::HeaderValue::try_from(format!("Snyk Broker Client {CLIENT_VERSION}")) {
        headers.insert(http::header::USER_AGENT, ua);
    }
    if let Some(value) = authorization.and_then(|a| http::HeaderValue::try_from(a).ok()) {
        headers.insert(http::header::AUTHORIZATION, value);
    }
}

/// Replaces every [`CLIENT_URL_HEADER`] with `client_url` (or removes it when there is none).
pub(super) fn set_client_url(headers: &mut http::HeaderMap, client_url: Option<&str>) {
    headers.remove(CLIENT_URL_HEADER);
    if let Some(value) = client_url.and_then(|url| http::HeaderValue::try_from(url).ok()) {
        headers.insert(CLIENT_URL_HEADER, value);
    }
}

async fn deliver(
    shared: &Shared,
    handle: &Handle,
    reply: Reply,
    outcome: Outcome,
    request_id: &str,
) {
    match reply {
        Reply::Ack(id) => {
            let object = ack_object(shared, outcome, request_id).await;
            if handle.ack(id, object).await.is_err() {
                tracing::warn!("tunnel closed before the response was acknowledged");
            }
        }
        Reply::Post(streaming_id) => {
            // The URL holds the token: the error is logged without it.
            if let Err(e) = post_stream(shared, &streaming_id, outcome, request_id)
                .await
                .map_err(reqwest::Error::without_url)
            {
                tracing::warn!(error = %e, "cannot stream the response to the server");
            }
        }
    }
}

async fn post_stream(
    shared: &Shared,
    streaming_id: &str,
    outcome: Outcome,
    request_id: &str,
) -> Result<(), reqwest::Error> {
    let (head, body): (
        Head,
        futures_util::stream::BoxStream<'static, Result<Bytes, reqwest::Error>>,
    ) = match outcome {
        Outcome::Agent(response) => {
            let head = Head {
                status: response.status().as_u16(),
                headers: headers_to_map(response.headers()),
                error_type: None,
            };
            (head, response.bytes_stream().boxed())
        }
        Outcome::Error {
            status,
            error_type,
            body,
        } => {
            let head = Head {
                status,
                headers: Map::new(),
                error_type: Some(error_type.to_owned()),
            };
            let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
            (
                head,
                futures_util::stream::once(async move { Ok(bytes) }).boxed(),
            )
        }
    };
    let prefix = head.encode();
    let stream = futures_util::stream::once(async move { Ok(prefix) }).chain(body);
    let base = shared.config.server_url.as_str().trim_end_matches('/');
    let url = format!(
        "{base}/response-data/{}/{streaming_id}?connection_role=primary",
        shared.config.token.expose()
    );
    let response = shared
        .http
        .post(url)
        .header(
            http::header::CONTENT_TYPE,
            "application/vnd.broker.stream+octet-stream",
        )
        .header(
            http::header::USER_AGENT,
            format!("Snyk Broker client {CLIENT_VERSION}"),
        )
        .header("x-broker-client-version", CLIENT_VERSION)
        .header("snyk-request-id", request_id)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await?;
    if !response.status().is_success() {
        tracing::warn!(
            status = response.status().as_u16(),
            "the server refused the response stream"
        );
    }
    Ok(())
}

async fn ack_object(shared: &Shared, outcome: Outcome, request_id: &str) -> ResponseObject {
    let limit = shared.config.max_ack_body;
    match outcome {
        Outcome::Error {
            status,
            error_type,
            body,
        } => ResponseObject {
            status,
            headers: Map::new(),
            body,
            error_type: Some(error_type.to_owned()),
            original_body_size: None,
        },
        Outcome::Agent(response) => {
            let status = response.status().as_u16();
            let mut headers = headers_to_map(response.headers());
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            let mut failed = false;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
                if body.len() > limit {
                    break;
                }
            }
            if body.len() > limit {
                let size = body.len();
                ResponseObject {
                    status: 502,
                    headers: Map::new(),
                    body: json!({"message": format!("body size of {size} is greater than max allowed of {limit} bytes"), "code": "BODY_TOO_LARGE"}),
                    error_type: Some("BODY_TOO_LARGE".into()),
                    original_body_size: Some(size),
                }
            } else if failed {
                ResponseObject {
                    status: 502,
                    headers: Map::new(),
                    body: json!({"code": "DOWNSTREAM_ERROR", "message": "the downstream response was cut"}),
                    error_type: Some("DOWNSTREAM_ERROR".into()),
                    original_body_size: None,
                }
            } else {
                headers.insert(
                    "snyk-request-id".into(),
                    Value::String(request_id.to_owned()),
                );
                headers.insert("x-broker-ws-response".into(), Value::String("true".into()));
                ResponseObject {
                    status,
                    headers,
                    body: Value::String(String::from_utf8_lossy(&body).into_owned()),
                    error_type: None,
                    original_body_size: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_header_preparation() {
        let mut headers = http::HeaderMap::new();
        for (k, v) in [
            ("host", "server"),
            ("content-length", "5"),
            ("x-forwarded-for", "1.2.3.4"),
            ("snyk-acting-org-public-id", "org"),
            ("x-snyk-broker-context-id", "ctx"),
            ("connection", "keep-alive"),
            ("user-agent", "curl/8"),
            ("accept", "application/json"),
            ("snyk-request-id", "r"),
            ("x-broker-client-url", "http://forged.invalid"),
        ] {
            headers.insert(http::HeaderName::from_static(k), v.parse().unwrap());
        }
        prepare_headers(&mut headers, Some("Bearer x"), Some("http://client:7341"));
        let names: Vec<_> = headers.keys().map(|k| k.as_str().to_owned()).collect();
        for gone in [
            "host",
            "content-length",
            "x-forwarded-for",
            "snyk-acting-org-public-id",
            "x-snyk-broker-context-id",
            "connection",
        ] {
            assert!(!names.contains(&gone.to_owned()), "{gone}");
        }
        assert_eq!(
            headers["user-agent"],
            format!("Snyk Broker Client {CLIENT_VERSION}").as_str()
        );
        assert_eq!(headers["x-broker-origin-ua"], "curl/8");
        assert_eq!(headers["authorization"], "Bearer x");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["snyk-request-id"], "r");
        assert_eq!(headers["x-broker-client-url"], "http://client:7341");
        let mut bare = http::HeaderMap::new();
        bare.insert(CLIENT_URL_HEADER, "http://forged.invalid".parse().unwrap());
        prepare_headers(&mut bare, None, None);
        assert_eq!(bare["x-broker-origin-ua"], "not-provided");
        assert!(bare.get(CLIENT_URL_HEADER).is_none());
    }
}
