# Shared by run.sh and test.sh: create ./.venv and install SR Desktop into it, editable
# (`pip install -e`: the code, models/ and resources/ are read from this checkout; a built
# wheel carries its own copies, see setup.py), with the [test] extra (pytest, ruff,
# import-linter).
# torch is installed first and pinned (on the project's CI machines pip's configuration
# gives the local CPU wheel). pip does not look for a GPU: on Linux PyPI's torch is the CUDA
# build; TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu takes the CPU-only one.
set -euo pipefail
SR_CALLER_DIR=$PWD  # (run.sh goes back there: `run.sh IMAGE` names the image from where it was run)
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
# SR_EXTRAS: the extras to install (scripts/test.sh adds `cluster`, which its Ray tests need, and both
# scripts `heic`, the HEIC photos' reader).
# Skipped when the install is current (same project files and Python, the extras among those
# installed): the editable install reads the code from here, and a reinstall took 18 s on
# every run and failed offline. .venv/.sr-desktop-install records what was installed.
EXTRAS=${SR_EXTRAS:-test}
STAMP=.venv/.sr-desktop-install
if ! NEXT=$(python - "$STAMP" "$EXTRAS" <<'EOF'
import hashlib, sys
from pathlib import Path
stamp, wanted = Path(sys.argv[1]), set(sys.argv[2].split(","))
key = hashlib.sha256(Path("pyproject.toml").read_bytes() + Path("setup.py").read_bytes()).hexdigest() + " " + sys.version
lines = stamp.read_text().splitlines() if stamp.is_file() else []
installed = set(lines[1].split(",")) if len(lines) == 2 and lines[0] == key else set()
print(key + "\n" + ",".join(sorted(installed | wanted)))
try:  # installed in this environment (`import sr_desktop` would find the checkout's folder here)
    from importlib.metadata import PackageNotFoundError, version
    version("sr-desktop")
except PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if wanted <= installed else 1)
EOF
); then
  pip install -q -e ".[$EXTRAS]"
  echo "$NEXT" > "$STAMP"
fi
