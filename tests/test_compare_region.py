"""Region box math of the compare view (original-image pixels): clipping, snapping a
rubber band to the pixel grid, moving a box by a drag, hit-testing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF

from sr_desktop.gui.compare.image import DisplayImageError
from sr_desktop.gui.compare.region import box_contains, clip_box, moved_box, snap_box


def test_clip_box_keeps_the_part_on_the_image():
    assert clip_box((10, 5, 20, 8), 100, 50) == (10, 5, 20, 8)
    assert clip_box((-4, -2, 10, 10), 100, 50) == (0, 0, 6, 8)
    assert clip_box((95, 45, 10, 10), 100, 50) == (95, 45, 5, 5)
    assert clip_box(("3", 4.0, 5, 6), 100, 50) == (3, 4, 5, 6)


@pytest.mark.parametrize("box", [(100, 0, 5, 5), (0, 0, 0, 5), (-10, 0, 10, 5), (1, 2, 3), None, "abcd"])
def test_clip_box_rejects_empty_outside_or_malformed_boxes(box):
    with pytest.raises(DisplayImageError):
        clip_box(box, 100, 50)


def test_snap_box_rounds_orders_and_clips_the_corners():
    assert snap_box(QPointF(10.4, 20.6), QPointF(3.5, 5.2), 100, 50) == (4, 5, 6, 16)
    assert snap_box(QPointF(-7, -3), QPointF(250, 80), 100, 50) == (0, 0, 100, 50)


def test_snap_box_is_none_below_one_pixel():
    assert snap_box(QPointF(10.2, 10), QPointF(10.4, 30), 100, 50) is None
    assert snap_box(QPointF(200, 10), QPointF(300, 30), 100, 50) is None


def test_moved_box_moves_by_whole_pixels_and_stays_on_the_image():
    box = (10, 10, 20, 10)
    assert moved_box(box, QPointF(15, 15), QPointF(17.6, 12.2), 100, 50) == (13, 7, 20, 10)
    assert moved_box(box, QPointF(15, 15), QPointF(-90, -90), 100, 50) == (0, 0, 20, 10)
    assert moved_box(box, QPointF(15, 15), QPointF(900, 900), 100, 50) == (80, 40, 20, 10)


def test_box_contains_is_half_open():
    box = (10, 20, 5, 4)
    assert box_contains(box, QPointF(10, 20))
    assert box_contains(box, QPointF(14.99, 23.99))
    assert not box_contains(box, QPointF(15, 21))
    assert not box_contains(box, QPointF(12, 24))
    assert not box_contains(box, QPointF(9.99, 21))
