#!/usr/bin/env bash
# soak_continual.sh: the short soak (issue 18, item 4): a continual run killed with SIGKILL at ten random moments
# and resumed each time ends with the tasks.csv and model.cnm of an uninterrupted run, byte for byte. The long
# version is `bash experiments/soak/continual_kill.sh` (docs/fuzzing.md). Needs the mnist digits.
set -uo pipefail
: "${CRITNET_BIN:?}"
exec bash "$(dirname "$0")/../../experiments/soak/continual_kill.sh" --short --kills 10 --seed "${SOAK_SEED:-$RANDOM}" \
    --bin "$CRITNET_BIN"
