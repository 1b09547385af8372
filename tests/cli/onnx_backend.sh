#!/usr/bin/env bash
# The official ONNX backend test data (Debian's libonnx-testdata) through `critnet predict`: every model
# critnet accepts must give the reference outputs, every other one must be refused with a message that names
# the file, and none may crash or hang (tests/onnx_backend.py says how each case is judged).
set -euo pipefail
: "${CRITNET_BIN:?}"
exec /usr/bin/python3 "$(dirname "$0")/../onnx_backend.py" "$CRITNET_BIN" --jobs 2
