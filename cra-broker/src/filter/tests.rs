//! Filter tests: the container-registry-agent rules, stock-shaped rule sets, the bypass suite,
//! and every stock filter file when the shared fixtures are present.

use super::*;

fn cra() -> Filter {
    let mut vars = Vars::new();
    vars.insert("CR_AGENT_URL", "http://agent:17500");
    Filter::container_registry_agent(&vars).unwrap()
}

fn verdict(filter: &Filter, direction: Direction, method: &str, url: &str) -> Option<String> {
    let headers = http::HeaderMap::new();
    let parts = RequestParts {
        method,
        url,
        headers: &headers,
        body: None,
    };
    filter.check(direction, &parts).allowed().map(|a| a.url)
}

#[test]
fn container_registry_agent_private_rules() {
    let f = cra();
    let allowed = [
        ("GET", "/healthcheck"),
        ("GET", "/healthcheck/"),
        ("get", "/HealthCheck"),
        ("GET", "/validate-credentials"),
        ("GET", "/get-state-identifier?image=a"),
        ("GET", "/list"),
        ("GET", "/list?page=2"),
        ("GET", "/list/"),
        ("GET", "/list/library%2Fdebian"),
        ("GET", "/list/a/b/c?x=1"),
        ("GET", "/list-paginated/repo?n=1000"),
        ("GET", "/list-with-metadata/repo"),
        ("POST", "/discover"),
        ("POST", "/scan"),
        ("GET", "/image-metadata/repo/sha256:abc"),
    ];
    for (method, url) in allowed {
        assert_eq!(
            verdict(&f, Direction::Private, method, url),
            Some(format!("http://agent:17500{url}")),
            "{method} {url}"
        );
    }
    let denied = [
        ("POST", "/list"),
        ("GET", "/scan"),
        ("DELETE", "/list/a"),
        ("GET", "/list-paginated"),
        ("GET", "/admin"),
        ("GET", "/listx"),
        ("GET", "/"),
        ("GET", "/api/v2/import/done"),
        ("POST", "/api/v2/import/done"),
        ("GET", "/healthcheck/x"),
    ];
    for (method, url) in denied {
        assert_eq!(
            verdict(&f, Direction::Private, method, url),
            None,
            "{method} {url}"
        );
    }
}

#[test]
fn container_registry_agent_public_rules_have_no_origin() {
    let f = cra();
    for url in [
        "/api/v2/import/done",
        "/api/v1/recurring-tests/dependencies",
        "/api/v2/import/result",
        "/v1/import/app",
        "/v2/import/done",
        "/v1/recurring-tests/dependencies",
        "/v2/import/result",
        "/rest/scan/result",
    ] {
        assert_eq!(
            verdict(&f, Direction::Public, "POST", url),
            Some(url.to_owned())
        );
        assert_eq!(verdict(&f, Direction::Public, "GET", url), None);
    }
    assert_eq!(
        verdict(&f, Direction::Public, "POST", "/api/v1/secret"),
        None
    );
    assert_eq!(verdict(&f, Direction::Public, "GET", "/list"), None);
}

#[test]
fn bypass_suite_never_reaches_a_path_outside_the_rules() {
    let f = cra();
    let attacks = [
        "/list/../admin",
        "/list/%2e%2e/admin",
        "/list/%2E%2e%2fadmin",
        "/list/a%2F..%2F..%2Fadmin",
        "/list/a%252F..%252F..%252Fadmin",
        "/list/%252e%252e/%252e%252e/admin",
        "/list/..%2fadmin",
        "/list/..%5cadmin",
        "/list\\..\\admin",
        "/list/a\\b",
        "//list/a",
        "/list//a",
        "/list/./a",
        "/list/%2e/a",
        "/list/..;/admin",
        "/list/a%00",
        "/list/a%0aHost:%20evil",
        "/image-metadata/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/list?x=/../../admin",
        "/healthcheck/..",
        "/healthcheck/%2e%2e",
    ];
    for url in attacks {
        assert_eq!(verdict(&f, Direction::Private, "GET", url), None, "{url}");
    }
    let headers = http::HeaderMap::new();
    let parts = RequestParts {
        method: "GET",
        url: "/list/a%2F..%2Fadmin",
        headers: &headers,
        body: None,
    };
    assert_eq!(
        f.check(Direction::Private, &parts),
        Verdict::Deny(Denial::Unsafe(Unsafe::DotSegment))
    );
}

#[test]
fn stock_shapes_any_method_auth_and_userinfo() {
    let mut vars = Vars::new();
    vars.insert("GITHUB_TOKEN", "ghp_x");
    vars.insert("GITHUB_API", "api.github.example");
    vars.insert("BITBUCKET_USERNAME", "u");
    vars.insert("BITBUCKET_PASSWORD", "p");
    vars.insert("JIRA_PAT", "pat");
    let json = r#"{
      "public": [{"method": "any", "path": "/webhook/github/*"}],
      "private": [
        {"//": "c", "method": "GET", "path": "/repos/:owner/:repo/teams", "origin": "https://${GITHUB_TOKEN}@${GITHUB_API}"},
        {"method": "GET", "path": "/rest/api/1.0/projects", "origin": "https://bb.example/", "auth": {"scheme": "basic", "username": "${BITBUCKET_USERNAME}", "password": "${BITBUCKET_PASSWORD}"}},
        {"method": "POST", "path": "/rest/api/2/issue", "origin": "jira.example", "auth": {"scheme": "bearer", "token": "${JIRA_PAT}"}},
        {"method": "GET", "path": "/basic-token", "origin": "http://x", "auth": {"scheme": "basic", "token": "${JIRA_PAT}"}},
        {"method": "GET", "path": "/tok", "origin": "http://x", "auth": {"scheme": "token", "token": "${JIRA_PAT}"}},
        {"method": "GET", "path": "/pw", "origin": "http://a:b@x"},
        {"path": "/default-get", "origin": "http://x"}
      ]
    }"#;
    let f = Filter::from_json(json, &vars).unwrap();
    let headers = http::HeaderMap::new();
    let check = |method: &str, url: &str| {
        f.check(
            Direction::Private,
            &RequestParts {
                method,
                url,
                headers: &headers,
                body: None,
            },
        )
        .allowed()
    };
    let gh = check("GET", "/repos/o/r/teams").unwrap();
    assert_eq!(gh.url, "https://api.github.example/repos/o/r/teams");
    assert_eq!(gh.authorization.as_deref(), Some("token ghp_x"));
    assert!(!format!("{gh:?}").contains("ghp_x"));
    let bb = check("GET", "/rest/api/1.0/projects").unwrap();
    assert_eq!(bb.url, "https://bb.example/rest/api/1.0/projects");
    assert_eq!(bb.authorization.as_deref(), Some("Basic dTpw"));
    let jira = check("POST", "/rest/api/2/issue").unwrap();
    assert_eq!(jira.url, "https://jira.example/rest/api/2/issue");
    assert_eq!(jira.authorization.as_deref(), Some("Bearer pat"));
    assert_eq!(
        check("GET", "/basic-token")
            .unwrap()
            .authorization
            .as_deref(),
        Some("Basic cGF0")
    );
    assert_eq!(
        check("GET", "/tok").unwrap().authorization.as_deref(),
        Some("Token pat")
    );
    let pw = check("GET", "/pw").unwrap();
    assert_eq!(pw.url, "http://x/pw");
    assert_eq!(pw.authorization.as_deref(), Some("Basic YTpi"));
    assert!(check("GET", "/default-get").is_some());
    assert!(check("POST", "/default-get").is_none());
    for method in ["GET", "POST", "DELETE", "PATCH"] {
        let parts = RequestParts {
            method,
            url: "/webhook/github/abc",
            headers: &headers,
            body: None,
        };
        assert!(f.check(Direction::Public, &parts).allowed().is_some());
    }
}

#[test]
fn first_matching_rule_wins_and_valid_rules_gate() {
    let json = r#"{"private": [
        {"method": "POST", "path": "/hook", "origin": "http://first", "valid": [{"path": "kind", "value": "push"}]},
        {"method": "POST", "path": "/hook", "origin": "http://second"}
    ]}"#;
    let f = Filter::from_json(json, &Vars::new()).unwrap();
    let headers = http::HeaderMap::new();
    let with_body = |body: &'static str| {
        f.check(
            Direction::Private,
            &RequestParts {
                method: "POST",
                url: "/hook",
                headers: &headers,
                body: Some(body.as_bytes()),
            },
        )
        .allowed()
        .unwrap()
    };
    assert_eq!(with_body(r#"{"kind":"push"}"#).url, "http://first/hook");
    assert_eq!(with_body(r#"{"kind":"pr"}"#).url, "http://second/hook");
    assert_eq!(with_body(r#"{"kind":"pr"}"#).rule, 1);
}

#[test]
fn load_errors_are_typed() {
    assert!(matches!(
        Filter::from_json("{", &Vars::new()),
        Err(FilterError::Json(_))
    ));
    assert!(matches!(
        Filter::from_json(r#"{"private":[{"path":"/(a[)"}]}"#, &Vars::new()),
        Err(FilterError::Pattern { .. })
    ));
    assert!(matches!(
        Filter::from_json(
            r#"{"private":[{"path":"/x","valid":[{"path":"a","regex":"("}]}]}"#,
            &Vars::new()
        ),
        Err(FilterError::Pattern { .. })
    ));
    assert!(matches!(
        Filter::from_json(r#"{"private":{}}"#, &Vars::new()),
        Err(FilterError::Json(_))
    ));
}

#[test]
fn referenced_vars_lists_origin_and_auth_variables() {
    let names = Filter::referenced_vars(CONTAINER_REGISTRY_AGENT).unwrap();
    assert_eq!(names, vec!["CR_AGENT_URL"]);
    let json = r#"{"private":[{"path":"/","origin":"https://${A}@${B}","auth":{"scheme":"basic","username":"${C}","password":"${A}"}}]}"#;
    assert_eq!(Filter::referenced_vars(json).unwrap(), vec!["A", "B", "C"]);
}

/// The shared fixtures live beside the repository in CI and are absent in a user's clone.
fn stock_fixtures() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/broker");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: stock filter files not found at {}",
            dir.display()
        );
        None
    }
}

#[test]
fn every_stock_filter_file_loads_and_matches_its_own_examples() {
    let Some(dir) = stock_fixtures() else { return };
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name == "config.default.json" {
            continue;
        }
        let json = std::fs::read_to_string(&path).unwrap();
        let filter =
            Filter::from_json(&json, &Vars::new()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let file: AcceptFile = serde_json::from_str(&json).unwrap();
        // A literal rule path (no parameters, wildcards or validators) must match itself.
        for (direction, rules) in [
            (Direction::Public, &file.public),
            (Direction::Private, &file.private),
        ] {
            for rule in rules.iter() {
                let (Some(path), true) = (&rule.path, rule.valid.is_empty()) else {
                    continue;
                };
                if path.contains([':', '*', '(', '?', '+']) || path.contains("//") {
                    continue;
                }
                let method = rule.method.clone().unwrap_or_else(|| "GET".into());
                let method = if method.eq_ignore_ascii_case("any") {
                    "GET".into()
                } else {
                    method
                };
                let path = if path.starts_with('/') {
                    path.clone()
                } else {
                    format!("/{path}")
                };
                assert!(
                    verdict(&filter, direction, &method, &path).is_some(),
                    "{name}: {method} {path}"
                );
            }
        }
        loaded += 1;
    }
    // The apprisk folder holds bare rule lists.
    for entry in std::fs::read_dir(dir.join("apprisk")).unwrap() {
        let json = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let wrapped = format!("{{\"private\": {json}}}");
        Filter::from_json(&wrapped, &Vars::new()).unwrap();
        loaded += 1;
    }
    assert!(loaded >= 20, "only {loaded} stock files");
}

#[test]
fn built_in_rule_set_equals_the_stock_file() {
    let Some(dir) = stock_fixtures() else { return };
    let stock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("container-registry-agent.json")).unwrap(),
    )
    .unwrap();
    let ours: serde_json::Value = serde_json::from_str(CONTAINER_REGISTRY_AGENT).unwrap();
    assert_eq!(stock, ours);
}

#[test]
fn stock_github_rules_keep_their_meaning() {
    let Some(dir) = stock_fixtures() else { return };
    let mut vars = Vars::new();
    vars.insert("GITHUB_TOKEN", "t");
    vars.insert("GITHUB_API", "api.github.example");
    let json = std::fs::read_to_string(dir.join("github.json")).unwrap();
    let f = Filter::from_json(&json, &vars).unwrap();
    let got = verdict(
        &f,
        Direction::Private,
        "GET",
        "/repos/o/r/contents/a/b/package.json?ref=main",
    );
    assert_eq!(
        got.as_deref(),
        Some("https://api.github.example/repos/o/r/contents/a/b/package.json?ref=main")
    );
    assert_eq!(
        verdict(
            &f,
            Direction::Private,
            "GET",
            "/repos/o/r/contents/a/secrets.env"
        ),
        None
    );
    assert_eq!(
        verdict(
            &f,
            Direction::Private,
            "GET",
            "/repos/o/r/contents/a/..%2F..%2Fpackage.json"
        ),
        None
    );
}

/// Generated URLs made of the pieces traversal attacks are built from: whatever the filter
/// allows must, under any number of percent-decodings, stay a clean path below a route the rules
/// name. Deterministic, so that a failure reproduces.
#[test]
fn generated_hostile_urls_never_escape_the_rules() {
    const PIECES: &[&str] = &[
        "/",
        "//",
        ".",
        "..",
        "%2e",
        "%2E",
        "%2f",
        "%2F",
        "%25",
        "%252e",
        "%252f",
        "%5c",
        "\\",
        ";",
        "%3b",
        "?",
        "#",
        "%00",
        "%0a",
        "%",
        "list",
        "list-paginated",
        "healthcheck",
        "image-metadata",
        "admin",
        "etc",
        "passwd",
        "a",
        "%41",
        "%c0%ae",
        "~",
        " ",
        "%20",
    ];
    const ROUTES: &[&str] = &[
        "healthcheck",
        "validate-credentials",
        "get-state-identifier",
        "list",
        "list-paginated",
        "list-with-metadata",
        "discover",
        "scan",
        "image-metadata",
    ];
    let f = cra();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut allowed = 0;
    for _ in 0..100_000 {
        let mut url = String::from("/");
        for _ in 0..rng.usize(1..=8) {
            url.push_str(PIECES[rng.usize(..PIECES.len())]);
        }
        for method in ["GET", "POST"] {
            let Some(forwarded) = verdict(&f, Direction::Private, method, &url) else {
                continue;
            };
            allowed += 1;
            let path = forwarded
                .strip_prefix("http://agent:17500")
                .expect("forwarded to the origin")
                .split(['?', '#'])
                .next()
                .unwrap_or_default()
                .as_bytes()
                .to_vec();
            let mut current = path;
            for _ in 0..8 {
                assert!(!current.contains(&b'\\'), "{url}");
                assert!(current.iter().all(|b| *b >= 0x20 && *b != 0x7f), "{url}");
                let text = String::from_utf8_lossy(&current).into_owned();
                let segments: Vec<&str> = text.trim_start_matches('/').split('/').collect();
                assert!(ROUTES.contains(&segments[0]), "{url} reaches {text}");
                for (i, segment) in segments.iter().enumerate() {
                    let name = segment.split(';').next().unwrap_or_default();
                    assert!(name != "." && name != "..", "{url} decodes to {text}");
                    assert!(!segment.is_empty() || i == segments.len() - 1, "{url}");
                }
                let decoded: Vec<u8> = percent_encoding::percent_decode(&current).collect();
                if decoded == current {
                    break;
                }
                current = decoded;
            }
        }
    }
    // The generator does reach allowed URLs, so the checks above ran.
    assert!(
        allowed > 1_000,
        "only {allowed} generated URLs were allowed"
    );
}
