//! The stock broker's `DEBUG` variable, mapped onto `tracing` targets.

/// The patterns of `DEBUG`, separated by commas or spaces.
///
/// A pattern matches a target (`cra_broker::client::forward`) when its pieces between `*`s
/// occur in the target in order, so `*` matches everything, `broker` every target containing
/// `broker`, and `cra_scan*layer` the layer modules of cra-scan.
/// A pattern starting with `-` excludes what it matches, as in the stock broker.
///
/// ```
/// use cra_cli::logging::DebugPatterns;
///
/// let debug = DebugPatterns::parse("broker,-tunnel");
/// assert!(debug.matches("cra_broker::client"));
/// assert!(!debug.matches("cra_broker::server::tunnel"));
/// assert!(!debug.matches("cra_scan::pipeline"));
/// assert!(DebugPatterns::parse("*").matches("hyper::proto::h1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebugPatterns {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

/// One pattern, as the pieces between its `*`s (empty pieces dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(Vec<String>);

impl Pattern {
    fn parse(text: &str) -> Self {
        Pattern(
            text.split('*')
                .filter(|piece| !piece.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    fn matches(&self, target: &str) -> bool {
        let mut rest = target;
        for piece in &self.0 {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

impl DebugPatterns {
    /// Parses the value of `DEBUG`.
    pub fn parse(value: &str) -> Self {
        let mut patterns = Self::default();
        for word in value.split([',', ' ']).filter(|w| !w.is_empty()) {
            match word.strip_prefix('-') {
                Some(excluded) if !excluded.is_empty() => {
                    patterns.exclude.push(Pattern::parse(excluded))
                }
                Some(_) => {}
                None => patterns.include.push(Pattern::parse(word)),
            }
        }
        patterns
    }

    /// Whether no target is turned on.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty()
    }

    /// Whether `target` logs at debug level.
    pub fn matches(&self, target: &str) -> bool {
        self.include.iter().any(|p| p.matches(target))
            && !self.exclude.iter().any(|p| p.matches(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_matches_nothing() {
        let none = DebugPatterns::parse("");
        assert!(none.is_empty());
        assert!(!none.matches("cra_cli"));
        assert!(DebugPatterns::parse(" , -x").is_empty());
    }

    #[test]
    fn star_matches_everything() {
        let all = DebugPatterns::parse("*");
        assert!(all.matches("cra_cli::agent") && all.matches("h2"));
    }

    #[test]
    fn stock_style_namespaces_match_our_targets() {
        // The stock broker's namespaces look like `snyk:broker:client`; `broker*` is a common value.
        let p = DebugPatterns::parse("broker*");
        assert!(p.matches("cra_broker::client::forward"));
        assert!(!p.matches("cra_scan::pipeline"));
    }

    #[test]
    fn pieces_match_in_order() {
        let p = DebugPatterns::parse("cra_scan*layer");
        assert!(p.matches("cra_scan::layer::walk"));
        assert!(!p.matches("cra_layer::cra_scan"));
    }

    #[test]
    fn several_patterns_and_exclusions() {
        let p = DebugPatterns::parse("registries agent,-ecr");
        assert!(p.matches("cra_registries::distribution"));
        assert!(p.matches("cra_cli::agent::routes"));
        assert!(!p.matches("cra_registries::adapters::ecr"));
        assert!(!p.matches("cra_scan"));
    }
}
