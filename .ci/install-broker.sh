#!/usr/bin/env bash
# Installs the stock snyk-broker for the broker interop tests (tests/it/broker), into
# target/stock-broker, where the tests look for it (or set CRA_STOCK_BROKER to another prefix).
set -euo pipefail
cd "$(dirname "$0")/.."

# The version whose wire protocol and default configuration the tests were written against.
VERSION=5.16.4
PREFIX=target/stock-broker
CONFIG=../shared/fixtures/broker/config.default.json

if [ ! -f "$CONFIG" ]; then
  echo "no $CONFIG: the stock broker cannot start without it; its interop tests will skip"
  exit 0
fi
mkdir -p "$PREFIX"
if [ ! -f "$PREFIX/node_modules/snyk-broker/package.json" ] \
  || ! grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/snyk-broker/package.json"; then
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "snyk-broker@$VERSION"
fi
# The npm package looks for its default configuration in the folders above its dist/ folder.
cp "$CONFIG" "$PREFIX/config.default.json"
node "$PREFIX/node_modules/snyk-broker/dist/cli/index.js" --version >/dev/null 2>&1 || true
echo "snyk-broker $VERSION installed in $PREFIX"
