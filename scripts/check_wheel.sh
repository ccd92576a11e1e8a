#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment outside the source tree and run
# the installed `sr-desktop` from there: `models` (the registry ships in the wheel) and
# `upscale` of the bundled sample (found through the installed package). Takes seconds.
#
# Usage: check_wheel.sh [PYTHON]   (default: ./.venv/bin/python; scripts/test.sh passes it)
# The fresh environment reuses the dependencies already installed in PYTHON's environment
# through a .pth file of plain paths: a plain path line adds that site-packages to sys.path
# without running the .pth files in it, so the editable install of this source tree that
# ./.venv holds cannot take part; the probe below checks that it did not.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=$(command -v "${1:-$ROOT/.venv/bin/python}") \
  || { echo "check_wheel: no Python ${1:-at $ROOT/.venv} (run scripts/test.sh once)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr-desktop-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP

fail() { echo "check_wheel: $*" >&2; exit 1; }

# 1. Build from a copy of the source (tracked and untracked, not ignored files): a stale
#    build/ folder in the tree cannot leak old modules into the wheel.
mkdir "$WORK/src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$WORK/src"
else
  (cd "$ROOT" && tar --exclude=./.venv --exclude=./build --exclude=./dist --exclude='*.egg-info' \
    --exclude=./out -cf - .) | tar -xf - -C "$WORK/src"
fi
# (build isolation fetches setuptools from the index; offline, the environment's own serves)
"$PYTHON" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src" 2>"$WORK/build.log" \
  || { "$PYTHON" -c "import setuptools" 2>/dev/null \
       && "$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/dist" "$WORK/src"; } \
  || { cat "$WORK/build.log" >&2; fail "building the wheel failed"; }
WHEEL=$(ls "$WORK"/dist/sr_desktop-*.whl)
"$PYTHON" - "$WHEEL" "$WORK/src" <<'EOF' || fail "wrong wheel contents"
import sys
import zipfile
from pathlib import Path

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
src = Path(sys.argv[2])
bundled = [p.relative_to(src).as_posix() for d in ("models", "resources") for p in (src / d).rglob("*") if p.is_file()]
bundled += [p.relative_to(src).as_posix() for p in (src / "docs").glob("*.md")]
problems = [f"missing sr_desktop/_data/{name}" for name in bundled if f"sr_desktop/_data/{name}" not in names]
problems += [f"outside the package: {n}" for n in sorted(names) if not n.startswith("sr_desktop")]
sys.exit("\n".join(problems) or None)
EOF

# 2. A fresh environment with the wheel, and the dependencies of $PYTHON's environment.
"$PYTHON" -m venv --without-pip "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$PYTHON" -c "import sysconfig; print('\n'.join(dict.fromkeys(
    sysconfig.get_path(k) for k in ('purelib', 'platlib'))))" \
  > "$("$VPY" -c "import sysconfig; print(sysconfig.get_path('purelib'))")/_sr_desktop_deps.pth"
"$PYTHON" -m pip --help | grep -q -- "--python <python>" \
  || fail "pip 22.3 or later is needed (for pip --python): $PYTHON -m pip install -U pip"
"$PYTHON" -m pip --python "$VPY" install -q --no-deps --no-index "$WHEEL" \
  || fail "installing $WHEEL failed"

# 3. Run it from outside the source tree, with a private per-user home.
mkdir "$WORK/run" "$WORK/home"
cd "$WORK/run"
export SR_DESKTOP_HOME="$WORK/home" QT_QPA_PLATFORM=offscreen
SAMPLE=$("$VPY" - "$ROOT" <<'EOF'
import sys
from pathlib import Path

import sr_desktop
from sr_desktop.engine.core import paths

venv, source = Path(sys.prefix).resolve(), Path(sys.argv[1]).resolve()
def inside(path, folder):
    return Path(path).resolve().is_relative_to(folder)
problems = [
    f"{what} is not in the installed package: {path}"
    for what, path in (("sr_desktop", sr_desktop.__file__), ("the registry", paths.MODELS_DIR),
                       ("the sample", paths.SAMPLE_IMAGE))
    if not inside(path, venv)
]
problems += [f"missing: {p}" for p in (paths.MODELS_DIR / "manifest.json", paths.SAMPLE_IMAGE) if not p.is_file()]
problems += [f"the source tree is on sys.path: {p}" for p in sys.path if p and Path(p).resolve() == source]
problems += [f"an editable finder is active: {f!r}" for f in sys.meta_path if "editable" in repr(f).lower()]
if problems:
    sys.exit("\n".join(problems))
print(paths.SAMPLE_IMAGE)
EOF
) || fail "the installed package is not self-contained"

models=$("$WORK/venv/bin/sr-desktop" models) || fail "sr-desktop models failed"
grep -q "^bicubic " <<<"$models" || fail "sr-desktop models does not list bicubic:
$models"
"$WORK/venv/bin/sr-desktop" upscale "$SAMPLE" -o OUT.png --model bicubic --scale 2 -q \
  || fail "sr-desktop upscale failed"
"$VPY" - "$SAMPLE" OUT.png <<'EOF' || fail "wrong upscale output"
import sys

from PIL import Image

with Image.open(sys.argv[1]) as src, Image.open(sys.argv[2]) as out:
    want = (2 * src.width, 2 * src.height)
    if out.format != "PNG" or out.size != want:
        sys.exit(f"OUT.png: {out.format} {out.size}, expected PNG {want}")
EOF
echo "check_wheel: OK ($(basename "$WHEEL") installed outside the tree: models listed, sample upscaled)"
