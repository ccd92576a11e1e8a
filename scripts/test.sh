#!/usr/bin/env bash
# Install SR Desktop with its test extras into ./.venv and run every check, headless (Qt
# offscreen, no GPU needed):
#   ruff          lint rules and import order        (config: pyproject.toml [tool.ruff])
#   lint-imports  the layer and no-Qt contracts      (config: pyproject.toml [tool.importlinter])
#   wheel         the built wheel works when installed (scripts/check_wheel.sh)
#   pytest        the test suite; arguments go to pytest (a file, -k EXPR, ...)
# Every step runs even when an earlier one fails. Exit status: pytest's own when the tests
# fail, else the first failing step's; 0 only when all passed.
SR_EXTRAS=test,cluster source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
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

step ruff ruff check --output-format concise sr_desktop tests benchmarks setup.py || true
step lint-imports lint-imports --no-cache || true
step wheel bash scripts/check_wheel.sh "$PWD/.venv/bin/python" || true
pytest_status=0
step pytest python -m pytest -q -p no:cacheprovider "$@" || pytest_status=$?

if [ ${#failed[@]} -eq 0 ]; then
  echo "== all checks passed"
  exit 0
fi
echo "== FAILED: ${failed[*]}" >&2
[ "$pytest_status" -ne 0 ] && exit "$pytest_status"
exit "$first_status"
