//! Layer compression, detected by magic bytes rather than trusted from the media type.
//!
//! Archives often store layers uncompressed under a gzip media type (and the reverse), so the
//! first bytes decide: `1f 8b` is gzip (read with a multi-member decoder, because parallel
//! compressors emit several members), `28 b5 2f fd` is zstd (all frames, skippable ones included),
//! anything else is read as plain tar.
//! bzip2 and xz are recognised only to be refused with a clear error.
//!
//! The inflater is flate2 with its zlib-rs backend, which needs no system library.

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};

/// The compression of a layer blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip, possibly several concatenated members.
    Gzip,
    /// zstd, possibly several frames.
    Zstd,
    /// No compression: a plain tar stream (or an empty blob).
    None,
}

/// How many leading bytes [`Compression::detect`] looks at.
pub const MAGIC_LEN: usize = 6;

/// Compressions that layers may use but that we refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("layer is compressed with {0}, which is not supported")]
pub struct UnsupportedCompression(pub &'static str);

impl Compression {
    /// Detects the compression from the first bytes of a blob.
    pub fn detect(prefix: &[u8]) -> Result<Compression, UnsupportedCompression> {
        match prefix {
            [0x1f, 0x8b, ..] => Ok(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok(Compression::Zstd),
            [b'B', b'Z', b'h', ..] => Err(UnsupportedCompression("bzip2")),
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Err(UnsupportedCompression("xz")),
            _ => Ok(Compression::None),
        }
    }
}

/// Buffer size between the raw blob and the inflater.
const INPUT_BUFFER: usize = 128 * 1024;

type Sniffed<R> = Chain<Cursor<Vec<u8>>, R>;

/// A decompressing reader that hands its raw reader back with [`Decoder::into_inner`], so the
/// caller can drain the rest of the blob (trailers, padding) for its digest.
pub enum Decoder<R: Read> {
    /// gzip members.
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<Sniffed<R>>>>),
    /// zstd frames.
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<Sniffed<R>>>>),
    /// Plain bytes.
    Plain(Sniffed<R>),
}

impl<R: Read> std::fmt::Debug for Decoder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Gzip(_) => "Decoder::Gzip",
            Decoder::Zstd(_) => "Decoder::Zstd",
            Decoder::Plain(_) => "Decoder::Plain",
        })
    }
}

/// Why a decoder could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DecoderError {
    /// Reading the first bytes failed.
    #[error("cannot read the start of the layer")]
    Io(#[from] io::Error),
    /// The compression is one we refuse.
    #[error(transparent)]
    Unsupported(#[from] UnsupportedCompression),
}

impl<R: Read> Decoder<R> {
    /// Sniffs the first bytes of `raw` and wraps it in the matching decoder.
    pub fn new(mut raw: R) -> Result<Decoder<R>, DecoderError> {
        let mut prefix = vec![0u8; MAGIC_LEN];
        let mut filled = 0;
        while filled < MAGIC_LEN {
            match raw.read(&mut prefix[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        prefix.truncate(filled);
        let compression = Compression::detect(&prefix)?;
        let sniffed = Cursor::new(prefix).chain(raw);
        Ok(match compression {
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(
                BufReader::with_capacity(INPUT_BUFFER, sniffed),
            ))),
            Compression::Zstd => Decoder::Zstd(Box::new(zstd::stream::read::Decoder::with_buffer(
                BufReader::with_capacity(INPUT_BUFFER, sniffed),
            )?)),
            Compression::None => Decoder::Plain(sniffed),
        })
    }

    /// The detected compression.
    pub fn compression(&self) -> Compression {
        match self {
            Decoder::Gzip(_) => Compression::Gzip,
            Decoder::Zstd(_) => Compression::Zstd,
            Decoder::Plain(_) => Compression::None,
        }
    }

    /// The raw reader, positioned somewhere after what the decoder consumed (buffered bytes are
    /// dropped, which is fine for a reader that already hashed them).
    pub fn into_inner(self) -> R {
        let sniffed = match self {
            Decoder::Gzip(d) => d.into_inner().into_inner(),
            Decoder::Zstd(d) => d.finish().into_inner(),
            Decoder::Plain(s) => s,
        };
        sniffed.into_inner().1
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Plain(s) => s.read(buf),
        }
    }
}

/// Whether a buffered reader has nothing left (used to tell a clean end from trailing data).
pub fn at_eof<R: BufRead>(r: &mut R) -> io::Result<bool> {
    Ok(r.fill_buf()?.is_empty())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(blob: &[u8]) -> (Compression, Vec<u8>) {
        let mut d = Decoder::new(blob).unwrap();
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        (d.compression(), out)
    }

    #[test]
    fn detects_by_magic() {
        for (prefix, want) in [
            (&[0x1f, 0x8b, 0x08][..], Ok(Compression::Gzip)),
            (&[0x28, 0xb5, 0x2f, 0xfd], Ok(Compression::Zstd)),
            (b"ustar", Ok(Compression::None)),
            (b"", Ok(Compression::None)),
            (b"BZh91", Err(UnsupportedCompression("bzip2"))),
            (
                &[0xfd, b'7', b'z', b'X', b'Z', 0],
                Err(UnsupportedCompression("xz")),
            ),
        ] {
            assert_eq!(Compression::detect(prefix), want, "{prefix:?}");
        }
    }

    #[test]
    fn multi_member_gzip_is_read_to_the_end() {
        let mut blob = gzip(b"first member, ");
        blob.extend(gzip(b"second member"));
        let (c, out) = decode(&blob);
        assert_eq!(c, Compression::Gzip);
        assert_eq!(out, b"first member, second member");
    }

    #[test]
    fn zstd_with_several_frames() {
        let mut blob = zstd::encode_all(&b"frame one "[..], 3).unwrap();
        blob.extend(zstd::encode_all(&b"frame two"[..], 3).unwrap());
        let (c, out) = decode(&blob);
        assert_eq!(c, Compression::Zstd);
        assert_eq!(out, b"frame one frame two");
    }

    #[test]
    fn plain_and_empty_pass_through() {
        assert_eq!(decode(b"abc"), (Compression::None, b"abc".to_vec()));
        assert_eq!(decode(b""), (Compression::None, Vec::new()));
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let blob = gzip(&vec![7u8; 100_000]);
        let cut = &blob[..blob.len() / 2];
        let mut d = Decoder::new(cut).unwrap();
        let mut out = Vec::new();
        assert!(d.read_to_end(&mut out).is_err());
    }

    #[test]
    fn into_inner_returns_the_rest() {
        let mut blob = gzip(b"x");
        blob.extend(b"");
        let mut d = Decoder::new(&blob[..]).unwrap();
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        let mut rest = d.into_inner();
        let mut tail = Vec::new();
        rest.read_to_end(&mut tail).unwrap();
        assert!(tail.is_empty());
    }
}
