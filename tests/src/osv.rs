//! OSV archives for the vulnerability tests: the fixture records packed as the OSV bucket lays
//! them out (`<Ecosystem>/all.zip`).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of fixture records, one sub-folder per OSV ecosystem.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/osv")
}

/// A zip of `(name, content)` entries, deflated.
pub fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in entries {
            w.start_file(name.as_str(), opts).expect("zip entry");
            w.write_all(content).expect("zip write");
        }
        w.finish().expect("zip finish");
    }
    out.into_inner()
}

/// The fixture records of one ecosystem as an `all.zip`.
pub fn fixture_zip(ecosystem: &str) -> Vec<u8> {
    let dir = fixtures().join(ecosystem);
    let mut entries = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        entries.push((name, std::fs::read(&path).expect("fixture")));
    }
    zip_of(&entries)
}

/// Writes a mirror directory (`<dir>/<Ecosystem>/all.zip`) of the named fixture ecosystems.
pub fn write_mirror(dir: &Path, ecosystems: &[&str]) {
    for e in ecosystems {
        let d = dir.join(e);
        std::fs::create_dir_all(&d).expect("mirror folder");
        std::fs::write(d.join("all.zip"), fixture_zip(e)).expect("all.zip");
    }
}
