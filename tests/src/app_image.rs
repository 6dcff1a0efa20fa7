//! An image layer holding an OS and applications, in the real file formats: Debian packages, a
//! virtualenv and the OS's own Python dists (with license strings that are not SPDX
//! expressions), an npm app with its installed `node_modules`, and jars (one nested in another).
//! Plus the package sets that the snyk results and the CycloneDX BOM of a scan must agree on.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Write};

use cra_scan::sbom::snyk::{Fact, ScanResults};
use serde_json::Value;
use sha1::Digest as _;

use crate::image::{debian_os_release, dpkg_status, tar, Deb, Entry};

/// A jar (zip) of `(name, bytes)` entries, deflated.
pub fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        w.write_all(data).expect("zip data");
    }
    w.finish().expect("zip").into_inner()
}

/// A `pom.properties` as Maven writes it.
pub fn pom_properties(group: &str, artifact: &str, version: &str) -> Vec<u8> {
    format!(
        "#Created by Apache Maven 3.9.6\ngroupId={group}\nartifactId={artifact}\nversion={version}\n"
    )
    .into_bytes()
}

/// A jar identified by its `pom.properties`, with `extra` entries.
pub fn maven_jar(group: &str, artifact: &str, version: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let pom_path = format!("META-INF/maven/{group}/{artifact}/pom.properties");
    let pom = pom_properties(group, artifact, version);
    let mut entries: Vec<(&str, &[u8])> = vec![
        (
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nCreated-By: Maven\r\n\r\n",
        ),
        (&pom_path, &pom),
    ];
    entries.extend_from_slice(extra);
    jar(&entries)
}

/// SHA-1 of `bytes`, lowercase hex.
pub fn sha1_hex(bytes: &[u8]) -> String {
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The jars of [`application_layer`], by path.
pub fn application_jars() -> Vec<(&'static str, Vec<u8>)> {
    let slf4j = maven_jar("org.slf4j", "slf4j-api", "2.0.9", &[]);
    vec![
        (
            "opt/app/lib/guava-32.1.3-jre.jar",
            maven_jar("com.google.guava", "guava", "32.1.3-jre", &[]),
        ),
        (
            "opt/app/app.jar",
            maven_jar(
                "com.acme",
                "app",
                "1.0.0",
                &[("BOOT-INF/lib/slf4j-api-2.0.9.jar", &slf4j)],
            ),
        ),
    ]
}

fn metadata(name: &str, version: &str, license: &str, requires: &[&str]) -> String {
    let mut m =
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: {license}\n");
    for r in requires {
        m.push_str(&format!("Requires-Dist: {r}\n"));
    }
    m.push_str("\nThe long description.\n");
    m
}

/// The layer: one uncompressed tar.
pub fn application_layer() -> Vec<u8> {
    let site = "opt/venv/lib/python3.11/site-packages";
    let mut entries = vec![
        Entry::file("etc/os-release", debian_os_release("12", "bookworm")),
        Entry::file(
            "var/lib/dpkg/status",
            dpkg_status(&[
                Deb {
                    source: Some("glibc"),
                    ..Deb::installed("libc6", "2.36-9+deb12u7")
                },
                Deb {
                    depends: Some("libc6 (>= 2.36)"),
                    ..Deb::installed("bash", "5.2.15-2+b2")
                },
                Deb {
                    source: Some("six"),
                    depends: Some("python3:any"),
                    ..Deb::installed("python3-six", "1.16.0-4")
                },
            ]),
        ),
        Entry::file(
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info",
            "Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\nLicense: MIT\n",
        ),
        Entry::file(
            &format!("{site}/Flask-3.0.2.dist-info/METADATA"),
            metadata(
                "Flask",
                "3.0.2",
                "BSD",
                &["Werkzeug>=3.0.0", "click>=8.1.3"],
            ),
        ),
        Entry::file(
            &format!("{site}/werkzeug-3.0.1.dist-info/METADATA"),
            metadata("Werkzeug", "3.0.1", "LGPL", &["MarkupSafe>=2.1.1"]),
        ),
        Entry::file(
            &format!("{site}/click-8.1.7.dist-info/METADATA"),
            metadata("click", "8.1.7", "BSD-3-Clause", &[]),
        ),
        Entry::file(
            &format!("{site}/docutils-0.20.1.dist-info/METADATA"),
            metadata(
                "docutils",
                "0.20.1",
                "public domain, Python, 2-Clause BSD, GPL 3 (see COPYING.txt)",
                &[],
            ),
        ),
        Entry::file(
            "srv/app/package.json",
            r#"{"name":"goof","version":"0.0.3","license":"MIT","dependencies":{"lodash":"^4.17.0","debug":"^4.3.0"}}"#,
        ),
        Entry::file(
            "srv/app/node_modules/lodash/package.json",
            r#"{"name":"lodash","version":"4.17.21","license":"MIT"}"#,
        ),
        Entry::file(
            "srv/app/node_modules/debug/package.json",
            r#"{"name":"debug","version":"4.3.4","license":"MIT","dependencies":{"ms":"2.1.2"}}"#,
        ),
        Entry::file(
            "srv/app/node_modules/ms/package.json",
            r#"{"name":"ms","version":"2.1.2","license":"MIT"}"#,
        ),
    ];
    for (path, bytes) in application_jars() {
        entries.push(Entry::file(path, bytes));
    }
    tar(&entries)
}

/// Purls by purl type.
pub type PurlSets = BTreeMap<String, BTreeSet<String>>;

fn add(sets: &mut PurlSets, purl: &str) {
    let ty = purl
        .strip_prefix("pkg:")
        .and_then(|p| p.split('/').next())
        .unwrap_or("?");
    sets.entry(ty.to_owned())
        .or_default()
        .insert(purl.to_owned());
}

/// The packages of every scan result: dep-graph packages with a purl (the image root has
/// none), and jar fingerprints' coordinates as Maven purls (the jar itself and what is shaded
/// into it).
pub fn purls_in_scan_results(results: &ScanResults) -> PurlSets {
    let mut sets = PurlSets::new();
    for result in &results.scan_results {
        for fact in &result.facts {
            match fact {
                Fact::DepGraph(g) => {
                    for p in &g.pkgs {
                        if let Some(purl) = &p.info.purl {
                            add(&mut sets, purl);
                        }
                    }
                }
                Fact::JarFingerprints(j) => {
                    for f in &j.fingerprints {
                        for c in std::iter::once(&f.coordinates).chain(&f.dependencies) {
                            let group = c
                                .group_id
                                .as_deref()
                                .map_or(String::new(), |g| format!("{g}/"));
                            add(
                                &mut sets,
                                &format!(
                                    "pkg:maven/{group}{}@{}",
                                    c.artifact_id.as_deref().unwrap_or(""),
                                    c.version.as_deref().unwrap_or("")
                                ),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    sets
}

/// The purls of a CycloneDX BOM's components.
pub fn purls_in_cyclonedx(bom: &Value) -> PurlSets {
    let mut sets = PurlSets::new();
    for c in bom["components"].as_array().into_iter().flatten() {
        if let Some(purl) = c["purl"].as_str() {
            add(&mut sets, purl);
        }
    }
    sets
}
