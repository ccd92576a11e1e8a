#!/usr/bin/env bash
# Install SR Desktop with its test extras into ./.venv and run the whole test suite
# (headless: Qt offscreen, no GPU needed).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export QT_QPA_PLATFORM=offscreen
python -m pytest -q -p no:cacheprovider "$@"
