//! GPG simple signing: skopeo and gpg sign, cra and skopeo decide, and the decisions must agree.

use std::path::Path;

use cra_tests::signing::{registries_d, serve_dir};

use super::fixture::{policy, run_matrix, Case, Fixture, ACCEPT, REJECT};

fn signed_by(key: &Path, identity: Option<&str>) -> String {
    let identity = identity.map_or(String::new(), |i| format!(r#","signedIdentity":{i}"#));
    format!(
        r#"[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{}{identity}}}]"#,
        serde_json::to_string(&key.display().to_string()).expect("json string")
    )
}

fn payload(reference: &str, digest: &str) -> String {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"atomic container signature"}},"optional":{{"creator":"cra tests"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn cra_decides_as_skopeo_on_gpg_signed_images() {
    let Some(f) = Fixture::start().await else {
        return;
    };
    let host = f.host();
    let trusted = f.trusted.clone();
    let other = f.other.clone();
    let trusted_img = f
        .signed_copy("trusted", "team/app:trusted", &["--sign-by", &trusted])
        .await;
    let other_img = f
        .signed_copy("other", "team/app:other", &["--sign-by", &other])
        .await;
    let unsigned_img = f.signed_copy("unsigned", "team/app:unsigned", &[]).await;
    let elsewhere = format!("{host}/team/elsewhere:v9");
    let wrongid_img = f
        .signed_copy(
            "wrongid",
            "team/app:wrongid",
            &["--sign-by", &trusted, "--sign-identity", &elsewhere],
        )
        .await;
    let sametag = format!("{host}/team/app:another-tag");
    let repo_img = f
        .signed_copy(
            "repo",
            "team/app:repo",
            &["--sign-by", &trusted, "--sign-identity", &sametag],
        )
        .await;
    let upstream = format!("{host}/team/remapped:v1");
    let mirror_img = f
        .signed_copy(
            "mirror",
            "mirror/remapped:v1",
            &["--sign-by", &trusted, "--sign-identity", &upstream],
        )
        .await;
    let base_img = f
        .signed_copy("base", "base/signed:v1", &["--sign-by", &trusted])
        .await;

    // A payload for this image, altered after signing (uncompressed, so only the data changes).
    let tampered_img = f.signed_copy("tampered", "team/app:tampered", &[]).await;
    let tampered_digest = f.digest(&tampered_img).await;
    let good = payload(&tampered_img, &tampered_digest.to_string());
    let mut signature = f
        .gpg
        .sign(&trusted, good.as_bytes(), &["--compress-algo", "none"]);
    let at = signature
        .windows(b"tampered\"".len())
        .position(|w| w == b"tampered\"")
        .expect("payload inside the signature");
    signature[at] = b'T';
    let dir = f.signature_dir("team/app", &tampered_digest);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("signature-1"), &signature).unwrap();

    // A valid signature of another image, replayed for this one.
    let replay_img = f.signed_copy("replayed", "team/app:replayed", &[]).await;
    let replay_digest = f.digest(&replay_img).await;
    let trusted_digest = f.digest(&trusted_img).await;
    let dir = f.signature_dir("team/app", &replay_digest);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        f.signature_dir("team/app", &trusted_digest)
            .join("signature-1"),
        dir.join("signature-1"),
    )
    .unwrap();

    // Signed by a key that has since expired (made and used two years ago, valid for a day).
    let expired_img = f.signed_copy("expired", "team/app:expired", &[]).await;
    let expired_digest = f.digest(&expired_img).await;
    let past = ["--faked-system-time", "20241206T120000!"];
    let expired_key = f
        .gpg
        .generate("Expired <expired@example.test>", "ed25519", "1d", &past);
    f.gpg.export(&expired_key, &f.key("expired.gpg"));
    let sig = f.gpg.sign(
        &expired_key,
        payload(&expired_img, &expired_digest.to_string()).as_bytes(),
        &past,
    );
    let dir = f.signature_dir("team/app", &expired_digest);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("signature-1"), sig).unwrap();

    // Signed by a key that was revoked afterwards; the policy's keyring carries the revocation.
    let revoked_img = f.signed_copy("revoked", "team/app:revoked", &[]).await;
    let revoked_digest = f.digest(&revoked_img).await;
    let revoked_key = f
        .gpg
        .generate("Revoked <revoked@example.test>", "ed25519", "never", &[]);
    let sig = f.gpg.sign(
        &revoked_key,
        payload(&revoked_img, &revoked_digest.to_string()).as_bytes(),
        &[],
    );
    f.gpg.revoke(&revoked_key);
    f.gpg.export(&revoked_key, &f.key("revoked.gpg"));
    let dir = f.signature_dir("team/app", &revoked_digest);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("signature-1"), sig).unwrap();

    // The same lookaside over HTTP on loopback, and under the legacy `sigstore` key.
    let http = serve_dir(f.lookaside.path().to_owned()).await;
    let http_store = registries_d(&format!(
        "docker:\n  {host}:\n    lookaside: {}\n",
        http.base_url()
    ));
    let legacy_store = registries_d(&format!(
        "docker:\n  {host}/team:\n    sigstore: file://{}\n",
        f.lookaside.path().display()
    ));
    let no_store = registries_d("default-docker:\n  use-sigstore-attachments: false\n");

    let team = format!("{host}/team");
    let trusted_key = f.key("trusted.gpg");
    let by_trusted = signed_by(&trusted_key, None);
    let team_trusted = policy(REJECT, &[(&team, &by_trusted)]);
    let file = f.file_store.path().to_owned();
    let case = |name, policy: &str, store: &Path, image: &str, accepted| Case {
        name,
        policy: policy.to_owned(),
        registries_d: store.to_owned(),
        image: image.to_owned(),
        accepted,
    };
    let digest_ref = format!("{host}/team/app@{trusted_digest}");
    let both_keys = format!(
        r#"[{{"type":"signedBy","keyType":"GPGKeys","keyPaths":[{},{}]}}]"#,
        serde_json::to_string(&trusted_key.display().to_string()).unwrap(),
        serde_json::to_string(&f.key("other.gpg").display().to_string()).unwrap()
    );
    let inline_key = {
        use base64::Engine as _;
        let data =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(&trusted_key).unwrap());
        format!(r#"[{{"type":"signedBy","keyType":"GPGKeys","keyData":"{data}"}}]"#)
    };
    let exact_ref = signed_by(
        &trusted_key,
        Some(&format!(
            r#"{{"type":"exactReference","dockerReference":"{elsewhere}"}}"#
        )),
    );
    let exact_repo = signed_by(
        &trusted_key,
        Some(&format!(
            r#"{{"type":"exactRepository","dockerRepository":"{host}/team/elsewhere"}}"#
        )),
    );
    let match_repo = signed_by(&trusted_key, Some(r#"{"type":"matchRepository"}"#));
    let match_exact = signed_by(&trusted_key, Some(r#"{"type":"matchExact"}"#));
    let remap = signed_by(
        &trusted_key,
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
    let transport_default =
        format!(r#"{{"default":{REJECT},"transports":{{"docker":{{"":{by_trusted}}}}}}}"#);
    let cases = vec![
        case("trusted key", &team_trusted, &file, &trusted_img, true),
        case("other key", &team_trusted, &file, &other_img, false),
        case(
            "either of two keyrings",
            &policy(REJECT, &[(&team, &both_keys)]),
            &file,
            &other_img,
            true,
        ),
        case(
            "inline keyData",
            &policy(REJECT, &[(&team, &inline_key)]),
            &file,
            &trusted_img,
            true,
        ),
        case("unsigned", &team_trusted, &file, &unsigned_img, false),
        case("wrong identity", &team_trusted, &file, &wrongid_img, false),
        case(
            "exactReference to the signed identity",
            &policy(REJECT, &[(&team, &exact_ref)]),
            &file,
            &wrongid_img,
            true,
        ),
        case(
            "exactRepository of the signed identity",
            &policy(REJECT, &[(&team, &exact_repo)]),
            &file,
            &wrongid_img,
            true,
        ),
        case(
            "matchRepository across repositories",
            &policy(REJECT, &[(&team, &match_repo)]),
            &file,
            &wrongid_img,
            false,
        ),
        case(
            "matchRepository with another tag",
            &policy(REJECT, &[(&team, &match_repo)]),
            &file,
            &repo_img,
            true,
        ),
        case(
            "another tag under the default rule",
            &team_trusted,
            &file,
            &repo_img,
            false,
        ),
        case(
            "digest reference, matchRepoDigestOrExact",
            &team_trusted,
            &file,
            &digest_ref,
            true,
        ),
        case(
            "digest reference, matchExact",
            &policy(REJECT, &[(&team, &match_exact)]),
            &file,
            &digest_ref,
            false,
        ),
        case(
            "remapIdentity",
            &policy(REJECT, &[(&format!("{host}/mirror"), &remap)]),
            &file,
            &mirror_img,
            true,
        ),
        case(
            "mirror without remapping",
            &policy(REJECT, &[(&format!("{host}/mirror"), &by_trusted)]),
            &file,
            &mirror_img,
            false,
        ),
        case(
            "tampered payload",
            &team_trusted,
            &file,
            &tampered_img,
            false,
        ),
        case(
            "signature of another digest",
            &team_trusted,
            &file,
            &replay_img,
            false,
        ),
        case(
            "expired key",
            &policy(REJECT, &[(&team, &signed_by(&f.key("expired.gpg"), None))]),
            &file,
            &expired_img,
            false,
        ),
        case(
            "revoked key",
            &policy(REJECT, &[(&team, &signed_by(&f.key("revoked.gpg"), None))]),
            &file,
            &revoked_img,
            false,
        ),
        case(
            "scope: exact tag overrides the namespace",
            &layered,
            &file,
            &unsigned_img,
            true,
        ),
        case(
            "scope: namespace overrides the host",
            &layered,
            &file,
            &trusted_img,
            true,
        ),
        case(
            "scope: namespace still checks keys",
            &layered,
            &file,
            &other_img,
            false,
        ),
        case(
            "scope: host rejects outside the namespace",
            &layered,
            &file,
            &base_img,
            false,
        ),
        case(
            "scope: transport default",
            &transport_default,
            &file,
            &base_img,
            true,
        ),
        case(
            "default insecureAcceptAnything",
            &format!(r#"{{"default":{ACCEPT}}}"#),
            &file,
            &unsigned_img,
            true,
        ),
        case(
            "default reject",
            &format!(r#"{{"default":{REJECT}}}"#),
            &file,
            &trusted_img,
            false,
        ),
        case(
            "http lookaside, trusted",
            &team_trusted,
            http_store.path(),
            &trusted_img,
            true,
        ),
        case(
            "http lookaside, other key",
            &team_trusted,
            http_store.path(),
            &other_img,
            false,
        ),
        case(
            "http lookaside, unsigned",
            &team_trusted,
            http_store.path(),
            &unsigned_img,
            false,
        ),
        case(
            "legacy sigstore key",
            &team_trusted,
            legacy_store.path(),
            &trusted_img,
            true,
        ),
        case(
            "no lookaside configured",
            &team_trusted,
            no_store.path(),
            &trusted_img,
            false,
        ),
    ];
    run_matrix(&f, cases).await;
}
