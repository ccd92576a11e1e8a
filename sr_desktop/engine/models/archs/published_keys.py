"""The key layout of an architecture's published weights, for the architectures whose module
here names its layers otherwise (VDSR's head/body/tail, LapSRN's levels): what a model file
trained here is written in (an export, a training checkpoint), so that it loads as the
published weights do. `detect` renames such keys back when it loads a file."""

from __future__ import annotations

import re

#: architecture -> (our key pattern, the published key) rules, the first that matches applies
_PUBLISHED_KEYS = {
    "VDSR": ((r"head\.(.*)", r"input.\1"), (r"body\.(\d+)\.(.*)", r"residual_layer.\1.conv.\2"),
             (r"tail\.(.*)", r"output.\1")),
    "LapSRN": ((r"levels\.(\d+)\.features\.(.*)", lambda m: f"convt_F{int(m[1]) + 1}.cov_block.{m[2]}"),
               (r"levels\.(\d+)\.image_up\.(.*)", lambda m: f"convt_I{int(m[1]) + 1}.{m[2]}"),
               (r"levels\.(\d+)\.residual\.(.*)", lambda m: f"convt_R{int(m[1]) + 1}.{m[2]}")),
}


def published_keys(state: dict, arch: str) -> dict:
    """`state`, a state dict of our module of `arch`, with the keys of the architecture's
    published weights (VDSR's ``residual_layer.N``, LapSRN's ``convt_F1``…); the keys of
    any other architecture as they are."""
    rules = _PUBLISHED_KEYS.get(arch, ())
    renamed = {}
    for key, value in state.items():
        for pattern, repl in rules:
            new, n = re.subn(f"^{pattern}$", repl, key)
            if n:
                key = new
                break
        renamed[key] = value
    return renamed
