#!/usr/bin/env python3
"""Push a Debian-like test image to a distribution registry (standard library only).

Usage: agent_push.py REGISTRY_URL REPOSITORY TAG [--filler-mib N] [--packages N] [--user U --password P]

The single gzip layer holds /etc/os-release, a dpkg status file with N packages and, when asked,
a file of N MiB of random (incompressible) bytes, so the pushed layer is about that large.
Prints the manifest digest and the layer size.
"""

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.parse
import urllib.request

OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
"""


def dpkg_status(count):
    entries = []
    for i in range(count):
        entries.append(
            f"Package: pkg{i}\nStatus: install ok installed\nPriority: optional\n"
            f"Architecture: amd64\nVersion: 1.{i}-1\nDescription: test package {i}\n"
        )
    return "\n".join(entries).encode()


def add(tar, path, data):
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def layer(packages, filler_mib):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        add(tar, "etc/os-release", OS_RELEASE)
        add(tar, "var/lib/dpkg/status", dpkg_status(packages))
        if filler_mib:
            add(tar, "opt/filler.bin", os.urandom(filler_mib * 1024 * 1024))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, compresslevel=1)


class Registry:
    def __init__(self, base, user, password):
        self.base = base.rstrip("/")
        self.auth = None
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.auth = f"Basic {token}"

    def request(self, method, url, data=None, headers=None):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if self.auth:
            req.add_header("Authorization", self.auth)
        return urllib.request.urlopen(req, timeout=300)

    def push_blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self.request("POST", f"{self.base}/v2/{repo}/blobs/uploads/", data=b"") as resp:
            location = resp.headers["Location"]
        url = urllib.parse.urljoin(self.base + "/", location)
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}digest={urllib.parse.quote(digest)}"
        headers = {"Content-Type": "application/octet-stream"}
        with self.request("PUT", url, data=data, headers=headers) as resp:
            assert resp.status == 201, resp.status
        return digest

    def push_manifest(self, repo, tag, manifest):
        data = json.dumps(manifest).encode()
        headers = {"Content-Type": manifest["mediaType"]}
        with self.request("PUT", f"{self.base}/v2/{repo}/manifests/{tag}", data=data, headers=headers):
            pass
        return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("registry")
    parser.add_argument("repository")
    parser.add_argument("tag")
    parser.add_argument("--filler-mib", type=int, default=0)
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    tar_bytes, gz = layer(args.packages, args.filler_mib)
    registry = Registry(args.registry, args.user, args.password)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]},
        }
    ).encode()
    config_digest = registry.push_blob(args.repository, config)
    layer_digest = registry.push_blob(args.repository, gz)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": len(gz),
            }
        ],
    }
    digest = registry.push_manifest(args.repository, args.tag, manifest)
    print(f"{digest} {len(gz)}")


if __name__ == "__main__":
    sys.exit(main())
