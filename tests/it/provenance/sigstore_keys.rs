//! Sigstore signatures by every key type containers/image accepts (ECDSA P-256, P-384, P-521,
//! RSA PKCS#1 v1.5, Ed25519), made by the `openssl` command line as an independent signer:
//! the trusted key must be accepted, another key of the same type refused, and a signature of one
//! type refused under a key of another.
//! skopeo is the oracle too where it was built with sigstore support.

use std::path::Path;

use cra_core::Digest;
use cra_tests::image::{tar, Entry};
use cra_tests::sigstore::{attach, openssl_available, payload, KeyKind, OpensslKey};

use super::fixture::{run_matrix, Case, Fixture};

fn trusting(key: &Path) -> String {
    format!(
        r#"{{"default":[{{"type":"sigstoreSigned","keyPath":{}}}]}}"#,
        serde_json::to_string(&key.display().to_string()).expect("json string")
    )
}

/// Pushes an image unique to `name` as `keys/<name>:v1`, signed by `key`; returns the image.
async fn signed_by(f: &Fixture, name: &str, key: &OpensslKey) -> String {
    let layer = tar(&[Entry::file("etc/case", name)]);
    let repo = format!("keys/{name}");
    f.registry
        .push_small_image(&repo, "v1", "amd64", &layer)
        .await;
    let image = format!("{}/{repo}:v1", f.host());
    let digest: Digest = f.digest(&image).await;
    let payload = payload(&image, &digest);
    let signature = key.sign(&payload);
    attach(&f.registry, &repo, &digest, &[(payload, signature)]).await;
    image
}

#[tokio::test(flavor = "multi_thread")]
async fn cra_verifies_sigstore_signatures_by_every_key_type_openssl_makes() {
    if !openssl_available() {
        return;
    }
    let Some(f) = Fixture::start().await else {
        return;
    };
    let dir = f.keys.path();
    let kinds = [
        ("p256", KeyKind::Ec("P-256")),
        ("p384", KeyKind::Ec("P-384")),
        ("p521", KeyKind::Ec("P-521")),
        ("rsa2048", KeyKind::Rsa(2048)),
        ("rsa3072", KeyKind::Rsa(3072)),
        ("ed25519", KeyKind::Ed25519),
    ];
    let a = f.attachments.path();
    let mut cases = Vec::new();
    let mut images = Vec::new();
    for (name, kind) in kinds {
        let trusted = OpensslKey::generate(dir, &format!("{name}-trusted"), kind);
        let other = OpensslKey::generate(dir, &format!("{name}-other"), kind);
        let image = signed_by(&f, name, &trusted).await;
        cases.push(Case {
            name: leak(format!("{name}: trusted key")),
            policy: trusting(&trusted.public),
            registries_d: a.to_owned(),
            image: image.clone(),
            accepted: true,
        });
        cases.push(Case {
            name: leak(format!("{name}: another key of the same type")),
            policy: trusting(&other.public),
            registries_d: a.to_owned(),
            image: image.clone(),
            accepted: false,
        });
        images.push((name, trusted, image));
    }
    let find = |wanted: &str| {
        images
            .iter()
            .find(|(name, _, _)| *name == wanted)
            .expect("key of the matrix")
    };
    let (_, p256, p256_image) = find("p256");
    let (_, rsa, rsa_image) = find("rsa2048");
    let (_, p384, _) = find("p384");
    let (_, ed25519, ed25519_image) = find("ed25519");
    let pkcs1 = dir.join("rsa2048-trusted.pkcs1.pub");
    rsa.write_pkcs1_public(&pkcs1);
    let secp256k1 = OpensslKey::generate(dir, "secp256k1", KeyKind::Ec("secp256k1"));
    let secp256k1_image = signed_by(&f, "secp256k1", &secp256k1).await;
    cases.extend([
        Case {
            name: "P-256 signature under an RSA key",
            policy: trusting(&rsa.public),
            registries_d: a.to_owned(),
            image: p256_image.clone(),
            accepted: false,
        },
        Case {
            name: "RSA signature under a P-256 key",
            policy: trusting(&p256.public),
            registries_d: a.to_owned(),
            image: rsa_image.clone(),
            accepted: false,
        },
        Case {
            name: "Ed25519 signature under a P-384 key",
            policy: trusting(&p384.public),
            registries_d: a.to_owned(),
            image: ed25519_image.clone(),
            accepted: false,
        },
        Case {
            name: "P-256 signature under an Ed25519 key",
            policy: trusting(&ed25519.public),
            registries_d: a.to_owned(),
            image: p256_image.clone(),
            accepted: false,
        },
        Case {
            name: "RSA PUBLIC KEY (PKCS#1) form of the trusted key",
            policy: trusting(&pkcs1),
            registries_d: a.to_owned(),
            image: rsa_image.clone(),
            accepted: true,
        },
        Case {
            name: "secp256k1 key (a curve sigstore refuses)",
            policy: trusting(&secp256k1.public),
            registries_d: a.to_owned(),
            image: secp256k1_image,
            accepted: false,
        },
    ]);
    run_matrix(&f, cases).await;
}

/// A case name built at run time (the matrix takes `&'static str`; a test leaks a few bytes).
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}
