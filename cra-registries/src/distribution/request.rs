//! Requests as data: method, URL, headers and how to authenticate, for every endpoint (pure).
//!
//! Nothing here does IO; [`super::client::Client::send`] sends what these functions build.

use bytes::Bytes;
use cra_core::manifest::media_type;
use cra_core::{Digest, Secret};
use http::{HeaderName, HeaderValue, Method};
use url::Url;

use crate::error::{Error, Result};

/// How a request authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No credentials.
    None,
    /// The distribution flow: answer the registry's `WWW-Authenticate` challenge (Basic, or a
    /// Bearer token for these scopes from the realm).
    Registry(Vec<String>),
    /// `Authorization: Basic` with the client's username and password.
    Basic,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// A custom header carrying a secret (`PRIVATE-TOKEN`, `Authorization: JWT …`).
    Header(HeaderName, Secret),
}

/// One HTTP request, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The method.
    pub(crate) method: Method,
    /// The absolute URL.
    pub(crate) url: Url,
    /// Extra headers.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// How to authenticate.
    pub(crate) auth: Auth,
    /// The body, if any.
    pub(crate) body: Option<Bytes>,
}

impl Request {
    /// A `GET` of `url` with `auth`.
    pub(crate) fn get(url: Url, auth: Auth) -> Request {
        Request {
            method: Method::GET,
            url,
            headers: Vec::new(),
            auth,
            body: None,
        }
    }

    /// Adds a header (values built here are static or validated, so invalid ones are skipped).
    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// Sets a JSON body and its content type.
    pub(crate) fn json(mut self, body: &serde_json::Value) -> Request {
        self.body = Some(Bytes::from(body.to_string()));
        self.header(http::header::CONTENT_TYPE, "application/json")
    }

    /// Sets a form body and its content type.
    pub(crate) fn form(mut self, fields: &[(&str, &str)]) -> Request {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.body = Some(Bytes::from(body));
        self.header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
    }

    /// `METHOD url` without the query string, for messages and logs.
    pub(crate) fn what(&self) -> String {
        format!("{} {}", self.method, redact(&self.url))
    }
}

/// A URL without its query string and fragment (presigned URLs carry credentials there).
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// The pull scope of a repository.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// The catalog scope.
pub(crate) const CATALOG_SCOPE: &str = "registry:catalog:*";

/// Checks a repository name against the distribution grammar (lowercase path components of
/// `[a-z0-9]` separated by `.`, `_`, `__`, `-`), so it can go into a URL path unescaped.
pub(crate) fn validate_repository(name: &str) -> Result<()> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.as_bytes()[0].is_ascii_alphanumeric()
            && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
    };
    if name.len() > 255 || !name.split('/').all(component_ok) {
        return Err(Error::InvalidInput(format!(
            "invalid repository name {name:?}: expected lowercase path components like team/app"
        )));
    }
    Ok(())
}

/// Checks a manifest reference: a tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) or a digest.
pub(crate) fn validate_reference(reference: &str) -> Result<()> {
    if reference.contains(':') {
        return reference
            .parse::<Digest>()
            .map(|_| ())
            .map_err(|e| Error::InvalidInput(format!("invalid manifest reference: {e}")));
    }
    let ok = !reference.is_empty()
        && reference.len() <= 128
        && (reference.as_bytes()[0].is_ascii_alphanumeric() || reference.starts_with('_'))
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!("invalid tag {reference:?}")))
    }
}

fn join(root: &Url, path: &str) -> Result<Url> {
    root.join(path)
        .map_err(|e| Error::InvalidInput(format!("cannot build a URL from {path:?}: {e}")))
}

/// `GET /v2/`.
pub(crate) fn ping(root: &Url) -> Result<Request> {
    Ok(Request::get(join(root, "v2/")?, Auth::Registry(Vec::new())))
}

fn paged(mut url: Url, n: Option<u32>, last: Option<&str>) -> Url {
    {
        let mut q = url.query_pairs_mut();
        if let Some(n) = n {
            q.append_pair("n", &n.to_string());
        }
        if let Some(last) = last {
            q.append_pair("last", last);
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

/// `GET /v2/_catalog?n=`, or the page a previous `Link` pointed to.
pub(crate) fn catalog(root: &Url, n: Option<u32>, next: Option<Url>) -> Result<Request> {
    let url = match next {
        Some(url) => url,
        None => paged(join(root, "v2/_catalog")?, n, None),
    };
    Ok(Request::get(
        url,
        Auth::Registry(vec![CATALOG_SCOPE.to_owned()]),
    ))
}

/// `GET /v2/<name>/tags/list?n=`, or the page a previous `Link` pointed to.
pub(crate) fn tags(
    root: &Url,
    repository: &str,
    n: Option<u32>,
    next: Option<Url>,
) -> Result<Request> {
    validate_repository(repository)?;
    let url = match next {
        Some(url) => url,
        None => paged(join(root, &format!("v2/{repository}/tags/list"))?, n, None),
    };
    Ok(Request::get(
        url,
        Auth::Registry(vec![pull_scope(repository)]),
    ))
}

/// The `Accept` value for manifests: OCI index, Docker list, OCI manifest, Docker manifest.
pub(crate) fn manifest_accept() -> String {
    media_type::MANIFEST_ACCEPT.join(", ")
}

/// `GET` (or `HEAD`) `/v2/<name>/manifests/<reference>` with the manifest `Accept` list.
pub(crate) fn manifest(
    root: &Url,
    repository: &str,
    reference: &str,
    head: bool,
) -> Result<Request> {
    validate_repository(repository)?;
    validate_reference(reference)?;
    let url = join(root, &format!("v2/{repository}/manifests/{reference}"))?;
    let mut req = Request::get(url, Auth::Registry(vec![pull_scope(repository)]))
        .header(http::header::ACCEPT, &manifest_accept());
    if head {
        req.method = Method::HEAD;
    }
    Ok(req)
}

/// `GET /v2/<name>/blobs/<digest>`.
pub(crate) fn blob(root: &Url, repository: &str, digest: &Digest) -> Result<Request> {
    validate_repository(repository)?;
    let url = join(root, &format!("v2/{repository}/blobs/{digest}"))?;
    Ok(Request::get(
        url,
        Auth::Registry(vec![pull_scope(repository)]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Url {
        Url::parse("https://r.example:5000/").unwrap()
    }

    #[test]
    fn builds_distribution_urls() {
        let cases = [
            (
                catalog(&root(), Some(3), None).unwrap(),
                "https://r.example:5000/v2/_catalog?n=3",
            ),
            (
                catalog(&root(), None, None).unwrap(),
                "https://r.example:5000/v2/_catalog",
            ),
            (
                tags(&root(), "team/app", Some(50), None).unwrap(),
                "https://r.example:5000/v2/team/app/tags/list?n=50",
            ),
            (
                manifest(&root(), "a/b/c", "v1.0", false).unwrap(),
                "https://r.example:5000/v2/a/b/c/manifests/v1.0",
            ),
            (ping(&root()).unwrap(), "https://r.example:5000/v2/"),
        ];
        for (req, want) in cases {
            assert_eq!(req.url.as_str(), want);
        }
        let prefixed = Url::parse("https://h/artifactory/api/docker/repo/").unwrap();
        let req = blob(&prefixed, "app", &Digest::sha256_of(b"")).unwrap();
        assert_eq!(
            req.url.as_str(),
            format!(
                "https://h/artifactory/api/docker/repo/v2/app/blobs/{}",
                Digest::sha256_of(b"")
            )
        );
        assert_eq!(req.auth, Auth::Registry(vec!["repository:app:pull".into()]));
    }

    #[test]
    fn manifest_request_accepts_all_four_types_and_head() {
        let req = manifest(&root(), "app", "latest", true).unwrap();
        assert_eq!(req.method, Method::HEAD);
        let accept = req
            .headers
            .iter()
            .find(|(n, _)| n == http::header::ACCEPT)
            .unwrap();
        let accept = accept.1.to_str().unwrap();
        for t in media_type::MANIFEST_ACCEPT {
            assert!(accept.contains(t), "{accept}");
        }
    }

    #[test]
    fn rejects_bad_names_and_references() {
        for bad in ["", "UP", "a//b", "../x", "a/.hidden", "a?x", "a%2Fb", "-a"] {
            assert!(validate_repository(bad).is_err(), "{bad}");
        }
        for good in ["a", "team/app", "a.b_c-d/e__f", "library/alpine"] {
            assert!(validate_repository(good).is_ok(), "{good}");
        }
        for bad in ["", ".x", "a/b", "sha256:abc", "x?y", &"t".repeat(129)] {
            assert!(validate_reference(bad).is_err(), "{bad}");
        }
        assert!(validate_reference("v1.0_rc-1").is_ok());
        assert!(validate_reference(&Digest::sha256_of(b"x").to_string()).is_ok());
    }

    #[test]
    fn redacts_query_and_userinfo() {
        let url = Url::parse("https://u:p@s3.example/bucket/blob?X-Amz-Signature=abc#f").unwrap();
        assert_eq!(redact(&url), "https://s3.example/bucket/blob");
    }
}
