//! The ids of the built-in analyzers and their names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A built-in analyzer, as named in `--analyzers` and in warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum AnalyzerId {
    /// OS identification files (`/etc/os-release` and fallbacks).
    Os,
    /// The dpkg status database.
    Dpkg,
    /// The apk installed database.
    Apk,
    /// Installed Python distributions.
    Python,
    /// Pinned pip `requirements*.txt` files.
    Pip,
    /// `poetry.lock` files.
    Poetry,
    /// `Pipfile.lock` files.
    Pipenv,
    /// npm, yarn and pnpm packages and lockfiles.
    Npm,
    /// The rpm database.
    Rpm,
    /// Go build information in binaries.
    Go,
    /// Java archives.
    Java,
    /// Rust binaries built with `cargo auditable`.
    Rust,
    /// Installed Ruby gem specifications.
    Ruby,
    /// Bundler's `Gemfile.lock` files.
    Bundler,
    /// PHP Composer packages and lockfiles.
    Php,
    /// .NET `*.deps.json` files.
    Dotnet,
}

impl AnalyzerId {
    /// Every analyzer id, in the order [`builtin`](super::builtin) runs them.
    pub const ALL: [AnalyzerId; 16] = [
        AnalyzerId::Os,
        AnalyzerId::Dpkg,
        AnalyzerId::Apk,
        AnalyzerId::Python,
        AnalyzerId::Pip,
        AnalyzerId::Poetry,
        AnalyzerId::Pipenv,
        AnalyzerId::Npm,
        AnalyzerId::Rpm,
        AnalyzerId::Go,
        AnalyzerId::Java,
        AnalyzerId::Rust,
        AnalyzerId::Ruby,
        AnalyzerId::Bundler,
        AnalyzerId::Php,
        AnalyzerId::Dotnet,
    ];

    /// The name (`dpkg`, `python`); the one place names are spelled.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalyzerId::Os => "os",
            AnalyzerId::Dpkg => "dpkg",
            AnalyzerId::Apk => "apk",
            AnalyzerId::Python => "python",
            AnalyzerId::Pip => "pip",
            AnalyzerId::Poetry => "poetry",
            AnalyzerId::Pipenv => "pipenv",
            AnalyzerId::Npm => "npm",
            AnalyzerId::Rpm => "rpm",
            AnalyzerId::Go => "go",
            AnalyzerId::Java => "java",
            AnalyzerId::Rust => "rust",
            AnalyzerId::Ruby => "ruby",
            AnalyzerId::Bundler => "bundler",
            AnalyzerId::Php => "php",
            AnalyzerId::Dotnet => "dotnet",
        }
    }
}

impl From<AnalyzerId> for &'static str {
    fn from(id: AnalyzerId) -> Self {
        id.as_str()
    }
}

impl fmt::Display for AnalyzerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an analyzer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown analyzer {name:?} (known: {})", known())]
pub struct UnknownAnalyzer {
    /// The name given.
    pub name: String,
}

fn known() -> String {
    AnalyzerId::ALL.map(AnalyzerId::as_str).join(", ")
}

impl TryFrom<String> for AnalyzerId {
    type Error = UnknownAnalyzer;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for AnalyzerId {
    type Err = UnknownAnalyzer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        AnalyzerId::ALL
            .into_iter()
            .find(|id| id.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAnalyzer { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for id in AnalyzerId::ALL {
            assert_eq!(id.as_str().parse::<AnalyzerId>(), Ok(id));
        }
        let builtin: Vec<AnalyzerId> = super::super::builtin().iter().map(|a| a.id()).collect();
        assert_eq!(builtin, AnalyzerId::ALL);
        assert_eq!("DPKG".parse::<AnalyzerId>(), Ok(AnalyzerId::Dpkg));
        let err = "cobol".parse::<AnalyzerId>().unwrap_err();
        assert_eq!(err.name, "cobol");
        assert!(err.to_string().contains("known: os, dpkg"), "{err}");
        assert_eq!(
            serde_json::to_string(&AnalyzerId::Rust).unwrap(),
            "\"rust\""
        );
        assert_eq!(
            serde_json::from_str::<AnalyzerId>("\"rust\"").unwrap(),
            AnalyzerId::Rust
        );
        assert!(serde_json::from_str::<AnalyzerId>("\"cobol\"").is_err());
    }
}
