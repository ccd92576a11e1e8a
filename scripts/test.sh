#!/usr/bin/env bash
# Install SR Desktop with its test extras into ./.venv and run every check, headless (Qt
# offscreen, no GPU needed):
#   ruff          lint rules and import order        (config: pyproject.toml [tool.ruff])
#   lint-imports  the layer and no-Qt contracts      (config: pyproject.toml [tool.importlinter])
#   wheel         the built wheel works when installed (scripts/check_wheel.sh)
#   pytest        the test suite; arguments go to pytest (a file, -k EXPR, ...)
#   community     tests/community (spandrel checkpoints) in .venv-community, see below
# Every step runs even when an earlier one fails. Exit status: pytest's own when the tests
# fail, else the first failing step's; 0 only when all passed.
SR_EXTRAS=test,cluster,heic source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export QT_QPA_PLATFORM=offscreen

failed=()
first_status=0
step() {
  local name=$1
  shift
  echo "== $name: $*"
  "$@" && return 0
  local rc=$?
  failed+=("$name (exit $rc)")
  [ "$first_status" -ne 0 ] || first_status=$rc
  return "$rc"
}

# The real-window smoke test (tests/test_gui_xvfb_smoke.py) needs Xvfb, xdotool and the X
# libraries of Qt's xcb platform; install them when missing and possible, else it is skipped.
if ! command -v Xvfb >/dev/null || ! command -v xdotool >/dev/null; then
  as_root=$([ "$(id -u)" -eq 0 ] || echo "sudo -n")
  { command -v apt-get >/dev/null && $as_root apt-get update -qq && $as_root apt-get install -y -qq \
      xvfb xdotool libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0; } >/dev/null 2>&1 \
    || echo "== xvfb/xdotool not installed: the real-window smoke test will be skipped"
fi

# The Vulkan path (`--device vulkan`, tests/test_vulkan.py) needs a Vulkan driver; without a
# GPU, Mesa's software one (lavapipe) runs it on the CPU. Installed when missing and possible,
# else those tests are skipped.
if ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  as_root=$([ "$(id -u)" -eq 0 ] || echo "sudo -n")
  { command -v apt-get >/dev/null && $as_root apt-get update -qq && $as_root apt-get install -y -qq \
      mesa-vulkan-drivers libvulkan1; } >/dev/null 2>&1 \
    || echo "== no Vulkan driver installed: the --device vulkan tests will be skipped"
fi

step ruff ruff check --output-format concise sr_desktop tests benchmarks scripts setup.py || true
step lint-imports lint-imports --no-cache || true
step wheel bash scripts/check_wheel.sh "$PWD/.venv/bin/python" || true
pytest_status=0
step pytest python -m pytest -q -p no:cacheprovider "$@" || pytest_status=$?

# The community checkpoints (the optional extra sr-desktop[community]: spandrel) get their
# own environment, .venv-community, created once and reused: spandrel imports torchvision,
# which needs the torch build it was made for (torch 2.14.1 + torchvision 0.29.1 here, not
# .venv's torch 2.13), and makes `import torch` slower (docs/community.md).
# It also holds the published LPIPS/DISTS packages (the extra `reference`) that
# tests/community/test_perceptual_reference.py compares the app's metrics with.
community_tests() {
  local py=.venv-community/bin/python
  [ -x "$py" ] || "$PYTHON" -m venv .venv-community || return
  if ! "$py" -c "import spandrel, torchvision, pytest, lpips, DISTS_pytorch" 2>/dev/null; then
    "$py" -m pip install -q ${TORCH_INDEX[@]+"${TORCH_INDEX[@]}"} "torch==2.14.1" "torchvision==0.29.1" || return
    "$py" -m pip install -q -e ".[test,community,reference]" || return
  fi
  "$py" -m pytest -q -p no:cacheprovider tests/community
}
step community community_tests || true

if [ ${#failed[@]} -eq 0 ]; then
  echo "== all checks passed"
  exit 0
fi
echo "== FAILED: ${failed[*]}" >&2
[ "$pytest_status" -ne 0 ] && exit "$pytest_status"
exit "$first_status"
