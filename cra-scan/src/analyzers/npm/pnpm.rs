//! `pnpm-lock.yaml`, lockfile versions 5.x (`/name/1.2.3`), 6.0 (`/name@1.2.3`) and 9.0
//! (`name@1.2.3`), read line by line: only the keys of the top-level `packages:` map and their
//! `dev: true` flag matter, so no YAML parser is needed.

use std::collections::HashSet;

use cra_core::Package;

use super::{lock_package, split_spec};

/// Parses a pnpm lock file; entries flagged `dev: true` are skipped.
pub(crate) fn parse(text: &str, path: &str) -> Vec<Package> {
    let mut entries: Vec<(String, String, bool)> = Vec::new();
    let mut in_packages = false;
    let mut v5 = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            if let Some(v) = line.strip_prefix("lockfileVersion:") {
                let v = v.trim().trim_matches(['\'', '"']);
                v5 = v.starts_with('5') || v.starts_with('4');
            }
            in_packages = line.trim_end() == "packages:";
            continue;
        }
        if !in_packages {
            continue;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 2 {
            if let Some(key) = trimmed.strip_suffix(':') {
                if let Some((name, version)) = parse_key(key.trim_matches(['\'', '"']), v5) {
                    entries.push((name, version, false));
                }
            }
        } else if indent == 4 && trimmed.trim_end() == "dev: true" {
            if let Some(last) = entries.last_mut() {
                last.2 = true;
            }
        }
    }
    let mut seen = HashSet::new();
    entries
        .into_iter()
        .filter(|(_, _, dev)| !dev)
        .filter(|(n, v, _)| seen.insert((n.clone(), v.clone())))
        .map(|(n, v, _)| lock_package(&n, &v, path))
        .collect()
}

/// `/@scope/name/1.2.3_peer`, `/name@1.2.3(peer@1)`, `name@1.2.3` → name and version.
fn parse_key(key: &str, v5: bool) -> Option<(String, String)> {
    let key = key.strip_prefix('/').unwrap_or(key);
    let (name, version) = if v5 {
        let (name, version) = key.rsplit_once('/')?;
        let version = version.split('_').next().unwrap_or(version);
        (name, version)
    } else {
        let (name, version) = split_spec(key);
        let version = version.split('(').next().unwrap_or(version);
        (name, version)
    };
    // Tarball and git entries (`github.com/x/y/abc`, `file:`) have no registry version.
    if name.is_empty() || version.is_empty() || version.contains(':') || name.contains(".com/") {
        return None;
    }
    Some((name.to_owned(), version.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pkgs: Vec<Package>) -> Vec<String> {
        pkgs.into_iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect()
    }

    #[test]
    fn pnpm_v5() {
        let lock = "lockfileVersion: 5.4

specifiers:
  lodash: ^4.17.21

packages:

  /@babel/core/7.24.0_peerhash:
    resolution: {integrity: sha512-x}
    dev: false

  /lodash/4.17.21:
    resolution: {integrity: sha512-y}

  /jest/29.0.0:
    resolution: {integrity: sha512-z}
    dev: true
";
        assert_eq!(
            names(parse(lock, "/a/pnpm-lock.yaml")),
            ["@babel/core@7.24.0", "lodash@4.17.21"]
        );
    }

    #[test]
    fn pnpm_v6_and_v9() {
        let v6 = "lockfileVersion: '6.0'

packages:

  /@babel/core@7.24.0(supports-color@8.0.0):
    resolution: {integrity: sha512-x}
    dev: false

  /ms@2.1.3:
    resolution: {integrity: sha512-y}
    dev: true
";
        assert_eq!(
            names(parse(v6, "/a/pnpm-lock.yaml")),
            ["@babel/core@7.24.0"]
        );
        let v9 = "lockfileVersion: '9.0'

importers:

  .:
    dependencies:
      ms:
        specifier: ^2.1.3
        version: 2.1.3

packages:

  '@babel/core@7.24.0':
    resolution: {integrity: sha512-x}

  ms@2.1.3:
    resolution: {integrity: sha512-y}

snapshots:

  ms@2.1.3: {}
";
        assert_eq!(
            names(parse(v9, "/a/pnpm-lock.yaml")),
            ["@babel/core@7.24.0", "ms@2.1.3"]
        );
    }
}
