//! Text that came from untrusted sources (image content, registry answers), made safe to show.
//!
//! A tar entry name or a registry error message can hold ESC sequences that recolour or rewrite a
//! terminal, and line breaks that forge log lines.
//! [`escape_untrusted`] replaces every control character with a visible escape, so what is printed
//! is exactly one line of inert text; machine-readable outputs (JSON) keep the text unchanged.
//!
//! ```
//! use cra_core::text::escape_untrusted;
//!
//! assert_eq!(escape_untrusted("usr/bin/ls"), "usr/bin/ls");
//! assert_eq!(escape_untrusted("a\x1b[31m\nb"), "a\\x1b[31m\\nb");
//! assert_eq!(escape_untrusted("\u{9b}2J"), "\\u{9b}2J");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes the control characters of `text`: C0 controls (including ESC, CR, LF and TAB), DEL
/// and the C1 controls U+0080–U+009F.
///
/// `\n`, `\r` and `\t` become those two-character escapes, other C0 controls and DEL become
/// `\xNN`, and C1 controls become `\u{NN}`.
/// A backslash is left as it is, so the escaping is for display only, not reversible.
/// Text without control characters is returned borrowed, without copying.
pub fn escape_untrusted(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(char::is_control) else {
        return Cow::Borrowed(text);
    };
    let mut escaped = String::with_capacity(text.len() + 8);
    escaped.push_str(&text[..first]);
    for c in text[first..].chars() {
        push_escaped(&mut escaped, c);
    }
    Cow::Owned(escaped)
}

/// Appends `c` to `out`, escaped if it is a control character.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Writing to a String cannot fail.
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        let text = "usr/lib/python3/dist-packages/ünïcode→ok \\ back";
        assert!(matches!(escape_untrusted(text), Cow::Borrowed(t) if t == text));
        assert!(matches!(escape_untrusted(""), Cow::Borrowed("")));
    }

    #[test]
    fn line_breaks_and_tabs_become_visible() {
        assert_eq!(escape_untrusted("a\nb\rc\td"), "a\\nb\\rc\\td");
    }

    #[test]
    fn escape_sequences_lose_their_escape() {
        assert_eq!(escape_untrusted("\x1b]0;title\x07x"), "\\x1b]0;title\\x07x");
        assert_eq!(escape_untrusted("\x00\x01\x1f\x7f"), "\\x00\\x01\\x1f\\x7f");
    }

    #[test]
    fn c1_controls_are_escaped() {
        assert_eq!(
            escape_untrusted("\u{80}\u{9b}31m\u{9f}"),
            "\\u{80}\\u{9b}31m\\u{9f}"
        );
        // The first character after C1 is printable again.
        assert_eq!(escape_untrusted("\u{a0}"), "\u{a0}");
    }

    #[test]
    fn every_control_character_is_escaped_and_nothing_else() {
        for c in (0u32..0x250).filter_map(char::from_u32) {
            let escaped = escape_untrusted(c.encode_utf8(&mut [0; 4])).into_owned();
            if c.is_control() {
                assert!(escaped.starts_with('\\'), "{:x} -> {escaped}", c as u32);
                assert!(!escaped.chars().any(char::is_control), "{:x}", c as u32);
            } else {
                assert_eq!(escaped, c.to_string());
            }
        }
    }

    #[test]
    fn text_around_controls_is_kept() {
        assert_eq!(escape_untrusted("é\x1bé"), "é\\x1bé");
    }
}
