#!/usr/bin/env bash
# The signature tests sign with gpg and skopeo and use skopeo as the policy oracle.
set -euo pipefail
apt-get install -y -qq skopeo gnupg openssl >/dev/null
