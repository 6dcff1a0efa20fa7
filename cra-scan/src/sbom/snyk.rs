//! The snyk-docker-plugin scan result: `{"scanResults": [<OS result>]}` with a dep-graph.
//!
//! The OS result's `identity.type` and `pkgManager.name` are the OS package manager (`deb`,
//! `apk`, `rpm`, or `linux` when there is no package database).
//! Package names follow the plugin: deb `<source>/<package>` when a source is known, apk
//! `<origin>/<package>`, rpm the bare name.
//! The graph has one node per package; edges come from dependencies that are installed, with
//! the edges that would close a cycle left out, so the graph is acyclic and every node is
//! reachable from the root.

use std::collections::{BTreeMap, HashMap};

use cra_core::{Ecosystem, OsRelease, Package};
use serde_json::{json, Value};

use crate::pipeline::ScanReport;

/// The version reported in the `pluginVersion` fact.
const PLUGIN_VERSION: &str = concat!("cra-", env!("CARGO_PKG_VERSION"));

/// The scan result payload for a report.
pub fn snyk_scan_results(report: &ScanReport) -> Value {
    json!({ "scanResults": [os_result(report)] })
}

fn os_result(report: &ScanReport) -> Value {
    let image = &report.image;
    let (repo, tag) = image
        .names
        .first()
        .map(|n| split_name(n))
        .unwrap_or_else(|| (image.config_digest.hex()[..12].to_owned(), String::new()));
    let os_packages: Vec<&Package> = report
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem.is_os())
        .collect();
    let manager = os_packages
        .first()
        .map_or("linux", |p| p.ecosystem.as_str());
    let platform = image.platform.os_arch();
    let mut facts = vec![
        json!({ "type": "depGraph", "data": dep_graph(&repo, &tag, manager, report.inventory.os.as_ref(), &os_packages) }),
        json!({ "type": "imageId", "data": image.config_digest.to_string() }),
        json!({ "type": "imageLayers", "data": image.layers.iter().map(|l| {
            l.archive_path.clone().unwrap_or_else(|| l.digest.to_string())
        }).collect::<Vec<_>>() }),
    ];
    if let Some(created) = &image.created {
        facts.push(json!({ "type": "imageCreationTime", "data": created }));
    }
    facts.push(
        json!({ "type": "rootFs", "data": image.layers.iter().filter_map(|l| {
        l.diff_id.as_ref().map(ToString::to_string)
    }).collect::<Vec<_>>() }),
    );
    if let Some(pretty) = report
        .inventory
        .os
        .as_ref()
        .and_then(|o| o.pretty_name.as_ref())
    {
        facts.push(json!({ "type": "imageOsReleasePrettyName", "data": pretty }));
    }
    if !image.names.is_empty() {
        facts.push(json!({ "type": "imageNames", "data": { "names": image.names } }));
    }
    facts.push(json!({ "type": "platform", "data": platform }));
    facts.push(json!({ "type": "pluginVersion", "data": PLUGIN_VERSION }));
    if !report.inventory.warnings.is_empty() {
        facts.push(
            json!({ "type": "pluginWarnings", "data": { "warnings": report.inventory.warnings } }),
        );
    }
    json!({
        "target": { "image": format!("docker-image|{repo}") },
        "identity": { "type": manager, "args": { "platform": platform } },
        "facts": facts,
    })
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

fn graph_name(p: &Package) -> String {
    match (p.ecosystem, &p.source_name) {
        (Ecosystem::Deb | Ecosystem::Apk, Some(source)) => format!("{source}/{}", p.name),
        _ => p.name.clone(),
    }
}

fn dep_graph(
    repo: &str,
    tag: &str,
    manager: &str,
    os: Option<&OsRelease>,
    packages: &[&Package],
) -> Value {
    let root_id = format!("docker-image|{repo}@{tag}");
    // One node per package id; Multi-Arch duplicates share it.
    let mut ids: Vec<String> = Vec::new();
    let mut pkgs = vec![
        json!({ "id": root_id, "info": { "name": format!("docker-image|{repo}"), "version": tag } }),
    ];
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    let mut members: Vec<&Package> = Vec::new();
    for p in packages {
        let name = graph_name(p);
        let id = format!("{name}@{}", p.version);
        if index_of.contains_key(&id) {
            continue;
        }
        let i = ids.len();
        index_of.insert(id.clone(), i);
        by_name.entry(p.name.as_str()).or_insert(i);
        pkgs.push(
            json!({ "id": id, "info": { "name": name, "version": p.version, "purl": p.purl } }),
        );
        ids.push(id);
        members.push(p);
    }
    let edges: Vec<Vec<usize>> = members
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out: Vec<usize> = p
                .dependencies
                .iter()
                .filter_map(|d| by_name.get(d.as_str()).copied())
                .filter(|j| *j != i)
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect();
    let dag = acyclic(&edges);
    let mut has_parent = vec![false; ids.len()];
    for targets in &dag {
        for t in targets {
            has_parent[*t] = true;
        }
    }
    let mut nodes = vec![json!({
        "nodeId": "root-node",
        "pkgId": root_id,
        "deps": (0..ids.len()).filter(|i| !has_parent[*i]).map(|i| json!({ "nodeId": ids[i] })).collect::<Vec<_>>(),
    })];
    for (i, id) in ids.iter().enumerate() {
        nodes.push(json!({
            "nodeId": id,
            "pkgId": id,
            "deps": dag[i].iter().map(|j| json!({ "nodeId": ids[*j] })).collect::<Vec<_>>(),
        }));
    }
    json!({
        "schemaVersion": "1.3.0",
        "pkgManager": { "name": manager, "repositories": [ { "alias": alias(os) } ] },
        "pkgs": pkgs,
        "graph": { "rootNodeId": "root-node", "nodes": nodes },
    })
}

/// Drops the back edges of a depth-first search, leaving an acyclic graph with the same nodes.
fn acyclic(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    let mut state = vec![State::New; edges.len()];
    let mut kept: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
    for start in 0..edges.len() {
        if state[start] != State::New {
            continue;
        }
        // (node, next edge position)
        let mut stack = vec![(start, 0usize)];
        state[start] = State::OnStack;
        while let Some((node, pos)) = stack.last_mut() {
            let node = *node;
            if let Some(&next) = edges[node].get(*pos) {
                *pos += 1;
                match state[next] {
                    State::OnStack => {}
                    State::Done => kept[node].push(next),
                    State::New => {
                        kept[node].push(next);
                        state[next] = State::OnStack;
                        stack.push((next, 0));
                    }
                }
            } else {
                state[node] = State::Done;
                stack.pop();
            }
        }
    }
    kept
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

    #[test]
    fn cycles_are_cut_and_everything_stays_reachable() {
        // 0 -> 1 -> 2 -> 0, and 3 -> 1.
        let dag = acyclic(&[vec![1], vec![2], vec![0], vec![1]]);
        assert_eq!(dag, vec![vec![1], vec![2], vec![], vec![1]]);
    }

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
}
