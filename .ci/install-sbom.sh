#!/usr/bin/env bash
# The SBOM tests validate SPDX documents with the SPDX reference tool, pyspdxtools (PyPI spdx-tools).
set -euo pipefail
python3 -m pip install -q --disable-pip-version-check 'spdx-tools>=0.8,<0.9'
command -v pyspdxtools >/dev/null
