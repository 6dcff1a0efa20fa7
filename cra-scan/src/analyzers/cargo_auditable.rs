//! Rust crates compiled into ELF binaries built with `cargo auditable`.
//!
//! - Files: any executable regular file; only ELF files (checked by magic on read) carrying a
//!   `.dep-v0` section are parsed, so binaries are found wherever they are.
//! - The section holds zlib-compressed JSON (`{"packages":[{name, version, source, kind,
//!   dependencies: [indices], root}]}`); it is inflated with a limit of [`MAX_JSON`] bytes.
//! - Ecosystem: `cargo`; purl type `cargo` (`pkg:cargo/serde@1.0.197`).
//! - Reports every runtime crate, the binary's own crate included; build-time crates
//!   (`"kind": "build"`, such as `cc`) are not part of the binary and are dropped.
//!   Dependency edges follow the recorded indices.
//! - Known gaps: Mach-O, PE and WebAssembly binaries; binaries built without cargo-auditable
//!   carry no reliable dependency data and yield nothing.

use std::io::Read;

use cra_core::{Ecosystem, Package};
use object::ReadRef;
use serde::Deserialize;

use super::elf::{self, Elf};
use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The inflated JSON may not be larger than this.
pub const MAX_JSON: u64 = 16 * 1024 * 1024;

/// The cargo-auditable analyzer.
#[derive(Debug, Default)]
pub struct CargoAuditableAnalyzer;

#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<Crate>,
}

#[derive(Deserialize)]
struct Crate {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    dependencies: Vec<usize>,
}

impl Analyzer for CargoAuditableAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Rust
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        512 * 1024 * 1024
    }

    fn wants(&self, _path: &str, meta: &FileMeta) -> bool {
        meta.is_executable() && meta.size > 64
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let section = match elf::load(&mut input)? {
            None => None,
            Some(Elf::Memory(bytes)) => dep_section(&bytes[..]),
            Some(Elf::File(cache)) => dep_section(&cache),
        };
        let Some(compressed) = section else {
            return Ok(Findings::default());
        };
        match parse(&compressed, input.path) {
            Ok(packages) => Ok(Findings {
                packages,
                ..Findings::default()
            }),
            Err(reason) => Ok(Findings {
                warnings: vec![format!(
                    "{}: unreadable .dep-v0 section: {reason}",
                    input.path
                )],
                ..Findings::default()
            }),
        }
    }
}

/// The `.dep-v0` section's bytes, copied out of the file.
fn dep_section<'a, R: ReadRef<'a>>(data: R) -> Option<Vec<u8>> {
    Some(elf::section(data, b".dep-v0")?.to_vec())
}

/// Inflates and reads the dependency JSON.
pub(crate) fn parse(compressed: &[u8], path: &str) -> Result<Vec<Package>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| e.to_string())?;
    if json.len() as u64 > MAX_JSON {
        return Err(format!("more than {MAX_JSON} bytes inflated"));
    }
    let info: VersionInfo = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    let runtime = |c: &Crate| c.kind.as_deref() != Some("build");
    let packages = info
        .packages
        .iter()
        .filter(|c| runtime(c))
        .map(|c| {
            let mut pkg = purl::new_package(
                Ecosystem::Cargo,
                &c.name,
                &c.version,
                purl::simple("cargo", None, &c.name, &c.version),
                path,
            );
            pkg.dependencies = c
                .dependencies
                .iter()
                .filter_map(|&i| info.packages.get(i))
                .filter(|d| runtime(d))
                .map(|d| d.name.clone())
                .collect();
            pkg
        })
        .collect();
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::elf::testing::elf64;
    use std::io::{Cursor, Write};

    const JSON: &str = r#"{"packages":[
        {"name":"myapp","version":"0.1.0","source":"local","root":true,"dependencies":[1,2]},
        {"name":"serde","version":"1.0.197","source":"crates.io","dependencies":[]},
        {"name":"cc","version":"1.0.90","source":"crates.io","kind":"build","dependencies":[]}]}"#;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn run(bytes: &[u8]) -> Findings {
        let meta = FileMeta {
            size: bytes.len() as u64,
            mode: 0o755,
        };
        assert!(CargoAuditableAnalyzer.wants("/usr/local/bin/myapp", &meta));
        CargoAuditableAnalyzer
            .analyze(AnalyzerInput {
                path: "/usr/local/bin/myapp",
                meta,
                reader: &mut Cursor::new(bytes.to_vec()),
                spooled: None,
            })
            .unwrap()
    }

    #[test]
    fn reads_dep_section_and_drops_build_crates() {
        let section = zlib(JSON.as_bytes());
        let bin = elf64(
            &[
                (".text", 0x1000, 6, &[0xc3; 16]),
                (".dep-v0", 0, 0, &section),
            ],
            false,
        );
        let f = run(&bin);
        let got: Vec<_> = f.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(got, ["pkg:cargo/myapp@0.1.0", "pkg:cargo/serde@1.0.197"]);
        assert_eq!(f.packages[0].dependencies, ["serde"]);
    }

    #[test]
    fn binaries_without_section_or_with_garbage() {
        let plain = elf64(&[(".text", 0x1000, 6, &[0xc3; 16])], false);
        assert!(run(&plain).packages.is_empty());
        let bad = elf64(&[(".dep-v0", 0, 0, b"not zlib at all")], false);
        let f = run(&bad);
        assert!(f.packages.is_empty());
        assert_eq!(f.warnings.len(), 1);
        // A zlib bomb: a long run of zeros inflates past the limit and is refused.
        let bomb = zlib(&vec![b' '; (MAX_JSON + 10) as usize]);
        assert!(parse(&bomb, "/x").unwrap_err().contains("inflated"));
        // Dangling dependency indices are ignored.
        let odd = zlib(br#"{"packages":[{"name":"a","version":"1","dependencies":[7]}]}"#);
        assert!(parse(&odd, "/x").unwrap()[0].dependencies.is_empty());
    }
}
