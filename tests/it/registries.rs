//! cra-registries against the real CNCF registry on loopback, and stub servers for faults.

use cra_tests::registry::{registry_available, Auth, RegistryServer};

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
