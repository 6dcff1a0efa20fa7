//! The snyk results: one result per application, the same packages as the CycloneDX BOM, also as
//! the agent sends them.

// Test helpers outside `#[test]` functions panic on setup failures by design.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use cra_cli::agent::callback::RetryPolicy;
use cra_cli::agent::Settings;
use cra_core::RegistryKind;
use cra_scan::sbom;
use cra_scan::sbom::snyk::{DepGraph, Fact, ScanResults};
use cra_tests::agent::{CallbackReceiver, RunningAgent};
use cra_tests::app_image::{
    application_jars, application_layer, purls_in_cyclonedx, purls_in_scan_results, sha1_hex,
};
use cra_tests::registry::{registry_available, Auth, RegistryServer};
use serde_json::json;

use super::{application_report, render};

/// The rules `@snyk/dep-graph` enforces: ids `name@version` and unique, every node's package
/// known, the root without incoming edges, every node reachable from the root.
fn assert_valid_dep_graph(g: &DepGraph) {
    let mut pkgs = HashMap::new();
    for p in &g.pkgs {
        let id = format!(
            "{}@{}",
            p.info.name,
            p.info.version.as_deref().unwrap_or("")
        );
        assert_eq!(p.id, id);
        assert!(
            pkgs.insert(p.id.as_str(), ()).is_none(),
            "duplicate {}",
            p.id
        );
    }
    let nodes: HashMap<&str, &Vec<_>> = g
        .graph
        .nodes
        .iter()
        .map(|n| (n.node_id.as_str(), &n.deps))
        .collect();
    assert_eq!(nodes.len(), g.graph.nodes.len(), "node ids unique");
    assert!(g
        .graph
        .nodes
        .iter()
        .all(|n| pkgs.contains_key(n.pkg_id.as_str())));
    let root = g.graph.root_node_id.as_str();
    let mut seen = BTreeSet::from([root]);
    let mut todo = vec![root];
    while let Some(n) = todo.pop() {
        for d in nodes[n] {
            assert_ne!(d.node_id, root, "an edge into the root");
            if seen.insert(d.node_id.as_str()) {
                todo.push(d.node_id.as_str());
            }
        }
    }
    assert_eq!(seen.len(), nodes.len(), "every node reachable");
}

#[tokio::test]
async fn snyk_results_have_one_result_per_application_and_the_cyclonedx_packages() {
    let (_dir, report) = application_report().await;
    let mut out = Vec::new();
    sbom::render(&report, sbom::Format::Json, &mut out).unwrap();
    let results: ScanResults = serde_json::from_slice(&out).expect("the typed payload reads back");
    let identities: Vec<(&str, Option<&str>)> = results
        .scan_results
        .iter()
        .map(|r| (r.identity.kind.as_str(), r.identity.target_file.as_deref()))
        .collect();
    assert_eq!(
        identities,
        [
            ("deb", None),
            ("maven", Some("/opt/app")),
            ("maven", Some("/opt/app/lib")),
            ("pip", Some("/opt/venv/lib/python3.11/site-packages")),
            ("npm", Some("/srv/app/package.json")),
            ("pip", Some("/usr/lib/python3/dist-packages")),
        ]
    );
    for r in &results.scan_results {
        assert!(r
            .facts
            .contains(&Fact::ImageId(report.image.config_digest.to_string())));
        assert!(r.facts.contains(&Fact::Platform("linux/amd64".into())));
        assert!(r
            .facts
            .iter()
            .any(|f| matches!(f, Fact::ImageLayers(l) if l.len() == 1)));
        assert!(r
            .facts
            .iter()
            .any(|f| matches!(f, Fact::RootFs(l) if l.len() == 1)));
        assert!(r.facts.iter().any(|f| matches!(f, Fact::PluginVersion(_))));
        if let Some(g) = r.dep_graph() {
            assert_valid_dep_graph(g);
            assert_eq!(g.pkg_manager.name, r.identity.kind);
        }
    }
    // The npm app is its graph's root, with the edges of its manifests.
    let npm = results.scan_results[4].dep_graph().unwrap();
    assert_eq!(npm.pkgs[0].id, "goof@0.0.3");
    let deps = |id: &str| -> Vec<&str> {
        let node = npm.graph.nodes.iter().find(|n| n.pkg_id == id).unwrap();
        node.deps.iter().map(|d| d.node_id.as_str()).collect()
    };
    let mut top = deps("goof@0.0.3");
    top.sort_unstable();
    assert_eq!(top, ["debug@4.3.4", "lodash@4.17.21"]);
    assert_eq!(deps("debug@4.3.4"), ["ms@2.1.2"]);
    // The virtualenv's root is its directory; Flask depends on the installed Werkzeug and click.
    let venv = results.scan_results[3].dep_graph().unwrap();
    assert_eq!(venv.pkgs[0].id, "/opt/venv/lib/python3.11/site-packages@");
    let flask = venv
        .graph
        .nodes
        .iter()
        .find(|n| n.pkg_id == "flask@3.0.2")
        .unwrap();
    let mut flask_deps: Vec<&str> = flask.deps.iter().map(|d| d.node_id.as_str()).collect();
    flask_deps.sort_unstable();
    assert_eq!(flask_deps, ["click@8.1.7", "werkzeug@3.0.1"]);
    // Jars: path and SHA-1 of each, coordinates beside.
    let jars = application_jars();
    let lib = results.scan_results[2].jar_fingerprints().unwrap();
    assert_eq!(lib.path, "/opt/app/lib");
    assert_eq!(lib.fingerprints.len(), 1);
    assert_eq!(
        lib.fingerprints[0].location,
        "/opt/app/lib/guava-32.1.3-jre.jar"
    );
    assert_eq!(lib.fingerprints[0].digest, Some(sha1_hex(&jars[0].1)));
    assert_eq!(
        lib.fingerprints[0].coordinates.artifact_id.as_deref(),
        Some("guava")
    );
    let app = results.scan_results[1].jar_fingerprints().unwrap();
    let outer = app
        .fingerprints
        .iter()
        .find(|f| f.location == "/opt/app/app.jar")
        .unwrap();
    assert_eq!(outer.digest, Some(sha1_hex(&jars[1].1)));
    assert_eq!(outer.coordinates.artifact_id.as_deref(), Some("app"));

    // Across all results, the same packages as the CycloneDX BOM, per ecosystem.
    let from_snyk = purls_in_scan_results(&results);
    let from_cdx = purls_in_cyclonedx(&render(&report, sbom::Format::CycloneDx));
    assert_eq!(
        from_snyk.keys().collect::<Vec<_>>(),
        ["deb", "maven", "npm", "pypi"]
    );
    assert_eq!(from_snyk, from_cdx);
    assert_eq!(from_snyk["maven"].len(), 3, "{:?}", from_snyk["maven"]);
    assert_eq!(from_snyk["pypi"].len(), 5, "{:?}", from_snyk["pypi"]);
}

#[tokio::test]
async fn agent_result_callback_carries_every_application() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("robot", "pa55-w0rd")).await;
    let layer = application_layer();
    server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let agent = RunningAgent::start(Settings {
        broker_client_url: Some(receiver.url().parse().unwrap()),
        callback_retry: RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(10),
        },
        ..Settings::default()
    })
    .await;
    let auth = server.credentials(RegistryKind::Nexus).to_base64();
    let (status, body) = agent
        .post(
            "/scan",
            &auth,
            &json!({"image": "team/app:1", "jobId": "apps-1"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let calls = receiver.wait_for(2, Duration::from_secs(60)).await;
    let result = &calls
        .iter()
        .find(|c| c.path == "/api/v2/import/result")
        .unwrap()
        .body;
    assert_eq!(result["status"], "success", "{result}");
    let results: ScanResults =
        serde_json::from_value(json!({ "scanResults": result["scanResults"] })).unwrap();
    assert_eq!(results.scan_results.len(), 6);
    // The same packages as the CycloneDX BOM of the same layer scanned locally.
    let (_dir, report) = application_report().await;
    assert_eq!(
        purls_in_scan_results(&results),
        purls_in_cyclonedx(&render(&report, sbom::Format::CycloneDx))
    );
    agent.stop().await;
}
