#!/usr/bin/env python3
"""Pushes the images of benches/registry_scan.sh to a local registry.

50 images (bench/app-NN:1) share 3 base layers and each has one unique top layer; the layers hold
real files of this machine, so they compress like real images. The first base layer also carries
/etc/os-release and the dpkg status file, so the scans find the OS and its packages.
With --change N, the first N images get a new top layer (new files, new digest) and are pushed
again under the same tag.

Usage: benches/registry_images.py PORT [--change N] [--base-mb MB (40)] [--top-mb MB (4)]
Prints the repository and digest of each layer it uploaded for the first time, one per line.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
import urllib.request

IMAGES = 50
BASE_ROOTS = [["/usr/lib"], ["/usr/share"], ["/usr/bin", "/usr/sbin"]]
TOP_ROOT = "/usr/share/doc"
ALWAYS = ["/etc/os-release", "/var/lib/dpkg/status"]


def files_under(roots):
    for root in roots:
        for d, _, names in sorted(os.walk(root)):
            for n in sorted(names):
                p = os.path.join(d, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    yield p


def layer(paths, limit, salt=b""):
    raw = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for p in paths:
            try:
                size = os.path.getsize(p)
                if total + size > limit:
                    continue
                t.add(p, arcname=p.lstrip("/"))
                total += size
            except OSError:
                continue
        if salt:
            info = tarfile.TarInfo("opt/app/build-id")
            info.size = len(salt)
            t.addfile(info, io.BytesIO(salt))
    tar = raw.getvalue()
    return tar, gzip.compress(tar, 6, mtime=0)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def put_blob(base, repo, blob):
    d = sha(blob)
    head = urllib.request.Request(f"{base}/v2/{repo}/blobs/{d}", method="HEAD")
    try:
        urllib.request.urlopen(head)
        return d, False
    except urllib.error.HTTPError:
        pass
    post = urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    loc = urllib.request.urlopen(post).headers["Location"]
    if loc.startswith("/"):
        loc = base + loc
    sep = "&" if "?" in loc else "?"
    put = urllib.request.Request(f"{loc}{sep}digest={d}", method="PUT", data=blob)
    put.add_header("Content-Type", "application/octet-stream")
    urllib.request.urlopen(put)
    return d, True


def push(base, repo, layers, fresh):
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for t, _ in layers]},
    }).encode()
    cd, _ = put_blob(base, repo, config)
    descs = []
    for _, blob in layers:
        d, new = put_blob(base, repo, blob)
        if new and all(d != seen for _, seen in fresh):
            fresh.append((repo, d))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": d, "size": len(blob)})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cd, "size": len(config)},
        "layers": descs,
    }).encode()
    req = urllib.request.Request(f"{base}/v2/{repo}/manifests/1", method="PUT", data=manifest)
    req.add_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    urllib.request.urlopen(req)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("port")
    a.add_argument("--change", type=int, default=0)
    a.add_argument("--base-mb", type=int, default=40)
    a.add_argument("--top-mb", type=int, default=4)
    args = a.parse_args()
    base_url = f"http://127.0.0.1:{args.port}"
    bases = []
    for i, roots in enumerate(BASE_ROOTS):
        paths = (ALWAYS if i == 0 else []) + list(files_under(roots))
        bases.append(layer(paths, args.base_mb << 20))
    tops = list(files_under([TOP_ROOT]))
    per = max(1, len(tops) // IMAGES)
    fresh = []
    images = range(args.change) if args.change else range(IMAGES)
    for n in images:
        salt = f"image {n} change {args.change}".encode()
        top = layer(tops[n * per:(n + 1) * per], args.top_mb << 20, salt)
        push(base_url, f"bench/app-{n:02}", bases + [top], fresh)
    for repo, d in fresh:
        print(repo, d)


if __name__ == "__main__":
    main()
