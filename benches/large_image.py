#!/usr/bin/env python3
"""Builds a large two-layer image for benches/compare.sh, as an oci-archive.

The layers hold real files from this machine (shared libraries, documentation, binaries), so
they compress like a real image: the default sizes give about 760 MB + 95 MB of tar, gzip -6.
The small top layer also carries /etc/os-release and the dpkg status file, so the scan finds
the OS and its packages.

Usage: benches/large_image.py OUT.oci.tar [big-layer-MB (760)] [small-layer-MB (95)]
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading

BIG_ROOTS = ["/usr/lib", "/usr/share", "/usr/bin"]
SMALL_ROOTS = ["/usr/local", "/usr/sbin", "/usr/include"]
ALWAYS = ["/etc/os-release", "/var/lib/dpkg/status"]


class Hashing(io.RawIOBase):
    """A write-through file object that hashes and counts what passes."""

    def __init__(self, out):
        self.out, self.sha, self.size = out, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.sha.update(b)
        self.size += len(b)
        self.out.write(b)
        return len(b)


def regular_files(roots):
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    yield path


def layer(blobs, roots, limit, extra=()):
    """Writes one gzip layer into blobs/; returns (digest, size, diff_id)."""
    tmp = os.path.join(blobs, "layer.tmp")
    with open(tmp, "wb") as raw:
        compressed = Hashing(raw)
        gz = subprocess.Popen(["gzip", "-6", "-n", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        uncompressed = Hashing(gz.stdin)

        def pump():
            for chunk in iter(lambda: gz.stdout.read(1 << 20), b""):
                compressed.write(chunk)

        reader = threading.Thread(target=pump)
        reader.start()
        with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in extra:
                if os.path.isfile(path):
                    tar.add(path, arcname=path.lstrip("/"))
            for path in regular_files(roots):
                if uncompressed.size >= limit - (1 << 20):
                    break
                try:
                    if uncompressed.size + os.path.getsize(path) > limit:
                        continue
                    tar.add(path, arcname=path.lstrip("/"))
                except OSError:
                    continue
        gz.stdin.close()
        reader.join()
        if gz.wait() != 0:
            sys.exit("gzip failed")
    digest = compressed.sha.hexdigest()
    os.replace(tmp, os.path.join(blobs, digest))
    print(f"layer sha256:{digest}: {compressed.size} bytes, {uncompressed.size} bytes of tar", file=sys.stderr)
    return "sha256:" + digest, compressed.size, "sha256:" + uncompressed.sha.hexdigest()


def blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    big = int(sys.argv[2]) if len(sys.argv) > 2 else 760
    small = int(sys.argv[3]) if len(sys.argv) > 3 else 95
    with tempfile.TemporaryDirectory() as work:
        blobs = os.path.join(work, "blobs", "sha256")
        os.makedirs(blobs)
        layers = [
            layer(blobs, BIG_ROOTS, big << 20),
            layer(blobs, SMALL_ROOTS, small << 20, extra=ALWAYS),
        ]
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [d for _, _, d in layers]},
        }
        config_digest, config_size = blob(blobs, json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s}
                for d, s, _ in layers
            ],
        }
        manifest_digest, manifest_size = blob(blobs, json.dumps(manifest).encode())
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": manifest_size,
                    "annotations": {"org.opencontainers.image.ref.name": "latest"},
                }
            ],
        }
        with open(os.path.join(work, "index.json"), "w") as f:
            json.dump(index, f)
        with open(os.path.join(work, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        with tarfile.open(out, "w") as archive:
            for name in ["oci-layout", "index.json", "blobs"]:
                archive.add(os.path.join(work, name), arcname=name)
    print(out)


if __name__ == "__main__":
    main()
