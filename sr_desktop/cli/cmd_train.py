"""`sr-desktop train`: train or fine-tune a super-resolution model on your own images."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from sr_desktop.cli.common import (
    path_arg,
    seed_arg,
    send_warnings_to_log,
    stop_signals_call,
    text_arg,
    torch_device_arg,
)
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.options import DEVICE_CHOICES
from sr_desktop.engine.core.paths import DOCS_DIR
from sr_desktop.engine.core.progress import TRAINING_SETUP_STAGE
from sr_desktop.engine.core.text import counted, printable
from sr_desktop.engine.training.arch_choices import TRAINABLE

HELP = "train or fine-tune a super-resolution model on folders of high-resolution images"
_NOTES = (
    f"--arch: {', '.join(TRAINABLE)}; with optional hyper-parameters, e.g. EDSR:num_feat=32,num_block=8. "
    "--loss: NAME[@OPTION][:WEIGHT],... with NAME in l1, mse, charbonnier, perceptual[@LAYER], texture[@LAYER], "
    "tv, gan|lsgan|ragan[@vgg|@unet], gradient, gradbranch (SPSR), cycle, levels (LapSRN). --out holds "
    "model.safetensors, checkpoint/, log.jsonl, val/ and curves.png. Ctrl-C saves a checkpoint first. "
    f"See {DOCS_DIR}/training.md."
)
EPILOG = """Examples:
  sr-desktop train --arch EDSR-baseline --scale 2 --data photos/ --val val/ --out runs/edsr --name "My EDSR"
  sr-desktop train --arch Compact --scale 4 --data scans/ --init custom-my-compact --iterations 2000 --out runs/ft
  sr-desktop train --arch EDSR-baseline --scale 2 --data pairs/HR --lr-data pairs/LR --out runs/real  (real pairs)
  sr-desktop train ... --out runs/edsr --resume          (continue a stopped or killed run)
  sr-desktop train ... --out runs/edsr --resume --iterations 20000   (extend a finished one)

""" + textwrap.fill(_NOTES, 100, break_on_hyphens=False, break_long_words=False) + """
Exit status: 0 trained (or exported); 2 bad usage, data or settings (one line); 3 unexpected internal
error (a bug); 130 interrupted (Ctrl+C, SIGTERM, SIGHUP: a checkpoint is saved first); 141 the reader of
standard output closed it."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `sr-desktop train` and its options on `subparsers`; returns its parser."""
    p = subparsers.add_parser("train", help=HELP, description=HELP + ".", epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", required=True, type=text_arg, metavar="ARCH", help="architecture to train (listed below)")
    p.add_argument("--scale", required=True, type=int, nargs="+", action="extend", metavar="N",
                   help="upscaling factor; several (--scale 2 3 4) train one network for all of them, as "
                        "VDSR's paper (SRCNN, VDSR; validated and exported at the first)")
    p.add_argument("--data", type=path_arg, required=True, nargs="+", action="extend", metavar="DIR",
                   help="folders of HR images (recursive)")
    p.add_argument("--lr-data", type=path_arg, nargs="+", action="extend", metavar="DIR",
                   help="real pairs: for each --data folder, the folder of its LR images (1/N of the HR's size), "
                        "paired by name (DIV2K's NAMEx2 and RealSR's NAME_LR2 count as NAME), trained on instead "
                        "of a degradation")
    p.add_argument("--downscale", type=float, nargs="+", action="extend", metavar="F",
                   help="also train on each image resized to these fractions of its size (FSRCNN's "
                        "augmentation: --downscale 0.9 0.8 0.7 0.6)")
    p.add_argument("--val", type=path_arg, metavar="DIR",
                   help="validation images (default: the first two training images)")
    p.add_argument("--align", action="store_true", default=None,
                   help="with --lr-data/--val-lr: move each HR image by whole HR pixels onto its LR image's content "
                        "(the shift phase correlation measures), both cropped to what they share; a shift only, not "
                        "a rotation or zoom")
    p.add_argument("--val-lr", type=path_arg, metavar="DIR",
                   help="the LR images of --val, paired by name (default: made by the degradation; needed "
                        "with --lr-data)")
    p.add_argument("--degradation", type=text_arg, metavar="SPEC",
                   help="bicubic (default), kernel:FILE.npy[,noise=SIGMA][,jpeg=Q] or realesrgan")
    p.add_argument("--loss", type=text_arg, metavar="SPEC", help="weighted losses (default l1:1)")
    p.add_argument("--init", type=text_arg, metavar="MODEL_ID|FILE",
                   help="start from this model (fine-tuning; lr 2e-5 by default, 2e-4 when it starts layers at "
                        "another scale)")
    p.add_argument("--iterations", type=int, default=10000, metavar="N", help="training iterations (default 10000)")
    p.add_argument("--batch", type=int, metavar="N", help="patches per iteration (default 16)")
    p.add_argument("--patch", type=int, metavar="N", help="LR patch side in pixels (default 48)")
    p.add_argument("--lr", type=float, metavar="LR",
                   help="learning rate (default 2e-4; 2e-5 with --init of the same scale; --resume: the run's own)")
    p.add_argument("--device", default="auto", type=torch_device_arg, metavar="DEVICE",
                   help=f"compute device: {', '.join(DEVICE_CHOICES)} or cuda:N (default auto)")
    p.add_argument("--amp", default="auto", choices=("auto", "on", "off"),
                   help="mixed precision of the training steps: auto (default: CUDA, and bf16 on CPUs with AMX), "
                        "on (also bf16 on other CPUs: slow there), off (float32); validation and the exported "
                        "model are float32 always")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "openvino"),
                   help="what runs the network at validation: auto (default) times torch and OpenVINO at the "
                        "first validation and keeps the faster; openvino converts each validation's weights "
                        "in memory (CPU, fp32)")
    p.add_argument("--out", type=path_arg, required=True, metavar="DIR", help="run folder")
    p.add_argument("--name", metavar="NAME", help="register the trained model under this name")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint, with the run's settings: a flag among "
                        "--loss, --degradation, --batch, --patch, --seed, --init, --optimizer, --schedule, "
                        "--warmup, --grad-clip, --ema, --downscale, --val, --lr-data, --val-lr, --align and --lr left "
                        "out is "
                        "the run's own; one "
                        "given must match it (--lr, --schedule, --warmup and --grad-clip may change)")
    p.add_argument("--seed", type=seed_arg, metavar="S", help="random seed (default 0)")
    p.add_argument("--optimizer", choices=("adam", "adamw"), help="default adam")
    p.add_argument("--schedule", choices=("cosine", "step", "constant"), help="default cosine")
    p.add_argument("--warmup", type=int, metavar="N", help="linear warm-up iterations (default 0)")
    p.add_argument("--grad-clip", type=float, metavar="NORM", help="clip the gradient norm (default 0 = off)")
    p.add_argument("--ema", type=float, metavar="DECAY", help="EMA of the weights (default 0.999; 0 = off)")
    p.add_argument("--val-every", type=int, default=0, metavar="N", help="validate every N iterations "
                   "(default: 10 times per run)")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                   help="checkpoint every N iterations (default: at each validation)")
    p.add_argument("--log-every", type=int, default=10, metavar="N", help="log every N iterations (default 10)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="data worker threads (default 2)")
    p.add_argument("--cache-mb", type=int, default=2048, metavar="MB",
                   help="MiB of decoded images kept in memory (default 2048)")
    p.add_argument("--vgg-weights", type=path_arg, metavar="FILE", help="VGG19 weights for perceptual/texture losses "
                   "(default: torchvision's file in the torch hub cache)")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's; 1 is "
                   "fastest for small networks on busy cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or validation lines")
    p.set_defaults(func=run)
    return p


def _options(args):
    """The run's `TrainOptions`: the flags given, the defaults for the rest, and with --resume
    the run's own settings for the flags of `RESUMED_AS_RECORDED` left out."""
    from sr_desktop.engine.training import TrainOptions
    from sr_desktop.engine.training.checkpoint import recorded_settings
    from sr_desktop.engine.training.options import RESUMED_AS_RECORDED

    optional = dict(
        downscales=tuple(args.downscale) if args.downscale is not None else None, val=args.val,
        degradation=args.degradation, loss=args.loss, init=args.init, batch=args.batch, patch=args.patch,
        seed=args.seed, optimizer=args.optimizer, schedule=args.schedule, warmup=args.warmup, ema=args.ema,
        grad_clip=args.grad_clip, lr_data=tuple(args.lr_data) if args.lr_data is not None else None,
        val_lr=args.val_lr, align=args.align,
    )
    options = TrainOptions(
        arch=args.arch, scale=args.scale[0], mixed_scales=tuple(args.scale[1:]), data=tuple(args.data),
        backend=args.backend, amp=args.amp, out=args.out, iterations=args.iterations, lr=args.lr,
        device=args.device, name=args.name, resume=args.resume,
        val_every=args.val_every, checkpoint_every=args.checkpoint_every, log_every=args.log_every,
        workers=args.workers, cache_mb=args.cache_mb, vgg_weights=args.vgg_weights,
        **{key: value for key, value in optional.items() if value is not None},
    )
    if not args.resume:
        return options
    left_out = [key for key in RESUMED_AS_RECORDED if optional[key] is None]
    return options.with_recorded(recorded_settings(Path(args.out) / "checkpoint"), left_out)


class _Reporter:
    """Progress bar plus one line per validation on stderr."""

    def __init__(self, quiet: bool):
        from sr_desktop.cli.progress_bar import TerminalProgress

        self.quiet = quiet
        self.bar = TerminalProgress("training", enabled=None if not quiet else False, unit="it")

    def __call__(self, info) -> None:
        if info.stage == TRAINING_SETUP_STAGE:  # (the steps before the first iteration: no bar yet)
            return
        self.bar(info)
        val = info.extra.get("val")
        if val and not self.quiet:
            base = info.extra.get("baseline", {})
            self.bar.say(f"it {info.done}/{info.total}: loss {info.extra.get('loss', 0):.4g}, "
                         f"validation PSNR-Y {val['psnr_y']:.2f} dB, SSIM-Y {val['ssim_y']:.4f} "
                         f"(bicubic {base.get('psnr_y', float('nan')):.2f} dB), {info.extra.get('its', 0):.2f} it/s")


#: the most CPU threads `--threads` asks torch for
MAX_THREADS = 1024


def run(args) -> int:
    """Run `sr-desktop train` for parsed `args` (under `--threads`); returns 0, or 130 when interrupted."""
    from sr_desktop.app.kernel_jobs import torch_threads

    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        # (99999 made OpenBLAS and OpenMP fail to start their threads: a crash, or one library line)
        raise SRDesktopError(f"--threads must be between 1 and {MAX_THREADS}, got {args.threads}")
    send_warnings_to_log(getattr(args, "verbose", False))
    with torch_threads(args.threads):
        return _train(args)


def _kernel_note(trainer) -> str | None:
    """A note when the kernel's size says another scale than the run's (a ×2 estimate, the
    kernel command's default, made a ×4 run's pairs without a word)."""
    from sr_desktop.engine.core.kernel_file import kernel_size_note, kernel_spec_parts

    kernel = getattr(trainer.degradation, "kernel", None)
    parts = kernel_spec_parts(trainer.options.degradation)
    if kernel is None or parts is None:
        return None
    name = printable(Path(parts[0]).name)
    return kernel_size_note(name, kernel, trainer.options.scale, "the training images are blurred with it as given")


def _vgg_weights_note(options) -> str | None:
    """A note when --vgg-weights was given for a loss without a VGG19 term (it went unused
    without a word, a missing file too)."""
    from sr_desktop.engine.training.losses import VGG_LOSSES, parse_loss_spec

    if options.vgg_weights is None or any(t.name in VGG_LOSSES for t in parse_loss_spec(options.loss)):
        return None
    return (f"note: --vgg-weights is for the {' and '.join(VGG_LOSSES)} losses; --loss {options.loss} has neither, "
            "so it is not used")


def _train(args) -> int:
    from sr_desktop.engine.core.progress import CancelToken
    from sr_desktop.engine.training import Trainer
    from sr_desktop.engine.training.checkpoint import has_checkpoint
    from sr_desktop.engine.training.errors import TrainingError

    options = _options(args)
    short_of_memory = (f"not enough memory for batches of {options.batch} patches of {options.patch} px (and the "
                       "decoded images): lower --batch, --patch or --cache-mb")
    try:
        trainer = Trainer(options)
    except MemoryError:
        raise TrainingError(short_of_memory) from None

    def say_notes() -> None:  # (once the run holds its folder: a refused --resume said "resumed with …")
        for note in (trainer.schedule_note, trainer.net.init_note if trainer.ckpt is None else "",
                     _kernel_note(trainer), _vgg_weights_note(trainer.options), *trainer.data_notes):
            if note:
                print(f"sr-desktop: {note}", file=sys.stderr)

    cancel = CancelToken()
    reporter = _Reporter(args.quiet)
    try:
        with stop_signals_call(lambda *_: cancel.cancel()):  # Ctrl+C, SIGTERM, SIGHUP: checkpoint, stop
            result = trainer.run(reporter, cancel, started=say_notes)
    except MemoryError:  # an "unexpected error" (exit 3) before
        kept = f"; its last checkpoint resumes (--resume --out {args.out})" if has_checkpoint(trainer.ckpt_dir) else ""
        raise TrainingError(short_of_memory + kept) from None
    except Cancelled:
        reporter.bar.close()
        if has_checkpoint(trainer.ckpt_dir):
            # (a run's other flags are needed too: "--resume --out RUN" alone was a usage error)
            print(f"sr-desktop: interrupted at iteration {trainer.iteration}; checkpoint saved: the same command "
                  f"with --resume continues it (with --iterations {trainer.saved_iteration} too it exports the "
                  f"model as it stands)", file=sys.stderr)
        else:  # stopped before the first step: there is nothing to resume
            print(f"sr-desktop: interrupted at iteration {trainer.iteration}, before anything was saved; "
                  "start the run again", file=sys.stderr)
        return 130
    finally:
        reporter.bar.close()
    val = result.validation or {}
    scored = (f"validation PSNR-Y {val['psnr_y']:.2f} dB" if "psnr_y" in val
              else "not validated (exported as the checkpoint stood)")
    how = (f"in {result.seconds:.1f} s ({result.iterations_per_second:.2f} it/s)" if result.iterations_per_second > 0
           else "(the checkpoint was at the last one: nothing left to train)")
    print(f"trained {trainer.net.arch} ×{trainer.net.scale}: {counted(result.iterations, 'iteration')} {how}; {scored} "
          f"(bicubic {result.baseline['psnr_y']:.2f} dB)")
    print(f"model: {result.model_path}")
    if result.model_id:
        from sr_desktop.engine.models.registry import get_model_spec

        # the name too: a --name already taken is numbered ("My FSRCNN (2)"), as `models add` says
        print(f"registered as {result.model_id}: {get_model_spec(result.model_id).name}")
    return 0
