"""Tiny random-weight networks of spandrel's architectures, built with spandrel's own
classes (the tests of tests/community/ compare the app's output with spandrel's)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

SKIP_REASON = ("spandrel is not installed (the optional extra sr-desktop[community]; "
               "`bash scripts/test.sh` runs these tests in .venv-community)")


def import_spandrel():
    """spandrel, or skip the calling test module (spandrel is an optional extra)."""
    return pytest.importorskip("spandrel", reason=SKIP_REASON)


def _hat(scale: int):
    from spandrel.architectures.HAT.__arch.HAT import HAT

    return HAT(img_size=16, embed_dim=12, depths=(1,), num_heads=(2,), window_size=4,
               upscale=scale, num_feat=8, squeeze_factor=4)


def _swinir_grey(scale: int):
    from spandrel.architectures.SwinIR.__arch.SwinIR import SwinIR

    return SwinIR(img_size=16, in_chans=1, embed_dim=12, depths=(1,), num_heads=(2,), window_size=4,
                  upscale=scale, upsampler="pixelshuffledirect")


def _omnisr(scale: int):
    from spandrel.architectures.OmniSR.__arch.OmniSR import OmniSR

    return OmniSR(num_feat=8, block_num=1, window_size=4, res_num=1, up_scale=scale)


def _realplksr(scale: int):
    from spandrel.architectures.PLKSR.__arch.RealPLKSR import RealPLKSR

    return RealPLKSR(dim=8, n_blocks=2, upscaling_factor=scale, kernel_size=7)


def _swin2sr(scale: int):
    from spandrel.architectures.Swin2SR.__arch.Swin2SR import Swin2SR

    return Swin2SR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=scale,
                   upsampler="pixelshuffledirect")


def _realcugan(scale: int):
    from spandrel.architectures.RealCUGAN.__arch.upcunet_v3 import UpCunet2x

    assert scale == 2
    return UpCunet2x(in_channels=3, out_channels=3)


def _dncnn(scale: int):
    from spandrel.architectures.DnCNN.__arch.network_dncnn import DnCNN

    assert scale == 1
    return DnCNN(in_nc=1, out_nc=1, nc=8, nb=4)


#: name -> (builder, scale, spandrel's architecture id, purpose, tiled by the app, grey)
NETS = {
    "hat": (_hat, 2, "HAT", "SR", True, False),
    "swinir-grey": (_swinir_grey, 2, "SwinIR", "SR", False, True),
    "omnisr": (_omnisr, 3, "OmniSR", "SR", True, False),
    "realplksr": (_realplksr, 2, "PLKSR", "SR", True, False),
    "swin2sr": (_swin2sr, 2, "Swin2SR", "SR", True, False),
    "realcugan": (_realcugan, 2, "RealCUGAN", "SR", False, False),  # (spandrel: SUPPORTED; run whole)
    "dncnn-grey": (_dncnn, 1, "DnCNN", "Restoration", True, True),
}


@functools.cache
def state_dict(name: str) -> dict[str, torch.Tensor]:
    """The random weights of `name` (seeded: the same every run)."""
    torch.manual_seed(sum(map(ord, name)))
    build, scale = NETS[name][:2]
    with warnings.catch_warnings():  # the architectures' own torch.meshgrid notice
        warnings.simplefilter("ignore", UserWarning)
        net = build(scale)
    with torch.no_grad():  # biases and norms away from their neutral initial values
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}


def save(name: str, folder: Path, fmt: str = "pth") -> Path:
    """Write `name`'s weights as ``.pth`` (a BasicSR ``params_ema`` container) or ``.safetensors``."""
    path = folder / f"{name}.{fmt}"
    state = state_dict(name)
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({"params_ema": state}, path)
    return path


def spandrel_descriptor(path: Path):
    """The file loaded by spandrel itself (its own reader), the reference of the tests."""
    import spandrel

    return spandrel.ModelLoader().load_from_file(str(path)).eval()


def run_cli(*args: str, home: Path, check: bool = True, wait: bool = True):
    """``python -m sr_desktop ARGS`` in a subprocess with SR_DESKTOP_HOME=`home`; with
    ``wait=False`` the started `Popen` (stdout/stderr piped)."""
    env = {**os.environ, "SR_DESKTOP_HOME": str(home)}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "sr_desktop", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=240)
    if check:
        assert proc.returncode == 0, err
    return proc.returncode, out, err
