//! Connection settings and registry base addresses (pure).

use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

use crate::error::{Error, Result};

/// How to reach registries: TLS roots, plain-HTTP permission and test overrides.
///
/// The default is HTTPS (with plain HTTP as a fallback for loopback registries written without a
/// scheme), trusting the bundled Mozilla roots and the certificates named by `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`, with no overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// An extra PEM CA bundle to trust besides the default roots.
    pub ca_bundle: Option<PathBuf>,
    /// Use plain HTTP for bases written without a scheme (an explicit `http://` base is always
    /// honoured, and a loopback registry falls back to plain HTTP without this).
    pub insecure_http: bool,
    /// The `User-Agent` header; `cra/<version>` when unset.
    pub user_agent: Option<String>,
    /// The AWS endpoint (STS and ECR) for tests; else the standard AWS environment decides.
    pub aws_endpoint_url: Option<String>,
    /// The vendor REST API base for SaaS registries (Docker Hub, GitHub, DigitalOcean, …), for
    /// tests; else the vendor's public API host, or the registry base for self-hosted products.
    pub api_base_override: Option<String>,
    /// The Artifact Registry location (`europe-west1`, `us`) for a `google-artifact-cr` base whose
    /// host is not `<location>-docker.pkg.dev` (a test server); else the host names it.
    pub artifact_registry_location: Option<String>,
    /// Host names connected to these addresses instead of being resolved (as `curl --resolve`),
    /// for tests and split-horizon networks.
    pub resolve: Vec<(String, SocketAddr)>,
}

/// A parsed `registryBase`: where the registry is and which path follows the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistryBase {
    /// `scheme://host[:port]/` with a trailing slash.
    pub(crate) origin: Url,
    /// `host[:port]` as written in image references.
    pub(crate) host: String,
    /// The path after the host without surrounding slashes (`project`, `artifactory/api/docker/x`).
    pub(crate) path: String,
    /// Whether plain HTTP is tried when HTTPS finds no TLS (a loopback host written without a
    /// scheme, as docker treats `localhost` and `127.0.0.0/8`).
    fallback_to_http: bool,
}

impl RegistryBase {
    /// Parses `host[:port][/path]` or `http(s)://host[:port][/path]`.
    ///
    /// Without a scheme the base is HTTPS, or HTTP when `insecure_http` is set; a loopback host
    /// (`localhost`, `127.0.0.0/8`, `::1`) without a scheme is HTTPS with a plain-HTTP fallback.
    pub(crate) fn parse(base: &str, insecure_http: bool) -> Result<RegistryBase> {
        let base = base.trim();
        let invalid =
            |why: &str| Error::InvalidInput(format!("invalid registry base {base:?}: {why}"));
        let (scheme, rest, schemeless) = if let Some(rest) = base.strip_prefix("https://") {
            ("https", rest, false)
        } else if let Some(rest) = base.strip_prefix("http://") {
            ("http", rest, false)
        } else if base.contains("://") {
            return Err(invalid("only http and https are supported"));
        } else if insecure_http {
            ("http", base, true)
        } else {
            ("https", base, true)
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if host.contains('@') {
            return Err(invalid(
                "credentials belong in the username and password, not the base",
            ));
        }
        let origin =
            Url::parse(&format!("{scheme}://{host}/")).map_err(|e| invalid(&e.to_string()))?;
        if origin.query().is_some() || origin.fragment().is_some() || path.contains(['?', '#']) {
            return Err(invalid("a query or fragment is not allowed"));
        }
        let path = path.trim_matches('/');
        if path.split('/').any(|s| s == ".." || s == ".") {
            return Err(invalid("dot segments are not allowed"));
        }
        let fallback_to_http = schemeless && scheme == "https" && is_loopback(&origin);
        Ok(RegistryBase {
            origin,
            host: host.to_ascii_lowercase(),
            path: path.to_owned(),
            fallback_to_http,
        })
    }

    /// Whether plain HTTP is tried when HTTPS finds no TLS server.
    pub(crate) fn falls_back_to_http(&self) -> bool {
        self.fallback_to_http
    }

    /// Whether the base uses plain HTTP.
    pub(crate) fn is_http(&self) -> bool {
        self.origin.scheme() == "http"
    }

    /// The distribution API root: the origin, plus `prefix` (a path ending without slash).
    pub(crate) fn api_root(&self, prefix: &str) -> Url {
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            return self.origin.clone();
        }
        let mut url = self.origin.clone();
        url.set_path(&format!("/{prefix}/"));
        url
    }

    /// The first path segment, if any (a project, namespace or owner).
    pub(crate) fn first_segment(&self) -> Option<&str> {
        self.path.split('/').next().filter(|s| !s.is_empty())
    }
}

/// Whether the URL's host is on the loopback: `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bases() {
        let cases = [
            (
                "harbor.example/proj",
                false,
                "https://harbor.example/",
                "harbor.example",
                "proj",
            ),
            (
                "Reg.Example:5000",
                false,
                "https://reg.example:5000/",
                "reg.example:5000",
                "",
            ),
            (
                "reg.example:5000",
                true,
                "http://reg.example:5000/",
                "reg.example:5000",
                "",
            ),
            (
                "http://127.0.0.1:5000/",
                false,
                "http://127.0.0.1:5000/",
                "127.0.0.1:5000",
                "",
            ),
            (
                "https://h/artifactory/api/docker/repo/",
                true,
                "https://h/",
                "h",
                "artifactory/api/docker/repo",
            ),
        ];
        for (input, insecure, origin, host, path) in cases {
            let b = RegistryBase::parse(input, insecure).unwrap();
            assert_eq!(b.origin.as_str(), origin, "{input}");
            assert_eq!(b.host, host, "{input}");
            assert_eq!(b.path, path, "{input}");
        }
    }

    #[test]
    fn loopback_hosts_without_a_scheme_fall_back_to_http() {
        for (input, insecure, https, falls_back) in [
            ("localhost:5000", false, true, true),
            ("LOCALHOST:5000/x", false, true, true),
            ("127.0.0.1:5000", false, true, true),
            ("127.1.2.3", false, true, true),
            ("[::1]:5000", false, true, true),
            ("https://127.0.0.1:5000", false, true, false),
            ("http://localhost:5000", false, false, false),
            ("127.0.0.1:5000", true, false, false),
            ("localhost.example:5000", false, true, false),
            ("128.0.0.1:5000", false, true, false),
            ("[::2]:5000", false, true, false),
            ("registry.example", false, true, false),
        ] {
            let b = RegistryBase::parse(input, insecure).unwrap();
            assert_eq!(b.origin.scheme() == "https", https, "{input}");
            assert_eq!(b.falls_back_to_http(), falls_back, "{input}");
        }
    }

    #[test]
    fn rejects_bad_bases() {
        for (input, want) in [
            ("ftp://x", "only http and https"),
            ("", "no host"),
            ("https:///x", "no host"),
            ("u:p@host", "credentials"),
            ("host/a?b=c", "query"),
            ("host/../x", "dot segments"),
        ] {
            let err = RegistryBase::parse(input, false).unwrap_err().to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn api_root_with_prefix() {
        let b = RegistryBase::parse("h:8081", false).unwrap();
        assert_eq!(b.api_root("").as_str(), "https://h:8081/");
        assert_eq!(
            b.api_root("/artifactory/api/docker/x/").as_str(),
            "https://h:8081/artifactory/api/docker/x/"
        );
    }
}
