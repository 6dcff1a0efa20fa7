//! The typed snyk-docker-plugin payload: scan results, facts and the dep-graph.
//!
//! The shapes follow snyk-docker-plugin's `PluginResponse` and `@snyk/dep-graph`'s
//! `DepGraphData`; field names are camelCase on the wire.
//! Every type deserialises too, so that a receiver (or a test) reads the payload back typed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What `cra scan --format json` prints and what the agent's result callback carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanResults {
    /// The OS result first, then one result per application target.
    pub scan_results: Vec<ScanResult>,
}

/// One scanned target: the OS of the image, or one application inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// The image the result belongs to.
    pub target: Target,
    /// What was scanned: the package manager and, for applications, the file.
    pub identity: Identity,
    /// What was found.
    pub facts: Vec<Fact>,
}

impl ScanResult {
    /// The dep-graph fact, when the result has one.
    pub fn dep_graph(&self) -> Option<&DepGraph> {
        self.facts.iter().find_map(|f| match f {
            Fact::DepGraph(g) => Some(g),
            _ => None,
        })
    }

    /// The jar fingerprints fact, when the result has one.
    pub fn jar_fingerprints(&self) -> Option<&JarFingerprints> {
        self.facts.iter().find_map(|f| match f {
            Fact::JarFingerprints(j) => Some(j),
            _ => None,
        })
    }
}

/// The image a result belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `docker-image|<repository>`.
    pub image: String,
}

/// What was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The package manager: `deb`, `apk`, `rpm` or `linux` for the OS result; `npm`, `yarn`,
    /// `pnpm`, `pip`, `poetry`, `pipenv`, `maven`, `gomodules`, `composer`, `rubygems`,
    /// `nuget`, `cargo` for applications.
    #[serde(rename = "type")]
    pub kind: String,
    /// The manifest, lockfile, binary or directory inside the image (applications only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_file: Option<String>,
    /// Extra arguments; the OS result has `platform`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

/// One fact about a target, `{"type": …, "data": …}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum Fact {
    /// The packages and their dependencies.
    DepGraph(DepGraph),
    /// Jars found in one directory, with their coordinates and SHA-1 digests.
    JarFingerprints(JarFingerprints),
    /// The manifest and lockfile names an application result was built from.
    TestedFiles(Vec<String>),
    /// The config digest, `sha256:<hex>`.
    ImageId(String),
    /// The layers as the source names them (blob digests or archive paths), base first.
    ImageLayers(Vec<String>),
    /// The config's `created` time.
    ImageCreationTime(String),
    /// The config's `rootfs.diff_ids`, base first.
    RootFs(Vec<String>),
    /// os-release `PRETTY_NAME`.
    ImageOsReleasePrettyName(String),
    /// The names the image is known by.
    ImageNames(ImageNames),
    /// `os/architecture[/variant]`.
    Platform(String),
    /// The scanner's version.
    PluginVersion(String),
    /// Problems that did not stop the scan.
    PluginWarnings(PluginWarnings),
    /// The signature verification status (cra's own fact; present only when verified).
    ImageSignature(ImageSignature),
}

/// The `imageSignature` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSignature {
    /// `accepted` or `rejected`.
    pub status: String,
    /// Whether the policy was enforced.
    pub enforced: bool,
    /// The policy scope that applied.
    pub scope: String,
    /// The verified signers.
    pub signers: Vec<ImageSigner>,
    /// Why the image was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One verified signer in the `imageSignature` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSigner {
    /// `gpg` or `sigstore`.
    pub kind: String,
    /// The key fingerprint.
    pub key: String,
    /// The identity the signature claims.
    pub identity: String,
}

/// The `imageNames` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageNames {
    /// `repo:tag` and `repo@digest` names.
    pub names: Vec<String>,
}

/// The `pluginWarnings` fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginWarnings {
    /// One line per warning, each naming its layer or file.
    pub warnings: Vec<String>,
}

/// The `jarFingerprints` fact: every jar of one directory, nested jars included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JarFingerprints {
    /// One entry per jar.
    pub fingerprints: Vec<JarFingerprint>,
    /// The image (`docker-image|<repository>`'s repository part).
    pub origin: String,
    /// The directory.
    pub path: String,
}

/// One jar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JarFingerprint {
    /// The jar's path; nested jars as `outer.jar!/inner.jar`.
    pub location: String,
    /// The SHA-1 of the jar's bytes, lowercase hex, when known.
    pub digest: Option<String>,
    /// The jar's own coordinates, from `pom.properties` or its manifest.
    #[serde(default, flatten)]
    pub coordinates: JarCoordinates,
    /// Further artifacts shaded into the jar.
    #[serde(default)]
    pub dependencies: Vec<JarCoordinates>,
}

/// Maven coordinates; any part may be unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JarCoordinates {
    /// The groupId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The artifactId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    /// The version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `@snyk/dep-graph`'s `DepGraphData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepGraph {
    /// `1.3.0`.
    pub schema_version: String,
    /// The package manager.
    pub pkg_manager: PkgManager,
    /// Every package, the root first; ids are `name@version`.
    pub pkgs: Vec<GraphPkg>,
    /// The nodes and edges.
    pub graph: Graph,
}

/// The package manager of a dep-graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkgManager {
    /// `deb`, `npm`, `pip` …
    pub name: String,
    /// OS results: the release, `debian:12`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<Repository>,
}

/// A package repository alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// `debian:12`, `alpine:3.19.1`.
    pub alias: String,
}

/// One package of a dep-graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphPkg {
    /// `name@version`.
    pub id: String,
    /// Its name, version and purl.
    pub info: PkgInfo,
}

/// A package's name, version and purl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkgInfo {
    /// The name in the package manager's spelling.
    pub name: String,
    /// The version; absent for an application root without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// The graph of a dep-graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    /// `root-node`.
    pub root_node_id: String,
    /// The root first, then one node per package.
    pub nodes: Vec<Node>,
}

/// One node and its outgoing edges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// The node id.
    pub node_id: String,
    /// The package it stands for.
    pub pkg_id: String,
    /// Its direct dependencies.
    pub deps: Vec<NodeRef>,
}

/// An edge's target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRef {
    /// The target node's id.
    pub node_id: String,
}
