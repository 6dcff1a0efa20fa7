//! Which scopes of a policy or a `registries.d` file apply to an image, most specific first.

use super::identity::DockerIdentity;

/// The scopes that can name `image`, most specific first: the reference with its tag or digest,
/// the repository, each parent namespace, the host with its port, then `*.domain` wildcards of
/// the host without its port (containers/image's `PolicyConfigurationNamespaces`).
pub fn candidates(image: &DockerIdentity) -> Vec<String> {
    let mut out = Vec::new();
    if !image.is_name_only() {
        out.push(image.to_string());
    }
    let mut name = image.name();
    out.push(name.clone());
    while let Some(slash) = name.rfind('/') {
        name.truncate(slash);
        out.push(name.clone());
    }
    let mut host = match name.find(':') {
        Some(colon) => &name[..colon],
        None => name.as_str(),
    };
    while let Some(dot) = host.find('.') {
        host = &host[dot + 1..];
        out.push(format!("*.{host}"));
    }
    out
}

/// Whether `scope` is a well-formed docker scope: a reference, a repository or namespace, a
/// host with an optional port, or `*.domain`.
pub(super) fn valid(scope: &str) -> bool {
    let body = scope.strip_prefix("*.").unwrap_or(scope);
    if scope.starts_with("*.") && (body.contains('/') || body.contains(':')) {
        return false;
    }
    !body.is_empty()
        && !body.contains('*')
        && !body.starts_with('/')
        && !body.ends_with('/')
        && !body.contains("//")
        && body
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_run_from_the_tagged_reference_to_wildcard_domains() {
        let image: DockerIdentity = "reg.sub.example.com:5000/ns/app:1".parse().unwrap();
        assert_eq!(
            candidates(&image),
            [
                "reg.sub.example.com:5000/ns/app:1",
                "reg.sub.example.com:5000/ns/app",
                "reg.sub.example.com:5000/ns",
                "reg.sub.example.com:5000",
                "*.sub.example.com",
                "*.example.com",
                "*.com",
            ]
        );
    }

    #[test]
    fn malformed_scopes_are_not_valid() {
        for bad in ["", "*.", "a b", "example*.com", "*.a.com/x", "/x", "x/"] {
            assert!(!valid(bad), "{bad:?}");
        }
        for good in ["localhost:5000", "r.example/ns/app:1", "*.example.com"] {
            assert!(valid(good), "{good:?}");
        }
    }
}
