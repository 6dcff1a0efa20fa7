#!/usr/bin/env python3
"""Writes the single layer of the cra image as an uncompressed tar, with fixed owners and times.

Every entry is listed here; the image holds nothing else. Run by deploy/image/build.sh.
"""

import argparse
import io
import subprocess
import tarfile

UID = GID = 10001
STATE_DIR = "var/lib/cra"

PASSWD = "root:x:0:0:root:/root:/sbin/nologin\ncra:x:10001:10001:cra:/var/lib/cra:/sbin/nologin\n"
GROUP = "root:x:0:\ncra:x:10001:\n"
# Hosts first, then DNS (glibc's built-in order asks DNS first). The static glibc in the binary
# has both services built in and loads no NSS library.
NSSWITCH = "hosts: files dns\n"


def dpkg_record(package):
    """The dpkg status.d record of an installed package, as distroless-style images carry it."""
    fields = "Package: ${Package}\nSource: ${source:Package}\nVersion: ${Version}\n" \
        "Architecture: ${Architecture}\nMaintainer: ${Maintainer}\nInstalled-Size: ${Installed-Size}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fields, package],
                         check=True, capture_output=True, text=True).stdout
    return out + "Description: the CA certificate bundle only (etc/ssl/certs/ca-certificates.crt)\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--ca-bundle", required=True)
    parser.add_argument("--epoch", type=int, required=True)
    parser.add_argument("out")
    args = parser.parse_args()

    def entry(name, kind, mode, uid=0, gid=0):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.uid, info.gid = uid, gid
        info.uname = info.gname = "cra" if uid == UID else "root"
        info.mtime = args.epoch
        return info

    def directory(tar, name, mode=0o755, uid=0, gid=0):
        tar.addfile(entry(name, tarfile.DIRTYPE, mode, uid, gid))

    def file(tar, name, data, mode=0o644):
        info = entry(name, tarfile.REGTYPE, mode)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with open(args.binary, "rb") as f:
        binary = f.read()
    with open(args.ca_bundle, "rb") as f:
        ca_bundle = f.read()
    with open("/usr/share/doc/ca-certificates/copyright", "rb") as f:
        ca_copyright = f.read()
    # The release the package comes from, so that scanners match it against that release's
    # advisories (the image has no other files of that release).
    with open("/etc/os-release", "rb") as f:
        os_release = f.read()

    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ["etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/local", "usr/local/bin",
                  "usr/share", "usr/share/doc", "usr/share/doc/ca-certificates",
                  "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status.d"]:
            directory(tar, d)
        directory(tar, "tmp", 0o1777)
        directory(tar, STATE_DIR, 0o700, UID, GID)
        file(tar, "etc/passwd", PASSWD.encode())
        file(tar, "etc/group", GROUP.encode())
        file(tar, "etc/nsswitch.conf", NSSWITCH.encode())
        file(tar, "etc/os-release", os_release)
        file(tar, "etc/ssl/certs/ca-certificates.crt", ca_bundle)
        file(tar, "usr/share/doc/ca-certificates/copyright", ca_copyright)
        file(tar, "var/lib/dpkg/status.d/ca-certificates", dpkg_record("ca-certificates").encode())
        file(tar, "usr/local/bin/cra", binary, 0o755)


if __name__ == "__main__":
    main()
