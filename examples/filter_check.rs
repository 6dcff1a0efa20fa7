//! Checks requests against an accept file, as the broker would before relaying them.
//!
//! ```text
//! cargo run -p cra-examples --example filter_check -- GET '/list/library%2Fdebian'
//! cargo run -p cra-examples --example filter_check -- GET '/list/a%2F..%2Fadmin'
//! cargo run -p cra-examples --example filter_check -- --accept accept.json --public POST /api/v2/import/done
//! ```
//!
//! Without `--accept`, the built-in container-registry-agent rules are used, with the agent at
//! `http://agent:17500`; `--public` checks the callback rules instead of the request rules.

use cra_broker::filter::{Direction, Filter, RequestParts, Vars, Verdict};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut direction = Direction::Private;
    let mut accept = None;
    if let Some(i) = args.iter().position(|a| a == "--public") {
        args.remove(i);
        direction = Direction::Public;
    }
    if let Some(i) = args.iter().position(|a| a == "--accept") {
        args.remove(i);
        accept = Some(std::fs::read_to_string(args.remove(i))?);
    }
    let [method, url] = args.as_slice() else {
        return Err("usage: filter_check [--accept FILE] [--public] METHOD URL".into());
    };
    let mut vars = Vars::new();
    vars.insert("CR_AGENT_URL", "http://agent:17500");
    let filter = match accept {
        Some(json) => Filter::from_json(&json, &vars)?,
        None => Filter::container_registry_agent(&vars)?,
    };
    let headers = http::HeaderMap::new();
    let request = RequestParts {
        method,
        url,
        headers: &headers,
        body: None,
    };
    let line = match filter.check(direction, &request) {
        Verdict::Allow(allowed) => format!("allowed by rule {} -> {}", allowed.rule, allowed.url),
        Verdict::Deny(why) => format!("denied: {why:?}"),
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{method} {url}: {line}");
    }
    Ok(())
}
