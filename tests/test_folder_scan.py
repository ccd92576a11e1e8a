"""engine.imageio.folder_scan: whether a folder's sub-folders hold images."""

from __future__ import annotations

import os

import pytest

from sr_desktop.engine.imageio.folder_scan import images_in_subfolders


def test_an_image_at_any_depth_below_counts_and_one_at_the_top_does_not(tmp_path):
    (tmp_path / "top.png").write_bytes(b"")
    assert images_in_subfolders(tmp_path) is False  # the top is the caller's listing
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "photo.JPG").write_bytes(b"")
    assert images_in_subfolders(tmp_path) is True


def test_hidden_folders_and_files_and_non_images_do_not_count(tmp_path):
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "thumb.png").write_bytes(b"")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("x")
    (tmp_path / "docs" / ".hidden.png").write_bytes(b"")
    (tmp_path / "docs" / "._photo.png").write_bytes(b"")  # a Mac's AppleDouble companion
    assert images_in_subfolders(tmp_path) is False


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_linked_folders_are_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "photo.png").write_bytes(b"")
    lib = tmp_path / "lib"
    lib.mkdir()
    try:
        (lib / "link").symlink_to(elsewhere, target_is_directory=True)
    except OSError:
        pytest.skip("cannot make a symlink here")
    assert images_in_subfolders(lib) is False


def test_a_tree_too_large_to_scan_is_unknown(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    for i in range(30):
        (sub / f"f{i}.txt").write_text("x")
    assert images_in_subfolders(tmp_path, budget=10) is None
    assert images_in_subfolders(tmp_path, budget=100) is False


def test_a_missing_folder_holds_none(tmp_path):
    assert images_in_subfolders(tmp_path / "missing") is False
