//! `package-lock.json`, lockfile versions 1 (nested `dependencies`), 2 and 3 (`packages` keyed by
//! install path).

use std::collections::HashSet;

use cra_core::Package;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::lock_package;

#[derive(Deserialize)]
struct Lock {
    #[serde(default, rename = "lockfileVersion")]
    lockfile_version: Option<u64>,
    #[serde(default)]
    packages: Option<Map<String, Value>>,
    #[serde(default)]
    dependencies: Option<Map<String, Value>>,
}

/// Parses a `package-lock.json`; dev-only entries, links and the root entry are skipped.
pub(crate) fn parse(bytes: &[u8], path: &str) -> Result<Vec<Package>, String> {
    let lock: Lock = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |name: &str, version: &str| {
        if !name.is_empty()
            && !version.is_empty()
            && seen.insert((name.to_owned(), version.to_owned()))
        {
            out.push(lock_package(name, version, path));
        }
    };
    if let Some(packages) = lock
        .packages
        .filter(|_| lock.lockfile_version.unwrap_or(1) >= 2)
    {
        for (key, entry) in &packages {
            let Some(idx) = key.rfind("node_modules/") else {
                continue; // the root ("") or a workspace folder
            };
            if flag(entry, "dev") || flag(entry, "link") {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
            push(name, version);
        }
    } else if let Some(deps) = &lock.dependencies {
        // Version 1: a nested tree; walk it with an explicit stack (bounded by the input size).
        let mut stack: Vec<&Map<String, Value>> = vec![deps];
        while let Some(map) = stack.pop() {
            for (name, entry) in map {
                if flag(entry, "dev") {
                    continue;
                }
                let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
                // An alias records the real package (`npm:real@1.2.3`), as v2 records `name`;
                // git and file dependencies record a non-version and are skipped.
                if let Some((real, version)) = version
                    .strip_prefix("npm:")
                    .and_then(|spec| spec.rsplit_once('@'))
                    .filter(|(real, _)| !real.is_empty())
                {
                    push(real, version);
                } else if !version.contains(':') {
                    push(name, version);
                }
                if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                    stack.push(nested);
                }
            }
        }
    }
    Ok(out)
}

fn flag(entry: &Value, key: &str) -> bool {
    entry.get(key).and_then(Value::as_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_nested_tree() {
        let lock = r#"{"lockfileVersion":1,"dependencies":{
            "a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}},
            "b":{"version":"1.0.0"},
            "jest":{"version":"29.0.0","dev":true},
            "alias":{"version":"npm:other@1.0.0"},
            "scoped-alias":{"version":"npm:@scope/real@3.1.0"},
            "from-git":{"version":"git+https://example.invalid/x.git#abc"}}}"#;
        let mut got: Vec<_> = parse(lock.as_bytes(), "/app/package-lock.json")
            .unwrap()
            .into_iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "@scope/real@3.1.0",
                "a@1.0.0",
                "b@1.0.0",
                "b@2.0.0",
                "other@1.0.0"
            ]
        );
    }

    #[test]
    fn versions_2_and_3_packages_map() {
        let lock = r#"{"lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0"},
            "node_modules/@babel/core":{"version":"7.24.0"},
            "node_modules/a/node_modules/b":{"version":"2.0.0"},
            "node_modules/b":{"version":"1.0.0"},
            "node_modules/ws":{"resolved":"packages/ws","link":true},
            "node_modules/jest":{"version":"29.0.0","dev":true},
            "node_modules/str":{"name":"string-width","version":"4.2.3"},
            "packages/ws":{"version":"0.1.0"}}}"#;
        let got: Vec<_> = parse(lock.as_bytes(), "/app/package-lock.json")
            .unwrap()
            .into_iter()
            .map(|p| p.purl)
            .collect();
        assert_eq!(
            got,
            [
                "pkg:npm/%40babel/core@7.24.0",
                "pkg:npm/b@2.0.0",
                "pkg:npm/b@1.0.0",
                "pkg:npm/string-width@4.2.3"
            ]
        );
        assert!(parse(b"[1,2", "/x").is_err());
    }
}
