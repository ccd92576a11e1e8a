"""`ProtectedPaths`: the index `write_image` checks its target against (batch inputs)."""

import os

import numpy as np
import pytest

from sr_desktop.engine.core.errors import ImageWriteError
from sr_desktop.engine.imageio import ProtectedPaths, write_image
from sr_desktop.engine.imageio.image import Image


def _image() -> Image:
    return Image(np.zeros((4, 4, 3), dtype=np.uint8))


def test_same_name_existing_and_missing(tmp_path):
    existing = tmp_path / "a.png"
    existing.write_bytes(b"x")
    guard = ProtectedPaths([existing, tmp_path / "missing.png"])
    assert existing in guard
    assert tmp_path / "sub" / ".." / "a.png" in guard
    assert tmp_path / "missing.png" in guard
    assert tmp_path / "b.png" not in guard
    assert len(guard) == 2


@pytest.mark.skipif(not hasattr(os, "link"), reason="no hard links")
def test_hard_link_to_a_protected_file_is_refused(tmp_path):
    src = tmp_path / "in.png"
    write_image(_image(), src)
    link = tmp_path / "alias.png"
    os.link(src, link)
    guard = ProtectedPaths([src])
    assert link in guard
    with pytest.raises(ImageWriteError, match="input file"):
        write_image(_image(), link, overwrite=True, protect=guard)
    with pytest.raises(ImageWriteError, match="input file"):  # a plain list works the same
        write_image(_image(), link, overwrite=True, protect=[src])


def test_unprotected_target_is_written(tmp_path):
    guard = ProtectedPaths([tmp_path / "in.png"])
    out = write_image(_image(), tmp_path / "out.png", protect=guard)
    assert out.is_file()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_name_keys_are_name_key_for_links_dots_and_missing_files(tmp_path, monkeypatch):
    """`NameKeys` (a batch's plan: each folder resolved once) gives `name_key`'s keys: through
    a linked folder, a file that is a link, a dangling link, ``link/..``, a relative name, a
    missing folder."""
    from sr_desktop.engine.imageio.protected import NameKeys, name_key

    real = tmp_path / "real"
    (real / "deep").mkdir(parents=True)
    (real / "a.png").write_bytes(b"x")
    (tmp_path / "linked").symlink_to(real / "deep")
    (real / "to_a.png").symlink_to(real / "a.png")
    (real / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    monkeypatch.chdir(real)
    names = [real / "a.png", tmp_path / "linked" / "b.png", real / "to_a.png", real / "dangling.png",
             tmp_path / "linked" / ".." / "a.png", "a.png", "deep/../a.png", tmp_path / "missing" / "c.png",
             tmp_path / "linked", str(real) + os.sep]
    keys = NameKeys()
    for name in names + names:  # (the second time from its memory)
        assert keys(name) == name_key(name), name
    # (``linked/..`` is the parent of the folder the link names, not `tmp_path`)
    assert keys(tmp_path / "linked" / ".." / "a.png") == keys(real / "a.png") != name_key(tmp_path / "a.png")
