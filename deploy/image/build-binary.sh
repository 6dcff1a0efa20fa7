#!/usr/bin/env bash
# Builds the release `cra` binary statically linked (glibc's static libc, `+crt-static`), so that it
# runs on any x86_64 Linux: old glibc, musl, or no libc at all. Prints the binary's path.
#
# The target triple is named explicitly so that the static flag applies to the binary only, not
# to the build scripts and proc-macros, which must stay dynamic.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
triple=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-$repo/target}
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --manifest-path "$repo/Cargo.toml" --release --locked -p cra-cli --target "$triple" >&2
echo "$target_dir/$triple/release/cra"
