"""Reading a weight file — a PyTorch pickle (``.pth``/``.pt``/``.ckpt``) or ``.safetensors`` —
as plain tensors, never running pickled code, with one reason when it cannot be read.

Every reader of user-given weights goes through `read_weight_file`: custom models, the VGG19
of the perceptual losses, the LPIPS/DISTS weights of the metrics.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.paths import DOCS_DIR
from sr_desktop.engine.core.quiet_warnings import warnings_ignored

#: files larger than this are refused before they are read: a BasicSR file holding
#: ``params`` and ``params_ema`` of a network at `archs.detect.MAX_PARAMETERS` (200 M
#: weights) in float32 is 1.6 GB; the largest published SR networks are far smaller
MAX_WEIGHT_FILE_BYTES = 2_000_000_000
SAFETENSORS_SUFFIX = ".safetensors"


class WeightFileError(SRDesktopError):
    """A weight file that cannot be read: ``reason`` is the short why; ``refused``: it was
    not read on purpose (Python objects that could run code, an absurd size); ``damaged``:
    it is a PyTorch or safetensors file cut short or broken (a download that did not finish)."""

    def __init__(self, message: str, reason: str, refused: bool = False, damaged: bool = False):
        super().__init__(message)
        self.reason = reason
        self.refused = refused
        self.damaged = damaged


def _safetensors_header_length(head: bytes, size: int) -> int | None:
    """The JSON header length a safetensors file of `size` bytes beginning with `head` (its
    first 9 bytes or more) declares, or None when it is not one: an 8-byte little-endian
    length that fits the file, then "{" (the length check keeps random bytes with a "{" at
    offset 8, 1 file in 256, for torch's reader)."""
    if len(head) < 9 or head[8:9] != b"{":
        return None
    declared = int.from_bytes(head[:8], "little")
    return declared if 2 <= declared <= size - 8 else None


def _utf8_path(path: Path) -> bool:
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_weight_file(path: str | os.PathLike, what: str = "weights") -> Any:
    """The object stored in ``path`` (usually a state dict, possibly nested in a
    checkpoint), holding tensors and plain containers only. ``what`` names the file in
    errors ("VGG19 weights"). Raises `WeightFileError`."""
    path = Path(path)
    if not path.is_file():
        raise WeightFileError(f"{what} not found: {path}", "not found")
    size = path.stat().st_size
    if size == 0:  # (it was "not an RRDBNet, …, nor an ncnn pair": the whole list of architectures)
        raise WeightFileError(f"cannot read {what} {path}: the file is empty", "the file is empty", refused=True)
    if size > MAX_WEIGHT_FILE_BYTES:
        reason = (f"{size / 1e9:.1f} GB is more than any SR network needs "
                  f"(limit {MAX_WEIGHT_FILE_BYTES / 1e9:.0f} GB)")
        raise WeightFileError(f"refused to load {what} {path}: {reason}", reason, refused=True)
    with open(path, "rb") as fh:
        head = fh.read(16)
    sniffed = _safetensors_header_length(head, size) is not None
    # a PyTorch zip or pickle named .safetensors (renamed by hand) is read as what it is:
    # "header too large" said nothing of the kind
    torch_file = head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"
    if sniffed or (path.suffix.lower() == SAFETENSORS_SUFFIX and not torch_file):
        from safetensors.torch import load, load_file

        try:
            if _utf8_path(path):
                return load_file(str(path), device="cpu")
            # (safetensors takes UTF-8 paths only: a Latin-1 name was "not a readable safetensors file")
            return load(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - any parse failure means a bad file
            if sniffed:  # (its header is a safetensors one: the rest is cut short or broken)
                raise WeightFileError(f"cannot read {what} {path}: {DAMAGED}", DAMAGED, damaged=True) from None
            reason = f"not a readable safetensors file: {one_line(exc)}"
            raise WeightFileError(f"cannot read {what} {path}: {reason}", reason) from None
    import torch

    try:
        with warnings_ignored():  # torch's notes on pickle protocols would be lines of their own
            # (from an open file: given the path of one named .safetensors, torch reads it as that)
            with open(path, "rb") as fh:
                return torch.load(fh, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # a pickle naming a Python global (a class, a function such as os.system) versus
        # one that is merely not a pickle; torch's own text advises an unsafe load
        if "global" in str(exc).lower() or "unsupported class" in str(exc).lower():
            reason = ("it contains Python objects other than tensors, which could run code; "
                      "only plain weight files are accepted (a file holding a whole saved network: "
                      f"save its state_dict() alone once, see {DOCS_DIR / 'models.md'})")
            raise WeightFileError(f"refused to load {what} {path}: {reason}", reason, refused=True) from None
        damaged = _cut_short(path, head, exc)
        reason = "not a readable PyTorch file"
    except Exception as exc:  # noqa: BLE001 - truncated zips, random bytes...: all bad files
        # a PyTorch zip whose archive does not hold together, or a pickle that ends early: cut
        # short or broken (a whole zip that is no state dict, a TorchScript archive, is not)
        damaged = _cut_short(path, head, exc)
        reason = "not a readable PyTorch file"
    if damaged:
        raise WeightFileError(f"cannot read {what} {path}: {DAMAGED}", DAMAGED, damaged=True)
    raise WeightFileError(f"cannot read {what} {path}: {reason}", reason)


def _cut_short(path: Path, head: bytes, exc: BaseException) -> bool:
    """Whether a PyTorch file (`head`: its first bytes) that failed to load with `exc` is cut
    short or broken rather than another kind of file."""
    import zipfile

    if head.startswith(b"PK\x03\x04"):
        return not zipfile.is_zipfile(path)  # (no end of its central directory: cut short)
    text = str(exc).lower()
    return head[:1] == b"\x80" and (isinstance(exc, EOFError) or "truncated" in text or "unexpected eof" in text)


#: the reason given for a PyTorch or safetensors file that begins as one and does not read
DAMAGED = "the file is damaged or incomplete (a download that did not finish?)"

#: the largest safetensors header `safetensors_metadata` reads (the tensors' table and
#: the metadata; a real one is a few KB)
MAX_HEADER_BYTES = 16 * 1024 * 1024


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``__metadata__`` strings of a safetensors file (what SR Desktop's training wrote
    in: architecture, scale, data …); empty for any other file or a header that does not
    parse."""
    import json

    try:
        with open(path, "rb") as fh:
            declared = _safetensors_header_length(fh.read(9), os.fstat(fh.fileno()).st_size)
            if declared is None or declared > MAX_HEADER_BYTES:
                return {}
            fh.seek(8)
            header = json.loads(fh.read(declared))
    except (OSError, ValueError):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return {k: v for k, v in meta.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(meta, dict) \
        else {}


def refuse_non_finite(state: dict, path: Path | str) -> None:
    """`ModelError` (one line) when a floating tensor of `state`, the weights built from
    `path`, holds NaN or ±inf: check the built network's, never a crafted file's views."""
    from sr_desktop.engine.core.errors import ModelError

    broken = first_non_finite(state)
    if broken is not None:
        raise ModelError(f"refused to load {path}: its weight {broken} holds NaN or infinity "
                         "(a damaged or diverged file), which would make a black image")


def first_non_finite(state: dict) -> str | None:
    """The name of the first floating tensor of ``state`` holding NaN or ±inf (None: all
    finite). Such weights give a black or one-colour image with no error."""
    import torch

    for name, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return str(name)
    return None
