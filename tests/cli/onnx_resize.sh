#!/usr/bin/env bash
# ONNX Resize through `critnet predict` against the ONNX reference implementation, every coordinate mode and
# nearest rounding critnet runs, with scales and with sizes; the forms it does not run are refused naming the
# node (tests/onnx_resize_check.py says which and why).
set -euo pipefail
: "${CRITNET_BIN:?}"
exec /usr/bin/python3 "$(dirname "$0")/../onnx_resize_check.py" "$CRITNET_BIN"
