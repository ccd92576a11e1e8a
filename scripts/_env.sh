# Shared by run.sh and test.sh: create ./.venv and install SR Desktop into it, editable
# (`pip install -e`: the code, models/ and resources/ are read from this checkout; a built
# wheel carries its own copies, see setup.py), with the [test] extra (pytest, ruff,
# import-linter).
# torch is installed first and pinned (on the project's CI machines pip's configuration
# gives the local CPU wheel). pip does not look for a GPU: on Linux PyPI's torch is the CUDA
# build; TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu takes the CPU-only one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip 22.3 is the first with `pip --python`, which scripts/check_wheel.sh uses (a venv of an
# older Python, e.g. Ubuntu 22.04's 3.10, starts with pip 22.0)
python -c "import sys, pip; sys.exit(tuple(map(int, pip.__version__.split('.')[:2])) < (22, 3))" \
  || pip install -q "pip>=22.3"
TORCH_INDEX=(${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple})
python -c "import torch" 2>/dev/null || pip install -q ${TORCH_INDEX[@]+"${TORCH_INDEX[@]}"} "torch==2.13.0"
# SR_EXTRAS: the extras to install (scripts/test.sh adds `cluster`, which its Ray tests need)
pip install -q -e ".[${SR_EXTRAS:-test}]"
