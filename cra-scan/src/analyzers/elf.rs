//! ELF files for the binary analyzers (`go`, `rust`), kept out of memory when they are large.
//!
//! A small executable is read into memory. A large one is read through a temporary file (the
//! walker's, when it spooled the entry for several analyzers, else one made here), and the
//! `object` parser then reads only the headers and sections it asks for, so memory stays flat
//! however large the binaries in an image are.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionHeader};
use object::read::ReadCache;
use object::{Endianness, FileKind, ReadRef};

use super::{AnalyzerError, AnalyzerInput};
use crate::spool;

const MAGIC: &[u8; 4] = b"\x7fELF";

/// Executables up to this size are read into memory.
pub(crate) const IN_MEMORY: u64 = 1024 * 1024;

/// An ELF file's bytes, in memory or in a file.
pub(crate) enum Elf {
    /// The whole file.
    Memory(Vec<u8>),
    /// A file read on demand.
    File(ReadCache<File>),
}

/// Reads the file behind `input` when it starts with the ELF magic; `None` for anything else.
pub(crate) fn load(input: &mut AnalyzerInput<'_>) -> Result<Option<Elf>, AnalyzerError> {
    let path = input.path;
    let io = |source| AnalyzerError::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match input.reader.read(&mut head[got..]) {
            Ok(0) => return Ok(None),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    if &head != MAGIC {
        return Ok(None);
    }
    if let Some(spooled) = input.spooled {
        let mut file = spooled.try_clone().map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        return Ok(Some(Elf::File(ReadCache::new(file))));
    }
    if input.meta.size <= IN_MEMORY {
        let mut bytes = head.to_vec();
        input.reader.read_to_end(&mut bytes).map_err(io)?;
        return Ok(Some(Elf::Memory(bytes)));
    }
    let (file, _) =
        spool::to_file((&head[..]).chain(&mut *input.reader)).map_err(|e| io(e.into_io()))?;
    Ok(Some(Elf::File(ReadCache::new(file))))
}

/// Writes small ELF64 files for tests: named sections at given virtual addresses.
/// The bytes of the section called `name`, found through the section headers alone: unlike a
/// full parse, this does not load the symbol tables, which are large in unstripped binaries.
pub(crate) fn section<'a, R: ReadRef<'a>>(data: R, name: &[u8]) -> Option<&'a [u8]> {
    match FileKind::parse(data).ok()? {
        FileKind::Elf32 => section_in::<FileHeader32<Endianness>, R>(data, name),
        FileKind::Elf64 => section_in::<FileHeader64<Endianness>, R>(data, name),
        _ => None,
    }
}

fn section_in<'a, H, R>(data: R, name: &[u8]) -> Option<&'a [u8]>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'a>,
{
    let header = H::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let (_, section) = sections.section_by_name(endian, name)?;
    section.data(endian, data).ok()
}

#[cfg(test)]
pub(crate) mod testing {
    /// (name, virtual address, flags, data)
    pub(crate) type Section<'a> = (&'a str, u64, u64, &'a [u8]);

    /// SHF_WRITE | SHF_ALLOC
    pub(crate) const WA: u64 = 3;

    pub(crate) fn elf64(sections: &[Section<'_>], big_endian: bool) -> Vec<u8> {
        type Encoders = (fn(u16) -> [u8; 2], fn(u32) -> [u8; 4], fn(u64) -> [u8; 8]);
        let (e16, e32, e64): Encoders = if big_endian {
            (u16::to_be_bytes, u32::to_be_bytes, u64::to_be_bytes)
        } else {
            (u16::to_le_bytes, u32::to_le_bytes, u64::to_le_bytes)
        };
        let mut shstrtab = vec![0u8];
        let mut names = Vec::new();
        for (name, ..) in sections.iter() {
            names.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(name.as_bytes());
            shstrtab.push(0);
        }
        let shstr_name = shstrtab.len() as u32;
        shstrtab.extend_from_slice(b".shstrtab\0");
        let mut body = vec![0u8; 64];
        let mut offsets = Vec::new();
        for (_, _, _, data) in sections {
            while !body.len().is_multiple_of(16) {
                body.push(0);
            }
            offsets.push(body.len() as u64);
            body.extend_from_slice(data);
        }
        let shstr_off = body.len() as u64;
        body.extend_from_slice(&shstrtab);
        while !body.len().is_multiple_of(8) {
            body.push(0);
        }
        let shoff = body.len() as u64;
        let shnum = sections.len() as u16 + 2;
        body.extend_from_slice(&[0u8; 64]); // null section
        let mut header = |name: u32, ty: u32, flags: u64, addr: u64, off: u64, size: u64| {
            let mut sh = Vec::new();
            sh.extend_from_slice(&e32(name));
            sh.extend_from_slice(&e32(ty));
            sh.extend_from_slice(&e64(flags));
            sh.extend_from_slice(&e64(addr));
            sh.extend_from_slice(&e64(off));
            sh.extend_from_slice(&e64(size));
            sh.extend_from_slice(&e32(0));
            sh.extend_from_slice(&e32(0));
            sh.extend_from_slice(&e64(1));
            sh.extend_from_slice(&e64(0));
            body.extend_from_slice(&sh);
        };
        for (i, (_, addr, flags, data)) in sections.iter().enumerate() {
            header(names[i], 1, *flags, *addr, offsets[i], data.len() as u64);
        }
        header(shstr_name, 3, 0, 0, shstr_off, shstrtab.len() as u64);
        let mut eh = Vec::new();
        eh.extend_from_slice(b"\x7fELF");
        eh.push(2); // 64-bit
        eh.push(if big_endian { 2 } else { 1 });
        eh.push(1);
        eh.extend_from_slice(&[0; 9]);
        eh.extend_from_slice(&e16(2)); // ET_EXEC
        eh.extend_from_slice(&e16(if big_endian { 22 } else { 62 }));
        eh.extend_from_slice(&e32(1));
        eh.extend_from_slice(&e64(0)); // entry
        eh.extend_from_slice(&e64(0)); // phoff
        eh.extend_from_slice(&e64(shoff));
        eh.extend_from_slice(&e32(0));
        eh.extend_from_slice(&e16(64));
        eh.extend_from_slice(&e16(56));
        eh.extend_from_slice(&e16(0));
        eh.extend_from_slice(&e16(64));
        eh.extend_from_slice(&e16(shnum));
        eh.extend_from_slice(&e16(shnum - 1));
        body[..64].copy_from_slice(&eh);
        body
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::analyzers::FileMeta;

    fn input<'a>(reader: &'a mut dyn Read, size: u64) -> AnalyzerInput<'a> {
        AnalyzerInput {
            path: "/bin/x",
            meta: FileMeta { size, mode: 0o755 },
            reader,
            spooled: None,
        }
    }

    #[test]
    fn small_files_stay_in_memory_large_ones_go_to_a_file() {
        let mut small: &[u8] = b"\x7fELF and the rest";
        let Some(Elf::Memory(bytes)) = load(&mut input(&mut small, 17)).unwrap() else {
            panic!("expected memory");
        };
        assert_eq!(bytes, b"\x7fELF and the rest");

        let big = [&MAGIC[..], &vec![7u8; 100][..]].concat();
        let mut reader: &[u8] = &big;
        let Some(Elf::File(cache)) = load(&mut input(&mut reader, IN_MEMORY + 1)).unwrap() else {
            panic!("expected a file");
        };
        let data = object::ReadRef::read_bytes_at(&cache, 0, 104).unwrap();
        assert_eq!(data, &big[..]);
    }

    #[test]
    fn other_files_are_not_read() {
        let mut reader: &[u8] = b"#!/bin/sh\necho hi\n";
        assert!(load(&mut input(&mut reader, 18)).unwrap().is_none());
        assert_eq!(reader, b"in/sh\necho hi\n");
        let mut short: &[u8] = b"\x7fE";
        assert!(load(&mut input(&mut short, 2)).unwrap().is_none());
    }
}
