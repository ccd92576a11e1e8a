"""ncnn .param/.bin reading: value kinds, weight storage tags, clear errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sr_desktop.engine.models.ncnn import NcnnGraphError, load_ncnn_graph, parse_param_text
from sr_desktop.engine.models.ncnn.weights import TAG_FP16, BinReader

PARAM = """7767517
3 3
Input in 0 1 data
Convolution conv 1 1 data c 0=2 1=3 4=1 5=1 6=54 9=2 -23310=1,2.000000e-01
Deconvolution up 1 1 c out 0=3 1=4 3=2 4=1 5=0 6=96
"""


def _bin(conv_w: np.ndarray, conv_b: np.ndarray, deconv_w: np.ndarray) -> bytes:
    data = struct.pack("<I", TAG_FP16) + conv_w.astype("<f2").tobytes()
    data += conv_b.astype("<f4").tobytes()
    data += struct.pack("<I", 0) + deconv_w.astype("<f4").tobytes()  # raw fp32 with a zero tag
    return data


def test_param_values_and_arrays():
    layers = parse_param_text(PARAM)
    conv = layers[1]
    assert conv.params[0] == 2 and conv.params[10] == [0.2]
    assert conv.bottoms == ["data"] and conv.tops == ["c"]


def test_fp16_and_fp32_blobs_and_layer_math(tmp_path):
    rng = np.random.default_rng(1)
    cw = rng.standard_normal((2, 3, 3, 3)).astype(np.float16).astype(np.float32)
    cb = rng.standard_normal(2).astype(np.float32)
    dw = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)  # ncnn order (out, in, kh, kw)
    (tmp_path / "m.param").write_text(PARAM)
    (tmp_path / "m.bin").write_bytes(_bin(cw, cb, dw))
    graph = load_ncnn_graph(tmp_path / "m.param", tmp_path / "m.bin", cache_dir=None)
    x = torch.rand(1, 3, 7, 6)
    with torch.inference_mode():
        got = graph(x)
    ref = F.leaky_relu(F.conv2d(x, torch.from_numpy(cw), torch.from_numpy(cb), padding=1), 0.2)
    ref = F.conv_transpose2d(ref, torch.from_numpy(dw).transpose(0, 1), stride=2, padding=1)
    assert got.shape == (1, 3, 14, 12)
    assert torch.allclose(got, ref, rtol=0, atol=1e-6)  # measured 0 (same float32 ops)


def test_quantised_codebook_blob():
    table = np.linspace(-1, 1, 256, dtype=np.float32)
    idx = np.array([0, 255, 128, 3, 9], np.uint8)
    data = bytes([1, 0, 0, 0]) + table.tobytes() + idx.tobytes() + b"\0\0\0"
    values = BinReader(data).tagged(5)
    assert np.array_equal(values, table[idx])


def test_errors_are_clear(tmp_path):
    with pytest.raises(NcnnGraphError, match="magic"):
        parse_param_text("123\n1 1\n")
    with pytest.raises(NcnnGraphError, match="line 3"):
        parse_param_text("7767517\n1 1\nInput in zero 1 data\n")
    with pytest.raises(NcnnGraphError, match="not supported"):
        p = tmp_path / "u.param"
        p.write_text("7767517\n2 2\nInput in 0 1 data\nLSTM l 1 1 data out\n")
        (tmp_path / "u.bin").write_bytes(b"")
        load_ncnn_graph(p, tmp_path / "u.bin", cache_dir=None)
    (tmp_path / "m.param").write_text(PARAM)
    (tmp_path / "m.bin").write_bytes(b"\0" * 40)
    with pytest.raises(NcnnGraphError, match="too short"):
        load_ncnn_graph(tmp_path / "m.param", tmp_path / "m.bin", cache_dir=None)


def test_a_killed_write_of_the_weight_cache_is_cleaned_up(tmp_path):
    """A kill while converted weights were written left a hidden .part (up to 67 MB for
    Real-ESRGAN) that nothing ever removed."""
    import subprocess
    import sys

    rng = np.random.default_rng(1)
    (tmp_path / "m.param").write_text(PARAM)
    (tmp_path / "m.bin").write_bytes(_bin(rng.standard_normal((2, 3, 3, 3)).astype(np.float16).astype(np.float32),
                                          rng.standard_normal(2).astype(np.float32),
                                          rng.standard_normal((3, 2, 4, 4)).astype(np.float32)))
    cache = tmp_path / "cache"
    load_ncnn_graph(tmp_path / "m.param", tmp_path / "m.bin", cache_dir=cache)
    (written,) = cache.glob("ncnn-*.safetensors")
    written.unlink()  # as if the kill came before the rename …
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = cache / f".{written.name}.{int(gone.stdout)}-0badc0de.part"  # … with its writer's temp file left
    killed.write_bytes(b"half of the tensors")
    load_ncnn_graph(tmp_path / "m.param", tmp_path / "m.bin", cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir()) == [written.name]


@pytest.mark.parametrize(("params", "words"), [("0=2 3=12000 4=12000", "sides up to 4096"),
                                               ("0=2 1=100.0 2=100.0", "beyond ×16")])
def test_an_interp_beyond_an_upscalers_sizes_is_refused_before_it_runs(tmp_path, params, words):
    """A 100-byte .param asking an Interp for 12000×12000 took 1.9 GB while `models add`
    measured its graph, before its scale was refused."""
    (tmp_path / "i.param").write_text(f"7767517\n2 2\nInput in 0 1 data\nInterp up 1 1 data out {params}\n")
    (tmp_path / "i.bin").write_bytes(b"")
    with pytest.raises(NcnnGraphError, match=words):
        load_ncnn_graph(tmp_path / "i.param", tmp_path / "i.bin", cache_dir=None)
