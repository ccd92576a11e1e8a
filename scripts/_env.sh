# Shared by run.sh and test.sh: create ./.venv and install SR Desktop into it, editable
# (`pip install -e`: the code, models/ and resources/ are read from this checkout; a built
# wheel carries its own copies, see setup.py), with the [test] extra (pytest, ruff,
# import-linter).
# torch is installed first and pinned, so that pip takes the right build for this machine
# (on the project's CI machines: the local CPU wheel) instead of pulling CUDA packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -c "import torch" 2>/dev/null || pip install -q "torch==2.13.0"
# SR_EXTRAS: the extras to install (scripts/test.sh adds `cluster`, which its Ray tests need)
pip install -q -e ".[${SR_EXTRAS:-test}]"
