//! `Gemfile.lock`, the lockfile Bundler writes.
//!
//! - Files: `Gemfile.lock` and `gems.locked` anywhere.
//! - Format (Bundler's `LockfileParser`): sections start at column 0 (`GEM`, `GIT`, `PATH`,
//!   `PLATFORMS`, `DEPENDENCIES`, `BUNDLED WITH`); inside a source section, `specs:` lists each
//!   locked gem at four spaces as `name (version)`, and its dependencies at six spaces as
//!   `name (constraints)` or just `name`.
//! - Read: every spec of the `GEM`, `GIT` and `PATH` sections, with its dependencies as edges.
//!   A platform suffix stays in the version (`nokogiri (1.15.4-x86_64-linux)`), as Bundler
//!   prints it.
//! - Ecosystem: `gem`; purl type `gem` (`pkg:gem/rack@3.0.8`).

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The `Gemfile.lock` analyzer.
#[derive(Debug, Default)]
pub struct GemfileLockAnalyzer;

impl Analyzer for GemfileLockAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Bundler
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        4 * 1024 * 1024
    }

    fn wants(&self, path: &str, meta: &FileMeta) -> bool {
        meta.size > 0 && (path.ends_with("/Gemfile.lock") || path.ends_with("/gems.locked"))
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        Ok(parse(&String::from_utf8_lossy(&bytes), input.path))
    }
}

/// `name (version)` or `name` → (name, version).
fn name_and_paren(s: &str) -> (&str, Option<&str>) {
    match s.split_once(" (") {
        Some((name, rest)) => (name.trim(), rest.strip_suffix(')').map(str::trim)),
        None => (s.trim(), None),
    }
}

/// Parses a `Gemfile.lock`.
pub(crate) fn parse(text: &str, path: &str) -> Findings {
    let mut findings = Findings::default();
    let mut in_source = false;
    let mut in_specs = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if !line.starts_with(' ') {
            in_source = matches!(line.trim(), "GEM" | "GIT" | "PATH");
            in_specs = false;
            continue;
        }
        if !in_source {
            continue;
        }
        if line.trim() == "specs:" {
            in_specs = true;
            continue;
        }
        if !in_specs {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        match indent {
            4 => {
                let (name, version) = name_and_paren(line);
                let Some(version) = version.filter(|v| !v.is_empty() && !name.is_empty()) else {
                    findings
                        .warnings
                        .push(format!("{path}: malformed spec line {:?}", line.trim()));
                    continue;
                };
                findings.packages.push(purl::new_package(
                    Ecosystem::Gem,
                    name,
                    version,
                    purl::simple("gem", None, name, version),
                    path,
                ));
            }
            6 => {
                let (dep, _) = name_and_paren(line);
                if let Some(pkg) = findings.packages.last_mut() {
                    if !dep.is_empty() && !pkg.dependencies.iter().any(|d| d == dep) {
                        pkg.dependencies.push(dep.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written after the lockfiles Bundler's documentation shows.
    const LOCK: &str = "GIT
  remote: https://example.invalid/rails/rails.git
  revision: 9f8a
  specs:
    activesupport (7.1.2)
      concurrent-ruby (~> 1.0, >= 1.0.2)
      tzinfo (~> 2.0)

PATH
  remote: .
  specs:
    myapp (0.1.0)
      rack

GEM
  remote: https://rubygems.org/
  specs:
    concurrent-ruby (1.2.2)
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    rack (3.0.8)
    racc (1.7.3)
    tzinfo (2.0.6)
      concurrent-ruby (~> 1.0)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  activesupport!
  nokogiri
  rack (~> 3.0)

BUNDLED WITH
   2.4.22
";

    #[test]
    fn specs_of_every_source_with_their_edges() {
        let f = parse(LOCK, "/app/Gemfile.lock");
        let got: Vec<String> = f
            .packages
            .iter()
            .map(|p| format!("{} {}", p.purl, p.dependencies.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                "pkg:gem/activesupport@7.1.2 concurrent-ruby,tzinfo",
                "pkg:gem/myapp@0.1.0 rack",
                "pkg:gem/concurrent-ruby@1.2.2 ",
                "pkg:gem/nokogiri@1.15.4-x86_64-linux racc",
                "pkg:gem/rack@3.0.8 ",
                "pkg:gem/racc@1.7.3 ",
                "pkg:gem/tzinfo@2.0.6 concurrent-ruby",
            ]
        );
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        let broken = parse("GEM\n  specs:\n    rack\n", "/x/Gemfile.lock");
        assert!(broken.packages.is_empty());
        assert_eq!(broken.warnings.len(), 1);
        let m = FileMeta { size: 1, mode: 0 };
        assert!(GemfileLockAnalyzer.wants("/app/Gemfile.lock", &m));
        assert!(GemfileLockAnalyzer.wants("/app/gems.locked", &m));
        assert!(!GemfileLockAnalyzer.wants("/app/Gemfile", &m));
    }
}
