#!/usr/bin/env bash
# Fetch the wheels of PrAI's `base` software profile once, into .cache/wheels/base, so that
# `prai bundle create --software base --wheels-from .cache/wheels/base` and the tests that
# install PrAI offline from a bundle never reach a package index themselves.
# This is an install step (it may reach PyPI). Run it after scripts/install.sh:
#   bash scripts/fetch-test-wheels.sh && .venv/bin/python -m pytest tests/bundle
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${PRAI_TEST_WHEELS:-.cache/wheels/base}"
start=$(date +%s)
.venv/bin/prai bundle fetch-wheels --software base -d "$dest"
echo "fetched the base profile's wheels into $dest in $(( $(date +%s) - start )) s"
