//! Application targets: which packages form one application result, and under which identity.
//!
//! Each language package belongs to one target, derived from where it was found:
//!
//! | found at | identity type | target file |
//! |---|---|---|
//! | `<dir>/node_modules/**/package.json` | `npm` | `<dir>/package.json` |
//! | `<dir>/package.json` (the app itself) | `npm` | itself |
//! | `<dir>/package-lock.json`, `npm-shrinkwrap.json`, `yarn.lock`, `pnpm-lock.yaml` | `npm`, `yarn`, `pnpm` | `<dir>/package.json` |
//! | `<site>/<name>.dist-info/…`, `<site>/<name>.egg-info[/…]` | `pip` | `<site>` (the directory) |
//! | `requirements*.txt` | `pip` | itself |
//! | `poetry.lock`, `pyproject.toml` | `poetry` | `<dir>/pyproject.toml` |
//! | `Pipfile.lock`, `Pipfile` | `pipenv` | `<dir>/Pipfile` |
//! | `<dir>/x.jar[!/nested.jar]` | `maven` | `<dir>` (one result per directory, as the plugin does) |
//! | `<home>/specifications/*.gemspec` | `rubygems` | `<home>/specifications` |
//! | Go and Rust binaries, `Gemfile.lock`, Composer and .NET files | `gomodules`, `cargo`, `rubygems`, `composer`, `nuget` | the file |
//!
//! A target of several npm kinds takes the lockfile's (`yarn`, `pnpm`) over `npm`.
//! The application's own `package.json` or `pyproject.toml` package, when found, is the root of
//! its graph; otherwise the root is the target file with no version, as the plugin names pip
//! roots, and for a `poetry.lock` without a `pyproject.toml` the target is the lockfile and the
//! root its directory.

use std::collections::BTreeMap;

use cra_core::{Ecosystem, Package};

/// One application target and its packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AppTarget {
    /// The identity type.
    pub(super) kind: &'static str,
    /// The manifest, lockfile, binary or directory.
    pub(super) target_file: String,
    /// Indices into the inventory's packages.
    pub(super) members: Vec<usize>,
    /// The member that is the application itself, when there is one.
    pub(super) root: Option<usize>,
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn sibling(path: &str, name: &str) -> String {
    format!("{}/{name}", dir_of(path))
}

/// The identity type and target file of a language package; `None` for OS packages.
pub(super) fn target_of(pkg: &Package) -> Option<(&'static str, String)> {
    let path = pkg.location.path.as_str();
    let name = file_name(path);
    Some(match pkg.ecosystem {
        Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => return None,
        Ecosystem::Npm => {
            if let Some((app, _)) = path.split_once("/node_modules/") {
                ("npm", format!("{app}/package.json"))
            } else {
                match name {
                    "package-lock.json" | "npm-shrinkwrap.json" => {
                        ("npm", sibling(path, "package.json"))
                    }
                    "yarn.lock" => ("yarn", sibling(path, "package.json")),
                    "pnpm-lock.yaml" => ("pnpm", sibling(path, "package.json")),
                    _ => ("npm", path.to_owned()),
                }
            }
        }
        Ecosystem::Pypi => python_target(path),
        Ecosystem::Maven => {
            let outer = path.split_once("!/").map_or(path, |(outer, _)| outer);
            ("maven", dir_of(outer).to_owned())
        }
        Ecosystem::Golang => ("gomodules", path.to_owned()),
        Ecosystem::Cargo => ("cargo", path.to_owned()),
        Ecosystem::Gem => match path.split_once("/specifications/") {
            Some((home, _)) => ("rubygems", format!("{home}/specifications")),
            None => ("rubygems", path.to_owned()),
        },
        Ecosystem::Composer => ("composer", path.to_owned()),
        Ecosystem::Nuget => ("nuget", path.to_owned()),
    })
}

fn python_target(path: &str) -> (&'static str, String) {
    let mut site: Vec<&str> = Vec::new();
    for part in path.split('/') {
        let lower = part.to_ascii_lowercase();
        if lower.ends_with(".dist-info") || lower.ends_with(".egg-info") {
            return ("pip", site.join("/"));
        }
        site.push(part);
    }
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("requirements") && lower.ends_with(".txt") {
        ("pip", path.to_owned())
    } else if name == "poetry.lock" || name == "pyproject.toml" {
        ("poetry", sibling(path, "pyproject.toml"))
    } else if name == "Pipfile.lock" || name == "Pipfile" {
        ("pipenv", sibling(path, "Pipfile"))
    } else {
        ("pip", path.to_owned())
    }
}

/// Groups the language packages into targets, ordered by target file.
pub(super) fn targets(packages: &[Package]) -> Vec<AppTarget> {
    let mut by_target: BTreeMap<(String, Ecosystem), AppTarget> = BTreeMap::new();
    for (i, pkg) in packages.iter().enumerate() {
        let Some((kind, target_file)) = target_of(pkg) else {
            continue;
        };
        let t = by_target
            .entry((target_file.clone(), pkg.ecosystem))
            .or_insert_with(|| AppTarget {
                kind,
                target_file,
                members: Vec::new(),
                root: None,
            });
        // A lockfile's kind names the target (`yarn` over `npm`).
        if t.kind == "npm" && kind != "npm" {
            t.kind = kind;
        }
        let is_app = pkg.ecosystem == Ecosystem::Npm || t.kind == "poetry";
        if is_app && pkg.location.path == t.target_file && t.root.is_none() {
            t.root = Some(i);
        }
        t.members.push(i);
    }
    let mut targets: Vec<AppTarget> = by_target.into_values().collect();
    for t in &mut targets {
        // No pyproject.toml was found: the lockfile is the target, not an absent manifest.
        if t.kind == "poetry" && t.root.is_none() {
            t.target_file = sibling(&t.target_file, "poetry.lock");
        }
    }
    targets
}

impl AppTarget {
    /// The root's name when no member is the application: the target file, or for a Poetry
    /// lockfile alone its directory.
    pub(super) fn root_name(&self) -> String {
        if self.kind == "poetry" {
            dir_of(&self.target_file).to_owned()
        } else {
            self.target_file.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::purl::new_package;

    fn pkg(eco: Ecosystem, path: &str) -> Package {
        new_package(eco, "x", "1", String::new(), path)
    }

    #[test]
    fn targets_follow_the_table() {
        let t = |eco, path: &str| target_of(&pkg(eco, path)).unwrap();
        assert_eq!(
            t(
                Ecosystem::Npm,
                "/srv/app/node_modules/@babel/core/node_modules/debug/package.json"
            ),
            ("npm", "/srv/app/package.json".into())
        );
        assert_eq!(
            t(Ecosystem::Npm, "/srv/app/yarn.lock"),
            ("yarn", "/srv/app/package.json".into())
        );
        assert_eq!(
            t(
                Ecosystem::Pypi,
                "/opt/venv/lib/python3.11/site-packages/Flask-3.0.2.DIST-INFO/METADATA"
            ),
            ("pip", "/opt/venv/lib/python3.11/site-packages".into())
        );
        assert_eq!(
            t(
                Ecosystem::Pypi,
                "/usr/lib/python3/dist-packages/six-1.16.0.egg-info"
            ),
            ("pip", "/usr/lib/python3/dist-packages".into())
        );
        assert_eq!(
            t(Ecosystem::Pypi, "/app/poetry.lock"),
            ("poetry", "/app/pyproject.toml".into())
        );
        assert_eq!(
            t(Ecosystem::Pypi, "/app/Pipfile.lock"),
            ("pipenv", "/app/Pipfile".into())
        );
        assert_eq!(
            t(Ecosystem::Pypi, "/app/requirements-dev.txt"),
            ("pip", "/app/requirements-dev.txt".into())
        );
        assert_eq!(
            t(Ecosystem::Maven, "/srv/lib/app.war!/WEB-INF/lib/guava.jar"),
            ("maven", "/srv/lib".into())
        );
        assert_eq!(
            t(Ecosystem::Golang, "/usr/bin/yq"),
            ("gomodules", "/usr/bin/yq".into())
        );
        assert_eq!(
            t(
                Ecosystem::Gem,
                "/usr/local/bundle/specifications/rack-3.0.9.gemspec"
            ),
            ("rubygems", "/usr/local/bundle/specifications".into())
        );
        assert_eq!(
            target_of(&pkg(Ecosystem::Deb, "/var/lib/dpkg/status")),
            None
        );
    }

    #[test]
    fn packages_group_by_target_and_the_app_is_the_root() {
        let packages = vec![
            pkg(Ecosystem::Deb, "/var/lib/dpkg/status"),
            pkg(Ecosystem::Npm, "/srv/app/node_modules/lodash/package.json"),
            pkg(Ecosystem::Npm, "/srv/app/package.json"),
            pkg(Ecosystem::Npm, "/srv/tool/yarn.lock"),
            pkg(Ecosystem::Npm, "/srv/tool/package.json"),
            pkg(Ecosystem::Maven, "/app/a.jar"),
            pkg(Ecosystem::Maven, "/app/b.jar"),
        ];
        let t = targets(&packages);
        let summary: Vec<_> = t
            .iter()
            .map(|t| (t.kind, t.target_file.as_str(), t.members.clone(), t.root))
            .collect();
        assert_eq!(
            summary,
            [
                ("maven", "/app", vec![5, 6], None),
                ("npm", "/srv/app/package.json", vec![1, 2], Some(2)),
                ("yarn", "/srv/tool/package.json", vec![3, 4], Some(4)),
            ]
        );
    }
}
