//! Pinned pip requirements files.
//!
//! - Files: `requirements*.txt` anywhere (`requirements.txt`, `requirements-prod.txt`).
//! - Format (pip's "Requirements File Format"): one requirement per line, `#` starts a comment,
//!   a trailing `\` continues the line, lines starting with `-` are options.
//! - Read: exact pins only, `name==version` (also `===`), with extras (`name[security]==1.0`)
//!   and environment markers (`; python_version < "3.12"`) and per-requirement options
//!   (`--hash=…`) stripped; the name is PEP 503-normalised in the purl.
//! - Not read, with a warning: `-r`/`-c` includes (another file; it is read on its own when it
//!   is also called `requirements*.txt`), editable installs, URLs and unpinned or range
//!   requirements, for which no version is known.
//! - Ecosystem: `pypi`; purl type `pypi`. The file gives no dependency edges.

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The pip requirements analyzer.
#[derive(Debug, Default)]
pub struct PipRequirementsAnalyzer;

impl Analyzer for PipRequirementsAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Pip
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        1024 * 1024
    }

    fn wants(&self, path: &str, meta: &FileMeta) -> bool {
        let base = path.rsplit('/').next().unwrap_or(path);
        meta.size > 0 && base.starts_with("requirements") && base.ends_with(".txt")
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        Ok(parse(&String::from_utf8_lossy(&bytes), input.path))
    }
}

/// Parses a requirements file.
pub(crate) fn parse(text: &str, path: &str) -> Findings {
    let mut findings = Findings::default();
    for (number, line) in logical_lines(text) {
        let line = strip_comment(&line);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(option) = line.strip_prefix('-') {
            let what = if option.starts_with('r') || option.starts_with("-requirement") {
                "an included requirements file is not followed"
            } else if option.starts_with('c') || option.starts_with("-constraint") {
                "a constraints file is not followed"
            } else if option.starts_with('e') || option.starts_with("-editable") {
                "an editable install has no version"
            } else {
                continue; // index options, `--hash` on its own line and the like
            };
            findings
                .warnings
                .push(format!("{path}:{number}: {what}: {line}"));
            continue;
        }
        match pinned(line) {
            Some((name, version)) => {
                let pkg = purl::new_package(
                    Ecosystem::Pypi,
                    name,
                    version,
                    purl::pypi(name, version),
                    path,
                );
                if !findings.packages.iter().any(|p| p.purl == pkg.purl) {
                    findings.packages.push(pkg);
                }
            }
            None => findings.warnings.push(format!(
                "{path}:{number}: not an exact pin, no version is known: {line}"
            )),
        }
    }
    findings
}

/// Lines with `\` continuations joined, numbered from 1 by their first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        match raw.strip_suffix('\\') {
            Some(part) => {
                acc.push_str(part);
                acc.push(' ');
                current = Some((start, acc));
            }
            None => {
                acc.push_str(raw);
                out.push((start, acc));
            }
        }
    }
    out.extend(current);
    out
}

/// The line without a comment: `#` at the start or after whitespace (pip's rule, so URL
/// fragments survive).
fn strip_comment(line: &str) -> String {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return line[..i].to_owned();
        }
    }
    line.to_owned()
}

/// `name[extras]==version ; marker --hash=…` → (`name`, `version`) for an exact pin.
fn pinned(line: &str) -> Option<(&str, &str)> {
    let spec = line.split(';').next().unwrap_or(line);
    let spec = spec.split(" --").next().unwrap_or(spec).trim();
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..name_end];
    let mut rest = spec[name_end..].trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        rest = after.split_once(']')?.1.trim_start();
    }
    let version = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))?
        .trim();
    let valid = !version.is_empty()
        && !version.contains([',', '*', ' ', '<', '>', '=', '!', '~'])
        && !name.is_empty();
    valid.then_some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written from pip's "Requirements File Format" documentation.
    const FILE: &str = r#"# Production dependencies
--index-url https://pypi.example.invalid/simple
-r base-requirements.txt
-c constraints.txt
requests==2.31.0  # HTTP
Django[argon2,bcrypt] == 4.2.7
urllib3==2.0.7 ; python_version >= "3.8"
certifi==2023.7.22 \
    --hash=sha256:539cc1d13202e33ca466e88b2807e29f4c13049d6d87031a3c110744495cb082
typing_extensions===4.8.0
flask>=2.0
numpy
-e git+https://example.invalid/repo.git#egg=thing
requests==2.31.0
"#;

    #[test]
    fn exact_pins_are_read_and_everything_else_is_reported() {
        let f = parse(FILE, "/app/requirements.txt");
        let got: Vec<String> = f.packages.iter().map(|p| p.purl.clone()).collect();
        assert_eq!(
            got,
            [
                "pkg:pypi/requests@2.31.0",
                "pkg:pypi/django@4.2.7",
                "pkg:pypi/urllib3@2.0.7",
                "pkg:pypi/certifi@2023.7.22",
                "pkg:pypi/typing-extensions@4.8.0",
            ]
        );
        assert_eq!(f.packages[1].name, "Django");
        assert!(f
            .packages
            .iter()
            .all(|p| p.location.path == "/app/requirements.txt"));
        let warned: Vec<&str> = f
            .warnings
            .iter()
            .map(|w| w.split(": ").nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            warned,
            [
                "an included requirements file is not followed",
                "a constraints file is not followed",
                "not an exact pin, no version is known",
                "not an exact pin, no version is known",
                "an editable install has no version",
            ],
            "{:?}",
            f.warnings
        );
        assert!(f.warnings[0].starts_with("/app/requirements.txt:3: "));
    }

    #[test]
    fn wants_requirements_files_only() {
        let m = FileMeta { size: 5, mode: 0 };
        let a = PipRequirementsAnalyzer;
        assert!(a.wants("/app/requirements.txt", &m));
        assert!(a.wants("/app/requirements-prod.txt", &m));
        assert!(!a.wants("/app/requirements.in", &m));
        assert!(!a.wants("/app/dev-requirements.txt", &m));
        assert!(!a.wants("/app/requirements.txt", &FileMeta { size: 0, mode: 0 }));
    }
}
