//! Builds a valid dep-graph from packages and resolved edges.
//!
//! The rules `@snyk/dep-graph` enforces hold by construction: package ids are `name@version`
//! and unique (packages with the same id share one node), the root has no incoming edge, the
//! graph is acyclic (the edges that would close a cycle are left out) and every node is
//! reachable from the root (a package no other package depends on hangs off the root).

use std::collections::HashMap;

use super::payload::{DepGraph, Graph, GraphPkg, Node, NodeRef, PkgInfo, PkgManager, Repository};

/// The schema version snyk emits.
const SCHEMA_VERSION: &str = "1.3.0";
/// The id of the root node.
const ROOT_NODE: &str = "root-node";

/// The packages of one graph: `pkgs[i]` depends on `edges[i]`, the root on `root_edges`.
pub(super) struct GraphInput {
    pub(super) manager: String,
    pub(super) repositories: Vec<Repository>,
    pub(super) root: PkgInfo,
    pub(super) pkgs: Vec<PkgInfo>,
    pub(super) edges: Vec<Vec<usize>>,
    pub(super) root_edges: Vec<usize>,
}

fn pkg_id(info: &PkgInfo) -> String {
    format!("{}@{}", info.name, info.version.as_deref().unwrap_or(""))
}

/// Builds the graph.
pub(super) fn build(input: GraphInput) -> DepGraph {
    let root_id = pkg_id(&input.root);
    // Node 0 is the root; every distinct package id gets the next node.
    let mut ids: Vec<String> = vec![root_id.clone()];
    let mut infos: Vec<PkgInfo> = vec![input.root];
    let mut node_of: HashMap<String, usize> = HashMap::from([(root_id, 0)]);
    let mut canonical: Vec<usize> = Vec::with_capacity(input.pkgs.len());
    for info in input.pkgs {
        let id = pkg_id(&info);
        let n = *node_of.entry(id.clone()).or_insert_with(|| {
            ids.push(id);
            infos.push(info);
            ids.len() - 1
        });
        canonical.push(n);
    }
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    let targets = |list: &[usize]| -> Vec<usize> {
        list.iter()
            .filter_map(|&j| canonical.get(j).copied())
            .collect()
    };
    edges[0] = targets(&input.root_edges);
    for (i, list) in input.edges.iter().enumerate() {
        let Some(&from) = canonical.get(i) else {
            continue;
        };
        edges[from].extend(targets(list));
    }
    for (from, list) in edges.iter_mut().enumerate() {
        // Nothing points at the root, and nothing at itself.
        list.retain(|&to| to != 0 && to != from);
        list.sort_unstable();
        list.dedup();
    }
    let mut dag = acyclic(&edges);
    let mut has_parent = vec![false; ids.len()];
    for list in &dag {
        for &to in list {
            has_parent[to] = true;
        }
    }
    let orphans: Vec<usize> = (1..ids.len()).filter(|&n| !has_parent[n]).collect();
    dag[0].extend(orphans);
    let node_id = |n: usize| -> String {
        if n == 0 {
            ROOT_NODE.to_owned()
        } else {
            ids[n].clone()
        }
    };
    let nodes = dag
        .iter()
        .enumerate()
        .map(|(n, list)| Node {
            node_id: node_id(n),
            pkg_id: ids[n].clone(),
            deps: list
                .iter()
                .map(|&to| NodeRef {
                    node_id: node_id(to),
                })
                .collect(),
        })
        .collect();
    let pkgs = ids
        .into_iter()
        .zip(infos)
        .map(|(id, info)| GraphPkg { id, info })
        .collect();
    DepGraph {
        schema_version: SCHEMA_VERSION.to_owned(),
        pkg_manager: PkgManager {
            name: input.manager,
            repositories: input.repositories,
        },
        pkgs,
        graph: Graph {
            root_node_id: ROOT_NODE.to_owned(),
            nodes,
        },
    }
}

/// Drops the back edges of a depth-first search from node 0 first, leaving an acyclic graph
/// with the same nodes.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, version: &str) -> PkgInfo {
        PkgInfo {
            name: name.into(),
            version: Some(version.into()),
            purl: None,
        }
    }

    #[test]
    fn cycles_are_cut_and_everything_stays_reachable() {
        // 0 -> 1 -> 2 -> 0, and 3 -> 1.
        let dag = acyclic(&[vec![1], vec![2], vec![0], vec![1]]);
        assert_eq!(dag, vec![vec![1], vec![2], vec![], vec![1]]);
    }

    #[test]
    fn duplicates_share_a_node_and_orphans_hang_off_the_root() {
        let graph = build(GraphInput {
            manager: "npm".into(),
            repositories: vec![],
            root: info("app", "1.0.0"),
            // a -> b, b -> a (a cycle), c twice, and a package equal to the root.
            pkgs: vec![
                info("a", "1"),
                info("b", "1"),
                info("c", "1"),
                info("c", "1"),
                info("app", "1.0.0"),
            ],
            edges: vec![vec![1], vec![0, 4], vec![], vec![], vec![]],
            root_edges: vec![3],
        });
        let ids: Vec<&str> = graph.pkgs.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["app@1.0.0", "a@1", "b@1", "c@1"]);
        let deps = |n: usize| -> Vec<&str> {
            graph.graph.nodes[n]
                .deps
                .iter()
                .map(|d| d.node_id.as_str())
                .collect()
        };
        assert_eq!(graph.graph.nodes[0].node_id, "root-node");
        assert_eq!(deps(0), ["c@1", "a@1"]);
        assert_eq!(deps(1), ["b@1"]);
        // b's edges to a (a cycle) and to the root are gone.
        assert!(deps(2).is_empty());
    }
}
