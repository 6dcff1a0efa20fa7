//! Java archives: jar, war, ear, par and their cousins, with nested archives.
//!
//! - Files: `*.jar`, `*.war`, `*.ear`, `*.par`, `*.jpi`, `*.hpi`, `*.sar`, `*.nar` (any case).
//!   The whole archive is needed (the zip central directory is at the end): archives up to
//!   16 MiB are held in memory, larger ones are spooled to an anonymous temporary file, the one
//!   place this analyzer touches the filesystem. Nested archives (`WEB-INF/lib/*.jar`,
//!   `BOOT-INF/lib/*.jar`, jars in ears) are read to a depth of [`MAX_DEPTH`], the same way.
//! - Identity, best first: every `META-INF/maven/**/pom.properties` (a shaded jar yields one
//!   package per embedded artifact), else `META-INF/MANIFEST.MF` (`Implementation-*`,
//!   `Bundle-*`, `Specification-*`), else the file name (`name-1.2.3.jar`); a version from the
//!   file name alone is a guess, marked `version_from_file_name` and left out of the purl.
//! - Ecosystem: `maven`; purl type `maven`, groupId as namespace
//!   (`pkg:maven/org.apache.commons/commons-lang3@3.14.0`); the package name is
//!   `groupId:artifactId` (just the artifactId when no groupId is known).
//! - Location: the archive's path; for nested archives `outer.war!/WEB-INF/lib/inner.jar`.
//! - Each package records the SHA-1 of the archive it was identified in (`Package::sha1`), as
//!   snyk's jar fingerprints carry it.
//! - OS-owned jars under `/usr/share/java/` and `/usr/lib/jvm/` (installed by dpkg or rpm) are
//!   reported with `os_managed = true`.
//! - Limits: at most [`MAX_ENTRIES`] entries per archive and [`MAX_INFLATED`] bytes inflated per
//!   top-level archive (zip bombs end with a warning); corrupt archives give a warning.
//! - Known gaps: no SHA-1 lookup of unidentified jars; JDK `release` files are not read.

mod manifest;
mod pom_properties;

use std::io::{Cursor, Read, Seek};

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;
use crate::spool::{SpoolError, Spooled};
use pom_properties::Coordinates;

const EXTENSIONS: [&str; 8] = ["jar", "war", "ear", "par", "jpi", "hpi", "sar", "nar"];
/// How deep nested archives are opened (outer archive = 0).
pub const MAX_DEPTH: usize = 3;
/// Archives larger than this are spooled to a temporary file.
const IN_MEMORY: u64 = 16 * 1024 * 1024;
/// Entries read per archive.
pub const MAX_ENTRIES: usize = 200_000;
/// Bytes inflated per top-level archive, all nesting levels together.
pub const MAX_INFLATED: u64 = 2 * 1024 * 1024 * 1024;
/// Largest `pom.properties` or `MANIFEST.MF` read.
const MAX_SMALL: u64 = 1024 * 1024;

/// The Java archive analyzer.
#[derive(Debug, Default)]
pub struct JavaAnalyzer;

fn is_archive(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && !stem.ends_with('/')
            && EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    })
}

impl Analyzer for JavaAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Java
    }

    fn version(&self) -> u32 {
        2
    }

    fn max_size(&self) -> u64 {
        512 * 1024 * 1024
    }

    fn wants(&self, path: &str, meta: &FileMeta) -> bool {
        // Empty entries (directories named `x.jar`) are not archives.
        meta.size > 0 && is_archive(path)
    }

    fn analyze(&self, input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let path = input.path;
        let io = |source| AnalyzerError::Io {
            path: path.to_owned(),
            source,
        };
        let mut walk = Walk {
            findings: Findings::default(),
            inflated: 0,
            os_managed: path.starts_with("/usr/share/java/") || path.starts_with("/usr/lib/jvm/"),
        };
        match Spooled::read(input.reader, input.meta.size, IN_MEMORY)
            .map_err(|e| io(e.into_io()))?
        {
            Spooled::Memory(bytes) => walk.archive(Cursor::new(bytes), path, 0),
            Spooled::File(file, _) => walk.archive(file, path, 0),
        }
        Ok(walk.findings)
    }
}

struct Walk {
    findings: Findings,
    inflated: u64,
    os_managed: bool,
}

impl Walk {
    fn warn(&mut self, msg: String) {
        self.findings.warnings.push(msg);
    }

    /// Reads one archive (outer or nested) and everything it identifies.
    fn archive<R: Read + Seek>(&mut self, mut reader: R, display: &str, depth: usize) {
        let sha1 = match sha1_of(&mut reader) {
            Ok(sha1) => sha1,
            Err(e) => {
                self.warn(format!("{display}: unreadable: {e}"));
                return;
            }
        };
        let mut zip = match zip::ZipArchive::new(reader) {
            Ok(z) => z,
            Err(e) => {
                self.warn(format!("{display}: not a readable zip archive: {e}"));
                return;
            }
        };
        let mut poms: Vec<Coordinates> = Vec::new();
        let mut manifest = None;
        let mut nested: Vec<usize> = Vec::new();
        let count = zip.len();
        if count > MAX_ENTRIES {
            self.warn(format!(
                "{display}: {count} entries, only the first {MAX_ENTRIES} read"
            ));
        }
        for i in 0..count.min(MAX_ENTRIES) {
            let Ok(entry) = zip.by_index(i) else {
                continue;
            };
            let name = entry.name().to_owned();
            if !entry.is_file() {
                continue;
            }
            if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
                if let Some(text) = self.small_text(entry, display) {
                    if let Some(c) = pom_properties::parse(&text) {
                        poms.push(c);
                    }
                }
            } else if name == "META-INF/MANIFEST.MF" {
                manifest = self.small_text(entry, display);
            } else if is_archive(&name) && depth < MAX_DEPTH {
                nested.push(i);
            }
        }
        let first_new = self.findings.packages.len();
        self.identify(display, &poms, manifest.as_deref());
        for pkg in &mut self.findings.packages[first_new..] {
            pkg.sha1 = Some(sha1.clone());
        }
        for i in nested {
            let Ok(entry) = zip.by_index(i) else {
                continue;
            };
            let child = format!("{display}!/{}", entry.name());
            let size = entry.size();
            if self.inflated.saturating_add(size) > MAX_INFLATED {
                self.warn(format!("{child}: skipped, inflation limit reached"));
                return;
            }
            self.nested(entry, size, &child, depth + 1);
        }
    }

    fn nested<R: Read>(&mut self, entry: R, size: u64, child: &str, depth: usize) {
        let budget = MAX_INFLATED - self.inflated;
        let limited = entry.take(budget);
        match Spooled::read(limited, size, IN_MEMORY) {
            Ok(spooled) => {
                self.inflated += spooled.len();
                match spooled {
                    Spooled::Memory(bytes) => self.archive(Cursor::new(bytes), child, depth),
                    Spooled::File(file, _) => self.archive(file, child, depth),
                }
            }
            Err(SpoolError::Read(e)) => self.warn(format!("{child}: cannot inflate: {e}")),
            Err(SpoolError::TempFile(e)) => self.warn(format!("{child}: cannot spool: {e}")),
        }
    }

    fn small_text<R: Read>(&mut self, entry: R, display: &str) -> Option<String> {
        let mut bytes = Vec::new();
        match entry.take(MAX_SMALL).read_to_end(&mut bytes) {
            Ok(n) => {
                self.inflated += n as u64;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            Err(e) => {
                self.warn(format!("{display}: unreadable entry: {e}"));
                None
            }
        }
    }

    fn push(&mut self, group: &str, artifact: &str, version: &Version, display: &str) {
        let name = if group.is_empty() {
            artifact.to_owned()
        } else {
            format!("{group}:{artifact}")
        };
        let namespace = (!group.is_empty()).then_some(group);
        // A version guessed from the file name is reported, marked, but is not a coordinate.
        let (version, guessed) = match version {
            Version::Metadata(v) => (v.as_str(), false),
            Version::FileName(v) => (v.as_str(), true),
        };
        let coordinate = if guessed { "" } else { version };
        let purl = purl::simple("maven", namespace, artifact, coordinate);
        let mut pkg = purl::new_package(Ecosystem::Maven, &name, version, purl, display);
        pkg.os_managed = self.os_managed;
        pkg.version_from_file_name = guessed;
        if !self
            .findings
            .packages
            .iter()
            .any(|p| p.purl == pkg.purl && p.location == pkg.location)
        {
            self.findings.packages.push(pkg);
        }
    }

    fn identify(&mut self, display: &str, poms: &[Coordinates], manifest: Option<&str>) {
        if !poms.is_empty() {
            for c in poms {
                let version = Version::Metadata(c.version.clone());
                self.push(&c.group_id, &c.artifact_id, &version, display);
            }
            return;
        }
        let attrs = manifest.map(manifest::main_section).unwrap_or_default();
        let get = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| attrs.get(*k).filter(|v| !v.is_empty()).cloned())
        };
        let (file_name, file_version) = from_file_name(display);
        let version = get(&[
            "Implementation-Version",
            "Bundle-Version",
            "Specification-Version",
        ])
        .map(Version::Metadata)
        .or(file_version.map(Version::FileName));
        let name = file_name.or_else(|| {
            get(&[
                "Implementation-Title",
                "Bundle-SymbolicName",
                "Specification-Title",
            ])
        });
        let group = get(&["Implementation-Vendor-Id"]).unwrap_or_default();
        match (name, version) {
            (Some(name), Some(version)) => self.push(&group, &name, &version, display),
            _ => self.warn(format!("{display}: no name or version found")),
        }
    }
}

/// Where a jar's version came from.
enum Version {
    /// `pom.properties` or the manifest.
    Metadata(String),
    /// The file name only: a guess.
    FileName(String),
}

/// The SHA-1 of everything `reader` holds, lowercase hex; the reader is rewound after.
fn sha1_of<R: Read + Seek>(reader: &mut R) -> std::io::Result<String> {
    use sha1::Digest;
    reader.rewind()?;
    let mut hasher = sha1::Sha1::new();
    std::io::copy(reader, &mut hasher)?;
    reader.rewind()?;
    Ok(hex::encode(hasher.finalize()))
}

/// `lib/commons-io-2.15.1.jar` → (`commons-io`, `2.15.1`); a name without version gives only a name.
fn from_file_name(path: &str) -> (Option<String>, Option<String>) {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let bytes = stem.as_bytes();
    let split = (1..bytes.len()).find(|&i| bytes[i - 1] == b'-' && bytes[i].is_ascii_digit());
    match split {
        Some(i) => (Some(stem[..i - 1].to_owned()), Some(stem[i..].to_owned())),
        None if !stem.is_empty() => (Some(stem.to_owned()), None),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])], stored: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let method = if stored {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        for (name, data) in entries {
            w.start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn pom(g: &str, a: &str, v: &str) -> Vec<u8> {
        format!("#Generated\ngroupId={g}\nartifactId={a}\nversion={v}\n").into_bytes()
    }

    fn run(path: &str, bytes: &[u8]) -> Findings {
        let meta = FileMeta {
            size: bytes.len() as u64,
            mode: 0o644,
        };
        assert!(JavaAnalyzer.wants(path, &meta));
        JavaAnalyzer
            .analyze(AnalyzerInput {
                path,
                meta,
                reader: &mut Cursor::new(bytes.to_vec()),
                spooled: None,
            })
            .unwrap()
    }

    #[test]
    fn three_levels_of_nesting_and_shading() {
        let innermost = zip_of(
            &[(
                "META-INF/maven/org.slf4j/slf4j-api/pom.properties",
                &pom("org.slf4j", "slf4j-api", "2.0.9"),
            )],
            false,
        );
        let shaded = zip_of(
            &[
                (
                    "META-INF/maven/com.acme/uber/pom.properties",
                    &pom("com.acme", "uber", "1.0.0"),
                ),
                (
                    "META-INF/maven/com.google.guava/guava/pom.properties",
                    &pom("com.google.guava", "guava", "32.1.3-jre"),
                ),
                ("lib/slf4j-api-2.0.9.jar", &innermost),
            ],
            true,
        );
        let manifest_only = zip_of(
            &[(
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\r\nImplementation-Title: Tiny\r\nImplementation-Version: 0.3\r\nImplementation-Vendor-Id: org.tiny\r\n",
            )],
            false,
        );
        let war = zip_of(
            &[
                ("WEB-INF/lib/uber-1.0.0.jar", &shaded),
                ("WEB-INF/lib/tiny-lib-0.3.jar", &manifest_only),
                ("WEB-INF/lib/broken.jar", b"PK not really"),
                ("WEB-INF/classes/App.class", b"\xca\xfe\xba\xbe"),
            ],
            false,
        );
        let f = run("/srv/app.war", &war);
        let mut got: Vec<_> = f
            .packages
            .iter()
            .map(|p| format!("{} {}", p.purl, p.location.path))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "pkg:maven/com.acme/uber@1.0.0 /srv/app.war!/WEB-INF/lib/uber-1.0.0.jar",
                "pkg:maven/com.google.guava/guava@32.1.3-jre /srv/app.war!/WEB-INF/lib/uber-1.0.0.jar",
                "pkg:maven/org.slf4j/slf4j-api@2.0.9 /srv/app.war!/WEB-INF/lib/uber-1.0.0.jar!/lib/slf4j-api-2.0.9.jar",
                "pkg:maven/org.tiny/tiny-lib@0.3 /srv/app.war!/WEB-INF/lib/tiny-lib-0.3.jar",
            ]
        );
        // The war has no identity of its own and says so; the broken jar is a warning.
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
        let slf = f
            .packages
            .iter()
            .find(|p| p.name == "org.slf4j:slf4j-api")
            .unwrap();
        assert_eq!(slf.version, "2.0.9");
        // Each package carries the SHA-1 of the archive it was found in, nested ones too.
        let sha1 = |bytes: &[u8]| {
            use sha1::Digest;
            hex::encode(sha1::Sha1::digest(bytes))
        };
        assert_eq!(slf.sha1.as_deref(), Some(sha1(&innermost).as_str()));
        for p in f
            .packages
            .iter()
            .filter(|p| p.location.path.ends_with("uber-1.0.0.jar"))
        {
            assert_eq!(p.sha1.as_deref(), Some(sha1(&shaded).as_str()));
        }
    }

    #[test]
    fn large_archives_are_spooled_and_depth_is_bounded() {
        // Incompressible padding pushes the archive past the in-memory limit.
        let mut state = 1u64;
        let noise: Vec<u8> = (0..(IN_MEMORY + 1024))
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 56) as u8
            })
            .collect();
        let big = zip_of(
            &[
                ("META-INF/maven/a/big/pom.properties", &pom("a", "big", "1")),
                ("blob.bin", &noise),
            ],
            true,
        );
        assert!(big.len() as u64 > IN_MEMORY);
        let f = run("/opt/big-1.jar", &big);
        assert_eq!(f.packages[0].purl, "pkg:maven/a/big@1");

        let mut level = zip_of(
            &[(
                "META-INF/maven/d/deep/pom.properties",
                &pom("d", "deep", "1"),
            )],
            true,
        );
        for _ in 0..MAX_DEPTH + 1 {
            level = zip_of(&[("x/inner.jar", &level)], true);
        }
        let f = run("/opt/nest.jar", &level);
        assert!(
            f.packages.iter().all(|p| p.name != "d:deep"),
            "too deep to be read"
        );
    }

    #[test]
    fn file_names_and_os_jars() {
        assert_eq!(
            from_file_name("/x/commons-io-2.15.1.jar"),
            (Some("commons-io".into()), Some("2.15.1".into()))
        );
        assert_eq!(from_file_name("/x/tool.jar"), (Some("tool".into()), None));
        let jar = zip_of(
            &[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n")],
            false,
        );
        let f = run("/usr/share/java/libfoo-java-1.2.jar", &jar);
        assert!(f.packages[0].os_managed);
        // The version only the file name gives is kept, marked, and not a Maven coordinate.
        assert_eq!(f.packages[0].version, "1.2");
        assert!(f.packages[0].version_from_file_name);
        assert_eq!(f.packages[0].purl, "pkg:maven/libfoo-java");
        let with_manifest = zip_of(
            &[(
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\nImplementation-Version: 1.3\n",
            )],
            false,
        );
        let f = run("/app/libfoo-1.2.jar", &with_manifest);
        assert_eq!(f.packages[0].purl, "pkg:maven/libfoo@1.3");
        assert!(!f.packages[0].version_from_file_name);
        let f = run("/app/corrupt.jar", b"not a zip");
        assert!(f.packages.is_empty());
        assert_eq!(f.warnings.len(), 1);
        assert!(!JavaAnalyzer.wants("/x/.jar", &FileMeta { size: 1, mode: 0 }));
        assert!(!JavaAnalyzer.wants(
            "/x/exploded.war",
            &FileMeta {
                size: 0,
                mode: 0o755
            }
        ));
        assert!(JavaAnalyzer.wants("/x/A.JAR", &FileMeta { size: 1, mode: 0 }));
    }
}
