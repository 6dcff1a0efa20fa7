//! Synthetic images built in memory: tar layers (gzip, multi-member gzip, zstd or plain) with
//! real-format `os-release` and dpkg `status` content, configs, manifests and indexes, written
//! as an OCI layout, an oci-archive or a legacy docker-archive.

use std::io::Write;
use std::path::Path;

use cra_core::Digest;

/// One tar entry.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A regular file.
    File(String, Vec<u8>),
    /// A directory.
    Dir(String),
    /// A symlink and its target.
    Symlink(String, String),
}

impl Entry {
    /// A regular file.
    pub fn file(path: &str, content: impl AsRef<[u8]>) -> Entry {
        Entry::File(path.to_owned(), content.as_ref().to_vec())
    }

    /// A whiteout deleting `path` (`dir/.wh.name`).
    pub fn whiteout(path: &str) -> Entry {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let marker = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        Entry::File(marker, Vec::new())
    }

    /// An opaque-directory marker for `dir`.
    pub fn opaque(dir: &str) -> Entry {
        Entry::File(format!("{dir}/.wh..wh..opq"), Vec::new())
    }
}

fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    // Written raw so that hostile names (`../x`) can be built; `set_path` refuses them.
    let bytes = name.as_bytes();
    assert!(bytes.len() < 100, "test entry names stay short");
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h
}

/// A tar of `entries`, with its end-of-archive blocks.
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::File(name, data) => b
                .append(
                    &header(name, tar::EntryType::Regular, data.len() as u64),
                    &data[..],
                )
                .expect("append file"),
            Entry::Dir(name) => b
                .append(&header(name, tar::EntryType::Directory, 0), &[][..])
                .expect("append dir"),
            Entry::Symlink(name, target) => {
                let mut h = header(name, tar::EntryType::Symlink, 0);
                h.set_link_name(target).expect("link name");
                h.set_cksum();
                b.append(&h, &[][..]).expect("append link");
            }
        }
    }
    b.into_inner().expect("finish tar")
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// One gzip member.
    Gzip,
    /// Two gzip members, split in the middle of the tar.
    MultiGzip,
    /// zstd, two frames.
    Zstd,
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Compresses a tar.
pub fn compress(data: &[u8], c: Compression) -> Vec<u8> {
    let half = data.len() / 2;
    match c {
        Compression::None => data.to_vec(),
        Compression::Gzip => gzip(data),
        Compression::MultiGzip => {
            let mut out = gzip(&data[..half]);
            out.extend(gzip(&data[half..]));
            out
        }
        Compression::Zstd => {
            let mut out = zstd::encode_all(&data[..half], 3).expect("zstd");
            out.extend(zstd::encode_all(&data[half..], 3).expect("zstd"));
            out
        }
    }
}

/// A layer: its tar, its blob and its media type.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The uncompressed tar (its sha256 is the diff_id).
    pub tar: Vec<u8>,
    /// The blob as stored.
    pub blob: Vec<u8>,
    /// The declared media type.
    pub media_type: String,
}

impl Layer {
    /// A layer of `entries` compressed with `c`, with the matching OCI media type.
    pub fn new(entries: &[Entry], c: Compression) -> Layer {
        Layer::from_tar(tar(entries), c)
    }

    /// A layer from raw tar bytes (which may be deliberately broken).
    pub fn from_tar(tar: Vec<u8>, c: Compression) -> Layer {
        let media_type = match c {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip | Compression::MultiGzip => {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            }
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        };
        Layer {
            blob: compress(&tar, c),
            tar,
            media_type: media_type.to_owned(),
        }
    }

    /// The blob digest.
    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.blob)
    }

    /// The diff_id.
    pub fn diff_id(&self) -> Digest {
        Digest::sha256_of(&self.tar)
    }
}

/// An image: layers, config, manifest.
#[derive(Debug, Clone)]
pub struct Image {
    /// The layers, base first.
    pub layers: Vec<Layer>,
    /// The config bytes.
    pub config: Vec<u8>,
    /// The manifest bytes.
    pub manifest: Vec<u8>,
    /// The architecture in the config.
    pub arch: String,
}

impl Image {
    /// An image of `layers` for linux/`arch`, with diff_ids computed from the layers.
    pub fn new(arch: &str, layers: Vec<Layer>) -> Image {
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id().to_string()).collect();
        Image::with_diff_ids(arch, layers, diff_ids)
    }

    /// An image whose config lists `diff_ids` (which may be wrong on purpose).
    pub fn with_diff_ids(arch: &str, layers: Vec<Layer>, diff_ids: Vec<String>) -> Image {
        let config = serde_json::to_vec(&serde_json::json!({
            "created": "2024-11-01T00:00:00Z",
            "architecture": arch,
            "os": "linux",
            "config": { "Env": ["PATH=/usr/bin:/bin"], "Cmd": ["bash"] },
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        }))
        .expect("config json");
        let mut image = Image {
            layers,
            config,
            manifest: Vec::new(),
            arch: arch.to_owned(),
        };
        image.manifest = image.build_manifest();
        image
    }

    /// Rebuilds the manifest after layers or media types were changed.
    pub fn build_manifest(&self) -> Vec<u8> {
        let layers: Vec<serde_json::Value> = self
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "mediaType": l.media_type, "digest": l.digest().to_string(), "size": l.blob.len(),
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": Digest::sha256_of(&self.config).to_string(),
                "size": self.config.len(),
            },
            "layers": layers,
        }))
        .expect("manifest json")
    }

    /// The manifest digest.
    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.manifest)
    }

    /// The config digest (image id).
    pub fn config_digest(&self) -> Digest {
        Digest::sha256_of(&self.config)
    }

    /// Every blob of the image: config, layers, manifest.
    pub fn blobs(&self) -> Vec<Vec<u8>> {
        let mut all = vec![self.config.clone(), self.manifest.clone()];
        all.extend(self.layers.iter().map(|l| l.blob.clone()));
        all
    }
}

/// The files of an OCI layout holding `images`: each `(image, tag, platform)`; with
/// `as_index`, one index.json entry points at a nested index of all images.
pub fn oci_layout_files(
    images: &[(&Image, Option<&str>)],
    as_index: bool,
) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let add_blob = |files: &mut Vec<(String, Vec<u8>)>, bytes: &[u8]| {
        let d = Digest::sha256_of(bytes);
        let name = format!("blobs/sha256/{}", d.hex());
        if !files.iter().any(|(n, _)| *n == name) {
            files.push((name, bytes.to_vec()));
        }
        d
    };
    let mut entries = Vec::new();
    for (image, tag) in images {
        for blob in image.blobs() {
            add_blob(&mut files, &blob);
        }
        let mut entry = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.digest().to_string(),
            "size": image.manifest.len(),
        });
        if as_index {
            entry["platform"] = serde_json::json!({ "os": "linux", "architecture": image.arch });
        }
        if let Some(tag) = tag {
            entry["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": tag });
        }
        entries.push(entry);
    }
    let top = if as_index {
        let nested = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }))
        .expect("index json");
        let d = add_blob(&mut files, &nested);
        vec![serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": d.to_string(),
            "size": nested.len(),
            "annotations": { "org.opencontainers.image.ref.name": "multi" },
        })]
    } else {
        entries
    };
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": top,
    }))
    .expect("index json");
    files.push(("index.json".into(), index));
    files.push((
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    ));
    files
}

/// Writes `files` under `dir`.
pub fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
}

/// Writes `files` as a tar at `path`, names prefixed with `./` when `dot` is set.
pub fn write_tar(path: &Path, files: &[(String, Vec<u8>)], dot: bool) {
    let entries: Vec<Entry> = files
        .iter()
        .map(|(n, b)| Entry::File(if dot { format!("./{n}") } else { n.clone() }, b.clone()))
        .collect();
    std::fs::write(path, tar(&entries)).expect("write tar");
}

/// Writes an OCI layout directory.
pub fn write_oci_layout(dir: &Path, images: &[(&Image, Option<&str>)], as_index: bool) {
    write_dir(dir, &oci_layout_files(images, as_index));
}

/// Writes an oci-archive.
pub fn write_oci_archive(path: &Path, images: &[(&Image, Option<&str>)]) {
    write_tar(path, &oci_layout_files(images, false), true);
}

/// Writes a legacy `docker save` archive: uncompressed `<id>/layer.tar` files and
/// `manifest.json` last; a repeated layer is stored once and linked.
pub fn write_docker_archive(path: &Path, image: &Image, repo_tag: &str) {
    write_docker_archive_of(path, &[(image, repo_tag)]);
}

/// Writes a legacy `docker save` archive of several images (`docker save a b`), one
/// `manifest.json` entry each, in order.
pub fn write_docker_archive_of(path: &Path, images: &[(&Image, &str)]) {
    let mut entries = Vec::new();
    let mut stored: Vec<String> = Vec::new();
    let mut manifest = Vec::new();
    for (image, repo_tag) in images {
        let mut names: Vec<String> = Vec::new();
        for (i, layer) in image.layers.iter().enumerate() {
            let id = layer.diff_id().hex().to_owned();
            let name = format!("{id}/layer.tar");
            if names.contains(&name) {
                let alias = format!("{i:064x}/layer.tar");
                entries.push(Entry::Symlink(alias.clone(), format!("../{id}/layer.tar")));
                names.push(alias);
                continue;
            }
            names.push(name.clone());
            if stored.contains(&name) {
                continue;
            }
            entries.push(Entry::Dir(format!("{id}/")));
            entries.push(Entry::File(name.clone(), layer.tar.clone()));
            stored.push(name);
        }
        let config_name = format!("{}.json", image.config_digest().hex());
        entries.push(Entry::File(config_name.clone(), image.config.clone()));
        manifest.push(serde_json::json!({
            "Config": config_name, "RepoTags": [repo_tag], "Layers": names,
        }));
    }
    let manifest = serde_json::to_vec(&manifest).expect("manifest json");
    entries.push(Entry::File("manifest.json".into(), manifest));
    std::fs::write(path, tar(&entries)).expect("write docker archive");
}

/// A Debian os-release for `version` (`12`, `11`).
pub fn debian_os_release(version: &str, codename: &str) -> String {
    format!(
        "PRETTY_NAME=\"Debian GNU/Linux {version} ({codename})\"\nNAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"{version}\"\nVERSION=\"{version} ({codename})\"\nVERSION_CODENAME={codename}\n\
         ID=debian\nHOME_URL=\"https://www.debian.org/\"\n"
    )
}

/// A package for [`dpkg_status`].
#[derive(Debug, Clone)]
pub struct Deb<'a> {
    /// `Package`.
    pub name: &'a str,
    /// `Version`.
    pub version: &'a str,
    /// `Source`, with an optional version in parentheses.
    pub source: Option<&'a str>,
    /// `Status`.
    pub status: &'a str,
    /// `Depends`.
    pub depends: Option<&'a str>,
}

impl<'a> Deb<'a> {
    /// An installed package.
    pub fn installed(name: &'a str, version: &'a str) -> Deb<'a> {
        Deb {
            name,
            version,
            source: None,
            status: "install ok installed",
            depends: None,
        }
    }
}

/// A dpkg `status` file of `packages`, in the real format.
pub fn dpkg_status(packages: &[Deb<'_>]) -> String {
    let mut out = String::new();
    for p in packages {
        out.push_str(&format!(
            "Package: {}\nStatus: {}\nPriority: optional\nSection: libs\nInstalled-Size: 100\n\
             Maintainer: Debian Maintainers <maint@lists.debian.org>\nArchitecture: amd64\n",
            p.name, p.status
        ));
        if let Some(s) = p.source {
            out.push_str(&format!("Source: {s}\n"));
        }
        out.push_str(&format!("Version: {}\n", p.version));
        if let Some(d) = p.depends {
            out.push_str(&format!("Depends: {d}\n"));
        }
        out.push_str(&format!(
            "Description: the {} package\n a longer description\n .\n across lines\n\n",
            p.name
        ));
    }
    out
}
