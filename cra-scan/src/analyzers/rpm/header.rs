//! The rpm header blob, as stored for each installed package by every rpmdb backend.
//!
//! Layout (all integers big-endian): `u32 il`, `u32 dl`, `il` index entries of 16 bytes
//! (`i32 tag, u32 type, i32 offset, u32 count`), then `dl` bytes of data that entry offsets point
//! into. Every offset, count and length is checked against the data before use, so a hostile blob
//! gives a [`HeaderError`], never a panic, and every loop is bounded by the blob's size.
//! The region trailer machinery is not needed to read values and is not verified.

use std::fmt;

/// Entries beyond this are refused (rpm's own limit).
const MAX_ENTRIES: u32 = 0xffff;
/// Data stores beyond this are refused (rpm's own limit).
const MAX_DATA: u32 = 256 * 1024 * 1024;

const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Tags read by the analyzer (numbers from rpm's `rpmtag.h`).
pub(crate) mod tag {
    pub(crate) const NAME: i32 = 1000;
    pub(crate) const VERSION: i32 = 1001;
    pub(crate) const RELEASE: i32 = 1002;
    pub(crate) const EPOCH: i32 = 1003;
    pub(crate) const LICENSE: i32 = 1014;
    pub(crate) const ARCH: i32 = 1022;
    pub(crate) const SOURCERPM: i32 = 1044;
    pub(crate) const PROVIDENAME: i32 = 1047;
    pub(crate) const REQUIRENAME: i32 = 1049;
    pub(crate) const DIRINDEXES: i32 = 1116;
    pub(crate) const BASENAMES: i32 = 1117;
    pub(crate) const DIRNAMES: i32 = 1118;
}

/// Why a header blob cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Shorter than its own declared sizes.
    Truncated,
    /// Index entry count or data size outside rpm's limits.
    BadSizes { il: u32, dl: u32 },
    /// An index entry with an unknown type or an offset outside the data.
    BadEntry { index: usize },
    /// A value that does not fit its declared type (missing NUL, count past the data).
    BadValue { tag: i32 },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Truncated => f.write_str("header blob is truncated"),
            HeaderError::BadSizes { il, dl } => {
                write!(f, "header declares {il} entries and {dl} data bytes")
            }
            HeaderError::BadEntry { index } => write!(f, "header index entry {index} is invalid"),
            HeaderError::BadValue { tag } => write!(f, "header value of tag {tag} is invalid"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: i32,
    ty: u32,
    offset: usize,
    count: usize,
}

/// A parsed header: the index plus a view of the data store.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    entries: Vec<Entry>,
    data: &'a [u8],
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl<'a> Header<'a> {
    /// Parses and bounds-checks the index of a header blob.
    pub(crate) fn parse(blob: &'a [u8]) -> Result<Self, HeaderError> {
        let il = be_u32(blob, 0).ok_or(HeaderError::Truncated)?;
        let dl = be_u32(blob, 4).ok_or(HeaderError::Truncated)?;
        if il == 0 || il > MAX_ENTRIES || dl > MAX_DATA {
            return Err(HeaderError::BadSizes { il, dl });
        }
        let index_len = il as usize * 16;
        let data_start = 8 + index_len;
        let data_end = data_start + dl as usize;
        let data = blob
            .get(data_start..data_end)
            .ok_or(HeaderError::Truncated)?;
        let mut entries = Vec::with_capacity(il as usize);
        for i in 0..il as usize {
            let at = 8 + i * 16;
            let (Some(tag), Some(ty), Some(offset), Some(count)) = (
                be_u32(blob, at),
                be_u32(blob, at + 4),
                be_u32(blob, at + 8),
                be_u32(blob, at + 12),
            ) else {
                return Err(HeaderError::Truncated);
            };
            let tag = tag as i32;
            let offset = offset as i32;
            if ty > TYPE_I18NSTRING {
                return Err(HeaderError::BadEntry { index: i });
            }
            // Region tags (61–63) point at a trailer; their values are never read.
            if tag < 100 {
                continue;
            }
            if offset < 0
                || (offset as usize >= data.len() && !(count == 0 && offset as usize == data.len()))
            {
                return Err(HeaderError::BadEntry { index: i });
            }
            entries.push(Entry {
                tag,
                ty,
                offset: offset as usize,
                count: count as usize,
            });
        }
        Ok(Header { entries, data })
    }

    /// The last entry with this tag (later "dribble" entries override earlier ones).
    fn entry(&self, tag: i32) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.tag == tag)
    }

    /// Reads `count` NUL-terminated strings starting at `offset`.
    fn strings(&self, e: &Entry) -> Result<Vec<&'a str>, HeaderError> {
        let bad = HeaderError::BadValue { tag: e.tag };
        // Each string takes at least one byte, which bounds `count` by the data size.
        if e.count > self.data.len() {
            return Err(bad);
        }
        let mut out = Vec::with_capacity(e.count);
        let mut at = e.offset;
        for _ in 0..e.count {
            let rest = self.data.get(at..).ok_or_else(|| bad.clone())?;
            let len = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad.clone())?;
            out.push(std::str::from_utf8(&rest[..len]).unwrap_or(""));
            at += len + 1;
        }
        Ok(out)
    }

    /// A STRING, or the first of a STRING_ARRAY / I18NSTRING.
    pub(crate) fn string(&self, tag: i32) -> Result<Option<&'a str>, HeaderError> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        match e.ty {
            TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {
                let first = Entry { count: 1, ..*e };
                if e.count == 0 {
                    return Ok(None);
                }
                Ok(self.strings(&first)?.into_iter().next())
            }
            _ => Err(HeaderError::BadValue { tag }),
        }
    }

    /// A STRING_ARRAY (a single STRING is returned as one element).
    pub(crate) fn string_array(&self, tag: i32) -> Result<Vec<&'a str>, HeaderError> {
        match self.entry(tag) {
            None => Ok(Vec::new()),
            Some(e) if matches!(e.ty, TYPE_STRING_ARRAY | TYPE_I18NSTRING) => self.strings(e),
            Some(e) if e.ty == TYPE_STRING => self.strings(&Entry { count: 1, ..*e }),
            Some(_) => Err(HeaderError::BadValue { tag }),
        }
    }

    /// An INT32 array (INT16 values are widened).
    pub(crate) fn int32_array(&self, tag: i32) -> Result<Vec<u32>, HeaderError> {
        let Some(e) = self.entry(tag) else {
            return Ok(Vec::new());
        };
        let bad = HeaderError::BadValue { tag };
        let width = match e.ty {
            TYPE_INT32 => 4,
            TYPE_INT16 => 2,
            _ => return Err(bad),
        };
        let len = e.count.checked_mul(width).ok_or_else(|| bad.clone())?;
        let end = e.offset.checked_add(len).ok_or_else(|| bad.clone())?;
        let bytes = self.data.get(e.offset..end).ok_or(bad)?;
        Ok(bytes
            .chunks_exact(width)
            .map(|c| {
                if width == 4 {
                    u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                } else {
                    u32::from(u16::from_be_bytes([c[0], c[1]]))
                }
            })
            .collect())
    }

    /// The first INT32 value of a tag.
    pub(crate) fn int32(&self, tag: i32) -> Result<Option<u32>, HeaderError> {
        Ok(self.int32_array(tag)?.first().copied())
    }
}

/// Builds header blobs for tests, from (tag, value) pairs.
#[cfg(test)]
pub(crate) mod build {
    /// One value to put in a test header.
    pub(crate) enum Value<'a> {
        Str(&'a str),
        Strs(&'a [&'a str]),
        Int32(&'a [u32]),
    }

    /// Encodes a header blob with a HEADERIMMUTABLE region entry first, as rpm does.
    pub(crate) fn blob(values: &[(i32, Value<'_>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        let mut push = |tag: i32, ty: u32, offset: usize, count: usize| {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(offset as i32).to_be_bytes());
            index.extend_from_slice(&(count as u32).to_be_bytes());
        };
        for (tag, value) in values {
            match value {
                Value::Str(s) => {
                    push(*tag, 6, data.len(), 1);
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                }
                Value::Strs(items) => {
                    push(*tag, 8, data.len(), items.len());
                    for s in *items {
                        data.extend_from_slice(s.as_bytes());
                        data.push(0);
                    }
                }
                Value::Int32(items) => {
                    while data.len() % 4 != 0 {
                        data.push(0);
                    }
                    push(*tag, 4, data.len(), items.len());
                    for v in *items {
                        data.extend_from_slice(&v.to_be_bytes());
                    }
                }
            }
        }
        // Region trailer: an index entry with a negative offset.
        let il = values.len() + 1;
        let trailer_at = data.len();
        data.extend_from_slice(&63i32.to_be_bytes());
        data.extend_from_slice(&7u32.to_be_bytes());
        data.extend_from_slice(&(-(il as i32) * 16).to_be_bytes());
        data.extend_from_slice(&16u32.to_be_bytes());
        let mut blob = Vec::new();
        blob.extend_from_slice(&(il as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend_from_slice(&63i32.to_be_bytes());
        blob.extend_from_slice(&7u32.to_be_bytes());
        blob.extend_from_slice(&(trailer_at as i32).to_be_bytes());
        blob.extend_from_slice(&16u32.to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&data);
        blob
    }
}

#[cfg(test)]
mod tests {
    use super::build::{blob, Value};
    use super::*;

    fn sample() -> Vec<u8> {
        blob(&[
            (tag::NAME, Value::Str("openssl-libs")),
            (tag::VERSION, Value::Str("3.0.7")),
            (tag::RELEASE, Value::Str("18.el9")),
            (tag::EPOCH, Value::Int32(&[1])),
            (
                tag::PROVIDENAME,
                Value::Strs(&["libcrypto.so.3()(64bit)", "openssl-libs"]),
            ),
            (tag::DIRINDEXES, Value::Int32(&[0, 0])),
        ])
    }

    #[test]
    fn reads_typed_values() {
        let b = sample();
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(tag::NAME).unwrap(), Some("openssl-libs"));
        assert_eq!(h.int32(tag::EPOCH).unwrap(), Some(1));
        assert_eq!(h.string_array(tag::PROVIDENAME).unwrap().len(), 2);
        assert_eq!(h.string(tag::LICENSE).unwrap(), None);
        assert!(h.int32(tag::NAME).is_err());
    }

    #[test]
    fn rejects_bad_sizes_and_truncation() {
        assert_eq!(Header::parse(&[]).unwrap_err(), HeaderError::Truncated);
        let mut zero = vec![0u8; 8];
        assert!(matches!(
            Header::parse(&zero),
            Err(HeaderError::BadSizes { .. })
        ));
        zero[3] = 1;
        zero[4] = 0xff; // dl far beyond the blob
        assert!(Header::parse(&zero).is_err());
        let b = sample();
        assert_eq!(
            Header::parse(&b[..b.len() - 1]).unwrap_err(),
            HeaderError::Truncated
        );
    }

    /// Mutates a valid header many times: every result must be Ok or Err, never a panic or hang.
    #[test]
    fn survives_mutation() {
        let base = sample();
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..20_000 {
            let mut b = base.clone();
            crate::testutil::mutate(&mut b, &mut rng, 4, round % 7 == 0);
            if let Ok(h) = Header::parse(&b) {
                for t in [
                    tag::NAME,
                    tag::VERSION,
                    tag::EPOCH,
                    tag::PROVIDENAME,
                    tag::DIRINDEXES,
                ] {
                    let _ = h.string(t);
                    let _ = h.string_array(t);
                    let _ = h.int32_array(t);
                }
                let _ = super::super::package_from_header(&b, "/var/lib/rpm/Packages");
            }
        }
    }
}
