//! The synchronous routes and their typed errors.

use serde_json::{json, Value};

use super::{settings, Agent, FakeEngine, PASSWORD};
use cra_core::Digest;

#[tokio::test]
async fn synchronous_routes_and_typed_errors() {
    let agent = Agent::start(settings(None), FakeEngine::new(true)).await;
    let good = Agent::creds(PASSWORD, "registry.test:5000");
    let good = Some(good.as_str());

    let (s, body) = agent.get("/healthcheck", None).await;
    assert_eq!((s, &body["ok"]), (200, &json!(true)));

    let (s, body) = agent.get("/list", good).await;
    assert_eq!((s, body), (200, json!(["big", "many", "team/app"])));
    let (s, body) = agent.get("/list/team/app", good).await;
    assert_eq!((s, body), (200, json!(["1", "2"])));
    let (s, body) = agent.get("/list/many", good).await;
    assert_eq!((s, body.as_array().map(Vec::len)), (200, Some(25)));

    let (s, body) = agent.get("/list-paginated/many?size=10", good).await;
    assert_eq!(s, 200);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(10));
    let next = body["next"].as_str().unwrap().to_owned();
    assert_eq!(crate::agent::cursor::decode(&next).unwrap(), "10");
    let (s, body) = agent
        .get(&format!("/list-paginated/many?size=10&cursor={next}"), good)
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["items"][0], "t10");
    let last = crate::agent::cursor::encode("20");
    let (s, body) = agent
        .get(&format!("/list-paginated/many?size=10&cursor={last}"), good)
        .await;
    assert_eq!((s, &body["next"]), (200, &Value::Null));
    assert_eq!(body["items"], json!(["t20", "t21", "t22", "t23", "t24"]));
    // A well-formed cursor the agent did not issue names no page; a malformed one is a bad
    // request.
    for stranger in ["bm9wZQ", "A"] {
        let (s, body) = agent
            .get(&format!("/list-paginated/many?cursor={stranger}"), good)
            .await;
        assert_eq!((s, &body["error"]["code"]), (404, &json!("page_not_found")));
    }
    let (s, body) = agent.get("/list-paginated/many?cursor=a%2Bb", good).await;
    assert_eq!((s, &body["error"]["code"]), (400, &json!("bad_request")));
    let (s, body) = agent.get("/list-paginated/many?size=0", good).await;
    assert_eq!((s, &body["error"]["code"]), (400, &json!("bad_request")));

    let (s, body) = agent.get("/list-with-metadata/team/app", good).await;
    assert_eq!((s, body), (200, json!([{"tag": "1"}, {"tag": "2"}])));

    let (s, body) = agent.get("/image-metadata/team/app:2", good).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["repository"], "team/app");
    assert_eq!(body["tag"], "2");
    assert_eq!(body["platform"], "linux/amd64");
    let want = Digest::sha256_of(b"team/app:2").to_string();
    assert_eq!(body["digest"], want);

    let (s, body) = agent
        .get("/get-state-identifier?image=team/app:2", good)
        .await;
    assert_eq!((s, &body["stateIdentifier"]), (200, &json!(want)));
    let (s, body) = agent
        .get("/get-state-identifier?repository=team/app&tag=1", good)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        body["stateIdentifier"],
        Digest::sha256_of(b"team/app:1").to_string()
    );

    let (s, body) = agent.get("/validate-credentials", good).await;
    assert_eq!((s, &body["registryType"]), (200, &json!("harbor-cr")));

    // Typed errors.
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("/list", None, 401, "missing_credentials"),
        ("/list", Some("%%%".into()), 400, "invalid_credentials"),
        (
            "/list",
            Some(Agent::creds("wrong", "registry.test:5000")),
            401,
            "unauthorized",
        ),
        (
            "/validate-credentials",
            Some(Agent::creds(PASSWORD, "down.test")),
            502,
            "registry_unavailable",
        ),
        (
            "/list/nope",
            Some(Agent::creds(PASSWORD, "r")),
            404,
            "not_found",
        ),
        (
            "/list/UPPER",
            Some(Agent::creds(PASSWORD, "r")),
            400,
            "bad_request",
        ),
        (
            "/image-metadata/team/app:%20x",
            Some(Agent::creds(PASSWORD, "r")),
            400,
            "bad_request",
        ),
        (
            "/image-metadata/team/app:9",
            Some(Agent::creds(PASSWORD, "r")),
            404,
            "not_found",
        ),
        (
            "/get-state-identifier",
            Some(Agent::creds(PASSWORD, "r")),
            400,
            "bad_request",
        ),
        ("/list-paginated", None, 404, "not_found"),
        ("/nowhere", None, 404, "not_found"),
    ];
    for (path, auth, status, code) in cases {
        let (s, body) = agent.get(path, auth.as_deref()).await;
        assert_eq!(s, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(!body.to_string().contains(PASSWORD), "{body}");
    }
    // A wrong method is a JSON 405 as well.
    let resp = agent
        .http
        .delete(format!("{}/list", agent.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let allow = resp.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // systemcheck lists every check; without BROKER_CLIENT_URL it fails on the callback one.
    let (s, body) = agent.get("/systemcheck", good).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["ok"], false);
    let names: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["credentials", "registry", "callback"]);
    let (s, body) = agent
        .get(
            "/systemcheck",
            Some(&Agent::creds("nope", "registry.test:5000")),
        )
        .await;
    assert_eq!((s, &body["checks"][1]["ok"]), (401, &json!(false)));

    let (s, text) = agent.get("/metrics", None).await;
    assert_eq!(s, 200);
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("cra_agent_scans_queued 0"), "{text}");
    assert!(
        text.contains(
            "cra_agent_http_requests_total{method=\"GET\",route=\"/list/{*repository}\",status=\"200\"} 2"
        ),
        "{text}"
    );
    agent.stop().await;
}
