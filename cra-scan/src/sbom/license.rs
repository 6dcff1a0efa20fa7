//! License strings as SBOMs need them: a valid SPDX expression, or free text.
//!
//! Package databases record licenses as free text (`BSD`, `LGPL`, `GPLv2+`, whole license
//! texts).
//! A string is an expression when the `spdx` crate parses it strictly (identifiers from the SPDX
//! license list, in their exact case, joined by `AND`, `OR`, `WITH` and parentheses) and it names
//! no `LicenseRef-` of its own (operators written in lower case are upper-cased, as the
//! specification spells them); anything else is text, which SPDX documents carry as a
//! `LicenseRef-<sanitised>` with the text in `hasExtractedLicensingInfos`.

use std::collections::BTreeMap;

use spdx::expression::{ExprNode, Operator};
use spdx::{Expression, LicenseItem, ParseMode};

/// What a recorded license string is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum License {
    /// A valid SPDX license expression, operators in upper case.
    Expression(String),
    /// Anything else, trimmed.
    Text(String),
}

impl License {
    /// Classifies a recorded license string; `None` for an empty one.
    pub(super) fn parse(recorded: &str) -> Option<License> {
        let text = recorded.trim();
        if text.is_empty() {
            return None;
        }
        let normalised = upper_case_operators(text);
        Some(if is_expression(&normalised) {
            License::Expression(normalised)
        } else {
            License::Text(text.to_owned())
        })
    }
}

/// `and`, `or` and `with` as whole words become `AND`, `OR` and `WITH`.
fn upper_case_operators(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.as_str() {
            "and" | "or" | "with" => out.push_str(&word.to_uppercase()),
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || c == '(' || c == ')' {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_expression(text: &str) -> bool {
    let Ok(expr) = Expression::parse_mode(text, ParseMode::STRICT) else {
        return false;
    };
    let only_listed = expr.iter().all(|node| match node {
        ExprNode::Req(req) => matches!(req.req.license, LicenseItem::Spdx { .. }),
        ExprNode::Op(Operator::And | Operator::Or) => true,
    });
    only_listed && !text.contains("LicenseRef-") && !text.contains("DocumentRef-")
}

/// Letters, digits, `.` and `-` kept, anything else `-`, at most 64 characters.
fn sanitise(text: &str) -> String {
    let mut id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if id.trim_matches('-').is_empty() {
        id = "unknown".into();
    }
    id
}

/// The `LicenseRef-` ids of free-text licenses, one per distinct text.
#[derive(Debug, Default)]
pub(super) struct LicenseRefs {
    by_text: BTreeMap<String, String>,
    taken: BTreeMap<String, String>,
}

impl LicenseRefs {
    /// The id for `text`: `LicenseRef-<sanitised>`, with `-<n>` appended when another text
    /// sanitises to the same id.
    pub(super) fn id_for(&mut self, text: &str) -> String {
        if let Some(id) = self.by_text.get(text) {
            return id.clone();
        }
        let base = format!("LicenseRef-{}", sanitise(text));
        let mut id = base.clone();
        let mut n = 2;
        while self.taken.contains_key(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.taken.insert(id.clone(), text.to_owned());
        self.by_text.insert(text.to_owned(), id.clone());
        id
    }

    /// Every id with its text, ordered by id.
    pub(super) fn into_extracted(self) -> impl Iterator<Item = (String, String)> {
        self.taken.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_and_text() {
        for valid in [
            "MIT",
            "(MIT OR Apache-2.0) AND BSD-3-Clause",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            " Apache-2.0 ",
        ] {
            assert_eq!(
                License::parse(valid),
                Some(License::Expression(valid.trim().into())),
                "{valid}"
            );
        }
        for text in [
            "BSD",
            "LGPL",
            "BSD License",
            "GPLv2, see COPYING",
            "mit",
            "LicenseRef-mine",
            "MIT AND",
        ] {
            assert_eq!(
                License::parse(text),
                Some(License::Text(text.into())),
                "{text}"
            );
        }
        assert_eq!(
            License::parse("(MIT or Apache-2.0) and Zlib"),
            Some(License::Expression("(MIT OR Apache-2.0) AND Zlib".into()))
        );
        assert_eq!(License::parse("  "), None);
    }

    #[test]
    fn refs_are_sanitised_unique_and_stable() {
        let mut refs = LicenseRefs::default();
        assert_eq!(refs.id_for("BSD License"), "LicenseRef-BSD-License");
        assert_eq!(refs.id_for("BSD/License"), "LicenseRef-BSD-License-2");
        assert_eq!(refs.id_for("BSD License"), "LicenseRef-BSD-License");
        assert_eq!(refs.id_for("©"), "LicenseRef-unknown");
        assert_eq!(
            refs.id_for(&"x".repeat(200)).len(),
            "LicenseRef-".len() + 64
        );
        let extracted: Vec<_> = refs.into_extracted().collect();
        assert_eq!(extracted.len(), 4);
        assert_eq!(
            extracted[0],
            ("LicenseRef-BSD-License".into(), "BSD License".into())
        );
    }
}
