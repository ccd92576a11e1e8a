"""The default iteration counts of the per-image models (ZSSR, map-sr) are typed into the
CLI's help, the picker's tooltip, `parse_iterations`' docstring and the README, because reading
them from the engine there would import torch at start-up. These tests hold every one of
those texts to the engine's actual defaults, so a changed default cannot leave them stale."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sr_desktop.cli.common import add_iterations_option
from sr_desktop.engine.core.options import parse_iterations
from sr_desktop.engine.models.map_sr.model import VARIANTS
from sr_desktop.engine.models.zssr.model import CPU_MAX_ITERS
from sr_desktop.engine.models.zssr.zssr import ZSSROptions
from sr_desktop.gui.main_window.model_picker import ITERATIONS_TIPS

ROOT = Path(__file__).resolve().parents[1]
ZSSR_GPU = ZSSROptions().max_iters
MAP_TV, MAP_TIKHONOV = VARIANTS["default"]["iterations"], VARIANTS["tikhonov"]["iterations"]


def squashed(text: str) -> str:
    """`text` with its runs of whitespace made single spaces (help and docstrings wrap)."""
    return re.sub(r"\s+", " ", text)


def cli_help() -> str:
    parser = argparse.ArgumentParser()
    add_iterations_option(parser)
    return squashed(next(a.help for a in parser._actions if "--iterations" in a.option_strings))


def test_the_engine_defaults_are_the_ones_the_texts_were_written_for():
    # (if this fails, a default changed: update the texts below, then these numbers)
    assert (CPU_MAX_ITERS, ZSSR_GPU, MAP_TV, MAP_TIKHONOV) == (1000, 3000, 300, 100)


def test_cli_help_names_each_default():
    text = cli_help()
    assert f"default {CPU_MAX_ITERS} on a CPU, {ZSSR_GPU} on a GPU" in text
    assert f"default {MAP_TV}, tikhonov {MAP_TIKHONOV}" in text


def test_picker_tooltips_name_each_default():
    assert f"default: {CPU_MAX_ITERS} on a CPU, {ZSSR_GPU} on a GPU" in squashed(ITERATIONS_TIPS["zssr"])
    assert f"default: {MAP_TV}, Tikhonov {MAP_TIKHONOV}" in squashed(ITERATIONS_TIPS["map-sr"])


def test_options_docstring_and_readme_name_each_default():
    doc = squashed(parse_iterations.__doc__ or "")
    assert f"ZSSR {CPU_MAX_ITERS} on a CPU, {ZSSR_GPU} on a GPU; map-sr {MAP_TV}, Tikhonov {MAP_TIKHONOV}" in doc
    readme = squashed((ROOT / "README.md").read_text(encoding="utf-8"))
    assert f"{CPU_MAX_ITERS} on a CPU, {ZSSR_GPU} on a GPU) or map-sr solves ({MAP_TV}, Tikhonov {MAP_TIKHONOV})" \
        in readme
