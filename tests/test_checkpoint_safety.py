"""A checkpoint is checked before anything is built: crafted files that claim huge networks
are refused in well under a second without allocating them, and a file that does not fit
gets one line naming the first tensor at fault."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models import custom
from sr_desktop.engine.models.archs import detect
from sr_desktop.engine.models.archs.detect import (
    ArchSupport,
    UnknownArchitecture,
    UnsupportedStateDict,
    check_hyperparameters,
    detect_architecture,
)
from sr_desktop.engine.models.archs.rrdbnet import RRDBNet
from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

REPO = Path(__file__).resolve().parents[1]
REGISTRY = detect.ARCH_REGISTRY


def _view(*shape: int) -> torch.Tensor:
    """One stored value seen as a tensor of `shape` (stride 0): tiny on disk, huge if copied."""
    return torch.zeros(1).expand(*shape)


def _crafted_files(folder: Path) -> dict[str, Path]:
    """The issue's two cases, each as a view-crafted file and as one that stores every value."""
    files = {}
    n = 4096  # SRVGGNetCompact whose first convolution claims 4,096 channels
    wide = {"body.0.weight": _view(n, 3, 3, 3), "body.0.bias": _view(n), "body.1.weight": _view(n)}
    for i in range(1, 9):
        wide |= {f"body.{2 * i}.weight": _view(n, n, 3, 3), f"body.{2 * i}.bias": _view(n),
                 f"body.{2 * i + 1}.weight": _view(n)}
    wide |= {"body.18.weight": _view(12, n, 3, 3), "body.18.bias": _view(12)}
    files["wide-view"] = folder / "wide-view.pth"
    torch.save(wide, files["wide-view"])
    files["wide-stored"] = folder / "wide-stored.pth"
    torch.save({"body.0.weight": torch.zeros(n, 3, 3, 3), "body.0.bias": torch.zeros(n),
                "body.1.weight": torch.zeros(n), "body.2.weight": torch.zeros(12, n, 3, 3),
                "body.2.bias": torch.zeros(12)}, files["wide-stored"])
    # RRDBNet whose keys go up to body.2999 (one tensor per block)
    top = {k: v for k, v in RRDBNet(num_block=1).state_dict().items() if not k.startswith("body.")}
    files["deep-view"] = folder / "deep-view.pth"
    torch.save(top | {f"body.{b}.rdb1.conv1.weight": _view(32, 64, 3, 3) for b in range(3000)},
               files["deep-view"])
    files["deep-stored"] = folder / "deep-stored.pth"
    torch.save(top | {f"body.{b}.rdb1.conv1.weight": torch.zeros(32, 64, 1, 1) for b in range(3000)},
               files["deep-stored"])
    return files


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak RSS is read from /proc")
def test_crafted_huge_networks_are_refused_fast_without_allocating(tmp_path):
    """Before: wide-view was *added* after 18.8 s at 4.85 GB peak RSS; deep-view died after
    35 s at 7.5 GB with 'DefaultCPUAllocator: can't allocate memory' (exit 3)."""
    files = _crafted_files(tmp_path)
    script = textwrap.dedent("""
        import json, resource, sys, time
        limit = 3 << 30  # a regression fails here instead of eating the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        from sr_desktop.cli.main import main
        main(["models", "add", "absent.pth"])  # imports torch & co: not part of the check's time
        report = {}
        for name, path in json.loads(sys.argv[1]).items():
            start = time.process_time()  # CPU seconds: other jobs on the machine do not count
            code = main(["models", "add", path])
            report[name] = [code, time.process_time() - start]
        # VmHWM: this process's own peak (ru_maxrss would include the forking parent's)
        status = open("/proc/self/status").read()
        report["peak_rss_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
        print(json.dumps(report))
    """)
    env = {"PYTHONPATH": str(REPO), "SR_DESKTOP_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", script, json.dumps({k: str(v) for k, v in files.items()})],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    errors = proc.stderr.strip().splitlines()[1:]
    assert len(errors) == 4 and all(e.startswith("sr-desktop: error: cannot use model file") for e in errors)
    assert "crafted or damaged" in errors[0] and "4096×4096×3×3" in errors[0]
    assert "num_feat=4096" in errors[1]
    assert "crafted or damaged" in errors[2]
    assert "num_block=3000" in errors[3]
    for name in files:
        code, seconds = report[name]
        assert code == 2, name
        assert seconds < 1.0, (name, seconds)  # measured 0.01 - 0.55 s CPU (torch.load of 3000 keys)
    assert report["peak_rss_mb"] < 500  # measured 271 MB (about 240 MB is torch itself)
    assert not list((tmp_path / "home").rglob("*.pth"))


def _fake_support(name: str, module, params: dict, state: dict) -> ArchSupport:
    return ArchSupport(name=name, matches=lambda s: "fake.marker" in s,
                       infer=lambda s: (2, dict(params), {k: v for k, v in s.items() if k != "fake.marker"}),
                       module=module, context=8, recommended_tile=64)


def _with_fake(monkeypatch, support: ArchSupport) -> None:
    monkeypatch.setattr(detect, "ARCH_REGISTRY", REGISTRY + (support,))
    monkeypatch.setattr(custom, "ARCH_REGISTRY", detect.ARCH_REGISTRY)


def test_module_is_built_on_meta_first_and_never_for_real_when_shapes_differ(monkeypatch):
    devices = []

    class Net(nn.Module):
        def __init__(self, feat: int):
            super().__init__()
            devices.append(torch.empty(0).device.type)
            self.conv = nn.Conv2d(3, feat, 3)

    state = {"fake.marker": torch.zeros(1), "conv.weight": torch.zeros(16, 3, 3, 3), "conv.bias": torch.zeros(16)}
    _with_fake(monkeypatch, _fake_support("Fake", Net, {"feat": 8}, state))
    detected = detect_architecture(state)
    with pytest.raises(UnsupportedStateDict) as err:
        detected.build()
    assert str(err.value) == "Fake weights do not fit: conv.weight is 16×3×3×3 in the file, 8×3×3×3 in the network"
    assert devices == ["meta"]
    detected.params = {"feat": 16}
    assert isinstance(detected.build(), Net) and devices == ["meta", "meta", "cpu"]


def test_architecture_without_limits_is_bounded_by_the_weight_budget(monkeypatch):
    """A family with no row in ARCH_LIMITS (e.g. one added later) is still safe: building on
    meta stops after a bounded number of weights."""
    built = []

    def many_layers(layers: int, feat: int) -> nn.Module:
        built.append(torch.empty(0).device.type)
        return nn.Sequential(*[nn.Conv2d(feat, feat, 3) for _ in range(layers)])

    state = {"fake.marker": torch.zeros(1), "0.weight": torch.zeros(4, 4, 3, 3)}
    _with_fake(monkeypatch, _fake_support("Deep", many_layers, {"layers": 1000, "feat": 4}, state))
    start = time.perf_counter()
    with pytest.raises(UnsupportedStateDict, match="over 66 weight tensors"):
        detect_architecture(state).build()
    # 30 convolutions of 1000×1000×3×3: 270 M weights, every hyper-parameter within the limits
    _with_fake(monkeypatch, _fake_support("Wide", many_layers, {"layers": 30, "feat": 1000}, state))
    with pytest.raises(UnsupportedStateDict, match="over 200,000,000 weights"):
        detect_architecture(state).build()
    assert time.perf_counter() - start < 1.0  # measured 0.03 s
    assert built == ["meta", "meta"]


def test_limits_accept_every_published_size_and_refuse_absurd_ones():
    check_hyperparameters("RRDBNet", dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23,
                                          num_grow_ch=32, num_upsample=2, unshuffle=4))
    check_hyperparameters("SRVGGNetCompact", dict(num_feat=64, num_conv=32, upscale=4))
    check_hyperparameters("SPAN", dict(feature_channels=52, upscale=4))
    # families without their own row: EDSR full, RCAN, SwinIR-L sizes
    check_hyperparameters("EDSR", dict(n_feats=256, n_resblocks=32, res_scale=0.1))
    check_hyperparameters("RCAN", dict(n_resgroups=10, n_resblocks=20, n_feats=64, reduction=16))
    check_hyperparameters("SwinIR", dict(embed_dim=240, depths=[6] * 9, num_heads=[8] * 9, window_size=8))
    for arch, params in (("RRDBNet", {"num_feat": 4096}), ("RRDBNet", {"num_block": 3000}),
                         ("SRVGGNetCompact", {"num_conv": 1000}), ("SwinIR", {"depths": [6, 5000]}),
                         ("EDSR", {"n_feats": -1})):
        with pytest.raises(UnsupportedStateDict, match="not a plausible network"):
            check_hyperparameters(arch, params)


def test_a_full_size_real_esrgan_layout_still_loads():
    net = RRDBNet(num_block=23)
    model = detect_architecture(net.state_dict()).build()
    assert torch.equal(model.conv_last.weight, net.conv_last.weight)


def _save(state: dict, path: Path) -> Path:
    torch.save(state, path)
    return path


def test_shape_mismatch_names_the_tensor_and_both_shapes(tmp_path, capsys):
    state = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict()
    state["body.4.weight"] = torch.zeros(8, 4, 3, 3)
    path = _save(state, tmp_path / "bad.pth")
    assert main(["models", "add", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    # before: "... (SRVGGNetCompact weights do not fit: Error(s) in loading state_dict for SRVGGNetCompact:)"
    assert err == (f"sr-desktop: error: cannot use model file {path}: SRVGGNetCompact weights do not fit: "
                   "body.4.weight is 8×4×3×3 in the file, 8×8×3×3 in the network")


def test_missing_and_unexpected_tensors_are_named_and_counted(tmp_path):
    state = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4).state_dict()
    missing = dict(state)
    del missing["conv_hr.weight"], missing["conv_hr.bias"]
    with pytest.raises(ModelError) as err:
        custom.detect_model_file(_save(missing, tmp_path / "missing.pth"))
    assert str(err.value).endswith(
        "RRDBNet weights do not fit: 2 tensor(s) missing from the file (first: conv_hr.weight)")
    extra = state | {"extra.weight": torch.zeros(2), "extra.bias": torch.zeros(2), "more.weight": torch.zeros(1)}
    with pytest.raises(ModelError) as err:
        custom.detect_model_file(_save(extra, tmp_path / "extra.pth"))
    assert str(err.value).endswith(
        "RRDBNet weights do not fit: 3 unexpected tensor(s) in the file (first: extra.weight)")


def test_unknown_architecture_lists_every_supported_family(tmp_path, monkeypatch):
    other = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 3, 1)).state_dict()
    with pytest.raises(UnknownArchitecture):
        detect_architecture(other)
    path = _save(other, tmp_path / "other.pth")
    with pytest.raises(ModelError) as err:
        custom.detect_model_file(path)
    message = str(err.value)
    for support in detect.ARCH_REGISTRY:
        assert support.name in message
    assert "ncnn .param/.bin pair" in message and "\n" not in message
    # a family added to the registry is named without touching the message
    _with_fake(monkeypatch, _fake_support("NewNet", nn.Identity, {}, {}))
    with pytest.raises(ModelError, match=r" or NewNet state dict"):
        custom.detect_model_file(path)


def test_a_recognised_family_with_broken_keys_says_which_family(tmp_path):
    state = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4).state_dict()
    del state["body.1.rdb1.conv1.weight"], state["body.1.rdb1.conv1.bias"]
    state = {k.replace("body.1.", "body.5."): v for k, v in state.items()}
    with pytest.raises(UnsupportedStateDict, match=r"^RRDBNet layer names, but RRDB blocks are not numbered"):
        detect_architecture(state)
