#!/usr/bin/env bash
# Install SR Desktop into ./.venv and run it on the bundled sample photo.
# With a display: opens the window. Without one: upscales the sample offscreen and saves
# the result and a screenshot of the window under ./out/ (of the folder it was run from).
SR_EXTRAS=test,heic source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"  # heic: iPhone photos
cd "$SR_CALLER_DIR"
exec sr-desktop "$@"
