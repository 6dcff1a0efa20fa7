//! Sigstore signatures in registry attachments: the test signs as cosign does, and cra must make
//! the expected decision in every case, and the same as skopeo where skopeo can decide.
//!
//! Debian's skopeo 1.9 was built with sigstore disabled (it neither signs nor verifies sigstore
//! signatures), so on Debian these cases are checked against the expected decisions alone; with a
//! skopeo that supports sigstore, it is the oracle for every case.

use std::path::Path;

use base64::Engine as _;
use cra_core::Digest;
use cra_tests::signing::registries_d;
use cra_tests::sigstore::{attach, payload, SigstoreKey};

use super::fixture::{policy, run_matrix, Case, Fixture, ACCEPT, REJECT};

fn sigstore_signed(key: &Path, identity: Option<&str>) -> String {
    let identity = identity.map_or(String::new(), |i| format!(r#","signedIdentity":{i}"#));
    format!(
        r#"[{{"type":"sigstoreSigned","keyPath":{}{identity}}}]"#,
        serde_json::to_string(&key.display().to_string()).expect("json string")
    )
}

/// Pushes an image unique to `name` as `to` and attaches a signature by each `(key, identity)`
/// (the image's own reference when `identity` is `None`); returns the image and its digest.
async fn signed(
    f: &Fixture,
    name: &str,
    to: &str,
    signers: &[(&SigstoreKey, Option<&str>)],
) -> (String, Digest) {
    let image = f.signed_copy(name, to, &[]).await;
    let digest = f.digest(&image).await;
    let signatures: Vec<(Vec<u8>, String)> = signers
        .iter()
        .map(|(key, identity)| {
            let payload = payload(identity.unwrap_or(&image), &digest);
            let signature = key.sign(&payload);
            (payload, signature)
        })
        .collect();
    if !signatures.is_empty() {
        attach(&f.registry, repository(to), &digest, &signatures).await;
    }
    (image, digest)
}

/// The repository of `repo:tag`.
fn repository(to: &str) -> &str {
    to.rsplit_once(':').map_or(to, |(repo, _)| repo)
}

#[tokio::test(flavor = "multi_thread")]
async fn cra_decides_on_sigstore_signed_images_as_expected_and_as_skopeo() {
    let Some(f) = Fixture::start().await else {
        return;
    };
    let host = f.host();
    let trusted = SigstoreKey::generate(f.keys.path(), "trusted-sigstore");
    let other = SigstoreKey::generate(f.keys.path(), "other-sigstore");
    let t = &trusted;

    let (trusted_img, trusted_digest) =
        signed(&f, "s-trusted", "team/app:trusted", &[(t, None)]).await;
    let (other_img, _) = signed(&f, "s-other", "team/app:other", &[(&other, None)]).await;
    let (both_img, _) = signed(&f, "s-both", "team/app:both", &[(&other, None), (t, None)]).await;
    let (unsigned_img, _) = signed(&f, "s-unsigned", "team/app:unsigned", &[]).await;
    let elsewhere = format!("{host}/team/elsewhere:v9");
    let (wrongid_img, _) = signed(
        &f,
        "s-wrongid",
        "team/app:wrongid",
        &[(t, Some(&elsewhere))],
    )
    .await;
    let sametag = format!("{host}/team/app:another-tag");
    let (repo_img, _) = signed(&f, "s-repo", "team/app:repo", &[(t, Some(&sametag))]).await;
    let upstream = format!("{host}/team/remapped:v1");
    let (mirror_img, _) = signed(
        &f,
        "s-mirror",
        "mirror/remapped:v1",
        &[(t, Some(&upstream))],
    )
    .await;
    let (base_img, _) = signed(&f, "s-base", "base/signed:v1", &[(t, None)]).await;

    // The payload altered after signing (whitespace only: the claims still hold).
    let (tampered_img, tampered_digest) = signed(&f, "s-tampered", "team/app:tampered", &[]).await;
    let good = payload(&tampered_img, &tampered_digest);
    let signature = trusted.sign(&good);
    let mut altered = b" ".to_vec();
    altered.extend_from_slice(&good);
    attach(
        &f.registry,
        "team/app",
        &tampered_digest,
        &[(altered, signature)],
    )
    .await;

    // The signature altered: still a well-formed DER ECDSA signature, over nothing signed.
    let (forged_img, forged_digest) = signed(&f, "s-forged", "team/app:forged", &[]).await;
    let good = payload(&forged_img, &forged_digest);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut der = b64.decode(trusted.sign(&good)).expect("base64 signature");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    attach(
        &f.registry,
        "team/app",
        &forged_digest,
        &[(good, b64.encode(&der))],
    )
    .await;

    // A valid signature of another image, replayed for this one.
    let (replay_img, replay_digest) = signed(&f, "s-replayed", "team/app:replayed", &[]).await;
    let replayed = payload(&trusted_img, &trusted_digest);
    let signature = trusted.sign(&replayed);
    attach(
        &f.registry,
        "team/app",
        &replay_digest,
        &[(replayed, signature)],
    )
    .await;

    // A payload of the older GPG type under a valid sigstore signature.
    let (gpgtype_img, gpgtype_digest) = signed(&f, "s-gpgtype", "team/app:gpgtype", &[]).await;
    let wrong_type = String::from_utf8(payload(&gpgtype_img, &gpgtype_digest))
        .expect("payload text")
        .replace(
            "cosign container image signature",
            "atomic container signature",
        )
        .into_bytes();
    let signature = trusted.sign(&wrong_type);
    attach(
        &f.registry,
        "team/app",
        &gpgtype_digest,
        &[(wrong_type, signature)],
    )
    .await;

    let no_attachments = registries_d("default-docker:\n  use-sigstore-attachments: false\n");
    let team_only = registries_d(&format!(
        "docker:\n  {host}/team:\n    use-sigstore-attachments: true\n"
    ));
    let attachments = f.attachments.path().to_owned();
    let case = |name, policy: &str, store: &Path, image: &str, accepted| Case {
        name,
        policy: policy.to_owned(),
        registries_d: store.to_owned(),
        image: image.to_owned(),
        accepted,
    };
    let team = format!("{host}/team");
    let by_trusted = sigstore_signed(&trusted.public, None);
    let team_trusted = policy(REJECT, &[(&team, &by_trusted)]);
    let b64 = base64::engine::general_purpose::STANDARD;
    let inline_key = format!(
        r#"[{{"type":"sigstoreSigned","keyData":"{}"}}]"#,
        b64.encode(std::fs::read(&trusted.public).expect("public key"))
    );
    let key_list = |field: &str, keys: &[&Path]| {
        let entries: Vec<String> = keys
            .iter()
            .map(|path| match field {
                "keyDatas" => format!(
                    "\"{}\"",
                    b64.encode(std::fs::read(path).expect("public key"))
                ),
                _ => serde_json::to_string(&path.display().to_string()).expect("json string"),
            })
            .collect();
        let list = format!(
            r#"[{{"type":"sigstoreSigned","{field}":[{}]}}]"#,
            entries.join(",")
        );
        policy(REJECT, &[(&team, &list)])
    };
    let (tp, op) = (trusted.public.as_path(), other.public.as_path());
    let digest_ref = format!("{host}/team/app@{trusted_digest}");
    let exact_ref = sigstore_signed(
        &trusted.public,
        Some(&format!(
            r#"{{"type":"exactReference","dockerReference":"{elsewhere}"}}"#
        )),
    );
    let exact_repo = sigstore_signed(
        &trusted.public,
        Some(&format!(
            r#"{{"type":"exactRepository","dockerRepository":"{host}/team/elsewhere"}}"#
        )),
    );
    let match_repo = sigstore_signed(&trusted.public, Some(r#"{"type":"matchRepository"}"#));
    let match_exact = sigstore_signed(&trusted.public, Some(r#"{"type":"matchExact"}"#));
    let remap = sigstore_signed(
        &trusted.public,
        Some(&format!(
            r#"{{"type":"remapIdentity","prefix":"{host}/mirror","signedPrefix":"{host}/team"}}"#
        )),
    );
    let layered = policy(
        REJECT,
        &[
            (&unsigned_img, ACCEPT),
            (&team, &by_trusted),
            (&host, REJECT),
        ],
    );
    let a = attachments.as_path();
    let cases = vec![
        case("trusted key", &team_trusted, a, &trusted_img, true),
        case("other key", &team_trusted, a, &other_img, false),
        case(
            "one of two signatures by the trusted key",
            &team_trusted,
            a,
            &both_img,
            true,
        ),
        case(
            "inline keyData",
            &policy(REJECT, &[(&team, &inline_key)]),
            a,
            &trusted_img,
            true,
        ),
        case(
            "inline keyData, other key",
            &policy(REJECT, &[(&team, &inline_key)]),
            a,
            &other_img,
            false,
        ),
        case(
            "keyPaths, the trusted key second",
            &key_list("keyPaths", &[op, tp]),
            a,
            &trusted_img,
            true,
        ),
        case(
            "keyPaths without the signing key",
            &key_list("keyPaths", &[op]),
            a,
            &trusted_img,
            false,
        ),
        case(
            "keyDatas, the trusted key second",
            &key_list("keyDatas", &[op, tp]),
            a,
            &trusted_img,
            true,
        ),
        case(
            "keyDatas without the signing key",
            &key_list("keyDatas", &[tp]),
            a,
            &other_img,
            false,
        ),
        case("unsigned", &team_trusted, a, &unsigned_img, false),
        case("wrong identity", &team_trusted, a, &wrongid_img, false),
        case(
            "exactReference to the signed identity",
            &policy(REJECT, &[(&team, &exact_ref)]),
            a,
            &wrongid_img,
            true,
        ),
        case(
            "exactRepository of the signed identity",
            &policy(REJECT, &[(&team, &exact_repo)]),
            a,
            &wrongid_img,
            true,
        ),
        case(
            "matchRepository with another tag",
            &policy(REJECT, &[(&team, &match_repo)]),
            a,
            &repo_img,
            true,
        ),
        case(
            "another tag under the default rule",
            &team_trusted,
            a,
            &repo_img,
            false,
        ),
        case(
            "digest reference, matchRepoDigestOrExact",
            &team_trusted,
            a,
            &digest_ref,
            true,
        ),
        case(
            "digest reference, matchExact",
            &policy(REJECT, &[(&team, &match_exact)]),
            a,
            &digest_ref,
            false,
        ),
        case(
            "remapIdentity",
            &policy(REJECT, &[(&format!("{host}/mirror"), &remap)]),
            a,
            &mirror_img,
            true,
        ),
        case(
            "mirror without remapping",
            &policy(REJECT, &[(&format!("{host}/mirror"), &by_trusted)]),
            a,
            &mirror_img,
            false,
        ),
        case("tampered payload", &team_trusted, a, &tampered_img, false),
        case("tampered signature", &team_trusted, a, &forged_img, false),
        case(
            "payload of the GPG signature type",
            &team_trusted,
            a,
            &gpgtype_img,
            false,
        ),
        case(
            "signature of another digest",
            &team_trusted,
            a,
            &replay_img,
            false,
        ),
        case(
            "scope: exact tag overrides the namespace",
            &layered,
            a,
            &unsigned_img,
            true,
        ),
        case(
            "scope: namespace overrides the host",
            &layered,
            a,
            &trusted_img,
            true,
        ),
        case(
            "scope: namespace still checks keys",
            &layered,
            a,
            &other_img,
            false,
        ),
        case(
            "scope: host rejects outside the namespace",
            &layered,
            a,
            &base_img,
            false,
        ),
        case(
            "registries.d scope turns attachments on",
            &team_trusted,
            team_only.path(),
            &trusted_img,
            true,
        ),
        case(
            "attachments off",
            &team_trusted,
            no_attachments.path(),
            &trusted_img,
            false,
        ),
    ];
    run_matrix(&f, cases).await;
}
