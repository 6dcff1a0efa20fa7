#!/usr/bin/env bash
# The vulnerability tests compare cra's version orderings with PyPI's univers, an independent
# implementation (tests/it/vulns/ordering.rs skips with a message when it is missing).
set -euo pipefail
python3 -m pip install --quiet --disable-pip-version-check univers \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages univers
