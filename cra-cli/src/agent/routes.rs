//! The synchronous routes: health, credentials, listings, metadata, state id and metrics.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cra_core::registry::MAX_PAGES;
use cra_core::{PageRequest, Platform, Registry, RegistryCredentials, RegistryError};
use serde::Serialize;
use serde_json::json;

use crate::agent::error::ApiError;
use crate::agent::image::{parse_repository, ImageName};
use crate::agent::state::AppState;

/// The largest page `/list-paginated` asks a registry for.
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// Decodes the `Authorization` header into credentials.
pub fn credentials(headers: &HeaderMap) -> Result<RegistryCredentials, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(ApiError::missing_credentials)?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::bad_request("the Authorization header is not ASCII"))?;
    if value.trim().is_empty() {
        return Err(ApiError::missing_credentials());
    }
    let credentials = RegistryCredentials::from_base64(value)?;
    if credentials
        .registry_base()
        .is_some_and(crate::agent::settings::has_user_info)
    {
        return Err(ApiError::user_info_in_base());
    }
    Ok(credentials)
}

/// Runs one registry operation under the agent's registry timeout.
pub async fn timed<T>(
    state: &AppState,
    op: impl Future<Output = Result<T, RegistryError>>,
) -> Result<T, ApiError> {
    let limit = state.settings.registry_timeout;
    match tokio::time::timeout(limit, op).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::registry_timeout(limit)),
    }
}

/// The registry named by the request's credentials.
pub async fn connect(state: &AppState, headers: &HeaderMap) -> Result<Arc<dyn Registry>, ApiError> {
    let creds = credentials(headers)?;
    timed(state, state.connector.connect(&creds)).await
}

/// Query parameters as pairs, decoded leniently.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn platform_param(pairs: &[(String, String)]) -> Result<Option<Platform>, ApiError> {
    query_value(pairs, "platform")
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<Platform>())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

fn repository_param(raw: &str) -> Result<String, ApiError> {
    parse_repository(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /healthcheck`: the agent is up.
pub async fn healthcheck() -> Json<serde_json::Value> {
    Json(json!({"ok": true, "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /ready`: the agent takes work; 503 `shutting_down` once it stops (no credentials needed).
pub async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if state.queue.is_open() {
        Ok(Json(json!({"ok": true})))
    } else {
        Err(ApiError::shutting_down())
    }
}

/// One check of `/systemcheck`.
#[derive(Debug, Serialize)]
pub struct Check {
    name: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// `GET /systemcheck`: decodes the credentials, reaches the registry, validates the credentials
/// and checks that results can be called back; 200 when all pass, else the status of the first
/// failure, with every check listed either way.
pub async fn systemcheck(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut checks = Vec::new();
    let mut failure: Option<ApiError> = None;
    let mut registry_type = None;
    let mut fail = |checks: &mut Vec<Check>, name, err: ApiError| {
        checks.push(Check {
            name,
            ok: false,
            message: Some(err.message.clone()),
        });
        failure.get_or_insert(err);
    };
    match credentials(&headers) {
        Err(err) => fail(&mut checks, "credentials", err),
        Ok(creds) => {
            registry_type = Some(creds.kind().as_str());
            checks.push(Check {
                name: "credentials",
                ok: true,
                message: None,
            });
            let reached = match timed(&state, state.connector.connect(&creds)).await {
                Ok(registry) => timed(&state, registry.validate_credentials()).await,
                Err(err) => Err(err),
            };
            match reached {
                Ok(()) => checks.push(Check {
                    name: "registry",
                    ok: true,
                    message: None,
                }),
                Err(err) => fail(&mut checks, "registry", err),
            }
        }
    }
    if crate::agent::scan::can_report(&state.settings, &headers) {
        checks.push(Check {
            name: "callback",
            ok: true,
            message: None,
        });
    } else {
        fail(&mut checks, "callback", ApiError::callback_not_configured());
    }
    let ok = failure.is_none();
    let status = failure.map_or(StatusCode::OK, |e| e.status);
    let body = json!({"ok": ok, "registryType": registry_type, "checks": checks});
    (status, Json(body)).into_response()
}

/// `GET /validate-credentials`: one cheap authenticated call to the registry.
pub async fn validate_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let registry = connect(&state, &headers).await?;
    timed(&state, registry.validate_credentials()).await?;
    Ok(Json(json!({
        "ok": true,
        "registryType": registry.kind().as_str(),
        "registry": registry.host(),
    })))
}

/// `GET /list`: every repository.
pub async fn list_repositories(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    let registry = connect(&state, &headers).await?;
    Ok(Json(timed(&state, registry.list_all_repositories()).await?))
}

/// `GET /list/<repository>`: every tag of one repository.
pub async fn list_tags(
    State(state): State<AppState>,
    Path(repository): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    let repository = repository_param(&repository)?;
    let registry = connect(&state, &headers).await?;
    Ok(Json(
        timed(&state, registry.list_all_tags(&repository)).await?,
    ))
}

/// One page of `/list-paginated`.
#[derive(Debug, Serialize)]
pub struct TagPage {
    items: Vec<String>,
    next: Option<String>,
}

/// `GET /list-paginated/<repository>?size=N&cursor=C`: one page of tags.
pub async fn list_paginated(
    State(state): State<AppState>,
    Path(repository): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<TagPage>, ApiError> {
    let repository = repository_param(&repository)?;
    let pairs = query_pairs(query.as_deref());
    let size = match query_value(&pairs, "size").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "size must be an integer from 1 to {MAX_PAGE_SIZE}"
                )))
            }
        },
    };
    let cursor = query_value(&pairs, "cursor")
        .filter(|c| !c.is_empty())
        .map(crate::agent::cursor::decode)
        .transpose()?;
    let asked_for_a_page = cursor.is_some();
    let registry = connect(&state, &headers).await?;
    let page = timed(
        &state,
        registry.list_tags(&repository, &PageRequest { size, cursor }),
    )
    .await
    .map_err(|err| {
        // The adapter refuses a cursor it cannot have issued as invalid input.
        if asked_for_a_page && err.status == StatusCode::BAD_REQUEST {
            ApiError::page_not_found()
        } else {
            err
        }
    })?;
    Ok(Json(TagPage {
        items: page.items,
        next: page.next.as_deref().map(crate::agent::cursor::encode),
    }))
}

/// A tag with its metadata.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagMetadata {
    tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_pushed: Option<String>,
}

/// `GET /list-with-metadata/<repository>`: every tag with its digest and last-pushed time, when
/// the registry exposes them.
pub async fn list_with_metadata(
    State(state): State<AppState>,
    Path(repository): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<TagMetadata>>, ApiError> {
    let repository = repository_param(&repository)?;
    let registry = connect(&state, &headers).await?;
    let all = timed(&state, async {
        let mut all = Vec::new();
        let mut page = PageRequest::default();
        for _ in 0..MAX_PAGES {
            let got = registry.list_tags_with_metadata(&repository, &page).await?;
            all.extend(got.items.into_iter().map(|t| TagMetadata {
                tag: t.tag,
                digest: t.digest.map(|d| d.to_string()),
                last_pushed: t.last_pushed,
            }));
            match got.next {
                Some(next) if Some(&next) != page.cursor.as_ref() => page.cursor = Some(next),
                Some(_) => {
                    return Err(RegistryError::new(
                        cra_core::ErrorKind::Protocol,
                        "tag listing returned the same page cursor twice",
                    ))
                }
                None => return Ok(all),
            }
        }
        Err(RegistryError::new(
            cra_core::ErrorKind::Protocol,
            "tag listing did not end",
        ))
    })
    .await?;
    Ok(Json(all))
}

fn image_param(raw: &str) -> Result<ImageName, ApiError> {
    raw.parse::<ImageName>()
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /image-metadata/<repository>:<tag>` (or `@<digest>`; `?platform=os/arch[/variant]`):
/// manifest digest, config digest, platform, creation time, layers and sizes, no layer pulled.
pub async fn image_metadata(
    State(state): State<AppState>,
    Path(image): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = image_param(&image)?;
    let platform = platform_param(&query_pairs(query.as_deref()))?;
    let registry = connect(&state, &headers).await?;
    let reference = name
        .reference(registry.host())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let limit = state.settings.registry_timeout;
    let inspected =
        tokio::time::timeout(limit, state.engine.inspect(registry, reference, platform))
            .await
            .map_err(|_| ApiError::registry_timeout(limit))??;
    Ok(Json(inspected).into_response())
}

/// `GET /get-state-identifier?image=<repository>:<tag>`: the digest the tag resolves to now, so
/// that a recurring test can skip an image that has not changed; no layer is pulled.
pub async fn state_identifier(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let raw = match (
        query_value(&pairs, "image"),
        query_value(&pairs, "repository"),
    ) {
        (Some(image), _) => image.to_owned(),
        (None, Some(repository)) => match query_value(&pairs, "tag") {
            Some(tag) => format!("{repository}:{tag}"),
            None => repository.to_owned(),
        },
        (None, None) => {
            return Err(ApiError::bad_request(
                "the image query parameter (<repository>:<tag>) is required",
            ))
        }
    };
    let name = image_param(&raw)?;
    let registry = connect(&state, &headers).await?;
    name.reference(registry.host())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let manifest = timed(
        &state,
        registry.fetch_manifest(&name.repository, &name.manifest_reference()),
    )
    .await?;
    Ok(Json(json!({
        "image": name.to_string(),
        "stateIdentifier": manifest.digest.to_string(),
    })))
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(crate::agent::metrics::Gauges {
        queue: state.queue.snapshot(),
        callbacks_pending: state.outbox.pending(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}
