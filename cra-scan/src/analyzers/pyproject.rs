//! `pyproject.toml` beside a `poetry.lock`: the application the lockfile belongs to.
//!
//! - Read by the `poetry` analyzer (Poetry's documentation "The pyproject.toml file", PEP 621):
//!   the name and version of `[project]`, else of `[tool.poetry]`; the direct dependencies from
//!   `[project].dependencies` (PEP 508 strings) and `[tool.poetry.dependencies]` (its keys,
//!   `python` excepted), PEP 503-normalised.
//! - A version that is absent (declared `dynamic`, or set by a plugin) stays empty: none is
//!   invented.
//! - The package is the root of its Poetry application; one without a `poetry.lock` beside it
//!   (a source tree) is dropped from the inventory by
//!   [`drop_projects_without_lockfile`].

use std::collections::{BTreeMap, HashSet};

use cra_core::{Ecosystem, Package};
use serde::Deserialize;

use super::Findings;
use crate::purl;

/// The file name this module reads.
pub(crate) const FILE_NAME: &str = "pyproject.toml";

#[derive(Deserialize)]
struct PyProject {
    #[serde(default)]
    project: Option<Project>,
    #[serde(default)]
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Project {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(default)]
    poetry: Option<PoetrySection>,
}

#[derive(Deserialize)]
struct PoetrySection {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
}

/// The distribution name at the start of a PEP 508 requirement (`requests (>=2.32)`,
/// `uvicorn[standard]>=0.30 ; python_version >= "3.11"`).
fn requirement_name(requirement: &str) -> Option<&str> {
    let requirement = requirement.trim_start();
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(requirement.len());
    let name = &requirement[..end];
    (!name.is_empty()).then_some(name)
}

/// Parses a `pyproject.toml`; a project without a name yields no package.
pub(crate) fn parse(text: &str, path: &str) -> Result<Findings, String> {
    let doc: PyProject = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let project = doc.project;
    let poetry = doc.tool.and_then(|t| t.poetry);
    let name = project
        .as_ref()
        .and_then(|p| p.name.clone())
        .or_else(|| poetry.as_ref().and_then(|p| p.name.clone()));
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return Ok(Findings::default());
    };
    let version = project
        .as_ref()
        .and_then(|p| p.version.clone())
        .or_else(|| poetry.as_ref().and_then(|p| p.version.clone()))
        .unwrap_or_default();
    let mut dependencies: Vec<String> = Vec::new();
    let declared = project
        .iter()
        .flat_map(|p| p.dependencies.iter().filter_map(|r| requirement_name(r)))
        .chain(
            poetry
                .iter()
                .flat_map(|p| p.dependencies.keys().map(String::as_str))
                .filter(|k| !k.eq_ignore_ascii_case("python")),
        );
    for d in declared {
        let d = purl::pep503(d);
        if !dependencies.contains(&d) {
            dependencies.push(d);
        }
    }
    let mut pkg = purl::new_package(
        Ecosystem::Pypi,
        &name,
        &version,
        purl::pypi(&name, &version),
        path,
    );
    pkg.dependencies = dependencies;
    Ok(Findings {
        packages: vec![pkg],
        ..Findings::default()
    })
}

fn dir_and_file(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// Drops the `pyproject.toml` packages of directories without a `poetry.lock` package: without
/// a lockfile a `pyproject.toml` is a source tree, not an installed application.
///
/// Call once on the merged package list.
pub fn drop_projects_without_lockfile(packages: &mut Vec<Package>) {
    let locked: HashSet<String> = packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Pypi)
        .filter_map(|p| match dir_and_file(&p.location.path) {
            (dir, "poetry.lock") => Some(dir.to_owned()),
            _ => None,
        })
        .collect();
    packages.retain(|p| {
        if p.ecosystem != Ecosystem::Pypi {
            return true;
        }
        match dir_and_file(&p.location.path) {
            (dir, FILE_NAME) => locked.contains(dir),
            _ => true,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_then_tool_poetry_and_no_invented_version() {
        let f = parse(
            "[project]\nname = \"Billing_API\"\nversion = \"1.4.2\"\n\
             dependencies = [\"requests (>=2.32,<3.0)\", \"uvicorn[standard]>=0.30 ; python_version >= '3.11'\", \"Requests\"]\n\
             [tool.poetry.dependencies]\npython = \"^3.11\"\n\"Zope.Interface\" = \"*\"\n",
            "/srv/api/pyproject.toml",
        )
        .unwrap();
        let p = &f.packages[0];
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("Billing_API", "1.4.2")
        );
        assert_eq!(p.purl, "pkg:pypi/billing-api@1.4.2");
        assert_eq!(p.dependencies, ["requests", "uvicorn", "zope-interface"]);

        let f = parse(
            "[project]\nname = \"dyn\"\ndynamic = [\"version\"]\n",
            "/a/pyproject.toml",
        )
        .unwrap();
        assert_eq!(f.packages[0].version, "");
        assert_eq!(f.packages[0].purl, "pkg:pypi/dyn");

        let f = parse(
            "[tool.poetry]\nname = \"old\"\nversion = \"0.1.0\"\n",
            "/b/pyproject.toml",
        )
        .unwrap();
        assert_eq!(f.packages[0].version, "0.1.0");
        // Tool settings only (black, ruff): no project, no package.
        assert!(
            parse("[tool.black]\nline-length = 100\n", "/c/pyproject.toml")
                .unwrap()
                .packages
                .is_empty()
        );
        assert!(parse("[project\n", "/d/pyproject.toml").is_err());
    }

    #[test]
    fn projects_without_a_lockfile_are_dropped() {
        let pkg = |path: &str| purl::new_package(Ecosystem::Pypi, "x", "1", String::new(), path);
        let mut packages = vec![
            pkg("/app/pyproject.toml"),
            pkg("/app/poetry.lock"),
            pkg("/src/lib/pyproject.toml"),
            pkg("/src/lib/requirements.txt"),
        ];
        drop_projects_without_lockfile(&mut packages);
        let paths: Vec<&str> = packages.iter().map(|p| p.location.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/app/pyproject.toml",
                "/app/poetry.lock",
                "/src/lib/requirements.txt"
            ]
        );
    }
}
