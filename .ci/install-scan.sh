#!/usr/bin/env bash
# The scan tests also run with the `isal` feature, which links the system's ISA-L.
set -euo pipefail
apt-get install -y -qq libisal-dev >/dev/null
