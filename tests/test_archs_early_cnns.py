"""SRCNN, FSRCNN, ESPCN, VDSR (two layouts) and LapSRN: a random state dict in each port's
key layout is detected (architecture, hyper-parameters, scale), built, and its output
equals a forward pass written here from the papers' equations with torch.nn.functional.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sr_desktop.engine.models.archs.detect import detect_architecture

#: measured max abs diff: 0.0 in every test (CPU, 1 and 2 threads: the same torch kernels
#: on the same tensors); the bound leaves float32 rounding room for another conv algorithm
TOL = 1e-6


def _w(*shape: int) -> torch.Tensor:
    return torch.randn(*shape) * (2.0 / (shape[1] * shape[-1] * shape[-2])) ** 0.5


def _b(n: int) -> torch.Tensor:
    return torch.randn(n) * 0.1


def _conv(x: torch.Tensor, state: dict, name: str) -> torch.Tensor:
    """'same' convolution (odd square kernel) with the optional bias of `name`."""
    w = state[f"{name}.weight"]
    return F.conv2d(x, w, state.get(f"{name}.bias"), padding=w.shape[-1] // 2)


def _pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """Shi et al.'s periodic shuffling: channel c·r² + i·r + j -> pixel (r·y + i, r·x + j)."""
    n, c, h, w = x.shape
    return x.view(n, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)


def _check(module: torch.nn.Module, ref: torch.Tensor, x: torch.Tensor, **kwargs) -> float:
    with torch.inference_mode():
        out = module(x, **kwargs)
    assert out.shape == ref.shape
    diff = float((out - ref).abs().max())
    assert diff < TOL, diff
    return diff


# -- SRCNN -------------------------------------------------------------------------------


@pytest.mark.parametrize("f2,channels", [(1, 1), (5, 1), (5, 3)])
def test_srcnn(f2, channels):
    torch.manual_seed(0)
    n1, n2 = 16, 8
    state = {"conv1.weight": _w(n1, channels, 9, 9), "conv1.bias": _b(n1),
             "conv2.weight": _w(n2, n1, f2, f2), "conv2.bias": _b(n2),
             "conv3.weight": _w(channels, n2, 5, 5), "conv3.bias": _b(channels)}
    found = detect_architecture(state)
    assert found.arch == "SRCNN"
    assert found.params == dict(num_channels=channels, n1=n1, n2=n2, f1=9, f2=f2, f3=5)
    assert found.scales == (2, 3, 4)  # scale-free: the input is already bicubic-upscaled
    assert found.support.color_for(found.params) == ("y" if channels == 1 else "rgb")
    x = torch.rand(1, channels, 12, 12)
    # F1 = max(0, W1*Y + B1), F2 = max(0, W2*F1 + B2), F = W3*F2 + B3
    ref = _conv(F.relu(_conv(F.relu(_conv(x, state, "conv1")), state, "conv2")), state, "conv3")
    _check(found.build(), ref, x)  # measured 0.0


# -- FSRCNN ------------------------------------------------------------------------------


def test_fsrcnn():
    torch.manual_seed(1)
    d, s, m, scale = 12, 4, 3, 3
    state = {"first_part.0.weight": _w(d, 1, 5, 5), "first_part.0.bias": _b(d),
             "first_part.1.weight": torch.rand(d) * 0.5,
             "mid_part.0.weight": _w(s, d, 1, 1), "mid_part.0.bias": _b(s),
             "mid_part.1.weight": torch.rand(s) * 0.5}
    for i in range(m):
        state[f"mid_part.{2 * i + 2}.weight"] = _w(s, s, 3, 3)
        state[f"mid_part.{2 * i + 2}.bias"] = _b(s)
        state[f"mid_part.{2 * i + 3}.weight"] = torch.rand(s) * 0.5
    state[f"mid_part.{2 * m + 2}.weight"] = _w(d, s, 1, 1)
    state[f"mid_part.{2 * m + 2}.bias"] = _b(d)
    state[f"mid_part.{2 * m + 3}.weight"] = torch.rand(d) * 0.5
    state["last_part.weight"] = torch.randn(d, 1, 9, 9) * 0.01
    state["last_part.bias"] = _b(1)

    found = detect_architecture(state)
    assert (found.arch, found.scale, found.scales) == ("FSRCNN", 0, ())  # stride not in the weights
    assert found.params == dict(num_channels=1, d=d, s=s, m=m)
    found.set_scale(scale)
    assert found.scales == (scale,)

    x = torch.rand(1, 1, 12, 12)
    h = F.prelu(_conv(x, state, "first_part.0"), state["first_part.1.weight"])
    for i in range(0, 2 * m + 4, 2):
        h = F.prelu(_conv(h, state, f"mid_part.{i}"), state[f"mid_part.{i + 1}.weight"])
    # deconvolution 9×9, stride n: output pixel o gathers input i with o = n·i - 4 + k
    ref = F.conv_transpose2d(h, state["last_part.weight"], state["last_part.bias"], stride=scale,
                             padding=4, output_padding=scale - 1)
    assert ref.shape[-2:] == (36, 36)
    _check(found.build(), ref, x)  # measured 0.0


# -- ESPCN -------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_espcn(scale):
    torch.manual_seed(scale)
    state = {"first_part.0.weight": _w(16, 1, 5, 5), "first_part.0.bias": _b(16),
             "first_part.2.weight": _w(8, 16, 3, 3), "first_part.2.bias": _b(8),
             "last_part.0.weight": _w(scale * scale, 8, 3, 3), "last_part.0.bias": _b(scale * scale)}
    found = detect_architecture(state)
    assert (found.arch, found.scale, found.scales) == ("ESPCN", scale, (scale,))
    assert found.params == dict(upscale=scale, num_channels=1, n1=16, n2=8, activation="tanh")
    x = torch.rand(1, 1, 12, 12)
    h = torch.tanh(_conv(torch.tanh(_conv(x, state, "first_part.0")), state, "first_part.2"))
    ref = _pixel_shuffle(_conv(h, state, "last_part.0"), scale)
    _check(found.build(), ref, x)  # measured 0.0


# -- VDSR --------------------------------------------------------------------------------


def test_vdsr_common_port_layout():
    """twtygqyy/pytorch-vdsr: ``input``, ``residual_layer.0..17.conv``, ``output``, no biases."""
    torch.manual_seed(3)
    state = {"input.weight": _w(64, 1, 3, 3), "output.weight": _w(1, 64, 3, 3) * 0.1}
    for i in range(18):
        state[f"residual_layer.{i}.conv.weight"] = _w(64, 64, 3, 3)
    found = detect_architecture(state)
    assert found.arch == "VDSR" and found.scales == (2, 3, 4)
    assert found.params == dict(num_channels=1, num_feat=64, num_layers=20, bias=False, mean_shift=False)
    assert found.support.pre_upsample and found.support.color_for(found.params) == "y"

    x = torch.rand(1, 1, 12, 12)
    h = F.relu(_conv(x, state, "input"))
    for i in range(18):
        h = F.relu(_conv(h, state, f"residual_layer.{i}.conv"))
    ref = x + _conv(h, state, "output")  # the network learns the residual
    _check(found.build(), ref, x)  # measured 0.0


def test_vdsr_edsr_pytorch_layout():
    """EDSR-PyTorch ``vdsr``: ``body.0.0`` … ``body.L.0`` with biases, ``sub_mean``/``add_mean``
    (1×1 convs: x - 255·mean and back), RGB on 0..255."""
    torch.manual_seed(4)
    layers, feat = 6, 16
    mean = torch.tensor([0.4488, 0.4371, 0.4040])
    state = {"sub_mean.weight": torch.eye(3).view(3, 3, 1, 1), "sub_mean.bias": -255 * mean,
             "add_mean.weight": torch.eye(3).view(3, 3, 1, 1), "add_mean.bias": 255 * mean,
             "body.0.0.weight": _w(feat, 3, 3, 3), "body.0.0.bias": _b(feat)}
    for i in range(1, layers - 1):
        state[f"body.{i}.0.weight"] = _w(feat, feat, 3, 3)
        state[f"body.{i}.0.bias"] = _b(feat)
    state[f"body.{layers - 1}.0.weight"] = _w(3, feat, 3, 3)
    state[f"body.{layers - 1}.0.bias"] = _b(3)
    found = detect_architecture(state)
    assert found.arch == "VDSR-EDSR" and found.scales == (2, 3, 4)
    assert found.params == dict(num_channels=3, num_feat=feat, num_layers=layers, bias=True, mean_shift=True)
    assert found.support.input_range == 255.0 and found.support.color_for(found.params) == "rgb"

    x = torch.rand(1, 3, 12, 12) * 255
    shifted = F.conv2d(x, state["sub_mean.weight"], state["sub_mean.bias"])
    h = shifted
    for i in range(layers):
        h = _conv(h, state, f"body.{i}.0")
        h = F.relu(h) if i < layers - 1 else h
    ref = F.conv2d(h + shifted, state["add_mean.weight"], state["add_mean.bias"])
    _check(found.build(), ref, x)  # measured 0.0


# -- LapSRN ------------------------------------------------------------------------------


def _bilinear_4x4() -> torch.Tensor:
    """The ×2 bilinear kernel LapSRN initialises its image upsampling with."""
    k = torch.tensor([0.25, 0.75, 0.75, 0.25])
    return torch.outer(k, k)


def test_lapsrn_x8_pyramid_and_early_stop():
    """twtygqyy/pytorch-LapSRN layout extended to three levels (×8), depth 3."""
    torch.manual_seed(5)
    feat, depth, levels = 8, 3, 3
    state = {"conv_input.weight": _w(feat, 1, 3, 3)}
    for k in range(1, levels + 1):
        for j in range(depth):
            state[f"convt_F{k}.0.cov_block.{2 * j}.weight"] = _w(feat, feat, 3, 3)
        state[f"convt_F{k}.0.cov_block.{2 * depth}.weight"] = _w(feat, feat, 4, 4) * 0.5
        state[f"convt_I{k}.weight"] = (_bilinear_4x4() + 0.05 * torch.randn(4, 4)).view(1, 1, 4, 4)
        state[f"convt_R{k}.weight"] = _w(1, feat, 3, 3) * 0.1
    found = detect_architecture(state)
    assert (found.arch, found.scale, found.scales) == ("LapSRN", 8, (2, 4, 8))
    assert found.params == dict(num_levels=levels, depth=depth, num_feat=feat, num_channels=1, bias=False)
    assert found.support.forward_kwargs(4, found.params) == {"levels": 2}

    x = torch.rand(1, 1, 12, 12)
    # feature branch: leaky ReLU (0.2) after every conv and transposed conv (4×4, stride 2,
    # padding 1: exactly ×2); image branch: I_k = up(I_{k-1}) + R_k(features_k)
    lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
    f, image, refs = lrelu(F.conv2d(x, state["conv_input.weight"], padding=1)), x, []
    for k in range(1, levels + 1):
        for j in range(depth):
            f = lrelu(F.conv2d(f, state[f"convt_F{k}.0.cov_block.{2 * j}.weight"], padding=1))
        f = lrelu(F.conv_transpose2d(f, state[f"convt_F{k}.0.cov_block.{2 * depth}.weight"], stride=2, padding=1))
        image = (F.conv_transpose2d(image, state[f"convt_I{k}.weight"], stride=2, padding=1)
                 + F.conv2d(f, state[f"convt_R{k}.weight"], padding=1))
        refs.append(image)
    assert [r.shape[-1] for r in refs] == [24, 48, 96]

    module = found.build()
    with torch.inference_mode():
        pyramid = module.pyramid(x)
    assert max(float((a - b).abs().max()) for a, b in zip(pyramid, refs, strict=True)) < TOL  # measured 0.0
    for n in (1, 2, 3):  # a ×8 checkpoint serves ×2 and ×4 by stopping at that level
        _check(module, refs[n - 1], x, levels=n)


def test_a_one_channel_vdsr_of_edsr_pytorch_is_refused_as_not_rgb():
    """EDSR-PyTorch's VDSR runs on RGB; one with one channel (its ``num_channels``, which the
    RGB check did not read: it knew ``num_in_ch``/``num_out_ch`` only) was detected, then
    failed every image."""
    from sr_desktop.engine.models.archs.detect import UnsupportedStateDict

    state = {"sub_mean.weight": torch.ones(1, 1, 1, 1), "sub_mean.bias": torch.zeros(1),
             "add_mean.weight": torch.ones(1, 1, 1, 1), "add_mean.bias": torch.zeros(1),
             "body.0.0.weight": _w(8, 1, 3, 3), "body.0.0.bias": _b(8),
             "body.1.0.weight": _w(8, 8, 3, 3), "body.1.0.bias": _b(8),
             "body.2.0.weight": _w(1, 8, 3, 3), "body.2.0.bias": _b(1)}
    with pytest.raises(UnsupportedStateDict, match="a VDSR-EDSR with 1 image channels: the app runs VDSR-EDSR on RGB"):
        detect_architecture(state)


def test_every_rgb_architecture_counts_its_image_channels_under_a_name_the_check_reads():
    """A new architecture whose constructor said ``in_nc`` (as IMDN's official code) took a
    one-channel file without a word: the RGB check reads `IMAGE_CHANNELS` only."""
    import inspect

    from sr_desktop.engine.models.archs import ARCH_REGISTRY
    from sr_desktop.engine.models.archs.detect import IMAGE_CHANNELS

    unread = [s.name for s in ARCH_REGISTRY
              if s.color != "y" and not set(inspect.signature(s.module).parameters) & set(IMAGE_CHANNELS)]
    assert unread == []
