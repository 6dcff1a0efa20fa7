//! The snyk-docker-plugin scan result: the OS result, then one result per application target.
//!
//! - The OS result's `identity.type` and `pkgManager.name` are the OS package manager (`deb`,
//!   `apk`, `rpm`, or `linux` when there is no package database); package names follow the
//!   plugin: deb `<source>/<package>` when a source is known, apk `<origin>/<package>`, rpm the
//!   bare name.
//! - Application results are grouped as `apps` describes; each has a `depGraph` rooted at the
//!   application, except Maven results, which carry a `jarFingerprints` fact as the plugin sends
//!   (each jar's path, SHA-1 and coordinates; artifacts shaded into a jar as its dependencies).
//! - Every result carries the image facts: `imageId`, `imageLayers`, `rootFs`, `imageNames`
//!   (when the image has a name), `platform` (`os/arch[/variant]`) and `pluginVersion`; the OS
//!   result also `imageCreationTime`, `imageOsReleasePrettyName` and `pluginWarnings`.
//! - Graph edges come from the dependencies the analyzers recorded (dpkg `Depends`, apk `D`,
//!   `Requires-Dist`, package.json `dependencies` …), resolved within the same target; see
//!   `dep_graph` for how the graph stays valid.

mod apps;
mod dep_graph;
mod payload;

use std::collections::BTreeMap;

use cra_core::{Ecosystem, OsRelease, Package};

pub use payload::{
    DepGraph, Fact, Graph, GraphPkg, Identity, ImageNames, ImageSignature, ImageSigner,
    JarCoordinates, JarFingerprint, JarFingerprints, Node, NodeRef, PkgInfo, PkgManager,
    PluginWarnings, Repository, ScanResult, ScanResults, Target,
};

use super::shared::resolve_edges;
use crate::pipeline::ScanReport;
use apps::AppTarget;
use dep_graph::GraphInput;

/// The version reported in the `pluginVersion` fact.
const PLUGIN_VERSION: &str = concat!("cra-", env!("CARGO_PKG_VERSION"));

/// The scan result payload for a report: the OS result first, then the applications.
pub fn snyk_scan_results(report: &ScanReport) -> ScanResults {
    let image = &report.image;
    let (repo, tag) = image.names.first().map_or_else(
        || (image.config_digest.hex()[..12].to_owned(), String::new()),
        |n| split_name(n),
    );
    let target = Target {
        image: format!("docker-image|{repo}"),
    };
    let packages = &report.inventory.packages;
    let edges = resolve_edges(packages);
    let mut results = vec![os_result(report, &target, &repo, &tag, &edges)];
    for app in apps::targets(packages) {
        results.push(app_result(report, &target, &repo, &app, &edges));
    }
    ScanResults {
        scan_results: results,
    }
}

/// The facts every result carries.
fn image_facts(report: &ScanReport) -> (Vec<Fact>, Vec<Fact>) {
    let image = &report.image;
    let leading = vec![
        Fact::ImageId(image.config_digest.to_string()),
        Fact::ImageLayers(
            image
                .layers
                .iter()
                .map(|l| {
                    l.archive_path
                        .clone()
                        .unwrap_or_else(|| l.digest.to_string())
                })
                .collect(),
        ),
        Fact::RootFs(
            image
                .layers
                .iter()
                .filter_map(|l| l.diff_id.as_ref().map(ToString::to_string))
                .collect(),
        ),
    ];
    let mut trailing = Vec::new();
    if !image.names.is_empty() {
        trailing.push(Fact::ImageNames(ImageNames {
            names: image.names.clone(),
        }));
    }
    trailing.push(Fact::Platform(image.platform.to_string()));
    trailing.push(Fact::PluginVersion(PLUGIN_VERSION.to_owned()));
    if let Some(signature) = &report.signature {
        trailing.push(Fact::ImageSignature(ImageSignature {
            status: signature.status.to_owned(),
            enforced: signature.enforced,
            scope: signature.scope.clone(),
            signers: signature
                .signatures
                .iter()
                .map(|s| ImageSigner {
                    kind: s.kind.as_str().to_owned(),
                    key: s.signer.clone(),
                    identity: s.identity.clone(),
                })
                .collect(),
            reason: signature.reason.clone(),
        }));
    }
    (leading, trailing)
}

fn os_result(
    report: &ScanReport,
    target: &Target,
    repo: &str,
    tag: &str,
    edges: &[Vec<usize>],
) -> ScanResult {
    let image = &report.image;
    let packages = &report.inventory.packages;
    let members: Vec<usize> = (0..packages.len())
        .filter(|&i| packages[i].ecosystem.is_os())
        .collect();
    let manager = members
        .first()
        .map_or("linux", |&i| packages[i].ecosystem.as_str());
    let root = PkgInfo {
        name: format!("docker-image|{repo}"),
        version: Some(tag.to_owned()),
        purl: None,
    };
    let graph = graph_of(
        manager,
        vec![Repository {
            alias: alias(report.inventory.os.as_ref()),
        }],
        root,
        packages,
        &members,
        None,
        edges,
    );
    let (leading, trailing) = image_facts(report);
    let mut facts = vec![Fact::DepGraph(graph)];
    let mut leading = leading.into_iter();
    facts.extend(leading.by_ref().take(2));
    if let Some(created) = &image.created {
        facts.push(Fact::ImageCreationTime(created.clone()));
    }
    facts.extend(leading);
    if let Some(pretty) = report
        .inventory
        .os
        .as_ref()
        .and_then(|o| o.pretty_name.as_ref())
    {
        facts.push(Fact::ImageOsReleasePrettyName(pretty.clone()));
    }
    facts.extend(trailing);
    if !report.inventory.warnings.is_empty() {
        facts.push(Fact::PluginWarnings(PluginWarnings {
            warnings: report.inventory.warnings.clone(),
        }));
    }
    let platform = image.platform.to_string();
    ScanResult {
        target: target.clone(),
        identity: Identity {
            kind: manager.to_owned(),
            target_file: None,
            args: BTreeMap::from([("platform".to_owned(), platform)]),
        },
        facts,
    }
}

fn app_result(
    report: &ScanReport,
    target: &Target,
    repo: &str,
    app: &AppTarget,
    edges: &[Vec<usize>],
) -> ScanResult {
    let packages = &report.inventory.packages;
    let first = if app.kind == "maven" {
        Fact::JarFingerprints(jar_fingerprints(repo, app, packages))
    } else {
        let root = app.root.map_or_else(
            || PkgInfo {
                name: app.root_name(),
                version: None,
                purl: None,
            },
            |i| pkg_info(&packages[i]),
        );
        Fact::DepGraph(graph_of(
            app.kind,
            Vec::new(),
            root,
            packages,
            &app.members,
            app.root,
            edges,
        ))
    };
    let (leading, trailing) = image_facts(report);
    let mut facts = vec![first];
    facts.extend(leading);
    facts.extend(trailing);
    ScanResult {
        target: target.clone(),
        identity: Identity {
            kind: app.kind.to_owned(),
            target_file: Some(app.target_file.clone()),
            args: BTreeMap::new(),
        },
        facts,
    }
}

/// A dep-graph over `members` (indices into `packages`); `root_member`, when given, is the
/// member that is the root itself.
fn graph_of(
    manager: &str,
    repositories: Vec<Repository>,
    root: PkgInfo,
    packages: &[Package],
    members: &[usize],
    root_member: Option<usize>,
    edges: &[Vec<usize>],
) -> DepGraph {
    // Global index → position among the members.
    let local: BTreeMap<usize, usize> = members.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let localise = |list: &[usize]| -> Vec<usize> {
        list.iter().filter_map(|i| local.get(i).copied()).collect()
    };
    let root_edges = root_member.map_or_else(Vec::new, |r| localise(&edges[r]));
    dep_graph::build(GraphInput {
        manager: manager.to_owned(),
        repositories,
        root,
        pkgs: members.iter().map(|&i| pkg_info(&packages[i])).collect(),
        edges: members.iter().map(|&i| localise(&edges[i])).collect(),
        root_edges,
    })
}

fn pkg_info(p: &Package) -> PkgInfo {
    PkgInfo {
        name: graph_name(p),
        version: Some(p.version.clone()),
        purl: (!p.purl.is_empty()).then(|| p.purl.clone()),
    }
}

/// The package name as the plugin spells it in graphs.
fn graph_name(p: &Package) -> String {
    match (p.ecosystem, &p.source_name) {
        (Ecosystem::Deb | Ecosystem::Apk, Some(source)) => format!("{source}/{}", p.name),
        (Ecosystem::Pypi, _) => p.name.to_lowercase(),
        _ => p.name.clone(),
    }
}

/// Maven coordinates of a package named `group:artifact` (or just `artifact`).
fn coordinates(p: &Package) -> JarCoordinates {
    let (group, artifact) = match p.name.split_once(':') {
        Some((g, a)) => (Some(g.to_owned()), a.to_owned()),
        None => (None, p.name.clone()),
    };
    JarCoordinates {
        group_id: group,
        artifact_id: Some(artifact),
        // A version read from the file name alone is a guess, not a coordinate.
        version: (!p.version.is_empty() && !p.version_from_file_name).then(|| p.version.clone()),
    }
}

/// One fingerprint per jar of the target: the artifact named like the jar file (or the first
/// one) as its coordinates, other artifacts shaded into it as its dependencies.
fn jar_fingerprints(repo: &str, app: &AppTarget, packages: &[Package]) -> JarFingerprints {
    let mut by_jar: BTreeMap<&str, Vec<&Package>> = BTreeMap::new();
    for &i in &app.members {
        by_jar
            .entry(packages[i].location.path.as_str())
            .or_default()
            .push(&packages[i]);
    }
    let fingerprints = by_jar
        .into_iter()
        .map(|(location, jar_packages)| {
            let file = location.rsplit('/').next().unwrap_or(location);
            let primary = jar_packages
                .iter()
                .position(|p| {
                    let c = coordinates(p);
                    c.artifact_id.is_some_and(|a| file.contains(a.as_str()))
                })
                .unwrap_or(0);
            let digest = jar_packages.iter().find_map(|p| p.sha1.clone());
            JarFingerprint {
                location: location.to_owned(),
                digest,
                coordinates: coordinates(jar_packages[primary]),
                dependencies: jar_packages
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != primary)
                    .map(|(_, p)| coordinates(p))
                    .collect(),
            }
        })
        .collect();
    JarFingerprints {
        fingerprints,
        origin: repo.to_owned(),
        path: app.target_file.clone(),
    }
}

/// `registry/repo:tag` → (`registry/repo`, `tag`); digests and missing tags give an empty tag.
fn split_name(name: &str) -> (String, String) {
    if let Some((repo, _)) = name.split_once('@') {
        return (repo.to_owned(), String::new());
    }
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_owned(), tag.to_owned()),
        _ => (name.to_owned(), String::new()),
    }
}

/// The repository alias (`debian:12`), with the plugin's normalisations.
fn alias(os: Option<&OsRelease>) -> String {
    let Some(os) = os else {
        return "unknown:0.0".into();
    };
    let version = os.version_id.clone().unwrap_or_else(|| "unstable".into());
    match os.id.as_str() {
        "ol" => format!("oracle:{}", version.split('.').next().unwrap_or(&version)),
        "sles" if !version.contains('.') => format!("sles:{version}.0"),
        id => format!("{id}:{version}"),
    }
}

/// Counts packages by ecosystem (used by the table header).
pub(crate) fn counts(packages: &[Package]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for p in packages {
        *counts.entry(p.ecosystem.as_str()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::shared::tests::report;

    #[test]
    fn names_split_into_repo_and_tag() {
        assert_eq!(
            split_name("docker.io/library/debian:12"),
            ("docker.io/library/debian".into(), "12".into())
        );
        assert_eq!(
            split_name("localhost:5000/app@sha256:abc"),
            ("localhost:5000/app".into(), String::new())
        );
        assert_eq!(
            split_name("localhost:5000/app"),
            ("localhost:5000/app".into(), String::new())
        );
    }

    #[test]
    fn aliases() {
        let os = |id: &str, v: &str| OsRelease {
            id: id.into(),
            version_id: Some(v.into()),
            ..OsRelease::default()
        };
        assert_eq!(alias(Some(&os("debian", "12"))), "debian:12");
        assert_eq!(alias(Some(&os("ol", "8.9"))), "oracle:8");
        assert_eq!(alias(Some(&os("sles", "15"))), "sles:15.0");
        assert_eq!(alias(None), "unknown:0.0");
    }

    #[test]
    fn one_result_per_target_with_the_image_facts() {
        let results = snyk_scan_results(&report()).scan_results;
        let identities: Vec<(&str, Option<&str>)> = results
            .iter()
            .map(|r| (r.identity.kind.as_str(), r.identity.target_file.as_deref()))
            .collect();
        assert_eq!(
            identities,
            [
                ("deb", None),
                ("maven", Some("/app")),
                ("npm", Some("/app/package.json")),
                ("pip", Some("/opt/venv/lib/python3.11/site-packages")),
                ("gomodules", Some("/usr/bin/x")),
                ("pip", Some("/usr/lib/python3/dist-packages")),
            ]
        );
        for r in &results {
            assert_eq!(r.target.image, "docker-image|docker.io/library/debian");
            assert!(r.facts.contains(&Fact::Platform("linux/arm64/v8".into())));
            assert!(r
                .facts
                .contains(&Fact::ImageId(format!("sha256:{}", "b".repeat(64)))));
            assert!(r.facts.iter().any(|f| matches!(f, Fact::RootFs(_))));
            assert!(r.facts.iter().any(|f| matches!(f, Fact::PluginVersion(_))));
        }
        // npm: no package.json of its own, so the root is the target file; core -> debug.
        let npm = results[2].dep_graph().unwrap();
        assert_eq!(npm.pkgs[0].id, "/app/package.json@");
        assert_eq!(npm.graph.nodes[0].deps.len(), 1);
        assert_eq!(npm.graph.nodes[1].pkg_id, "@babel/core@7.24.0");
        assert_eq!(npm.graph.nodes[1].deps[0].node_id, "debug@4.3.4");
        // pip: names lowercased, six -> typing-extensions resolved by PEP 503.
        let venv = results[3].dep_graph().unwrap();
        let ids: Vec<&str> = venv.pkgs.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "/opt/venv/lib/python3.11/site-packages@",
                "six@1.16.0",
                "typing_extensions@4.12.2"
            ]
        );
        assert_eq!(
            venv.graph.nodes[1].deps[0].node_id,
            "typing_extensions@4.12.2"
        );
        // maven: fingerprints instead of a graph.
        assert!(results[1].dep_graph().is_none());
        let jars = results[1].jar_fingerprints().unwrap();
        assert_eq!(jars.path, "/app");
        assert_eq!(
            jars.fingerprints[0].location,
            "/app/app.war!/WEB-INF/lib/guava.jar"
        );
        assert_eq!(
            jars.fingerprints[0].coordinates.group_id.as_deref(),
            Some("com.google.guava")
        );
        assert_eq!(
            jars.fingerprints[0].digest.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        // The OS graph names deb packages `<source>/<package>`.
        let os = results[0].dep_graph().unwrap();
        assert_eq!(os.pkgs[1].id, "openssl/libssl3@3.0.11-1~deb12u2");
        assert_eq!(os.pkg_manager.repositories[0].alias, "debian:12");
    }

    #[test]
    fn the_wire_shape_is_the_plugins() {
        let json = serde_json::to_value(snyk_scan_results(&report())).unwrap();
        let os = &json["scanResults"][0];
        assert_eq!(os["identity"]["type"], "deb");
        assert_eq!(os["identity"]["args"]["platform"], "linux/arm64/v8");
        assert_eq!(os["facts"][0]["type"], "depGraph");
        assert_eq!(os["facts"][0]["data"]["schemaVersion"], "1.3.0");
        assert_eq!(os["facts"][0]["data"]["graph"]["rootNodeId"], "root-node");
        let maven = &json["scanResults"][1];
        assert_eq!(maven["identity"]["targetFile"], "/app");
        let fp = &maven["facts"][0]["data"]["fingerprints"][0];
        assert_eq!(fp["artifactId"], "guava");
        assert_eq!(fp["dependencies"], serde_json::json!([]));
        // Read back, the payload is the same.
        let back: ScanResults = serde_json::from_value(json).unwrap();
        assert_eq!(back, snyk_scan_results(&report()));
    }
}
