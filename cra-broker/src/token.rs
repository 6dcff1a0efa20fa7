//! Broker tokens: kept out of logs and `Debug`, hashed for lookup, compared in constant time.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A broker token; `Debug` and `Display` show a short fingerprint only.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token; tokens are case-insensitive, so it is lower-cased, as the stock server does.
    pub fn new(token: &str) -> Self {
        Self(token.trim().to_ascii_lowercase())
    }

    /// The token itself, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 hex of the token: the stock `identifier`, and the lookup key.
    pub fn hashed(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// A short, non-reversible name for logs.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", &self.hashed()[..8])
    }

    /// The stock masked form, first 4 + `-...-` + last 4, used in the `x-snyk-broker` header.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() <= 8 {
            return "***".to_owned();
        }
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}-...-{tail}")
    }

    /// Constant-time equality with another token.
    pub fn matches(&self, other: &Token) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.fingerprint())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "0B1D2C3E-aaaa-4bbb-8ccc-000000000001";

    #[test]
    fn tokens_never_show_in_debug_or_display() {
        let token = Token::new(RAW);
        for shown in [format!("{token:?}"), format!("{token}")] {
            assert!(!shown.to_ascii_lowercase().contains("aaaa-4bbb"), "{shown}");
            assert!(shown.contains("sha256:"));
        }
        assert_eq!(token.masked(), "0b1d-...-0001");
        assert_eq!(Token::new("short").masked(), "***");
    }

    #[test]
    fn tokens_compare_case_insensitively() {
        assert!(Token::new(RAW).matches(&Token::new(&RAW.to_ascii_lowercase())));
        assert!(!Token::new(RAW).matches(&Token::new("0b1d2c3e-aaaa-4bbb-8ccc-000000000002")));
        assert!(!Token::new(RAW).matches(&Token::new("0b1d")));
        assert_eq!(Token::new(RAW).hashed().len(), 64);
    }
}
