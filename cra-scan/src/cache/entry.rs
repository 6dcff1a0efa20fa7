//! The on-disk form of one cache entry: a header naming the format and the sha256 of the payload,
//! then the payload.
//!
//! ```text
//!  cra-cache <FORMAT_VERSION>\n
//!  <64 hex digits: sha256 of the payload>\n
//!  <payload>
//! ```
//!
//! A file that is cut short, has a flipped bit or was written by another format version fails
//! [`decode`], and the cache then discards it.

use sha2::{Digest as _, Sha256};

use super::FORMAT_VERSION;

const MAGIC: &str = "cra-cache";

/// Why an entry's bytes were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The header is missing or malformed.
    #[error("cache entry header is malformed")]
    Header,
    /// The entry was written by another format version.
    #[error("cache entry has format version {found}, expected {FORMAT_VERSION}")]
    Version {
        /// The version in the header.
        found: String,
    },
    /// The payload does not hash to the header's checksum (truncated or corrupt).
    #[error("cache entry payload does not match its checksum")]
    Checksum,
}

/// Frames `payload` with its header.
pub(super) fn encode(payload: &[u8]) -> Vec<u8> {
    let sum = hex::encode(Sha256::digest(payload));
    let mut out = Vec::with_capacity(payload.len() + 96);
    out.extend_from_slice(format!("{MAGIC} {FORMAT_VERSION}\n{sum}\n").as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks the header and checksum and returns the payload.
pub(super) fn decode(bytes: &[u8]) -> Result<&[u8], EntryError> {
    let (first, rest) = split_line(bytes).ok_or(EntryError::Header)?;
    let version = first
        .strip_prefix(MAGIC.as_bytes())
        .and_then(|v| v.strip_prefix(b" "))
        .ok_or(EntryError::Header)?;
    if version != FORMAT_VERSION.to_string().as_bytes() {
        return Err(EntryError::Version {
            found: String::from_utf8_lossy(version).into_owned(),
        });
    }
    let (sum, payload) = split_line(rest).ok_or(EntryError::Header)?;
    let expected = hex::decode(sum).map_err(|_| EntryError::Header)?;
    if expected.as_slice() != Sha256::digest(payload).as_slice() {
        return Err(EntryError::Checksum);
    }
    Ok(payload)
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().take(128).position(|&b| b == b'\n')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let payload = br#"{"files":{}}"#;
        let bytes = encode(payload);
        assert_eq!(decode(&bytes).unwrap(), payload);

        // Cut short anywhere: never accepted.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "accepted {len} bytes");
        }
        // One flipped bit anywhere in the payload: a checksum error.
        let start = bytes.len() - payload.len();
        for i in start..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            assert_eq!(decode(&damaged), Err(EntryError::Checksum), "byte {i}");
        }
        // Bytes appended: refused too.
        let mut longer = bytes.clone();
        longer.push(b' ');
        assert_eq!(decode(&longer), Err(EntryError::Checksum));
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let bytes = encode(b"x");
        let text = String::from_utf8(bytes).unwrap();
        let other = text.replacen(
            &format!("cra-cache {FORMAT_VERSION}"),
            &format!("cra-cache {}", FORMAT_VERSION + 1),
            1,
        );
        assert!(matches!(
            decode(other.as_bytes()),
            Err(EntryError::Version { .. })
        ));
        assert_eq!(decode(b"no header here"), Err(EntryError::Header));
        assert_eq!(decode(b"cra-cache 1\nnot-hex\nx"), Err(EntryError::Header));
        assert_eq!(decode(&[0xff; 300]), Err(EntryError::Header));
    }
}
