//! Berkeley DB hash `Packages` (RHEL/CentOS ≤ 8, Amazon Linux 2, older Fedora and SUSE).
//!
//! Page 0 is the hash metadata page (byte order of the creating host, told by the magic
//! `0x00061561` at offset 12); pages 1..=`last_pgno` are walked in order. Hash pages (types 13 and
//! 2) hold key/value item offsets; rpm stores each header as an off-page item whose bytes are a
//! chain of overflow pages (type 7). Every page number, offset and length is checked, and chains
//! are bounded by the page count, so cycles and hostile numbers end in an error or a skip.
//! Inline (`H_KEYDATA`) values are not read: rpm stores headers off-page.

use std::fmt;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_OFFPAGE: u8 = 3;

/// The byte order of a Berkeley DB file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Little,
    Big,
}

/// Why a Berkeley DB file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BdbError {
    /// Not a hash database, encrypted, or an impossible page size.
    BadMeta(&'static str),
}

impl fmt::Display for BdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BdbError::BadMeta(why) => write!(f, "berkeley db metadata: {why}"),
        }
    }
}

fn u32_at(bytes: &[u8], at: usize, order: Order) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(match order {
        Order::Little => u32::from_le_bytes(b),
        Order::Big => u32::from_be_bytes(b),
    })
}

fn u16_at(bytes: &[u8], at: usize, order: Order) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(match order {
        Order::Little => u16::from_le_bytes(b),
        Order::Big => u16::from_be_bytes(b),
    })
}

/// The byte order, if the file carries the hash magic.
pub(crate) fn byte_order(bytes: &[u8]) -> Option<Order> {
    [Order::Little, Order::Big]
        .into_iter()
        .find(|&o| u32_at(bytes, 12, o) == Some(HASH_MAGIC))
}

/// Returns every off-page value (rpm header blob) of the database, in page order.
pub(crate) fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, BdbError> {
    let order = byte_order(bytes).ok_or(BdbError::BadMeta("no hash magic"))?;
    let page_size = u32_at(bytes, 20, order).ok_or(BdbError::BadMeta("truncated"))? as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(BdbError::BadMeta("page size"));
    }
    if bytes.get(24) != Some(&0) {
        return Err(BdbError::BadMeta("encrypted"));
    }
    if bytes.get(25) != Some(&P_HASHMETA) {
        return Err(BdbError::BadMeta("not a hash database"));
    }
    let last_pgno = u32_at(bytes, 32, order).ok_or(BdbError::BadMeta("truncated"))? as usize;
    let pages_in_file = bytes.len() / page_size;
    let last = last_pgno.min(pages_in_file.saturating_sub(1));
    let page = |pgno: usize| -> Option<&[u8]> {
        let start = pgno.checked_mul(page_size)?;
        bytes.get(start..start.checked_add(page_size)?)
    };
    let mut out = Vec::new();
    for pgno in 1..=last {
        let Some(p) = page(pgno) else { break };
        if !matches!(p[25], P_HASH | P_HASH_UNSORTED) {
            continue;
        }
        let entries = u16_at(p, 20, order).unwrap_or(0) as usize;
        // Items alternate key, value: take the values.
        for i in (1..entries).step_by(2) {
            let Some(off) = u16_at(p, PAGE_HEADER + 2 * i, order) else {
                break;
            };
            let off = off as usize;
            if p.get(off) != Some(&H_OFFPAGE) {
                continue;
            }
            let (Some(first), Some(total)) = (u32_at(p, off + 4, order), u32_at(p, off + 8, order))
            else {
                continue;
            };
            if let Some(blob) = overflow_chain(first as usize, total as usize, last, order, &page) {
                out.push(blob);
            }
        }
    }
    Ok(out)
}

/// Follows an overflow chain; `None` when it leaves the file, loops, or ends short.
fn overflow_chain<'a>(
    first: usize,
    total: usize,
    last: usize,
    order: Order,
    page: &impl Fn(usize) -> Option<&'a [u8]>,
) -> Option<Vec<u8>> {
    let mut blob = Vec::with_capacity(total.min(16 * 1024 * 1024));
    let mut pgno = first;
    let mut visited = std::collections::HashSet::new();
    // Each page is visited at most once: a cycle ends the walk.
    for _ in 0..=last {
        if pgno == 0 || pgno > last || !visited.insert(pgno) {
            return None;
        }
        let p = page(pgno)?;
        if p[25] != P_OVERFLOW {
            return None;
        }
        let used = u16_at(p, 22, order)? as usize;
        let chunk = p.get(PAGE_HEADER..PAGE_HEADER.checked_add(used)?)?;
        blob.extend_from_slice(chunk);
        if blob.len() >= total {
            blob.truncate(total);
            return Some(blob);
        }
        pgno = u32_at(p, 16, order)? as usize;
    }
    None
}

/// Writes Berkeley DB hash files for tests, in either byte order.
#[cfg(test)]
pub(crate) mod build {
    use super::*;

    /// One hash page holding every record as an off-page item, plus the overflow chains.
    pub(crate) fn hash_db(blobs: &[Vec<u8>], order: Order, page_size: usize) -> Vec<u8> {
        let put32 = |buf: &mut [u8], at: usize, v: u32| {
            let b = match order {
                Order::Little => v.to_le_bytes(),
                Order::Big => v.to_be_bytes(),
            };
            buf[at..at + 4].copy_from_slice(&b);
        };
        let put16 = |buf: &mut [u8], at: usize, v: u16| {
            let b = match order {
                Order::Little => v.to_le_bytes(),
                Order::Big => v.to_be_bytes(),
            };
            buf[at..at + 2].copy_from_slice(&b);
        };
        let room = page_size - PAGE_HEADER;
        let mut pages: Vec<Vec<u8>> = vec![vec![0; page_size], vec![0; page_size]];
        let mut items = Vec::new();
        for (i, blob) in blobs.iter().enumerate() {
            let first = pages.len();
            let chunks: Vec<&[u8]> = blob.chunks(room).collect();
            for (c, chunk) in chunks.iter().enumerate() {
                let mut p = vec![0; page_size];
                put32(&mut p, 8, pages.len() as u32);
                let next = if c + 1 < chunks.len() {
                    pages.len() + 1
                } else {
                    0
                };
                put32(&mut p, 16, next as u32);
                put16(&mut p, 22, chunk.len() as u16);
                p[25] = P_OVERFLOW;
                p[PAGE_HEADER..PAGE_HEADER + chunk.len()].copy_from_slice(chunk);
                pages.push(p);
            }
            items.push((i as u32 + 1, first as u32, blob.len() as u32));
        }
        // The hash page: key items (H_KEYDATA + 4-byte instance) and off-page value items.
        let hash = &mut pages[1];
        hash[25] = P_HASH;
        put32(hash, 8, 1);
        put16(hash, 20, (items.len() * 2) as u16);
        let mut top = page_size;
        for (n, (key, first, len)) in items.iter().enumerate() {
            top -= 5;
            hash[top] = 1;
            put32(hash, top + 1, *key);
            put16(hash, PAGE_HEADER + 4 * n, top as u16);
            top -= 12;
            hash[top] = H_OFFPAGE;
            put32(hash, top + 4, *first);
            put32(hash, top + 8, *len);
            put16(hash, PAGE_HEADER + 4 * n + 2, top as u16);
        }
        let last = pages.len() as u32 - 1;
        let meta = &mut pages[0];
        put32(meta, 12, HASH_MAGIC);
        put32(meta, 16, 9);
        put32(meta, 20, page_size as u32);
        meta[25] = P_HASHMETA;
        put32(meta, 32, last);
        pages.concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::rpm::tests::{assert_demo_packages, run, SQLITE_DB};

    #[test]
    fn both_byte_orders_and_page_sizes() {
        let real = crate::analyzers::rpm::sqlite::blobs(SQLITE_DB).unwrap();
        for order in [Order::Little, Order::Big] {
            for page_size in [512, 4096] {
                let db = build::hash_db(&real, order, page_size);
                assert_eq!(byte_order(&db), Some(order));
                assert_eq!(blobs(&db).unwrap(), real);
                let f = run("/var/lib/rpm/Packages", &db).unwrap();
                assert_demo_packages(&f);
            }
        }
    }

    #[test]
    fn hostile_files_end_without_panic() {
        let real = crate::analyzers::rpm::sqlite::blobs(SQLITE_DB).unwrap();
        let db = build::hash_db(&real, Order::Little, 512);
        // An overflow page pointing at itself: the chain is dropped, not followed forever.
        let mut cyclic = db.clone();
        let second_overflow = 3 * 512;
        cyclic[second_overflow + 16..second_overflow + 20].copy_from_slice(&3u32.to_le_bytes());
        assert!(blobs(&cyclic).unwrap().len() < real.len());
        // Bad page size, encryption, truncation.
        let mut bad = db.clone();
        bad[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(blobs(&bad).is_err());
        let mut enc = db.clone();
        enc[24] = 1;
        assert!(blobs(&enc).is_err());
        assert!(blobs(&db[..600]).unwrap().is_empty());
        // Byte mutations anywhere: results vary, panics do not.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut m = db.clone();
            let at = (state as usize) % m.len();
            m[at] = (state >> 32) as u8;
            let _ = blobs(&m);
        }
    }
}
