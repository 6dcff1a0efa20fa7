//! What the client promises the agent and the deployment: the callback base it passes on with
//! every forwarded request, a readiness endpoint without credentials, and ECR role credentials
//! without an external id.

// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine;
use cra_tests::broker::{client_settings, cra_client, wait_for_status, TOKEN};

use super::scenario::{http, Running};

/// The header that carries the client's `BROKER_CLIENT_URL` to the agent.
const CLIENT_URL_HEADER: &str = "x-broker-client-url";

/// Sends a `/list` through the server, with a forged callback base, on both response paths;
/// returns what the agent saw of the header each time.
async fn forwarded_client_urls(running: &Running) -> Vec<Vec<String>> {
    let mut seen = Vec::new();
    for (i, ack) in [false, true].into_iter().enumerate() {
        let path = format!("/list/forged-{i}");
        let mut request = http()
            .get(format!("{}/broker/{TOKEN}{path}", running.server_url))
            .header(CLIENT_URL_HEADER, "http://forged.invalid:1");
        if ack {
            request = request.header("x-broker-ws-response", "true");
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let at_agent = running.agent_log.matching(&path);
        assert_eq!(at_agent.len(), 1, "{path}");
        seen.push(
            at_agent[0]
                .headers
                .get_all(CLIENT_URL_HEADER)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect(),
        );
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_passes_its_url_to_the_agent_and_replaces_a_forged_one() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let own = "http://broker-client.internal:7341";
        let running = Running::start_with(|s| s.broker_client_url = Some(own.into())).await;
        assert_eq!(
            forwarded_client_urls(&running).await,
            vec![vec![own.to_owned()], vec![own.to_owned()]]
        );
        // The system check calls the agent with it too, so that the agent's callback check
        // passes when the agent has no callback base of its own.
        let response = http()
            .get(format!("{}/systemcheck", running.client_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let checks = running.agent_log.matching("/systemcheck");
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].headers[CLIENT_URL_HEADER], own);

        // A client without BROKER_CLIENT_URL passes nothing on, and still drops a forged value.
        let bare = Running::start().await;
        assert_eq!(
            forwarded_client_urls(&bare).await,
            vec![Vec::<String>::new(), Vec::new()]
        );
    })
    .await
    .expect("the scenario finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_the_tunnel_and_needs_no_credentials() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let mut running = Running::start().await;
        let ready = format!("{}/ready", running.client_url);
        let response = http().get(&ready).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["ok"], true);

        running.stop_server().await;
        let response = http().get(&ready).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["ok"], false);

        running.start_server().await;
        wait_for_status(&ready, 200, Duration::from_secs(10)).await;
        // Nothing of the readiness check went to the agent.
        assert!(running.agent_log.matching("/ready").is_empty());
    })
    .await
    .expect("the scenario finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecr_client_starts_without_an_external_id() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let running = Running::start().await;
        let mut settings = client_settings(&running.server_url, running.agent.addr);
        // As `cra client` builds them from the `CR_*` settings.
        let variables = cra_core::RegistryVariables {
            kind: Some("ecr".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/cra".into()),
            region: Some("eu-west-1".into()),
            ..Default::default()
        };
        settings.cr_credentials = Some(variables.credentials().unwrap().to_base64());
        settings.registry_variables = variables
            .by_name()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        let config = settings.clone().into_config_with(|_| None).unwrap();
        let credentials = config.vars.get("CR_CREDENTIALS").unwrap().to_owned();
        let line = base64::engine::general_purpose::STANDARD
            .decode(&credentials)
            .unwrap();
        // The agent reads what the client builds: a role, a region, and no external id.
        let parsed = cra_core::credentials::RegistryCredentials::from_base64(&credentials).unwrap();
        assert!(
            matches!(
                parsed,
                cra_core::credentials::RegistryCredentials::Ecr { ref external_id, .. }
                    if external_id.is_none()
            ),
            "{}",
            String::from_utf8_lossy(&line)
        );
        // And the client runs with these settings.
        let client = cra_client(settings).await;
        wait_for_status(
            &format!("http://{}/ready", client.addr),
            200,
            Duration::from_secs(20),
        )
        .await;
    })
    .await
    .expect("the scenario finishes in time");
}
