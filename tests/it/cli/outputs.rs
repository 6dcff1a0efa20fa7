//! Formats, several outputs in one run, and the exit statuses of local images.

use cra_tests::image::{Compression, Image, Layer};

use super::{cra, debian_image, layout, run};

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("output file")).expect("json output")
}

#[test]
fn several_outputs_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let image = layout(cwd, &debian_image());
    let got = run(
        cra(
            cwd,
            &[
                "scan",
                &image,
                "--format",
                "cyclonedx-json=sbom.cdx.json",
                "-f",
                "spdx-json=sbom.spdx.json",
                "--format",
                "table",
                "-f",
                "json=snyk.json",
            ],
        ),
        None,
    );
    assert_eq!(got.code, Some(0), "{got:?}");
    assert!(
        got.stdout.contains("bash") && got.stdout.contains("5.2.15-2+b7"),
        "{}",
        got.stdout
    );
    assert_eq!(json(&cwd.join("sbom.cdx.json"))["bomFormat"], "CycloneDX");
    assert_eq!(json(&cwd.join("sbom.spdx.json"))["spdxVersion"], "SPDX-2.3");
    assert!(json(&cwd.join("snyk.json"))["scanResults"].is_array());
}

#[test]
fn dash_o_with_a_format_name_writes_that_format_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let image = layout(cwd, &debian_image());
    let got = run(cra(cwd, &["scan", &image, "-o", "cyclonedx-json"]), None);
    assert_eq!(got.code, Some(0), "{got:?}");
    let bom: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert!(!cwd.join("cyclonedx-json").exists());
    // trivy's spelling: the format with -f, the file with -o.
    let got = run(
        cra(
            cwd,
            &["scan", &image, "-f", "spdx-json", "-o", "out.spdx.json"],
        ),
        None,
    );
    assert_eq!(got.code, Some(0), "{got:?}");
    assert!(got.stdout.is_empty(), "{}", got.stdout);
    assert_eq!(json(&cwd.join("out.spdx.json"))["spdxVersion"], "SPDX-2.3");
}

#[test]
fn local_images_that_are_missing_or_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let missing = format!("oci:{}", cwd.join("absent").display());
    let got = run(cra(cwd, &["scan", &missing]), None);
    assert_eq!(got.code, Some(3), "{got:?}");
    let garbage = cwd.join("garbage.tar");
    std::fs::write(&garbage, b"this is not a tar archive at all").unwrap();
    let got = run(
        cra(
            cwd,
            &["scan", &format!("oci-archive:{}", garbage.display())],
        ),
        None,
    );
    assert_eq!(got.code, Some(6), "{got:?}");
    assert!(got.stderr.starts_with("error: "), "{got:?}");
}

#[test]
fn hostile_tar_header_bytes_reach_the_error_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    // A header whose name and size field carry a terminal title sequence, a screen clear and a
    // line break that would start a forged line; the tar reader quotes both in its error.
    let mut header = tar::Header::new_gnu();
    let name = b"etc/x\x1b]0;pwned\x07\n2026 INFO forged";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.as_old_mut().size[..6].copy_from_slice(b"\x1b[2J\n9");
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_cksum();
    let mut raw = header.as_bytes().to_vec();
    raw.extend([0u8; 1024]);
    let layer = Layer::from_tar(raw, Compression::Gzip);
    let image = layout(cwd, &Image::new("amd64", vec![layer]));
    let got = run(cra(cwd, &["scan", &image]), None);
    assert_eq!(got.code, Some(6), "{got:?}");
    assert!(got.stderr.contains("not a number: \\x1b[2J\\n9"), "{got:?}");
    assert!(got.stderr.contains("x\\x1b]0;pwned\\x07\\n2026"), "{got:?}");
    assert!(
        !got.stderr.contains('\x1b') && !got.stderr.contains('\x07'),
        "{got:?}"
    );
    assert!(
        got.stderr
            .lines()
            .all(|l| l.starts_with("error: ") || l.starts_with("  caused by: ")),
        "{got:?}"
    );
}
