#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image
# (https://gradescope-autograders.readthedocs.io/en/latest/specs/: "setup.sh ... installs all your dependencies").
# It installs the kit's exact pins (requirements.txt, written from pyproject.toml by `make gradescope`)
# into a virtual environment at $CNN_AUTOGRADER_ROOT/venv (default /autograder/venv).
#
# torch: `pip install torch==X` from PyPI pulls the CUDA build (gigabytes of nvidia-* wheels) on Linux.
# Unless the course built the zip with GPUs (gradescope.json "gpu": true), the CPU build comes from
# PyTorch's CPU wheel index. TORCH_INDEX_URL overrides that index; TORCH_INDEX_URL= (empty) takes torch
# from the ordinary index (what the kit's tests do on a machine that cannot reach download.pytorch.org).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${CNN_AUTOGRADER_ROOT:-/autograder}"
PYTHON="${CNN_AUTOGRADER_PYTHON:-python3}"
VENV="$ROOT/venv"

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "error: the kit needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  echo "       Pick a newer Ubuntu base image in Gradescope's autograder settings (22.04 has 3.10)." >&2
  exit 1
fi
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  apt-get install -y python3-venv
fi

GPU="$("$PYTHON" -c 'import json, sys; print(int(bool(json.load(open(sys.argv[1])).get("gpu"))))' "$SOURCE/gradescope.json")"
if [ "$GPU" = 1 ]; then DEFAULT_TORCH_INDEX=""; else DEFAULT_TORCH_INDEX="https://download.pytorch.org/whl/cpu"; fi
TORCH_INDEX_URL="${TORCH_INDEX_URL-$DEFAULT_TORCH_INDEX}"
TORCH_PIN="$(grep -E '^torch==' "$SOURCE/requirements.txt")"

"$PYTHON" -m venv "$VENV"
if [ -n "$TORCH_INDEX_URL" ]; then
  echo "installing $TORCH_PIN (CPU build) from $TORCH_INDEX_URL"
  # ==X matches the index's X+cpu (PEP 440: a public version specifier matches local versions).
  "$VENV/bin/python" -m pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" "$TORCH_PIN"
fi
"$VENV/bin/python" -m pip install --no-cache-dir -r "$SOURCE/requirements.txt"
# The kit itself, editable: the sandbox's zygote starts outside $SOURCE and must import this very grader/.
"$VENV/bin/python" -m pip install --no-cache-dir --no-deps -e "$SOURCE"
# Fail the image build now, not at the first student's upload.
cd "$SOURCE" && CNN_KIT_ROOT="$SOURCE" "$VENV/bin/python" -c 'import torch, grader.unit; print("torch", torch.__version__, "ready")'
