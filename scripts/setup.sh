#!/usr/bin/env bash
# Installs what Bedside needs on Debian 12 / Ubuntu: system libraries, a Python environment
# for the bridge, the demo model and the tests. Idempotent: a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  pkg-config libzmq3-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libv4l-dev libturbojpeg0-dev ffmpeg python3 python3-venv python3-pip bubblewrap openssl
)
# libnss3-tools: certutil, to install Bedside's CA in a test browser's certificate store as the pairing page says.
if [ "${BEDSIDE_NO_BROWSER:-0}" != "1" ]; then APT_PACKAGES+=(chromium libnss3-tools); fi
# Debian's CPU PyTorch for the tests with real research code (Tests/e2e/test_cadence.py): about 70 s once.
if [ "${BEDSIDE_NO_TORCH:-0}" != "1" ]; then APT_PACKAGES+=(python3-torch python3-zmq); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
  else
    echo "setup: Swift 6 is not installed. Install the Swift 6.x toolchain for your distribution" >&2
    echo "       (https://www.swift.org/install/linux/) and put it on PATH, then run this again." >&2
    exit 1
  fi
fi

# The Python environment: the bridge (editable), the demo model's numpy, and the test tools.
VENV=.venv
# huggingface_hub: the tests of construction-time hub downloads (bridge/tests/test_hub.py, a loopback fake hub).
REQS="pyzmq numpy pytest websockets playwright ruff huggingface_hub"
STAMP="$VENV/.bedside-setup"
WANT="$(cat bridge/pyproject.toml researcher-template/requirements.txt 2>/dev/null | sha1sum | cut -c1-12) $REQS"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q $REQS -r researcher-template/requirements.txt
  "$VENV/bin/python" -m pip install -q -e bridge
  echo "$WANT" > "$STAMP"
fi
# The reference case's environment, as a researcher with Debian's CPU PyTorch makes it: a venv that sees the
# system's torch (../shared/notes/pytorch-on-cpu.md) and adds what the research code needs from PyPI.
TORCH_VENV=.venv-torch
if [ "${BEDSIDE_NO_TORCH:-0}" != "1" ]; then
  # Debian's own interpreter: another python3 on PATH (pyenv) does not see python3-torch.
  if [ ! -x "$TORCH_VENV/bin/python" ]; then /usr/bin/python3 -m venv --system-site-packages "$TORCH_VENV"; fi
  if ! "$TORCH_VENV/bin/python" -c "import torch, zmq, huggingface_hub" 2>/dev/null; then
    echo "setup: installing huggingface_hub into $TORCH_VENV (beside Debian's torch)"
    "$TORCH_VENV/bin/python" -m pip install -q huggingface_hub
  fi
fi
echo "setup: ok ($(swift --version 2>/dev/null | head -1))"
