//! The operating system, from `os-release` or the older release files.
//!
//! Files matched, by rank (a lower rank wins when several are present in the final view):
//! 0 `/etc/os-release`, 1 `/usr/lib/os-release`, 2 `/etc/lsb-release`, 3 `/etc/debian_version`,
//! 4 `/etc/alpine-release`, 5 `/etc/oracle-release`, 6 `/etc/redhat-release`,
//! 7 `/etc/centos-release`.
//! When the winning `os-release` has no `VERSION_ID` (Debian testing and sid), the inventory
//! takes the version from `/etc/debian_version`.
//! Files shorter than two characters are malformed.
//! Known gap: `/etc/os-release` as a symlink is not followed; its usual target
//! `/usr/lib/os-release` is matched on its own.

use std::io::Read;

use cra_core::OsRelease;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings, OsFinding};

/// The files read, in rank order.
pub const FILES: [&str; 8] = [
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/lsb-release",
    "/etc/debian_version",
    "/etc/alpine-release",
    "/etc/oracle-release",
    "/etc/redhat-release",
    "/etc/centos-release",
];

/// Rank of `/etc/debian_version`, which also fills a missing `VERSION_ID`.
pub const DEBIAN_VERSION_RANK: u8 = 3;

/// Detects the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsReleaseAnalyzer;

impl Analyzer for OsReleaseAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Os
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        64 * 1024
    }

    fn wants(&self, path: &str, _meta: &FileMeta) -> bool {
        FILES.contains(&path)
    }

    fn analyze(&self, input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let mut text = String::new();
        input
            .reader
            .take(self.max_size())
            .read_to_string(&mut text)
            .map_err(|source| AnalyzerError::Io {
                path: input.path.to_owned(),
                source,
            })?;
        let rank = FILES
            .iter()
            .position(|f| *f == input.path)
            .unwrap_or(FILES.len()) as u8;
        let malformed = |reason: &str| AnalyzerError::Malformed {
            format: "os release",
            path: input.path.to_owned(),
            reason: reason.to_owned(),
        };
        if text.trim().len() < 2 {
            return Err(malformed("file is empty or too short"));
        }
        let release = match rank {
            0 | 1 => parse_os_release(&text).ok_or_else(|| malformed("no ID field"))?,
            2 => parse_lsb_release(&text).ok_or_else(|| malformed("no DISTRIB_ID field"))?,
            3 => release("debian", major(text.trim())),
            4 => release("alpine", text.trim()),
            _ => parse_release_line(&text).ok_or_else(|| malformed("no release number"))?,
        };
        Ok(Findings {
            os: Some(OsFinding { rank, release }),
            ..Findings::default()
        })
    }
}

fn release(id: &str, version: &str) -> OsRelease {
    OsRelease {
        id: id.to_owned(),
        version_id: Some(version.to_owned()).filter(|v| !v.is_empty()),
        ..OsRelease::default()
    }
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// Parses `KEY=value` lines with optional quotes and shell escapes.
pub fn parse_os_release(text: &str) -> Option<OsRelease> {
    let mut os = OsRelease::default();
    for (key, value) in key_values(text) {
        match key {
            "ID" => os.id = value.to_lowercase(),
            "VERSION_ID" => os.version_id = Some(value).filter(|v| !v.is_empty()),
            "VERSION_CODENAME" => os.version_codename = Some(value).filter(|v| !v.is_empty()),
            "PRETTY_NAME" => os.pretty_name = Some(value).filter(|v| !v.is_empty()),
            "ID_LIKE" => os.id_like = value.split_whitespace().map(str::to_owned).collect(),
            _ => {}
        }
    }
    (!os.id.is_empty()).then_some(os)
}

fn parse_lsb_release(text: &str) -> Option<OsRelease> {
    let mut os = OsRelease::default();
    for (key, value) in key_values(text) {
        match key {
            "DISTRIB_ID" => os.id = value.to_lowercase(),
            "DISTRIB_RELEASE" => os.version_id = Some(value).filter(|v| !v.is_empty()),
            "DISTRIB_CODENAME" => os.version_codename = Some(value).filter(|v| !v.is_empty()),
            "DISTRIB_DESCRIPTION" => os.pretty_name = Some(value).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    (!os.id.is_empty()).then_some(os)
}

/// `Oracle Linux Server release 5.11`, `CentOS release 6.10 (Final)`,
/// `Red Hat Enterprise Linux Server release 7.9 (Maipo)`.
fn parse_release_line(text: &str) -> Option<OsRelease> {
    let line = text.lines().next()?.trim();
    let id = if line.contains("Red Hat") {
        "rhel".to_owned()
    } else if line.starts_with("Oracle") {
        "oracle".to_owned()
    } else {
        line.split_whitespace().next()?.to_lowercase()
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let version = words
        .windows(2)
        .find(|w| w[0] == "release")
        .map(|w| major(w[1]))?;
    Some(release(&id, version))
}

fn key_values(text: &str) -> impl Iterator<Item = (&str, String)> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (key, value) = line.split_once('=')?;
        Some((key.trim(), unquote(value.trim())))
    })
}

fn unquote(value: &str) -> String {
    let quote = match value.chars().next() {
        Some(q @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(q) => q,
        _ => return value.to_owned(),
    };
    let inner = &value[1..value.len() - 1];
    if quote == '\'' {
        return inner.to_owned();
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(path: &str, text: &str) -> Result<OsFinding, AnalyzerError> {
        let mut reader = text.as_bytes();
        let input = AnalyzerInput {
            path,
            meta: FileMeta {
                size: text.len() as u64,
                mode: 0o644,
            },
            reader: &mut reader,
            spooled: None,
        };
        Ok(OsReleaseAnalyzer.analyze(input)?.os.unwrap())
    }

    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;

    #[test]
    fn parses_os_release() {
        let f = run("/etc/os-release", DEBIAN).unwrap();
        assert_eq!(f.rank, 0);
        assert_eq!(f.release.id, "debian");
        assert_eq!(f.release.version_id.as_deref(), Some("12"));
        assert_eq!(f.release.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(
            f.release.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        let f = run(
            "/usr/lib/os-release",
            "# c\nID='rhel'\nID_LIKE=\"fedora centos\"\nPRETTY_NAME=\"a \\\"b\\\" \\\\c\"\n",
        )
        .unwrap();
        assert_eq!(f.rank, 1);
        assert_eq!(f.release.id_like, ["fedora", "centos"]);
        assert_eq!(f.release.pretty_name.as_deref(), Some(r#"a "b" \c"#));
        assert_eq!(f.release.version_id, None);
    }

    #[test]
    fn parses_fallback_files() {
        for (path, text, id, version) in [
            (
                "/etc/lsb-release",
                "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=10.04\nDISTRIB_CODENAME=lucid\n",
                "ubuntu",
                "10.04",
            ),
            ("/etc/debian_version", "9.13\n", "debian", "9"),
            (
                "/etc/debian_version",
                "bookworm/sid\n",
                "debian",
                "bookworm/sid",
            ),
            ("/etc/alpine-release", "3.7.0\n", "alpine", "3.7.0"),
            (
                "/etc/oracle-release",
                "Oracle Linux Server release 5.11\n",
                "oracle",
                "5",
            ),
            (
                "/etc/redhat-release",
                "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
                "rhel",
                "7",
            ),
            (
                "/etc/redhat-release",
                "CentOS release 6.10 (Final)\n",
                "centos",
                "6",
            ),
            (
                "/etc/centos-release",
                "CentOS Linux release 7.9.2009 (Core)\n",
                "centos",
                "7",
            ),
        ] {
            let f = run(path, text).unwrap();
            assert_eq!(f.release.id, id, "{path}: {text}");
            assert_eq!(f.release.version_id.as_deref(), Some(version), "{path}");
        }
    }

    #[test]
    fn corrupt_files_are_malformed() {
        for (path, text) in [
            ("/etc/os-release", "x"),
            ("/etc/os-release", "NAME=foo\n"),
            ("/etc/debian_version", "\n"),
            ("/etc/redhat-release", "garbage words\n"),
        ] {
            assert!(
                matches!(run(path, text), Err(AnalyzerError::Malformed { .. })),
                "{path}: {text:?}"
            );
        }
    }

    #[test]
    fn wants_only_release_files() {
        let meta = FileMeta { size: 1, mode: 0 };
        assert!(OsReleaseAnalyzer.wants("/etc/os-release", &meta));
        assert!(!OsReleaseAnalyzer.wants("/etc/os-release.bak", &meta));
        assert!(!OsReleaseAnalyzer.wants("/usr/etc/os-release", &meta));
    }
}
