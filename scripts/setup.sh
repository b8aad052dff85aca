#!/usr/bin/env bash
# Make a virtual environment with pokediff and the CPU builds of all three
# Keras backends. Usage: source scripts/setup.sh   (or bash, then use $VENV)
# VENV chooses the folder (default .venv); FRESH=1 starts it anew.
set -euo pipefail
VENV="${VENV:-.venv}"
if [ "${FRESH:-0}" = 1 ]; then
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# CPU builds: tensorflow-cpu instead of tensorflow, and the CPU wheel of torch.
"$VENV/bin/python" -m pip install --quiet -e ".[dev]" \
  "tensorflow-cpu" "jax" "torch==2.13.0"
