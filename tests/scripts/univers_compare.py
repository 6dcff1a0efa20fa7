#!/usr/bin/env python3
"""Compares version pairs with PyPI's `univers`, an independent implementation.

Reads lines `scheme<TAB>a<TAB>b` on stdin and prints one of `<`, `=`, `>` per line, or `!` when
univers refuses a version. Used by the Rust property test in tests/it/vulns/ordering.rs.
"""
import sys

from univers import versions

CLASSES = {
    "dpkg": versions.DebianVersion,
    "rpm": versions.RpmVersion,
    "apk": versions.AlpineLinuxVersion,
    "pep440": versions.PypiVersion,
    "semver": versions.SemverVersion,
    "go": versions.GolangVersion,
    "maven": versions.MavenVersion,
    "rubygems": versions.RubygemsVersion,
    "composer": versions.ComposerVersion,
    "nuget": versions.NugetVersion,
}


def main() -> None:
    out = []
    for line in sys.stdin:
        scheme, a, b = line.rstrip("\n").split("\t")
        cls = CLASSES[scheme]
        try:
            x, y = cls(a), cls(b)
            out.append("<" if x < y else ">" if x > y else "=")
        except Exception:  # univers raises several types for versions it refuses
            out.append("!")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
