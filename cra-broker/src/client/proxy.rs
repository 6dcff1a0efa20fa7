//! `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`: which proxy, if any, the client goes through to
//! reach a host, for the tunnel and for its HTTP calls (response streams, the agent).
//!
//! `NO_PROXY` is a comma-separated list of host names (a leading `.` or `*.` also covers the
//! subdomains, and a name covers its subdomains too), IP addresses, optional `:port`
//! suffixes (ignored), or `*` for every host.

use crate::error::Error;

/// The proxy settings of a client.
#[derive(Clone, Default)]
pub struct Proxy {
    http: Option<url::Url>,
    https: Option<url::Url>,
    no_proxy: String,
}

impl Proxy {
    /// No proxy at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Validates the raw settings; a proxy URL that does not parse is an error naming its
    /// variable.
    pub fn new(
        http: Option<&str>,
        https: Option<&str>,
        no_proxy: Option<&str>,
    ) -> Result<Self, Error> {
        let parse = |name: &'static str, value: Option<&str>| {
            value
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    // Like curl and Node's proxy agents, a bare `host:port` means plain HTTP.
                    let with_scheme = if v.contains("://") {
                        v.to_owned()
                    } else {
                        format!("http://{v}")
                    };
                    url::Url::parse(&with_scheme)
                        .ok()
                        .filter(|u| u.host_str().is_some())
                        .ok_or(Error::Setting {
                            name,
                            reason: "is not a proxy URL".into(),
                        })
                })
                .transpose()
        };
        Ok(Self {
            http: parse("HTTP_PROXY", http)?,
            https: parse("HTTPS_PROXY", https)?,
            no_proxy: no_proxy.unwrap_or_default().trim().to_owned(),
        })
    }

    /// The proxy that reaches `host`, or `None` to connect directly.
    pub fn for_host(&self, secure: bool, host: &str) -> Option<&url::Url> {
        let proxy = if secure { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        (!self.bypassed(host)).then_some(proxy)
    }

    /// Whether `NO_PROXY` names `host`.
    fn bypassed(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.no_proxy
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .any(|entry| {
                if entry == "*" {
                    return true;
                }
                let entry = strip_port(entry);
                let name = entry.trim_start_matches('*').trim_start_matches('.');
                !name.is_empty()
                    && (host.eq_ignore_ascii_case(name)
                        || host.len().checked_sub(name.len() + 1).is_some_and(|cut| {
                            host.as_bytes()[cut] == b'.'
                                && host[cut + 1..].eq_ignore_ascii_case(name)
                        }))
            })
    }

    /// Configures an HTTP client to use exactly these settings (and not the environment's).
    pub(crate) fn apply(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, Error> {
        let mut builder = builder.no_proxy();
        let no_proxy = reqwest::NoProxy::from_string(&self.no_proxy);
        if let Some(url) = &self.http {
            let proxy = reqwest::Proxy::http(url.as_str()).map_err(Error::Http)?;
            builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
        }
        if let Some(url) = &self.https {
            let proxy = reqwest::Proxy::https(url.as_str()).map_err(Error::Http)?;
            builder = builder.proxy(proxy.no_proxy(no_proxy));
        }
        Ok(builder)
    }
}

/// `host:port` → `host`; IPv6 literals keep their colons.
fn strip_port(entry: &str) -> &str {
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => entry,
    }
}

/// A proxy URL without its credentials, for logs and `Debug`.
pub(crate) fn display(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("http", &self.http.as_ref().map(display))
            .field("https", &self.https.as_ref().map(display))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_by_scheme_and_honours_no_proxy() {
        let proxy = Proxy::new(
            Some("http://plain:3128"),
            Some("secure:8443"),
            Some(" .internal.example, 10.0.0.7:443 ,broker.example,[::1]"),
        )
        .unwrap();
        let host = |secure, h| proxy.for_host(secure, h).map(display);
        assert_eq!(host(false, "a.example").unwrap(), "http://plain:3128");
        assert_eq!(host(true, "a.example").unwrap(), "http://secure:8443");
        for bypassed in [
            "x.internal.example",
            "internal.example",
            "10.0.0.7",
            "broker.example",
            "api.broker.example",
            "BROKER.example",
            "[::1]",
        ] {
            assert!(host(true, bypassed).is_none(), "{bypassed}");
        }
        for proxied in ["notbroker.example", "10.0.0.70", "example"] {
            assert!(host(true, proxied).is_some(), "{proxied}");
        }
        let all = Proxy::new(None, Some("http://p:1"), Some("*")).unwrap();
        assert!(all.for_host(true, "anything").is_none());
        assert!(Proxy::none().for_host(true, "anything").is_none());
        let only_https = Proxy::new(None, Some("http://p:1"), None).unwrap();
        assert!(only_https.for_host(false, "h").is_none());
    }

    #[test]
    fn bad_urls_name_their_variable_and_credentials_stay_hidden() {
        let err = Proxy::new(None, Some("http://"), None).unwrap_err();
        assert!(err.to_string().contains("HTTPS_PROXY"), "{err}");
        let proxy = Proxy::new(Some("http://user:s3cret@proxy:3128"), None, None).unwrap();
        let debug = format!("{proxy:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("user"),
            "{debug}"
        );
        assert!(debug.contains("proxy:3128"), "{debug}");
    }
}
