//! `META-INF/MANIFEST.MF`: `Key: value` lines of the main section, with 72-byte wrapping
//! (continuation lines start with one space).

use std::collections::HashMap;

/// The main section's attributes, keys as written.
pub(crate) fn main_section(text: &str) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break; // per-entry sections follow
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(value) = last.as_ref().and_then(|k| out.get_mut(k)) {
                value.push_str(cont);
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            let key = key.trim().to_owned();
            out.insert(key.clone(), value.trim().to_owned());
            last = Some(key);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_and_sections() {
        let mf = "Manifest-Version: 1.0\r\nImplementation-Title: commons-la\r\n ng3\r\nImplementation-Version: 3.14.0\r\n\r\nName: org/x/\r\nImplementation-Version: 9\r\n";
        let m = main_section(mf);
        assert_eq!(m["Implementation-Title"], "commons-lang3");
        assert_eq!(m["Implementation-Version"], "3.14.0");
        assert!(!m.contains_key("Name"));
    }
}
