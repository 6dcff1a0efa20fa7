//! Layers built in memory for unit tests.

use std::io::Write;

/// One tar entry.
pub(crate) enum Item<'a> {
    File(&'a str, &'a [u8]),
    /// A regular file with execute bits.
    Exec(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Dir(&'a str),
}

fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    // Written raw so that hostile names (`../x`) can be built; `set_path` refuses them.
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

/// A tar with end-of-archive blocks.
pub(crate) fn tar(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        match item {
            Item::File(name, data) => b
                .append(
                    &header(name, tar::EntryType::Regular, data.len() as u64),
                    *data,
                )
                .unwrap(),
            Item::Exec(name, data) => {
                let mut h = header(name, tar::EntryType::Regular, data.len() as u64);
                h.set_mode(0o755);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            Item::Dir(name) => b
                .append(&header(name, tar::EntryType::Directory, 0), &[][..])
                .unwrap(),
            Item::Symlink(name, target) => {
                let mut h = header(name, tar::EntryType::Symlink, 0);
                h.set_link_name(target).unwrap();
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// gzip of `data`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Flips one to `max_flips` bytes of `bytes` (to 0, 0xff, the next value or a random one) and,
/// when `cut`, truncates it at a random point.
pub(crate) fn mutate(bytes: &mut Vec<u8>, rng: &mut fastrand::Rng, max_flips: usize, cut: bool) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..rng.usize(1..=max_flips) {
        let at = rng.usize(..bytes.len());
        bytes[at] = match rng.u8(..4) {
            0 => 0,
            1 => 0xff,
            2 => bytes[at].wrapping_add(1),
            _ => rng.u8(..),
        };
    }
    if cut {
        bytes.truncate(rng.usize(..bytes.len()));
    }
}
