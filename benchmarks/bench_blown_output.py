"""The raw output range of each installed model on photos and drawn images: where a network
blows up (values far outside 0..1, which clipping turns into noise) and where it only
overshoots. The measurement behind `engine/pipeline/blown_output.py`'s bounds.

    PYTHONPATH=. python benchmarks/bench_blown_output.py [--models span,espcn,...] [--bound 4]

Prints, per model and scale, for each image: the share of pixels with a channel outside
-BOUND+1..BOUND (−4..5 by default: `blown_output.LOW`/`HIGH`) and the output's min..max.
Images: two 128-px crops of the bundled photos, and four drawn ones made here (1-px line
art, a pixel-art checker, a two-colour sprite, a mix of them).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

from sr_desktop.engine.core.paths import RESOURCES_DIR
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.models.registry import list_models


def drawn_images() -> dict[str, np.ndarray]:
    """Line art, a checker, a sprite and a mix (H×W×3 uint8), made here."""
    line = np.full((96, 96, 3), 255, np.uint8)
    line[::12, :] = 0
    line[:, ::9] = 0
    yy, xx = np.mgrid[0:16, 0:16]
    checker = np.repeat((((yy + xx) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)
    checker[4:8, 4:8] = (255, 128, 0)
    sprite = np.zeros((32, 32, 3), np.uint8)
    sprite[:, :] = (40, 60, 200)
    sprite[8:24, 8:24] = (220, 30, 30)
    mix = np.concatenate([line[:64, :64], np.kron(checker, np.ones((4, 4, 1), np.uint8))], axis=1)
    return {"lineart": line, "pixelart": checker, "sprite": sprite, "mix": mix}


def photos() -> dict[str, np.ndarray]:
    sample = np.asarray(Image.open(RESOURCES_DIR / "sample.jpg").convert("RGB"))[100:228, 200:328]
    cat = np.asarray(Image.open(RESOURCES_DIR / "chelsea.png").convert("RGB"))[50:178, 100:228]
    return {"sample": sample, "chelsea": cat}


def raw_output(model, rgb: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255)
    with torch.inference_mode():
        if hasattr(model, "upscale_patch"):
            out = model.upscale_patch(x[0].numpy().transpose(1, 2, 0))
            return torch.from_numpy(out.transpose(2, 0, 1)[None].copy())
        return model.run(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated ids (default: every installed network)")
    parser.add_argument("--bound", type=float, default=4.0, help="blown up below -BOUND or above BOUND+1")
    args = parser.parse_args()
    ids = args.models.split(",") if args.models else [
        s.id for s in list_models() if s.installed and s.kind.value == "feedforward" and not s.custom]
    images = {**photos(), **drawn_images()}
    low, high = -args.bound, args.bound + 1
    for model_id in ids:
        for scale in (2, 4):
            try:
                model = load_model(model_id, scale=scale)
            except Exception:  # noqa: BLE001 - a scale the model does not have
                continue
            cells = []
            for name, rgb in images.items():
                y = raw_output(model, rgb)
                share = float(((y < low) | (y > high)).any(dim=1).float().mean())
                cells.append(f"{name} {share:.2%} [{float(y.min()):.1f},{float(y.max()):.1f}]")
            print(f"{model_id} ×{scale}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
