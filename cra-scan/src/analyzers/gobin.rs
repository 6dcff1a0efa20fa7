//! Go modules compiled into ELF binaries, from the build info the Go linker embeds.
//!
//! - Files: any executable regular file; only ELF files (checked by magic on read) are parsed, so
//!   binaries are found wherever they are, not by path.
//! - Finds the build info in the `.go.buildinfo` section (else the first writable, non-executable
//!   loadable segment), at a 16-byte-aligned `\xff Go buildinf:` magic. Reads both the inline
//!   format (Go ≥ 1.18: two length-prefixed strings) and the older pointer format (Go < 1.18:
//!   pointers to string headers, translated through the sections' virtual addresses, in either
//!   byte order and pointer size).
//! - Ecosystem: `golang`; purl type `golang`, module path split into namespace and name; the
//!   purl is lowercased as the purl specification's golang type requires
//!   (`pkg:golang/github.com/burntsushi/toml@v1.3.2`), the package name keeps the module's case.
//! - Reports the main module (version `(devel)` when the binary was built from a checkout) and
//!   every `dep` line, with `=>` replacements applied (a replacement by a local path keeps the
//!   original module and version); the Go toolchain is reported as module `stdlib` with the Go
//!   version (`go1.22.3` → `v1.22.3`), as other scanners do, so toolchain vulnerabilities match.
//! - Known gaps: Mach-O and PE binaries; package-level names from `.gopclntab`; binaries packed
//!   with UPX (the build info is compressed).

use cra_core::{Ecosystem, Package};
use object::{Object, ObjectSection, ObjectSegment, ReadRef, SegmentFlags};

use super::elf::{self, Elf};
use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// ELF `PF_X` and `PF_W` segment flags.
const PF_X: u32 = 1;
const PF_W: u32 = 2;

/// The Go build-info analyzer.
#[derive(Debug, Default)]
pub struct GoBinaryAnalyzer;

impl Analyzer for GoBinaryAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Go
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        512 * 1024 * 1024
    }

    fn wants(&self, _path: &str, meta: &FileMeta) -> bool {
        meta.is_executable() && meta.size > 64
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let info = match elf::load(&mut input)? {
            None => None,
            Some(Elf::Memory(bytes)) => build_info(&bytes[..]),
            Some(Elf::File(cache)) => build_info(&cache),
        };
        let Some((go_version, modinfo)) = info else {
            return Ok(Findings::default());
        };
        Ok(Findings {
            packages: packages(&go_version, &modinfo, input.path),
            ..Findings::default()
        })
    }
}

/// Where the build info blob may be: the section, else the first writable data segment.
fn candidate_region<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> Option<(u64, &'a [u8])> {
    if let Some(section) = file.section_by_name(".go.buildinfo") {
        return Some((section.address(), section.data().ok()?));
    }
    file.segments()
        .find(|s| match s.flags() {
            SegmentFlags::Elf { p_flags } => p_flags & PF_W != 0 && p_flags & PF_X == 0,
            _ => false,
        })
        .and_then(|s| Some((s.address(), s.data().ok()?)))
}

/// Returns the Go version and the module info text of a Go ELF binary.
pub(crate) fn build_info<'a, R: ReadRef<'a>>(data: R) -> Option<(String, String)> {
    // The common case (Go ≥ 1.18, section present) reads only the section headers and the
    // section, not the symbol tables that a full parse would load.
    let (version, modinfo) = match elf::section(data, b".go.buildinfo")
        .and_then(find_header)
        .and_then(inline_strings)
    {
        Some(found) => found,
        None => {
            let file = object::File::parse(data).ok()?;
            let (_addr, region) = candidate_region(&file)?;
            let header = find_header(region)?;
            match inline_strings(header) {
                Some(found) => found,
                None => pointed_strings(&file, header)?,
            }
        }
    };
    Some((
        String::from_utf8_lossy(&version).into_owned(),
        strip_sentinels(&modinfo),
    ))
}

/// The build info header: the magic at a 16-byte boundary in the first 64 KiB of `region`.
fn find_header(region: &[u8]) -> Option<&[u8]> {
    let window = &region[..region.len().min(64 * 1024)];
    let start = (0..window.len())
        .step_by(16)
        .find(|&i| window[i..].starts_with(MAGIC) && window.len() - i >= 32)?;
    Some(&region[start..])
}

/// Go ≥ 1.18: the version and module info follow the header as length-prefixed strings.
fn inline_strings(header: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if header[15] & 0x02 == 0 {
        return None;
    }
    let (version, used) = varint_bytes(header.get(32..)?)?;
    let (modinfo, _) = varint_bytes(header.get(32 + used..)?)?;
    Some((version.to_vec(), modinfo.to_vec()))
}

/// Go < 1.18: the header points at string headers elsewhere in the binary.
fn pointed_strings<'a, R: ReadRef<'a>>(
    file: &object::File<'a, R>,
    header: &[u8],
) -> Option<(Vec<u8>, Vec<u8>)> {
    let ptr_size = usize::from(header[14]);
    if ptr_size != 4 && ptr_size != 8 {
        return None;
    }
    let big = header[15] & 0x01 != 0;
    let version_ptr = read_ptr(header.get(16..16 + ptr_size)?, big);
    let modinfo_ptr = read_ptr(header.get(16 + ptr_size..16 + 2 * ptr_size)?, big);
    let version = go_string(file, version_ptr, ptr_size, big)?;
    let modinfo = go_string(file, modinfo_ptr, ptr_size, big).unwrap_or_default();
    Some((version, modinfo))
}

fn read_ptr(bytes: &[u8], big: bool) -> u64 {
    let mut buf = [0u8; 8];
    if big {
        buf[8 - bytes.len()..].copy_from_slice(bytes);
        u64::from_be_bytes(buf)
    } else {
        buf[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(buf)
    }
}

/// Bytes at a virtual address, through the section that maps it.
fn read_at<'a, R: ReadRef<'a>>(
    file: &object::File<'a, R>,
    addr: u64,
    len: u64,
) -> Option<&'a [u8]> {
    for section in file.sections() {
        let (start, size) = (section.address(), section.size());
        if addr >= start && addr.checked_add(len)? <= start.checked_add(size)? {
            let data = section.data().ok()?;
            let from = usize::try_from(addr - start).ok()?;
            let to = from.checked_add(usize::try_from(len).ok()?)?;
            return data.get(from..to);
        }
    }
    None
}

/// A Go string header `{data pointer, length}` at `addr`, and the bytes it points to.
fn go_string<'a, R: ReadRef<'a>>(
    file: &object::File<'a, R>,
    addr: u64,
    ptr_size: usize,
    big: bool,
) -> Option<Vec<u8>> {
    let header = read_at(file, addr, 2 * ptr_size as u64)?;
    let data = read_ptr(&header[..ptr_size], big);
    let len = read_ptr(&header[ptr_size..], big);
    if len > 1 << 24 {
        return None;
    }
    Some(read_at(file, data, len)?.to_vec())
}

/// An unsigned LEB128 length followed by that many bytes.
fn varint_bytes(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut used = 0;
    loop {
        let b = *bytes.get(used)?;
        used += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 56 {
            return None;
        }
    }
    let len = usize::try_from(len).ok()?;
    let s = bytes.get(used..used.checked_add(len)?)?;
    Some((s, used + len))
}

/// Module info is framed by 16-byte sentinels when present.
fn strip_sentinels(b: &[u8]) -> String {
    if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        String::from_utf8_lossy(&b[16..b.len() - 16]).into_owned()
    } else {
        String::new()
    }
}

fn module_purl(path: &str, version: &str) -> String {
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, path),
    };
    purl::simple("golang", namespace, name, version)
}

/// Packages from the module info: main module, dependencies (replacements applied), stdlib.
pub(crate) fn packages(go_version: &str, modinfo: &str, path: &str) -> Vec<Package> {
    let mut mods: Vec<(String, String)> = Vec::new();
    let mut main: Option<(String, String)> = None;
    for line in modinfo.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod", module, version, ..] => main = Some(((*module).into(), (*version).into())),
            ["dep", module, version, ..] => mods.push(((*module).into(), (*version).into())),
            ["dep", module] => mods.push(((*module).into(), String::new())),
            ["=>", module, version, ..] => {
                if let Some(last) = mods.last_mut() {
                    *last = ((*module).into(), (*version).into());
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut push = |module: &str, version: &str| {
        let pkg = purl::new_package(
            Ecosystem::Golang,
            module,
            version,
            module_purl(module, version),
            path,
        );
        out.push(pkg);
    };
    if let Some((module, version)) = &main {
        push(module, version);
    }
    for (module, version) in &mods {
        push(module, version);
    }
    if let Some(v) = go_version.strip_prefix("go") {
        let v = v.split([' ', '-']).next().unwrap_or(v);
        if !v.is_empty() {
            push("stdlib", &format!("v{v}"));
        }
    }
    if let Some(main_pkg) = main.as_ref().and_then(|_| out.first_mut()) {
        main_pkg.dependencies = mods.iter().map(|(m, _)| m.clone()).collect();
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::analyzers::elf::testing::{elf64, WA};
    use std::io::Cursor;

    const MODINFO: &str = "path\texample.com/cmd/tool
mod\texample.com/cmd\tv1.4.0\th1:abc=
dep\tgithub.com/BurntSushi/toml\tv1.3.2\th1:x=
dep\tgolang.org/x/sys\tv0.12.0
=>\tgolang.org/x/sys\tv0.13.0\th1:y=
dep\texample.com/local\tv0.0.0
=>\t../local
build\t-compiler=gc
";

    fn framed(modinfo: &str) -> Vec<u8> {
        let mut v = vec![0x30u8; 16];
        v.extend_from_slice(modinfo.as_bytes());
        v.extend_from_slice(&[0xf9; 16]);
        v[16 + modinfo.len() - 1] = b'\n';
        v
    }

    fn varint(out: &mut Vec<u8>, mut n: usize) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }

    fn inline_binary() -> Vec<u8> {
        inline_binary_padded(0)
    }

    /// A Go ≥ 1.18 binary with `padding` more bytes of read-only data.
    pub(crate) fn inline_binary_padded(padding: usize) -> Vec<u8> {
        let mut info = MAGIC.to_vec();
        info.push(8);
        info.push(0x02);
        info.resize(32, 0);
        let version = b"go1.22.3";
        varint(&mut info, version.len());
        info.extend_from_slice(version);
        let modinfo = framed(MODINFO);
        varint(&mut info, modinfo.len());
        info.extend_from_slice(&modinfo);
        elf64(
            &[
                (".text", 0x401000, 6, &[0x90; 32]),
                (".rodata", 0x480000, 2, &vec![0; padding]),
                (".go.buildinfo", 0x500000, WA, &info),
            ],
            false,
        )
    }

    fn run(bytes: &[u8], mode: u32) -> Findings {
        let meta = FileMeta {
            size: bytes.len() as u64,
            mode,
        };
        if !GoBinaryAnalyzer.wants("/usr/bin/tool", &meta) {
            return Findings::default();
        }
        GoBinaryAnalyzer
            .analyze(AnalyzerInput {
                path: "/usr/bin/tool",
                meta,
                reader: &mut Cursor::new(bytes.to_vec()),
                spooled: None,
            })
            .unwrap()
    }

    #[test]
    fn inline_format() {
        let f = run(&inline_binary(), 0o755);
        let got: Vec<_> = f.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            got,
            [
                "pkg:golang/example.com/cmd@v1.4.0",
                "pkg:golang/github.com/burntsushi/toml@v1.3.2",
                "pkg:golang/golang.org/x/sys@v0.13.0",
                "pkg:golang/example.com/local@v0.0.0",
                "pkg:golang/stdlib@v1.22.3",
            ]
        );
        assert_eq!(f.packages[0].dependencies.len(), 3);
        assert_eq!(f.packages[1].name, "github.com/BurntSushi/toml");
        // Not executable: not wanted.
        assert!(run(&inline_binary(), 0o644).packages.is_empty());
        // A binary too large to keep in memory is read through a temporary file, same result.
        let large = run(&inline_binary_padded(elf::IN_MEMORY as usize), 0o755);
        assert_eq!(large, f);
    }

    /// Go < 1.18: the header holds pointers to string headers elsewhere in the binary.
    #[test]
    fn pointer_format_both_byte_orders() {
        for big in [false, true] {
            let enc = |v: u64| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let modinfo = framed(MODINFO);
            let version = b"go1.16.15";
            let base = 0x600000u64;
            // .rodata: version bytes at +0, modinfo at +64, string headers at +0x1000.
            let mut rodata = vec![0u8; 0x1000 + 32];
            rodata[..version.len()].copy_from_slice(version);
            rodata[64..64 + modinfo.len()].copy_from_slice(&modinfo);
            rodata[0x1000..0x1008].copy_from_slice(&enc(base));
            rodata[0x1008..0x1010].copy_from_slice(&enc(version.len() as u64));
            rodata[0x1010..0x1018].copy_from_slice(&enc(base + 64));
            rodata[0x1018..0x1020].copy_from_slice(&enc(modinfo.len() as u64));
            let mut info = MAGIC.to_vec();
            info.push(8);
            info.push(u8::from(big));
            info.extend_from_slice(&enc(base + 0x1000));
            info.extend_from_slice(&enc(base + 0x1010));
            let bin = elf64(
                &[
                    (".rodata", base, 2, &rodata),
                    (".go.buildinfo", 0x700000, WA, &info),
                ],
                big,
            );
            let (v, m) = build_info(&bin[..]).unwrap();
            assert_eq!(v, "go1.16.15");
            assert!(m.starts_with("path\texample.com/cmd/tool"));
            let f = run(&bin, 0o755);
            assert_eq!(
                f.packages.last().unwrap().purl,
                "pkg:golang/stdlib@v1.16.15"
            );
            assert_eq!(f.packages.len(), 5);
        }
    }

    #[test]
    fn non_go_and_hostile_inputs() {
        assert!(run(
            b"#!/bin/sh\necho hello world, this is long enough to be wanted ok\n",
            0o755
        )
        .packages
        .is_empty());
        let plain = elf64(&[(".text", 0x1000, 6, &[0xc3; 100])], false);
        assert!(run(&plain, 0o755).packages.is_empty());
        let good = inline_binary();
        let mut state = 0xDEAD_BEEF_1234_5678u64;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut m = good.clone();
            let at = (state as usize) % m.len();
            m[at] = (state >> 24) as u8;
            let _ = build_info(&m[..]);
        }
        assert_eq!(strip_sentinels(b"short"), "");
    }
}
