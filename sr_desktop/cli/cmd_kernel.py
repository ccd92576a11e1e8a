"""`sr-desktop kernel INPUT -o KERNEL.npy`: estimate the image's blur kernel (sharpness fit, KernelGAN)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from sr_desktop.cli.common import path_arg, seed_arg, send_warnings_to_log, torch_device_arg
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.core.options import DEVICE_CHOICES
from sr_desktop.engine.core.text import counted, printable
from sr_desktop.engine.kernelgan.options import (
    FAST_PRESET,
    MAX_BATCH,
    MAX_ITERATIONS,
    MAX_RESTARTS,
    METHODS,
    MIN_JUDGED_ITERATIONS,
    PRIORS,
    check_counts,
)

HELP = "estimate the image's own blur (downscaling) kernel (sharpness fit or KernelGAN)"
EPILOG = """Method auto (the default) first fits an anisotropic Gaussian blur from the image's
sharpness per direction across scales (seconds, no randomness), then runs KernelGAN; when the
fit explains the image the kernel is the mean of the two (JSON method "combined"), otherwise
KernelGAN's. --method sharpness takes the fit alone (seconds), --method kernelgan KernelGAN alone.
KernelGAN defaults: up to 1000 iterations of 4 crops, stopping early once the kernel is
stable (measured as accurate as the paper's 3000 iterations of 1 crop at a fraction of the
time); --iterations 3000 --batch 1 --no-early-stop is the paper's recipe.
The kernel is written as a 2-D float64 .npy that sums to 1 (×2: 17×17, larger when
its centre lies more than 1 px off, as the official padding rule; ×4: the analytic ×4
kernel derived from it, 33×33 or larger; --json gives the size). Every estimate gets a confidence in 0..1 computed from
the image alone (how well the image downscaled with the kernel passes for the image
itself), shown as "reliable" or "doubtful" (then estimate again: another --seed or more
--restarts); a doubtful run is rerun once with another seed automatically. --prior fkp
estimates the kernel through a learned kernel prior (a normalizing flow trained on
anisotropic Gaussian blurs, shipped with SR Desktop) instead of KernelGAN's free generator.
Use the kernel with `sr-desktop upscale IMAGE -o OUT --model zssr|map-sr --kernel KERNEL.npy --scale 2`
(a ×2 kernel; at --scale 4, the models' default, they derive the ×4 kernel from it).
Exit status: 0 done; 2 bad usage or an image it cannot use; 3 unexpected internal error (a
bug); 130 interrupted (Ctrl+C, SIGTERM, SIGHUP: nothing written); 141 the reader of standard
output closed it (--json | head)."""


#: the options only KernelGAN's run uses, with their defaults (what --method sharpness
#: notes as unused when set otherwise) and their flags
KERNELGAN_DEFAULTS = {**FAST_PRESET, "restarts": 1, "prior": "none"}
KERNELGAN_FLAGS = {"iterations": "--iterations", "batch": "--batch", "restarts": "--restarts", "prior": "--prior",
                   "early_stop": "--no-early-stop"}

def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `sr-desktop kernel` and its options on `subparsers`; returns its parser."""
    p = subparsers.add_parser("kernel", help=HELP, description=HELP + ".", epilog=EPILOG)
    p.add_argument("input", type=path_arg, metavar="INPUT", help="image to analyse (the low-resolution photo)")
    p.add_argument("-o", "--output", type=path_arg, required=True, metavar="KERNEL.npy",
                   help="where to write the kernel")
    p.add_argument("--scale", type=int, default=2, choices=(2, 4), help="SR scale the kernel is for (default 2)")
    p.add_argument("--iterations", type=int, default=KERNELGAN_DEFAULTS["iterations"], metavar="N",
                   help=f"training iterations per restart, 1..{MAX_ITERATIONS} (default 1000; the paper: 3000; "
                        f"under {MIN_JUDGED_ITERATIONS} a run is too short to judge: doubtful)")
    p.add_argument("--batch", type=int, default=KERNELGAN_DEFAULTS["batch"], metavar="N",
                   help=f"crops per iteration, 1..{MAX_BATCH} (default 4; the paper: 1)")
    p.add_argument("--no-early-stop", dest="early_stop", action="store_false",
                   help="run all iterations (default: stop once the kernel has stopped changing)")
    p.add_argument("--restarts", type=int, default=KERNELGAN_DEFAULTS["restarts"], metavar="N",
                   help=f"independent runs combined (element-wise median) into one kernel, 1..{MAX_RESTARTS} "
                        "(steadier; default 1; 3 is what `upscale --model zssr --kernel estimate` uses)")
    p.add_argument("--method", default="auto", choices=METHODS,
                   help="auto (default): the mean of the sharpness fit and KernelGAN when the fit "
                        "explains the image, else KernelGAN; kernelgan: KernelGAN alone; sharpness: the fit alone")
    p.add_argument("--prior", default=KERNELGAN_DEFAULTS["prior"], choices=PRIORS,
                   help="kernel prior: none (KernelGAN's generator, the default) or fkp (the learned "
                        "flow-based kernel prior, KernelGAN-FKP)")
    p.add_argument("--device", default="auto", type=torch_device_arg, metavar="DEVICE",
                   help=f"compute device: {', '.join(DEVICE_CHOICES)} or cuda:N (default auto: the CPU, "
                        "which ran KernelGAN's small networks faster than a GPU)")
    p.add_argument("--png", type=path_arg, metavar="KERNEL.png", help="also write a magnified heat map of the kernel")
    p.add_argument("--seed", type=seed_arg, metavar="N", help="random seed (default: random)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--json", action="store_true",
                   help="print the result as one JSON object (kernel σ, iterations, seconds, seed, "
                        "confidence, reliable) instead of the summary line")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)
    return p


def _check_target(path: Path, overwrite: bool, suffix: str, inputs: Path) -> None:
    from sr_desktop.engine.kernelgan.kernel_ops import check_kernel_target

    check_kernel_target(path, suffix, inputs)
    if path.exists() and not overwrite:
        raise SRDesktopError(f"{path} exists (use --overwrite to replace it)")


def run(args: argparse.Namespace) -> int:
    """Run `sr-desktop kernel` for parsed `args`: estimate the kernel, write it (and `--png`), report; returns 0."""
    from sr_desktop.cli.progress_bar import TerminalProgress
    from sr_desktop.engine.imageio import read_image
    from sr_desktop.engine.imageio.read import check_input_file
    from sr_desktop.engine.kernelgan import estimate_kernel
    from sr_desktop.engine.kernelgan.kernel_ops import describe_kernel, failed_kernel_file, save_kernel_files

    src = Path(args.input)
    out = Path(args.output)
    png = Path(args.png) if args.png else None
    check_counts(args.iterations, args.batch, args.restarts)  # before the image is read
    send_warnings_to_log(getattr(args, "verbose", False))
    check_input_file(src)  # a missing input is named before "k.npy exists (use --overwrite …)"
    _check_target(out, args.overwrite, ".npy", src)
    if png is not None:
        _check_target(png, args.overwrite, ".png", src)
    read = read_image(src)  # (before the notes: a broken file's line came after a note on the options)
    unused = [KERNELGAN_FLAGS[name] for name, default in KERNELGAN_DEFAULTS.items() if getattr(args, name) != default]
    if args.method == "sharpness" and unused and not args.quiet:  # (the window greys them out)
        print(f"sr-desktop: note: {', '.join(unused)} set KernelGAN's run; --method sharpness does not use "
              f"{'it' if len(unused) == 1 else 'them'}", file=sys.stderr)
    image = read.pixels  # uint8/uint16: estimate_kernel scales it to 0..1
    if int(read.info.get("frames", 1) or 1) > 1 and not args.quiet:
        print(f"sr-desktop: note: {printable(src.name)} has {read.info['frames']} frames or pages; the kernel is "
              "estimated from the first", file=sys.stderr)
    bar = TerminalProgress(src.name, enabled=False if args.quiet else None, unit="it")
    try:
        est = estimate_kernel(image, scale=args.scale, iterations=args.iterations, device=args.device,
                              seed=args.seed, restarts=args.restarts, progress=bar, batch=args.batch,
                              early_stop=args.early_stop, prior=args.prior, method=args.method)
    finally:
        bar.close()
    try:
        save_kernel_files(est.kernel, out, png)
    except OSError as exc:
        # (name the user's file: the error's own name is the temporary file beside it)
        raise SRDesktopError(f"cannot save the kernel to {failed_kernel_file(exc.filename, out, png)}: "
                             f"{exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(result_record(est, src, out, png, args.prior), allow_nan=False), file=sys.stdout)
    elif not args.quiet:
        extra = f" and {png}" if png is not None else ""
        again = "--method kernelgan" if est.method == "sharpness" else "another --seed or more --restarts"
        verdict = ("reliable" if est.reliable else f"DOUBTFUL ({est.doubt})" if est.doubt
                   else f"DOUBTFUL (estimate again: {again})")
        how = f"KernelGAN, {counted(est.iterations_run, 'iteration')}"
        if est.method == "sharpness":
            how = f"sharpness fit, misfit {est.fit_misfit:.4f}"
        elif est.method == "combined":
            how = f"mean of the sharpness fit (misfit {est.fit_misfit:.4f}) and {how}"
        print(f"{src} -> {out}{extra}: ×{args.scale} {describe_kernel(est.kernel)} "
              f"({how}, {est.seconds:.1f} s); confidence {est.confidence:.2f}, {verdict}",
              file=sys.stdout)
    return 0


def result_record(est, src: Path, out: Path, png: Path | None, prior: str = "none") -> dict:
    """The ``--json`` object: paths, kernel summary, run facts, ``method`` (what produced the
    kernel: "sharpness", "kernelgan" or "combined", their mean) and ``fit_misfit`` (null when the fit was not tried),
    ``prior``, ``confidence`` (0..1, from the image alone) and ``reliable`` (confidence ≥ the
    engine's threshold); a value that is not finite is null."""
    from sr_desktop.engine.kernelgan.kernel_ops import kernel_summary

    summary = kernel_summary(est.kernel)
    return {
        "input": str(src),
        "output": str(out),
        "png": str(png) if png is not None else None,
        "scale": est.scale,
        "size": summary["size"],
        "sigma_major": _number(summary["sigma_major"], 4),
        "sigma_minor": _number(summary["sigma_minor"], 4),
        "angle_deg": _number(summary["angle_deg"], 2),
        "iterations_run": est.iterations_run,
        "seconds": round(est.seconds, 3),
        "seed": est.seed,
        "restarts": len(est.restart_kernels),
        "method": est.method,
        "fit_misfit": _number(est.fit_misfit, 6),
        "prior": prior,
        "confidence": _number(est.confidence, 4),
        "reliable": est.reliable,
        "doubt": est.doubt or None,
        "restart_confidences": [_number(c, 4) for c in est.restart_confidences],
        "restart_agreement_db": _number(est.restart_agreement_db, 2),
    }


def _number(value: float | None, digits: int) -> float | None:
    """`value` rounded, or None (JSON null) when there is none or it is not finite (a flat
    image's sharpness fit has an infinite misfit: ``Infinity`` is not JSON)."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)
