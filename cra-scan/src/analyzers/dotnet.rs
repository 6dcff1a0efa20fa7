//! .NET NuGet packages from `*.deps.json` dependency manifests.
//!
//! - Files: `**/*.deps.json`, except the runtime's own manifests under `/dotnet/shared/` and
//!   `/dotnet/packs/`.
//! - Only `libraries` entries with `"type": "package"` are NuGet packages (`project` is the
//!   application itself, `reference` and `runtimepack` belong to the framework); keys are
//!   `Name/Version`. Edges come from `targets[<runtimeTarget>][key].dependencies`.
//! - Ecosystem: `nuget`; purl type `nuget`, package id with its case kept
//!   (`pkg:nuget/Newtonsoft.Json@13.0.3`).
//! - Known gaps: `packages.lock.json` and `*.csproj` are not read.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The `.deps.json` analyzer.
#[derive(Debug, Default)]
pub struct DotnetAnalyzer;

#[derive(Deserialize)]
struct DepsJson {
    #[serde(default, rename = "runtimeTarget")]
    runtime_target: Option<RuntimeTarget>,
    #[serde(default)]
    targets: Map<String, Value>,
    #[serde(default)]
    libraries: Map<String, Value>,
}

#[derive(Deserialize)]
struct RuntimeTarget {
    name: String,
}

impl Analyzer for DotnetAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Dotnet
    }

    fn version(&self) -> u32 {
        1
    }

    fn wants(&self, path: &str, _meta: &FileMeta) -> bool {
        path.ends_with(".deps.json")
            && !path.contains("/dotnet/shared/")
            && !path.contains("/dotnet/packs/")
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        parse(&bytes, input.path).map_err(|reason| AnalyzerError::Malformed {
            format: ".NET deps.json",
            path: input.path.to_owned(),
            reason,
        })
    }
}

/// Parses one `.deps.json`.
pub(crate) fn parse(bytes: &[u8], path: &str) -> Result<Findings, String> {
    let deps: DepsJson = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let target = deps
        .runtime_target
        .as_ref()
        .and_then(|t| deps.targets.get(&t.name))
        .or_else(|| deps.targets.values().next())
        .and_then(Value::as_object);
    // Edges by key ("Name/Version" → dependency names).
    let mut edges: HashMap<&str, Vec<String>> = HashMap::new();
    if let Some(target) = target {
        for (key, entry) in target {
            if let Some(d) = entry.get("dependencies").and_then(Value::as_object) {
                edges.insert(key.as_str(), d.keys().cloned().collect());
            }
        }
    }
    let mut findings = Findings::default();
    for (key, lib) in &deps.libraries {
        if lib.get("type").and_then(Value::as_str) != Some("package") {
            continue;
        }
        let Some((name, version)) = key.split_once('/') else {
            findings
                .warnings
                .push(format!("{path}: library key without version: {key}"));
            continue;
        };
        let mut pkg = purl::new_package(
            Ecosystem::Nuget,
            name,
            version,
            purl::simple("nuget", None, name, version),
            path,
        );
        pkg.dependencies = edges.get(key.as_str()).cloned().unwrap_or_default();
        findings.packages.push(pkg);
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPS: &str = r#"{
      "runtimeTarget":{"name":".NETCoreApp,Version=v8.0/linux-x64"},
      "targets":{".NETCoreApp,Version=v8.0/linux-x64":{
          "MyApp/1.0.0":{"dependencies":{"Newtonsoft.Json":"13.0.3"}},
          "Newtonsoft.Json/13.0.3":{"dependencies":{"System.Memory":"4.5.5"},
                                    "runtime":{"lib/net6.0/Newtonsoft.Json.dll":{}}},
          "System.Memory/4.5.5":{}}},
      "libraries":{
          "MyApp/1.0.0":{"type":"project","serviceable":false,"sha512":""},
          "Newtonsoft.Json/13.0.3":{"type":"package","serviceable":true,"sha512":"sha512-x","path":"newtonsoft.json/13.0.3"},
          "System.Memory/4.5.5":{"type":"package"},
          "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0":{"type":"runtimepack"}}}"#;

    #[test]
    fn packages_only_with_edges() {
        let f = parse(DEPS.as_bytes(), "/app/MyApp.deps.json").unwrap();
        let got: Vec<_> = f.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            got,
            [
                "pkg:nuget/Newtonsoft.Json@13.0.3",
                "pkg:nuget/System.Memory@4.5.5"
            ]
        );
        assert_eq!(f.packages[0].dependencies, ["System.Memory"]);
        assert!(parse(b"{\"targets\": 3", "/x").is_err());
    }

    #[test]
    fn runtime_manifests_are_not_wanted() {
        let m = FileMeta {
            size: 1,
            mode: 0o644,
        };
        assert!(DotnetAnalyzer.wants("/app/MyApp.deps.json", &m));
        assert!(!DotnetAnalyzer.wants(
            "/usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0/Microsoft.NETCore.App.deps.json",
            &m
        ));
    }
}
