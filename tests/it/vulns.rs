//! Vulnerability matching: a database built from real OSV records, images built from real
//! packages, and each expected finding and non-finding.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use cra_scan::vulns::db::{import, Database};
use cra_scan::vulns::grade::Grade;
use cra_scan::vulns::severity::Severity;
use cra_scan::vulns::target::Unmatchable;
use cra_scan::vulns::{match_inventory, VulnReport};
use cra_scan::{ImageSource, ScanOptions, ScanReport, Scanner};
use cra_tests::image::{
    debian_os_release, dpkg_status, write_oci_layout, Compression, Deb, Entry, Image, Layer,
};
use cra_tests::osv;

mod agent;
mod cli;
mod ordering;
mod sarif_schema;
mod scan_registry;
mod update;

/// Builds a database in `dir` from the fixture records of `ecosystems`.
fn fixture_db(dir: &Path, ecosystems: &[&str]) -> Database {
    let mirror = tempfile::tempdir().unwrap();
    osv::write_mirror(mirror.path(), ecosystems);
    let archives: Vec<import::Archive> = ecosystems
        .iter()
        .map(|e| import::Archive {
            ecosystem: (*e).to_owned(),
            path: mirror.path().join(e).join("all.zip"),
            origin: format!("fixture {e}"),
        })
        .collect();
    import::build(dir, &archives, "2024-01-01T00:00:00Z").unwrap();
    Database::open(dir).unwrap()
}

fn now(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// Debian 12 with glibc before the Looney Tunables fix, openssl after DSA-5532-1's fix,
/// requests before its fix, lodash before its fix, and one gem.
fn bookworm_image() -> Image {
    let status = dpkg_status(&[
        Deb::installed("base-files", "12.4+deb12u1"),
        Deb {
            source: Some("glibc"),
            ..Deb::installed("libc6", "2.36-9+deb12u1")
        },
        Deb {
            source: Some("glibc"),
            ..Deb::installed("libc-bin", "2.36-9+deb12u1")
        },
        Deb {
            source: Some("openssl"),
            ..Deb::installed("libssl3", "3.0.11-1~deb12u2")
        },
        Deb::installed("openssl", "3.0.11-1~deb12u2"),
    ]);
    Image::new(
        "amd64",
        vec![Layer::new(
            &[
                Entry::file("etc/os-release", debian_os_release("12", "bookworm")),
                Entry::file("var/lib/dpkg/status", &status),
                Entry::file(
                    "usr/local/lib/python3.11/site-packages/requests-2.30.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n",
                ),
                Entry::file(
                    "usr/local/lib/python3.11/site-packages/urllib3-2.0.7.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: urllib3\nVersion: 2.0.7\n",
                ),
                Entry::file(
                    "app/node_modules/lodash/package.json",
                    r#"{"name": "lodash", "version": "4.17.20"}"#,
                ),
                Entry::file(
                    "usr/local/bundle/specifications/rack-2.2.8.gemspec",
                    "Gem::Specification.new do |s|\n  s.name = \"rack\"\n  s.version = \"2.2.8\"\nend\n",
                ),
            ],
            Compression::Gzip,
        )],
    )
}

/// Debian 11 with glibc before its fix and OpenSSL 1.1 (named only by a bookworm advisory).
fn bullseye_image() -> Image {
    let status = dpkg_status(&[
        Deb {
            source: Some("glibc"),
            ..Deb::installed("libc6", "2.31-13+deb11u5")
        },
        Deb {
            source: Some("openssl"),
            ..Deb::installed("libssl1.1", "1.1.1n-0+deb11u4")
        },
    ]);
    Image::new(
        "amd64",
        vec![Layer::new(
            &[
                Entry::file("etc/os-release", debian_os_release("11", "bullseye")),
                Entry::file("var/lib/dpkg/status", &status),
            ],
            Compression::Gzip,
        )],
    )
}

async fn scan(image: &Image) -> ScanReport {
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[(image, None)], false);
    let source: ImageSource = format!("oci:{}", dir.path().display()).parse().unwrap();
    Scanner::new(ScanOptions::default())
        .scan(&source, None)
        .await
        .unwrap()
}

fn ids_for<'a>(report: &'a VulnReport, package: &str) -> Vec<&'a str> {
    let mut ids: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.name == package)
        .map(|f| f.id.as_str())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn bookworm_findings_and_non_findings() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = fixture_db(db_dir.path(), &["Debian", "PyPI", "npm"]);
    let scan = scan(&bookworm_image()).await;
    let report = match_inventory(&db, &scan.inventory, now("2024-06-01T00:00:00Z")).unwrap();

    // glibc: DSA-5514-1, DEBIAN-CVE-2023-4911 and CVE-2023-4911 are one flaw, once per binary.
    for binary in ["libc6", "libc-bin"] {
        assert_eq!(ids_for(&report, binary), ["CVE-2023-4911"], "{binary}");
        let f = report.findings.iter().find(|f| f.name == binary).unwrap();
        assert_eq!(f.aliases, ["DEBIAN-CVE-2023-4911", "DSA-5514-1"]);
        assert_eq!(f.advisory_package, "glibc");
        assert_eq!(f.ecosystem, "Debian:12");
        assert_eq!(f.fixed_in.as_deref(), Some("2.36-9+deb12u3"));
        assert_eq!(f.rating.severity, Severity::High);
        assert_eq!(f.rating.score, Some(7.8));
        assert_eq!(f.published.as_deref(), Some("2023-10-03T00:00:00Z"));
    }
    // openssl: the installed version is DSA-5532-1's fix.
    assert!(ids_for(&report, "libssl3").is_empty());
    assert!(ids_for(&report, "openssl").is_empty());
    assert!(ids_for(&report, "base-files").is_empty());

    // requests 2.30.0 is below 2.31.0; urllib3 has no advisory in the data.
    assert_eq!(ids_for(&report, "requests"), ["CVE-2023-32681"]);
    let f = report
        .findings
        .iter()
        .find(|f| f.name == "requests")
        .unwrap();
    assert_eq!(f.aliases, ["GHSA-j8r2-6x86-q33q"]);
    assert_eq!(f.fixed_in.as_deref(), Some("2.31.0"));
    assert_eq!(f.rating.severity, Severity::Medium);
    assert!(ids_for(&report, "urllib3").is_empty());

    // lodash: the command injection, not the withdrawn ReDoS.
    assert_eq!(ids_for(&report, "lodash"), ["CVE-2021-23337"]);

    // The gem's ecosystem has no data: unmatched, never clean.
    let gem = report.unmatched.iter().find(|u| u.name == "rack").unwrap();
    assert_eq!(
        gem.reason,
        Unmatchable::NoData {
            ecosystem: "RubyGems".into()
        }
    );
    assert!(
        report.unmatched.iter().all(|u| u.name == "rack"),
        "{:?}",
        report.unmatched
    );

    // The oldest High finding (lodash, published 2021-05) sets F.
    assert_eq!(report.grade, Grade::F);
    assert_eq!(report.grade_set_by.as_deref(), Some("CVE-2021-23337"));
}

#[tokio::test]
async fn bullseye_matches_its_own_release_only() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = fixture_db(db_dir.path(), &["Debian"]);
    let scan = scan(&bullseye_image()).await;
    let report = match_inventory(&db, &scan.inventory, now("2023-10-20T00:00:00Z")).unwrap();
    let libc = report.findings.iter().find(|f| f.name == "libc6").unwrap();
    assert_eq!(libc.id, "CVE-2023-4911");
    assert_eq!(libc.ecosystem, "Debian:11");
    assert_eq!(libc.fixed_in.as_deref(), Some("2.31-13+deb11u7"));
    // DSA-5532-1 names bookworm only; 1.1.1n would sort below its fix if releases were ignored.
    assert!(ids_for(&report, "libssl1.1").is_empty());
    assert!(report.unmatched.is_empty(), "{:?}", report.unmatched);
    // High, 17 days after publication: B.
    assert_eq!(report.grade, Grade::B);
}

#[tokio::test]
async fn grades_follow_the_age_of_the_oldest_high_finding() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = fixture_db(db_dir.path(), &["Debian"]);
    let scan = scan(&bullseye_image()).await;
    // CVE-2023-4911 is High, published 2023-10-03.
    let cases = [
        ("2023-10-03T00:00:00Z", Grade::B),
        ("2023-11-02T00:00:00Z", Grade::B),
        ("2023-11-03T00:00:00Z", Grade::C),
        ("2024-01-01T00:00:00Z", Grade::C),
        ("2024-01-02T00:00:00Z", Grade::D),
        ("2024-10-02T00:00:00Z", Grade::D),
        ("2024-10-04T00:00:00Z", Grade::F),
    ];
    for (at, want) in cases {
        let report = match_inventory(&db, &scan.inventory, now(at)).unwrap();
        assert_eq!(report.grade, want, "at {at}");
    }
}

#[tokio::test]
async fn os_packages_without_os_data_are_unmatched() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = fixture_db(db_dir.path(), &["PyPI"]);
    let scan = scan(&bookworm_image()).await;
    let report = match_inventory(&db, &scan.inventory, now("2024-06-01T00:00:00Z")).unwrap();
    let debs: Vec<_> = report
        .unmatched
        .iter()
        .filter(|u| {
            u.reason
                == Unmatchable::NoData {
                    ecosystem: "Debian".into(),
                }
        })
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(debs.len(), 5, "{debs:?}");
    assert_eq!(ids_for(&report, "requests"), ["CVE-2023-32681"]);
}
