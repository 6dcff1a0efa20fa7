//! The signed images the provenance tests share, built once per test with the real tools.

use std::path::{Path, PathBuf};

use cra_core::policy::Verdict;
use cra_core::{Digest, Reference, Registry};
use cra_registries::signatures::TrustConfig;
use cra_registries::{generic, ConnectOptions};
use cra_tests::image::{tar, Entry};
use cra_tests::registry::{registry_available, Auth, RegistryServer};
use cra_tests::signing::{
    registries_d, signing_tools_available, skopeo_accepts, skopeo_copy_signed, GpgHome,
};

/// A registry with images signed in every way the matrix needs, and the keys and stores.
pub(super) struct Fixture {
    pub(super) registry: RegistryServer,
    pub(super) gpg: GpgHome,
    pub(super) trusted: String,
    pub(super) other: String,
    pub(super) keys: tempfile::TempDir,
    pub(super) lookaside: tempfile::TempDir,
    /// `registries.d` with a `file://` lookaside over `lookaside`.
    pub(super) file_store: tempfile::TempDir,
    /// `registries.d` that reads sigstore attachments.
    pub(super) attachments: tempfile::TempDir,
}

impl Fixture {
    /// `None` (after a message) when the registry, skopeo or gpg are not installed.
    pub(super) async fn start() -> Option<Fixture> {
        if !registry_available() || !signing_tools_available() {
            return None;
        }
        let registry = RegistryServer::start(Auth::None).await;
        let gpg = GpgHome::new();
        let trusted = gpg.generate(
            "Trusted Signer <trusted@example.test>",
            "ed25519",
            "never",
            &[],
        );
        let other = gpg.generate("Other Signer <other@example.test>", "rsa2048", "never", &[]);
        let keys = tempfile::tempdir().expect("keys");
        gpg.export(&trusted, &keys.path().join("trusted.gpg"));
        gpg.export(&other, &keys.path().join("other.gpg"));
        let lookaside = tempfile::tempdir().expect("lookaside");
        let url = format!("file://{}", lookaside.path().display());
        let file_store = registries_d(&format!(
            "default-docker:\n  lookaside: {url}\n  lookaside-staging: {url}\n"
        ));
        let attachments = registries_d("default-docker:\n  use-sigstore-attachments: true\n");
        Some(Fixture {
            registry,
            gpg,
            trusted,
            other,
            keys,
            lookaside,
            file_store,
            attachments,
        })
    }

    /// `127.0.0.1:PORT`.
    pub(super) fn host(&self) -> String {
        self.registry.host()
    }

    /// A key file of the fixture.
    pub(super) fn key(&self, name: &str) -> PathBuf {
        self.keys.path().join(name)
    }

    /// Pushes a one-layer image unique to `name` as `base/<name>:v1` and copies it to `to`
    /// (a repository path and tag on this registry) with skopeo, signing with `sign`.
    pub(super) async fn signed_copy(&self, name: &str, to: &str, sign: &[&str]) -> String {
        let layer = tar(&[Entry::file("etc/case", name)]);
        self.registry
            .push_small_image(&format!("base/{name}"), "v1", "amd64", &layer)
            .await;
        let from = format!("docker://{}/base/{name}:v1", self.host());
        let target = format!("{}/{to}", self.host());
        let home = self.gpg.path().to_owned();
        let regd = self.file_store.path().to_owned();
        let dest = format!("docker://{target}");
        let sign: Vec<String> = sign.iter().map(|s| (*s).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let sign: Vec<&str> = sign.iter().map(String::as_str).collect();
            skopeo_copy_signed(&regd, &home, &from, &dest, &sign);
        })
        .await
        .expect("skopeo copy");
        target
    }

    /// The manifest digest the registry serves for `image` (`host/repo:tag`).
    pub(super) async fn digest(&self, image: &str) -> Digest {
        let reference: Reference = image.parse().expect("reference");
        let registry = self.client();
        registry
            .fetch_manifest(reference.repository(), &reference.manifest_reference())
            .await
            .expect("manifest")
            .digest
    }

    /// The directory below the lookaside holding the signatures of `repo` at `digest`.
    pub(super) fn signature_dir(&self, repo: &str, digest: &Digest) -> PathBuf {
        self.lookaside.path().join(format!(
            "{repo}@{}={}",
            digest.algorithm().as_str(),
            digest.hex()
        ))
    }

    fn client(&self) -> std::sync::Arc<dyn Registry> {
        generic(&self.host(), None, None, &ConnectOptions::default()).expect("registry client")
    }

    /// cra's verdict on `image` under `policy` (JSON text) and `registries_d`.
    pub(super) async fn cra(&self, policy: &Path, registries_d: &Path, image: &str) -> Verdict {
        let reference: Reference = image.parse().expect("reference");
        let config = TrustConfig::load(policy, Some(registries_d), ConnectOptions::default())
            .expect("trust config");
        let registry = self.client();
        let digest = self.digest(image).await;
        config.verify(registry.as_ref(), &reference, &digest).await
    }
}

/// One row of the matrix.
pub(super) struct Case {
    pub(super) name: &'static str,
    pub(super) policy: String,
    pub(super) registries_d: PathBuf,
    pub(super) image: String,
    pub(super) accepted: bool,
}

/// A policy requirement list that refuses every image.
pub(super) const REJECT: &str = r#"[{"type":"reject"}]"#;
/// A policy requirement list that accepts every image.
pub(super) const ACCEPT: &str = r#"[{"type":"insecureAcceptAnything"}]"#;

/// A containers-policy.json with `default` and the docker transport's `(scope, requirements)`.
pub(super) fn policy(default: &str, scopes: &[(&str, &str)]) -> String {
    let scopes: Vec<String> = scopes
        .iter()
        .map(|(scope, reqs)| {
            format!(
                "{}:{reqs}",
                serde_json::to_string(scope).expect("json string")
            )
        })
        .collect();
    format!(
        r#"{{"default":{default},"transports":{{"docker":{{{}}}}}}}"#,
        scopes.join(",")
    )
}

/// What Debian's skopeo answers for any sigstore requirement: it was built without sigstore.
const SIGSTORE_DISABLED: &str = "sigstore disabled";
/// What a skopeo older than sigstoreSigned's key lists (`keyPaths`, `keyDatas`) answers for them.
const KEY_LISTS_UNKNOWN: [&str; 2] = [r#"Unknown key \"keyPaths\""#, r#"Unknown key \"keyDatas\""#];

/// Runs every case through cra and skopeo (printing cra's verdicts); fails listing each case where cra differs from
/// skopeo or from the expected decision.
///
/// A skopeo built without sigstore support (Debian's) cannot be the oracle for sigstore
/// requirements, nor one older than the syntax a case uses; those cases are then checked
/// against the expected decision only, with a note.
#[allow(clippy::print_stderr)]
pub(super) async fn run_matrix(fixture: &Fixture, cases: Vec<Case>) {
    let dir = tempfile::tempdir().expect("policies");
    let mut failures = Vec::new();
    let mut without_oracle = 0;
    for (i, case) in cases.into_iter().enumerate() {
        let policy = dir.path().join(format!("policy-{i}.json"));
        std::fs::write(&policy, &case.policy).expect("write policy");
        let verdict = fixture.cra(&policy, &case.registries_d, &case.image).await;
        let (p, r, image) = (
            policy.clone(),
            case.registries_d.clone(),
            format!("docker://{}", case.image),
        );
        let (accepted, message) =
            tokio::task::spawn_blocking(move || skopeo_accepts(&p, &r, &image))
                .await
                .expect("skopeo");
        let undecidable = message.contains(SIGSTORE_DISABLED)
            || KEY_LISTS_UNKNOWN.iter().any(|m| message.contains(m));
        let oracle = (!undecidable).then_some(accepted);
        if oracle.is_none() {
            without_oracle += 1;
        }
        eprintln!("{:<45} cra: {verdict}", case.name);
        let agrees = oracle.is_none_or(|o| o == verdict.is_accepted());
        if !agrees || verdict.is_accepted() != case.accepted {
            let said = |b: bool| if b { "accepted" } else { "rejected" };
            failures.push(format!(
                "{}: cra {verdict}; skopeo {}; expected {}\n  skopeo said: {}",
                case.name,
                oracle.map_or("cannot decide", said),
                said(case.accepted),
                message.trim()
            ));
        }
    }
    if without_oracle > 0 {
        eprintln!(
            "note: this skopeo was built without sigstore or predates a case's syntax; {without_oracle} cases were checked against the expected decision only"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
