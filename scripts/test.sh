#!/usr/bin/env bash
# Run the test suite once per Keras backend, each in its own process.
# Sets up the virtual environment first (see scripts/setup.sh).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
VENV="${VENV:-.venv}"
BACKENDS="${BACKENDS:-tensorflow jax torch}"
failed=()
for backend in $BACKENDS; do
  echo "=== pytest with KERAS_BACKEND=$backend"
  KERAS_BACKEND="$backend" "$VENV/bin/python" -m pytest -q "$@"
  status=$?
  # pytest exits 5 when it collected no test: that is a failure too.
  if [ "$status" -ne 0 ]; then
    failed+=("$backend (exit $status)")
  fi
done
if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED on: ${failed[*]}"
  exit 1
fi
echo "All backends passed: $BACKENDS"
