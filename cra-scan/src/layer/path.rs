//! Tar entry names → normalised absolute paths inside the image.
//!
//! Names come as `./etc/passwd`, `etc/passwd`, `/etc/passwd`, with `//`, `.` components and
//! trailing slashes.
//! They normalise to `/etc/passwd`.
//! A name whose `..` components climb above the root is refused rather than clamped: such an
//! entry is hostile, and clamping would let it plant content at a path of its choosing.
//! Names with NUL or other control characters are refused too.

/// Why an entry name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The name climbs above the image root with `..`.
    #[error("entry {0:?} escapes the image root")]
    EscapesRoot(String),
    /// The name contains a control character.
    #[error("entry {0:?} contains a control character")]
    ControlCharacter(String),
}

/// Normalises a raw tar entry name to an absolute path (`/` for the root entry).
///
/// Non-UTF-8 bytes are replaced by U+FFFD; such names never match an analyzer's paths.
pub fn normalize(raw: &[u8]) -> Result<String, PathError> {
    let name = String::from_utf8_lossy(raw);
    if name.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter(name.into_owned()));
    }
    let mut parts: Vec<&str> = Vec::new();
    for component in name.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::EscapesRoot(name.into_owned()));
                }
            }
            other => parts.push(other),
        }
    }
    let mut out = String::with_capacity(name.len() + 1);
    for part in &parts {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// The parent directory of a normalised path (`/` for top-level entries and for the root).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Whether normalised `path` is `dir` itself or lies below it.
pub fn is_within(path: &str, dir: &str) -> bool {
    is_below(path, dir) || path == dir
}

/// Whether normalised `path` lies strictly below directory `dir`.
pub fn is_below(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return path != "/";
    }
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names() {
        for (raw, want) in [
            ("./etc/passwd", "/etc/passwd"),
            ("etc/passwd", "/etc/passwd"),
            ("/etc/passwd", "/etc/passwd"),
            ("etc//dpkg/./status", "/etc/dpkg/status"),
            ("var/lib/dpkg/", "/var/lib/dpkg"),
            ("./", "/"),
            (".", "/"),
            ("a/b/../c", "/a/c"),
            ("a/..", "/"),
        ] {
            assert_eq!(normalize(raw.as_bytes()).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn refuses_escapes_and_control_characters() {
        for raw in ["../etc/passwd", "./../x", "a/../../b", "/.."] {
            assert!(
                matches!(normalize(raw.as_bytes()), Err(PathError::EscapesRoot(_))),
                "{raw}"
            );
        }
        assert!(matches!(
            normalize(b"etc/pass\nwd"),
            Err(PathError::ControlCharacter(_))
        ));
        assert!(matches!(
            normalize(b"etc/\0x"),
            Err(PathError::ControlCharacter(_))
        ));
    }

    #[test]
    fn non_utf8_is_kept_lossy() {
        assert_eq!(normalize(b"etc/\xffx").unwrap(), "/etc/\u{fffd}x");
    }

    #[test]
    fn parents_and_containment() {
        assert_eq!(parent("/etc/os-release"), "/etc");
        assert_eq!(parent("/etc"), "/");
        assert!(is_below("/a/b", "/a"));
        assert!(!is_below("/ab", "/a"));
        assert!(!is_below("/a", "/a"));
        assert!(is_within("/a", "/a"));
        assert!(is_below("/x", "/"));
    }
}
