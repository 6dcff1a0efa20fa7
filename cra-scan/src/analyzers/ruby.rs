//! Ruby gems from installed gem specifications.
//!
//! - Files: `**/specifications/*.gemspec` (including `specifications/default/` for default gems
//!   and bundler's `vendor/bundle/ruby/<ver>/specifications/`).
//! - The content is Ruby code written by RubyGems; it is not executed, only matched line by line:
//!   `s.name = "x"`, `s.version = "1.2.3"` (also with `.freeze` or `Gem::Version.new(…)`),
//!   `s.licenses = ["MIT"]`, `s.add_runtime_dependency(%q<rack>.freeze, …)` and
//!   `s.add_dependency(…)`. The file name (`name-1.2.3[-platform].gemspec`) is the fallback.
//! - Ecosystem: `gem`; purl type `gem` (`pkg:gem/rack@3.0.9`).
//! - Known gaps: development dependencies are not edges. `Gemfile.lock` is read by the
//!   `bundler` analyzer (`gemfile_lock.rs`).

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The gemspec analyzer.
#[derive(Debug, Default)]
pub struct RubyAnalyzer;

impl Analyzer for RubyAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Ruby
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        1024 * 1024
    }

    fn wants(&self, path: &str, _meta: &FileMeta) -> bool {
        path.ends_with(".gemspec") && path.contains("/specifications/")
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        Ok(parse(&String::from_utf8_lossy(&bytes), input.path))
    }
}

/// The first quoted string (`"x"`, `'x'`, `%q<x>`, `%q{x}`) in a value expression.
fn quoted(expr: &str) -> Option<&str> {
    let expr = expr.trim();
    if let Some(rest) = expr.strip_prefix("%q") {
        let close = match rest.chars().next()? {
            '<' => '>',
            '{' => '}',
            '(' => ')',
            '[' => ']',
            c => c,
        };
        let body = &rest[1..];
        return body.find(close).map(|end| &body[..end]);
    }
    let start = expr.find(['"', '\''])?;
    let q = expr[start..].chars().next()?;
    let body = &expr[start + 1..];
    body.find(q).map(|end| &body[..end])
}

/// `name-1.2.3-x86_64-linux.gemspec` → (`name`, `1.2.3`).
fn from_file_name(path: &str) -> Option<(String, String)> {
    let file = path.rsplit('/').next()?.strip_suffix(".gemspec")?;
    let bytes = file.as_bytes();
    let split = (1..bytes.len()).rfind(|&i| bytes[i - 1] == b'-' && bytes[i].is_ascii_digit())?;
    let version = file[split..].split('-').next()?;
    Some((file[..split - 1].to_owned(), version.to_owned()))
}

/// Parses one gemspec.
pub(crate) fn parse(text: &str, path: &str) -> Findings {
    let mut name = None;
    let mut version = None;
    let mut licenses: Vec<String> = Vec::new();
    let mut deps: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(args) = line
            .split_once(".add_runtime_dependency")
            .or_else(|| line.split_once(".add_dependency"))
            .map(|(_, a)| a)
        {
            let args = args.trim_start_matches(['(', ' ']);
            if let Some(dep) = quoted(args) {
                if !deps.iter().any(|d| d == dep) {
                    deps.push(dep.to_owned());
                }
            }
            continue;
        }
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let field = lhs.trim().rsplit('.').next().unwrap_or("");
        match field {
            "name" if name.is_none() => name = quoted(rhs).map(str::to_owned),
            "version" if version.is_none() => version = quoted(rhs).map(str::to_owned),
            "license" | "licenses" => {
                let mut rest = rhs;
                while let Some(l) = quoted(rest) {
                    licenses.push(l.to_owned());
                    let Some(i) = rest.find(l) else { break };
                    rest = &rest[i + l.len() + 1..];
                }
            }
            _ => {}
        }
    }
    let fallback = from_file_name(path);
    let name = name.or_else(|| fallback.as_ref().map(|f| f.0.clone()));
    let version = version.or_else(|| fallback.as_ref().map(|f| f.1.clone()));
    let (Some(name), Some(version)) = (name, version) else {
        return Findings {
            warnings: vec![format!("{path}: gemspec without name or version")],
            ..Findings::default()
        };
    };
    let mut pkg = purl::new_package(
        Ecosystem::Gem,
        &name,
        &version,
        purl::simple("gem", None, &name, &version),
        path,
    );
    pkg.license = (!licenses.is_empty()).then(|| licenses.join(" OR "));
    pkg.dependencies = deps;
    Findings {
        packages: vec![pkg],
        ..Findings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"# -*- encoding: utf-8 -*-
# stub: rack 3.0.9 ruby lib

Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "3.0.9".freeze

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.authors = ["Leah Neukirchen".freeze]
  s.licenses = ["MIT".freeze, "Ruby".freeze]
  s.add_runtime_dependency(%q<webrick>.freeze, ["~> 1.8"])
  s.add_development_dependency(%q<minitest>.freeze, ["~> 5.0"])
  s.add_dependency(%q<base64>.freeze, [">= 0"])
end
"#;

    #[test]
    fn reads_gemspec_fields() {
        let f = parse(SPEC, "/usr/local/bundle/specifications/rack-3.0.9.gemspec");
        let p = &f.packages[0];
        assert_eq!((p.name.as_str(), p.version.as_str()), ("rack", "3.0.9"));
        assert_eq!(p.purl, "pkg:gem/rack@3.0.9");
        assert_eq!(p.license.as_deref(), Some("MIT OR Ruby"));
        assert_eq!(p.dependencies, ["webrick", "base64"]);
    }

    #[test]
    fn file_name_fallback_and_wants() {
        let f = parse(
            "Gem::Specification.new do |s|\nend\n",
            "/x/specifications/default/nokogiri-1.16.2-x86_64-linux.gemspec",
        );
        assert_eq!(f.packages[0].name, "nokogiri");
        assert_eq!(f.packages[0].version, "1.16.2");
        let f = parse("", "/x/specifications/weird.gemspec");
        assert!(f.packages.is_empty());
        let m = FileMeta {
            size: 1,
            mode: 0o644,
        };
        assert!(RubyAnalyzer.wants(
            "/usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec",
            &m
        ));
        assert!(!RubyAnalyzer.wants("/app/my.gemspec", &m));
        assert_eq!(quoted("Gem::Version.new(\"1.2\")"), Some("1.2"));
    }
}
