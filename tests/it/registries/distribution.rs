//! The distribution endpoints against the real CNCF registry on loopback: listing, manifests, blobs
//! and Basic credentials.

use cra_core::manifest::{media_type, select_platform};
use cra_core::{Digest, ErrorKind, Manifest, PageRequest, Platform, Secret};
use cra_registries::{generic, ConnectOptions};
use cra_tests::registry::{registry_available, Auth, RegistryServer};

use super::{collect_blob, open};

#[tokio::test]
async fn harness_pushes_an_image_the_registry_serves() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("alice", "s3cret")).await;
    let image = server
        .push_small_image("team/app", "v1", "amd64", b"layer-bytes")
        .await;
    let http = reqwest::Client::new();
    let url = format!("{}/v2/team/app/manifests/v1", server.base_url());
    let resp = http
        .get(&url)
        .basic_auth("alice", Some("s3cret"))
        .header("accept", image.media_type.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        image.manifest.as_slice()
    );
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn catalog_pages_through_link_headers() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::None).await;
    let mut names: Vec<String> = (0..7).map(|i| format!("team{}/app", i)).collect();
    for name in &names {
        server
            .push_small_image(name, "v1", "amd64", name.as_bytes())
            .await;
    }
    names.sort();
    let registry = open(&server);
    assert_eq!(registry.host(), server.host());

    let mut page = PageRequest::first(Some(3));
    let mut pages = Vec::new();
    loop {
        let got = registry.list_repositories(&page).await.unwrap();
        pages.push(got.items.clone());
        match got.next {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
        assert!(pages.len() < 10, "pagination must end");
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    assert_eq!(pages.concat(), names);
    assert_eq!(registry.list_all_repositories().await.unwrap(), names);
    let foreign = PageRequest {
        size: Some(3),
        cursor: Some("http://169.254.169.254/v2/_catalog".into()),
    };
    let err = registry.list_repositories(&foreign).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn manifests_by_tag_and_digest_index_and_blobs() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::None).await;
    let amd = server
        .push_small_image("multi", "amd", "amd64", b"amd64 layer")
        .await;
    let arm = server
        .push_small_image("multi", "arm", "arm64", b"arm64 layer")
        .await;
    let attestation = serde_json::json!({
        "mediaType": media_type::OCI_MANIFEST, "digest": amd.config_digest.to_string(), "size": 10,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
    });
    let (index_digest, index_bytes) = server
        .push_index(
            "multi",
            "latest",
            &[(&amd, "linux", "amd64"), (&arm, "linux", "arm64")],
            &[attestation],
        )
        .await;
    let registry = open(&server);

    let by_tag = registry.fetch_manifest("multi", "latest").await.unwrap();
    assert_eq!(by_tag.digest, index_digest);
    assert_eq!(by_tag.media_type, media_type::OCI_INDEX);
    assert_eq!(by_tag.bytes.as_ref(), index_bytes.as_slice());
    let Manifest::Index(index) = Manifest::parse(&by_tag.media_type, &by_tag.bytes).unwrap() else {
        panic!("expected an index");
    };
    let wanted: Platform = "linux/arm64".parse().unwrap();
    let entry = select_platform(&index, &wanted).unwrap();
    let by_digest = registry
        .fetch_manifest("multi", entry.digest().as_ref())
        .await
        .unwrap();
    assert_eq!(by_digest.digest, arm.digest);
    assert_eq!(by_digest.media_type, media_type::OCI_MANIFEST);

    let (bytes, err) = collect_blob(registry.as_ref(), "multi", &arm.layer_digests[0], None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(bytes, b"arm64 layer");
    let (_, err) = collect_blob(registry.as_ref(), "multi", &arm.layer_digests[0], Some(4)).await;
    assert_eq!(err.unwrap().kind(), ErrorKind::TooLarge);

    let mut tags = registry.list_all_tags("multi").await.unwrap();
    tags.sort();
    assert_eq!(tags, vec!["amd", "arm", "latest"]);

    let err = registry.fetch_manifest("multi", "nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = registry
        .list_tags("no/such/repo", &PageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("NAME_UNKNOWN"), "{err}");
    let missing = Digest::sha256_of(b"missing");
    let Err(err) = registry.fetch_blob("multi", &missing, None).await else {
        panic!("a missing blob must fail");
    };
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = registry
        .fetch_manifest("multi", "../etc")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn basic_auth_accepts_good_and_rejects_bad_credentials() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("alice", "s3cret")).await;
    server
        .push_small_image("private/app", "v1", "amd64", b"x")
        .await;
    let registry = open(&server);
    registry.validate_credentials().await.unwrap();
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        vec!["private/app"]
    );
    assert_eq!(
        registry.list_all_tags("private/app").await.unwrap(),
        vec!["v1"]
    );

    let opts = ConnectOptions::default();
    let wrong = generic(
        &server.base_url(),
        Some("alice".into()),
        Some(Secret::new("wrong-password")),
        &opts,
    )
    .unwrap();
    let err = wrong.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(!err.to_string().contains("wrong-password"));
    assert_eq!(
        wrong.validate_credentials().await.unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    assert!(!format!("{wrong:?}").contains("wrong-password"));

    let anonymous = generic(&server.base_url(), None, None, &opts).unwrap();
    let err = anonymous
        .fetch_manifest("private/app", "v1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("requires credentials"), "{err}");
}
