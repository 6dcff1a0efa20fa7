#!/usr/bin/env bash
# The registry adapters' tests: moto_server stands in for AWS STS and ECR (the CNCF registry and
# htpasswd come from .ci/run).
set -euo pipefail
python3 -m pip install -q --disable-pip-version-check 'moto[server]>=5,<6'
command -v moto_server >/dev/null
