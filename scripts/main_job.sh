#!/usr/bin/env bash
# The main job: train the `tiny` preset on the built-in sprites for a few
# minutes on a CPU, then write a grid of generated sprites, one row per type.
# Sets up the virtual environment first (see scripts/setup.sh).
# KERAS_BACKEND picks the backend (default: torch, the fastest on a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${VENV:-.venv}"
RUN="${RUN:-runs/tiny}"
export KERAS_BACKEND="${KERAS_BACKEND:-torch}"
# The settings of the measured run in docs/results.md: about 8 minutes on
# a 2-core CPU.
"$VENV/bin/pokediff" train --preset tiny --epochs "${EPOCHS:-15}" --num-images 2000 \
  --batch-size 32 --learning-rate 1e-3 --out "$RUN"
"$VENV/bin/pokediff" generate "$RUN" --type fire --num 16 --seed 0 \
  --out "$RUN/fire.png"
echo "Samples of every type: $RUN/samples/; fire sprites: $RUN/fire.png"
