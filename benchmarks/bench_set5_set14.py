"""Set5 / Set14 table of the SR protocol (MATLAB bicubic LR, Y-channel PSNR/SSIM, shave s).

Usage (the datasets are not part of the project; pass their folders):

    PYTHONPATH=. python benchmarks/bench_set5_set14.py \
        --set5 ../shared/datasets/Set5 --set14 ../shared/datasets/Set14 \
        --models bicubic srmdnf srmd span --scales 2 3 4 \
        --json-dir bench-out --markdown bench-out/table.md

For every model and scale it runs the same evaluation as ``sr-desktop bench`` and writes
one JSON per (dataset, scale) plus a markdown table with the published numbers beside
(bicubic, SRMDNF). A model is run only at its native scales (from the registry), since the
any-scale rule's final Lanczos step is not part of the published protocol.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.metrics.degradation import parse_degradation
from sr_desktop.engine.metrics.evaluate import EvalProtocol, evaluate_models
from sr_desktop.engine.metrics.report import write_json

#: published Y-channel PSNR / SSIM (bicubic: SRCNN/VDSR tables; SRMDNF: Zhang et al. 2018)
PUBLISHED = {
    ("bicubic", "Set5", 2): (33.66, 0.9299),
    ("bicubic", "Set5", 3): (30.39, 0.8682),
    ("bicubic", "Set5", 4): (28.42, 0.8104),
    ("bicubic", "Set14", 2): (30.24, 0.8688),
    ("bicubic", "Set14", 3): (27.55, 0.7742),
    ("bicubic", "Set14", 4): (26.00, 0.7027),
    ("srmdnf", "Set5", 2): (37.79, None),
    ("srmdnf", "Set14", 2): (33.32, None),
}
#: acceptance tolerances of issue 7 (dB)
TOLERANCE = {"bicubic": 0.02, "srmdnf": 0.05}
#: this project's expected SRMDNF ×2 (fp16 ncnn weights, SRMD zero-padding protocol)
EXPECTED = {("srmdnf", "Set5", 2): 37.74, ("srmdnf", "Set14", 2): 33.31}


def native_scales(model_id: str) -> list[int] | None:
    """Native scales from the registry; None when unknown (then every scale is tried)."""
    if model_id in ("bicubic", "bicubic-pil"):
        return None
    try:
        from sr_desktop.engine.models.registry import get_model_spec
    except ModuleNotFoundError:
        return None
    return list(get_model_spec(model_id).scales)


def srcnn_route_bicubic(folder: Path, scale: int) -> tuple[float, float]:
    """Bicubic the way SRCNN's demo script measured it: Y (uint8 rgb2ycbcr) only,
    ``imresize`` down and up on single-precision Y, output rounded to uint8.

    A cross-check of the MATLAB resize itself (it needs no RGB/LR rounding choices).
    """
    import numpy as np

    from sr_desktop.engine.compute.matlab_resize import imresize
    from sr_desktop.engine.metrics.color import rgb2ycbcr
    from sr_desktop.engine.metrics.evaluate import list_dataset, read_hr
    from sr_desktop.engine.metrics.fullref import psnr, ssim

    psnrs, ssims = [], []
    for path in list_dataset(folder):
        hr = read_hr(path)
        h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
        hr = hr[:h, :w]
        y = hr[:, :, 0] if hr.shape[2] == 1 else rgb2ycbcr(hr)[:, :, 0]
        y32 = (y.astype(np.float32) / 255).astype(np.float64)
        up = imresize(imresize(y32, 1 / scale).astype(np.float32), scale).astype(np.float32)
        out = np.clip(np.floor(up.astype(np.float64) * 255 + 0.5), 0, 255)
        psnrs.append(psnr(out, y, shave=scale))
        ssims.append(ssim(out, y, shave=scale))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set5", type=Path, help="Set5 folder")
    parser.add_argument("--set14", type=Path, help="Set14 folder")
    parser.add_argument("--models", nargs="*", default=["bicubic"])
    parser.add_argument("--scales", nargs="+", type=int, default=[2, 3, 4])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tile", default="auto")
    parser.add_argument("--round-y", action="store_true", help="round Y to integers (SRMD scripts)")
    parser.add_argument("--degradation", default="bicubic", help="bicubic | bicubic-float")
    parser.add_argument("--float-output", action="store_true",
                        help="measure model outputs before 8-bit rounding")
    parser.add_argument("--json-dir", type=Path, default=Path("bench-out"))
    parser.add_argument("--markdown", type=Path, help="write the markdown table here")
    parser.add_argument("--srcnn-route", action="store_true",
                        help="also print bicubic measured the SRCNN-script way (Y-only resize)")
    args = parser.parse_args(argv)
    datasets = [(name, path) for name, path in (("Set5", args.set5), ("Set14", args.set14)) if path]
    if not datasets:
        parser.error("give --set5 and/or --set14")
    tile = args.tile if args.tile == "auto" else int(args.tile)
    args.json_dir.mkdir(parents=True, exist_ok=True)
    degradation = parse_degradation(args.degradation)
    protocol = EvalProtocol(round_y=args.round_y, quantize_output=not args.float_output)

    if args.srcnn_route:
        for scale in args.scales:
            for name, folder in datasets:
                p, q = srcnn_route_bicubic(folder, scale)
                print(f"bicubic (SRCNN route)  {name:<6} ×{scale}  PSNR {p:7.3f}  SSIM {q:.4f}")

    rows: dict[tuple[str, str, int], dict] = {}
    failures: list[str] = []
    for model_id in args.models:
        scales = native_scales(model_id)
        for scale in args.scales:
            if scales is not None and scale not in scales:
                continue
            for name, folder in datasets:
                start = time.perf_counter()
                try:
                    report = evaluate_models(folder, [model_id], scale, degradation,
                                             device=args.device, tile=tile, protocol=protocol)
                except SRDesktopError as exc:
                    print(f"{model_id} ×{scale} {name}: skipped: {exc}", file=sys.stderr)
                    continue
                m = report.models[0]
                write_json(report, args.json_dir / f"{name}_x{scale}_{model_id}.json")
                rows[(model_id, name, scale)] = {
                    "psnr": m.psnr_y, "ssim": m.ssim_y, "seconds": m.timing.seconds,
                    "mp_s": m.timing.input_mp_per_s, "device": m.timing.device,
                }
                line = (f"{model_id:<22} {name:<6} ×{scale}  PSNR {m.psnr_y:7.3f}  "
                        f"SSIM {m.ssim_y:.4f}  {m.timing.seconds:8.2f} s "
                        f"(wall {time.perf_counter() - start:.1f} s)")
                pub = PUBLISHED.get((model_id, name, scale))
                target = EXPECTED.get((model_id, name, scale), pub[0] if pub else None)
                if target is not None and model_id in TOLERANCE:
                    delta = m.psnr_y - target
                    ok = abs(delta) <= TOLERANCE[model_id]
                    line += f"  vs {target:.2f}: {delta:+.3f} dB {'OK' if ok else 'FAIL'}"
                    if not ok:
                        failures.append(line)
                print(line, flush=True)

    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown_table(rows, args, datasets), encoding="utf-8")
    for line in failures:
        print("FAIL:", line, file=sys.stderr)
    return 1 if failures else 0


def markdown_table(rows: dict, args, datasets) -> str:
    """A markdown table: one row per model, one column per dataset × scale."""
    cols = [(name, s) for name, _ in datasets for s in args.scales]
    head = "| model | " + " | ".join(f"{n} ×{s}" for n, s in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for model_id in args.models:
        cells = []
        for name, s in cols:
            r = rows.get((model_id, name, s))
            if r is None:
                cells.append("—")
                continue
            cell = f"{r['psnr']:.2f} / {r['ssim']:.4f}"
            pub = PUBLISHED.get((model_id, name, s))
            if pub:
                cell += f" (pub. {pub[0]:.2f}" + (f" / {pub[1]:.4f})" if pub[1] else ")")
            cells.append(cell)
        lines.append(f"| {model_id} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| model | " + " | ".join(f"{n} ×{s} s (MP/s)" for n, s in cols) + " |")
    lines.append("|" + "---|" * (len(cols) + 1))
    for model_id in args.models:
        cells = []
        for name, s in cols:
            r = rows.get((model_id, name, s))
            cells.append("—" if r is None else f"{r['seconds']:.1f} ({r['mp_s']:.3f})")
        lines.append(f"| {model_id} | " + " | ".join(cells) + " |")
    devices = sorted({r["device"] for r in rows.values()})
    lines.append("")
    lines.append(f"LR: {args.degradation}; Y rounding: "
                 f"{'integer (MATLAB uint8)' if args.round_y else 'double'}; "
                 f"output measured: {'float' if args.float_output else '8-bit'}; devices: "
                 f"{', '.join(devices)}; {platform.processor() or platform.machine()}, "
                 f"torch {torch.__version__}, {torch.get_num_threads()} threads.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
