#!/usr/bin/env python3
"""Builds examples/images/tiny-debian, a small OCI image layout for `cra scan`.

Two gzip layers made from scratch, deterministic (fixed times, no host data):
layer 0 holds a Debian 12 os-release (with /etc/os-release as a relative symlink, as on
real Debian), /etc/debian_version and a dpkg status database of a few packages;
layer 1 installs two more packages (a new status file) and deletes a file with a whiteout.

Run from the repository root: python3 examples/images/make_tiny_debian.py
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny-debian")
MTIME = 1700000000

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

BASE_STATUS = """Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: debian-security-support (<< 2019.04.25), initscripts (<< 2.88dsf-13.3), sendfile (<< 2.1b.20080616-5.2~)
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files.

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u7
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: libgcc-s1
Protected: yes
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 140
Maintainer: Debian GCC Maintainers <debian-gcc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)
Description: GCC support library

Package: mawk
Status: install ok installed
Priority: required
Section: interpreters
Installed-Size: 263
Architecture: amd64
Multi-Arch: foreign
Version: 1.3.4.20200120-3.1
Provides: awk
Pre-Depends: libc6 (>= 2.34)
Description: Pattern scanning and text processing language

Package: libaudit1
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 153
Architecture: amd64
Multi-Arch: same
Source: audit
Version: 1:3.0.9-1
Depends: libaudit-common (>= 1:3.0.9-1), libc6 (>= 2.33), libcap-ng0 (>= 0.7.9)
Description: Dynamic library for security auditing

Package: bash
Essential: yes
Status: install ok installed
Priority: required
Section: shells
Installed-Size: 7175
Architecture: amd64
Multi-Arch: foreign
Version: 5.2.15-2+b7
Replaces: bash-completion (<< 20060301-0), bash-doc (<= 2.05-1)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Description: GNU Bourne Again SHell

Package: vim-tiny
Status: deinstall ok config-files
Priority: important
Section: editors
Architecture: amd64
Source: vim
Version: 2:9.0.1378-2
Description: Vi IMproved - enhanced vi editor - compact version
"""

ADDED_STATUS = """
Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6161
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.15-1~deb12u1
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Depends: libc6 (>= 2.14)
Provides: libz1
Description: compression library - runtime
"""


def info(name, kind=tarfile.REGTYPE, size=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mtime = MTIME
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.uname = ti.gname = "root"
    ti.linkname = link
    return ti


def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in entries:
            if content is None:
                tar.addfile(info(name, tarfile.DIRTYPE))
            elif isinstance(content, tuple):
                tar.addfile(info(name, tarfile.SYMTYPE, link=content[1]))
            else:
                data = content.encode()
                tar.addfile(info(name, size=len(data)), io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, mtime=0)


def write_blob(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(OUT, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "blobs", "sha256"))
    layers = [
        layer([
            ("etc/", None),
            ("etc/os-release", ("symlink", "../usr/lib/os-release")),
            ("etc/debian_version", "12.8\n"),
            ("etc/motd", "Welcome.\n"),
            ("usr/", None),
            ("usr/lib/", None),
            ("usr/lib/os-release", OS_RELEASE),
            ("var/lib/dpkg/", None),
            ("var/lib/dpkg/status", BASE_STATUS),
        ]),
        layer([
            ("etc/.wh.motd", ""),
            ("var/lib/dpkg/status", BASE_STATUS + ADDED_STATUS),
        ]),
    ]
    descriptors, diff_ids = [], []
    for tar_bytes, blob in layers:
        descriptors.append({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": write_blob(blob),
            "size": len(blob),
        })
        diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
    config = json.dumps({
        "created": "2024-11-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["bash"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-11-01T00:00:00Z", "created_by": "debootstrap (synthetic)"},
                    {"created": "2024-11-01T00:00:00Z", "created_by": "apt-get install libssl3 zlib1g"}],
    }, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": write_blob(config), "size": len(config)},
        "layers": descriptors,
    }, separators=(",", ":")).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": write_blob(manifest),
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": "12"},
        }],
    }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}\n')


if __name__ == "__main__":
    main()
