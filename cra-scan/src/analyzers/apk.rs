//! Alpine, Wolfi and Chainguard packages from the apk installed database.
//!
//! - Files: `/lib/apk/db/installed`, `/usr/lib/apk/db/installed`.
//! - Ecosystem: `apk`; purl type `apk`, namespace `alpine` until the OS is known
//!   ([`crate::purl::qualify_os_packages`] then sets namespace and `distro=`).
//! - Reads: `P` name, `V` version, `A` arch, `L` license, `o` origin (source package),
//!   `D` depends and `p` provides; dependencies are resolved to package names through real names
//!   and provides (`so:`, `cmd:`, `pc:` included), conflicts (`!x`) are skipped.
//! - Known gaps: the file list (`F`/`R`) is not recorded; `i` install_if is not an edge.

use std::collections::HashMap;

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

const PATHS: [&str; 2] = ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"];

/// The apk installed-database analyzer.
#[derive(Debug, Default)]
pub struct ApkAnalyzer;

impl Analyzer for ApkAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Apk
    }

    fn version(&self) -> u32 {
        1
    }

    fn wants(&self, path: &str, _meta: &FileMeta) -> bool {
        PATHS.contains(&path)
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        Ok(parse(&String::from_utf8_lossy(&bytes), input.path))
    }
}

#[derive(Default)]
struct Stanza<'a> {
    name: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    license: Option<&'a str>,
    origin: Option<&'a str>,
    depends: Vec<&'a str>,
    provides: Vec<&'a str>,
}

/// Parses the whole database text into packages with resolved dependency names.
pub(crate) fn parse(text: &str, path: &str) -> Findings {
    let mut stanzas = Vec::new();
    let mut current = Stanza::default();
    let mut warnings = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if current.name.is_some() || current.version.is_some() {
                stanzas.push(std::mem::take(&mut current));
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            "P" => current.name = Some(value),
            "V" => current.version = Some(value),
            "A" => current.arch = Some(value),
            "L" => current.license = Some(value),
            "o" => current.origin = Some(value),
            "D" => current.depends.extend(value.split_whitespace()),
            "p" => current.provides.extend(value.split_whitespace()),
            _ => {}
        }
    }

    // Provided names (and real names) → the package providing them.
    let mut providers: HashMap<&str, &str> = HashMap::new();
    for s in &stanzas {
        if let Some(name) = s.name {
            for p in &s.provides {
                providers.entry(strip_constraint(p)).or_insert(name);
            }
        }
    }
    for s in &stanzas {
        if let Some(name) = s.name {
            providers.insert(name, name);
        }
    }

    let mut packages = Vec::with_capacity(stanzas.len());
    for s in &stanzas {
        let (Some(name), Some(version)) = (s.name, s.version) else {
            warnings.push(format!(
                "{path}: apk entry without name or version skipped ({})",
                s.name.or(s.version).unwrap_or("?")
            ));
            continue;
        };
        let mut pkg = purl::new_package(Ecosystem::Apk, name, version, String::new(), path);
        pkg.arch = s.arch.map(str::to_owned);
        pkg.license = s.license.filter(|l| !l.is_empty()).map(str::to_owned);
        pkg.source_name = s.origin.map(str::to_owned);
        let mut deps: Vec<String> = Vec::new();
        for d in &s.depends {
            if d.starts_with('!') {
                continue;
            }
            if let Some(target) = providers.get(strip_constraint(d)) {
                if *target != name && !deps.iter().any(|x| x == target) {
                    deps.push((*target).to_owned());
                }
            }
        }
        pkg.dependencies = deps;
        pkg.purl = purl::apk(&pkg, None);
        packages.push(pkg);
    }
    Findings {
        packages,
        os: None,
        warnings,
    }
}

/// `name>=1.2`, `so:libc.so=1` → the bare name.
fn strip_constraint(item: &str) -> &str {
    let end = item.find(['=', '<', '>', '~']).unwrap_or(item.len());
    &item[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "\
C:Q1Wc4kqM0w3e0mAzKvR2rS9t8pX1c=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
L:MIT
o:musl
D:
p:so:libc.musl-x86_64.so.1=1

C:Q1abc=
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
D:so:libc.musl-x86_64.so.1 !busybox-extras
p:cmd:sh=1.36.1-r15 /bin/sh

P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl
D:so:libc.musl-x86_64.so.1 busybox>=1.0 missing-thing
p:so:libcrypto.so.3=3
F:usr/lib
R:libcrypto.so.3

P:broken
";

    #[test]
    fn parses_stanzas_origin_and_dependencies() {
        let f = parse(DB, "/lib/apk/db/installed");
        let names: Vec<_> = f.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["musl", "busybox", "libcrypto3"]);
        let crypto = &f.packages[2];
        assert_eq!(crypto.version, "3.1.4-r5");
        assert_eq!(crypto.source_name.as_deref(), Some("openssl"));
        assert_eq!(crypto.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(crypto.dependencies, ["musl", "busybox"]);
        assert_eq!(crypto.location.path, "/lib/apk/db/installed");
        assert_eq!(
            crypto.purl,
            "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64"
        );
        // Conflicts are skipped, empty D: lines give no deps.
        assert_eq!(f.packages[1].dependencies, ["musl"]);
        assert!(f.packages[0].dependencies.is_empty());
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
    }

    #[test]
    fn wants_only_the_database_paths() {
        let meta = FileMeta {
            size: 1,
            mode: 0o644,
        };
        assert!(ApkAnalyzer.wants("/lib/apk/db/installed", &meta));
        assert!(ApkAnalyzer.wants("/usr/lib/apk/db/installed", &meta));
        assert!(!ApkAnalyzer.wants("/lib/apk/db/installed.bak", &meta));
    }

    #[test]
    fn empty_and_garbage_input_give_no_packages() {
        assert!(parse("", "/x").packages.is_empty());
        assert!(parse("\u{0}\u{1}garbage\n\n::::\n", "/x")
            .packages
            .is_empty());
    }
}
