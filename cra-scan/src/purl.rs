//! Package URL construction for every ecosystem the analyzers report.
//!
//! Purls are built with the `packageurl` crate, never by string concatenation, so encoding follows
//! the purl specification (`+` → `%2B`, npm scope `@` → `%40`, sorted qualifiers).
//! Type-specific normalisation (PEP 503 names for pypi, the rpm epoch as a qualifier) lives here.
//!
//! OS packages are found before the OS is known, so analyzers give them a provisional namespace;
//! [`qualify_os_packages`] rewrites apk and rpm purls with the image's OS (`distro=`) after merge.

use cra_core::{Ecosystem, Location, OsRelease, Package};
use packageurl::PackageUrl;

/// The parts of one purl.
#[derive(Debug, Clone, Default)]
pub struct PurlParts<'a> {
    /// The purl type (`npm`, `pypi`).
    pub ty: &'a str,
    /// The namespace, `/`-separated segments, not yet encoded.
    pub namespace: Option<&'a str>,
    /// The name, not yet encoded.
    pub name: &'a str,
    /// The version, not yet encoded; empty means none.
    pub version: &'a str,
    /// Qualifiers; empty values are dropped.
    pub qualifiers: Vec<(&'static str, String)>,
}

impl PurlParts<'_> {
    /// Renders the purl; a part the purl grammar cannot hold (an empty name) gives an empty string.
    pub fn build(&self) -> String {
        let Ok(mut purl) = PackageUrl::new(self.ty, self.name) else {
            return String::new();
        };
        if let Some(ns) = self.namespace.filter(|ns| !ns.is_empty()) {
            if purl.with_namespace(ns).is_err() {
                return String::new();
            }
        }
        if !self.version.is_empty() && purl.with_version(self.version).is_err() {
            return String::new();
        }
        for (key, value) in &self.qualifiers {
            if !value.is_empty() && purl.add_qualifier(*key, value.as_str()).is_err() {
                return String::new();
            }
        }
        purl.to_string()
    }
}

/// A package record with the fields every analyzer sets; the walker fills the layer fields.
pub fn new_package(
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    purl: String,
    path: &str,
) -> Package {
    Package {
        ecosystem,
        name: name.to_owned(),
        version: version.to_owned(),
        source_name: None,
        source_version: None,
        arch: None,
        license: None,
        purl,
        dependencies: Vec::new(),
        location: Location {
            path: path.to_owned(),
            layer_index: 0,
            diff_id: None,
            layer_digest: None,
        },
        os_managed: false,
        version_from_file_name: false,
        sha1: None,
    }
}

/// A purl with just type, optional namespace, name and version.
pub fn simple(ty: &str, namespace: Option<&str>, name: &str, version: &str) -> String {
    PurlParts {
        ty,
        namespace,
        name,
        version,
        qualifiers: Vec::new(),
    }
    .build()
}

/// PEP 503 name normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// The purl of a pypi distribution.
pub fn pypi(name: &str, version: &str) -> String {
    simple("pypi", None, &pep503(name), version)
}

/// The purl of an npm package; `name` may carry a scope (`@babel/core`).
pub fn npm(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, bare)) if scope.starts_with('@') => simple("npm", Some(scope), bare, version),
        _ => simple("npm", None, name, version),
    }
}

/// Splits an rpm display version `[epoch:]version-release` into epoch and the rest.
pub fn split_epoch(version: &str) -> (Option<&str>, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(epoch), rest)
        }
        _ => (None, version),
    }
}

/// The purl of an apk package; `os` gives namespace and `distro`, else `alpine` is assumed.
pub fn apk(pkg: &Package, os: Option<&OsRelease>) -> String {
    let namespace = os.map(|o| o.id.as_str()).unwrap_or("alpine");
    let mut qualifiers = vec![("arch", pkg.arch.clone().unwrap_or_default())];
    if let Some(distro) = os.and_then(distro) {
        qualifiers.push(("distro", distro));
    }
    PurlParts {
        ty: "apk",
        namespace: Some(namespace),
        name: &pkg.name.to_lowercase(),
        version: &pkg.version,
        qualifiers,
    }
    .build()
}

/// The purl of an rpm package: the epoch goes to the `epoch` qualifier, not the version.
///
/// Without an OS the namespace is left out, since the vendor is unknown.
pub fn rpm(pkg: &Package, os: Option<&OsRelease>) -> String {
    let (epoch, version) = split_epoch(&pkg.version);
    let mut qualifiers = vec![
        ("arch", pkg.arch.clone().unwrap_or_default()),
        ("epoch", epoch.unwrap_or_default().to_owned()),
    ];
    if let (Some(src), Some(src_ver)) = (&pkg.source_name, &pkg.source_version) {
        qualifiers.push(("upstream", format!("{src}-{src_ver}.src.rpm")));
    }
    if let Some(distro) = os.and_then(distro) {
        qualifiers.push(("distro", distro));
    }
    PurlParts {
        ty: "rpm",
        namespace: os.map(|o| o.id.as_str()),
        name: &pkg.name,
        version,
        qualifiers,
    }
    .build()
}

fn distro(os: &OsRelease) -> Option<String> {
    os.version_id
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(|v| format!("{}-{v}", os.id))
}

/// Rewrites the purls of apk and rpm packages with the image's OS (namespace and `distro=`).
///
/// Call after merge, once the OS is known; other ecosystems are left alone.
pub fn qualify_os_packages(packages: &mut [Package], os: Option<&OsRelease>) {
    for pkg in packages {
        match pkg.ecosystem {
            Ecosystem::Apk => pkg.purl = apk(pkg, os),
            Ecosystem::Rpm => pkg.purl = rpm(pkg, os),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(eco: Ecosystem, name: &str, version: &str) -> Package {
        let mut p = new_package(eco, name, version, String::new(), "/x");
        p.arch = Some("x86_64".into());
        p
    }

    #[test]
    fn pep503_normalises_runs() {
        for (input, want) in [
            ("Foo_Bar", "foo-bar"),
            ("typing_extensions", "typing-extensions"),
            ("zope.interface", "zope-interface"),
            ("a-_.b", "a-b"),
            ("Django", "django"),
        ] {
            assert_eq!(pep503(input), want, "{input}");
        }
    }

    #[test]
    fn encodes_per_spec() {
        assert_eq!(npm("@babel/core", "7.24.0"), "pkg:npm/%40babel/core@7.24.0");
        assert_eq!(npm("lodash", "4.17.21"), "pkg:npm/lodash@4.17.21");
        assert_eq!(
            pypi("Typing_Extensions", "4.12.2"),
            "pkg:pypi/typing-extensions@4.12.2"
        );
        assert_eq!(
            simple("cargo", None, "x", "1.0.0+abc"),
            "pkg:cargo/x@1.0.0%2Babc"
        );
        assert_eq!(
            simple("golang", Some("github.com/pkg"), "errors", "v0.9.1"),
            "pkg:golang/github.com/pkg/errors@v0.9.1"
        );
    }

    #[test]
    fn rpm_epoch_is_a_qualifier_and_distro_comes_from_os() {
        let mut p = pkg(Ecosystem::Rpm, "openssl-libs", "1:3.0.7-18.el9");
        p.source_name = Some("openssl".into());
        p.source_version = Some("3.0.7-18.el9".into());
        let os = OsRelease {
            id: "rhel".into(),
            version_id: Some("9.2".into()),
            ..OsRelease::default()
        };
        let mut v = vec![p];
        qualify_os_packages(&mut v, Some(&os));
        assert_eq!(
            v[0].purl,
            "pkg:rpm/rhel/openssl-libs@3.0.7-18.el9?arch=x86_64&distro=rhel-9.2&epoch=1&upstream=openssl-3.0.7-18.el9.src.rpm"
        );
        assert_eq!(split_epoch("0:1.2-3"), (Some("0"), "1.2-3"));
        assert_eq!(split_epoch("1.2-3"), (None, "1.2-3"));
    }

    #[test]
    fn apk_purl_has_distro_after_qualification() {
        let p = pkg(Ecosystem::Apk, "busybox", "1.36.1-r15");
        assert_eq!(
            apk(&p, None),
            "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64"
        );
        let os = OsRelease {
            id: "alpine".into(),
            version_id: Some("3.19.1".into()),
            ..OsRelease::default()
        };
        assert_eq!(
            apk(&p, Some(&os)),
            "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1"
        );
    }
}
