"""Draw the app's icon, resources/icon.png (256×256): a sunset scene split on the diagonal,
blocky (low resolution) on the left, smooth on the right — before and after.

    QT_QPA_PLATFORM=offscreen python scripts/make_icon.py [OUT.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
    QRadialGradient,
)

SIZE = 256
BLOCK = 16  # the "before" half's pixel size


def scene(size: int) -> QImage:
    """The picture: a sky gradient with a sun and two hills."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    sky = QLinearGradient(0, 0, 0, size)
    sky.setColorAt(0.0, QColor("#1b2a6b"))
    sky.setColorAt(0.55, QColor("#e0607e"))
    sky.setColorAt(1.0, QColor("#ffb45c"))
    p.fillRect(0, 0, size, size, sky)
    sun = QRadialGradient(QPointF(size * 0.62, size * 0.52), size * 0.2)
    sun.setColorAt(0.0, QColor("#fff6c8"))
    sun.setColorAt(0.75, QColor("#ffd166"))
    sun.setColorAt(1.0, QColor(255, 209, 102, 0))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(sun)
    p.drawEllipse(QPointF(size * 0.62, size * 0.52), size * 0.2, size * 0.2)
    for colour, base, peak, x in (("#3a2d5c", 0.78, 0.55, 0.25), ("#21183a", 0.88, 0.66, 0.75)):
        hill = QPainterPath(QPointF(0, size))
        hill.lineTo(0, size * base)
        hill.quadTo(QPointF(size * x, size * (2 * peak - base)), QPointF(size, size * base))
        hill.lineTo(size, size)
        p.setBrush(QColor(colour))
        p.drawPath(hill)
    p.end()
    return image


def icon(size: int = SIZE) -> QImage:
    """The icon: the scene in a rounded square, its upper-left triangle in big pixels."""
    smooth = scene(size)
    blocky = smooth.scaled(size // BLOCK, size // BLOCK, Qt.AspectRatioMode.IgnoreAspectRatio,
                           Qt.TransformationMode.SmoothTransformation).scaled(size, size)
    out = QImage(size, size, QImage.Format.Format_ARGB32)
    out.fill(Qt.GlobalColor.transparent)
    p = QPainter(out)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    frame = QPainterPath()
    margin, radius = size * 0.04, size * 0.2
    frame.addRoundedRect(QRectF(margin, margin, size - 2 * margin, size - 2 * margin), radius, radius)
    p.setClipPath(frame)
    p.drawImage(0, 0, smooth)
    before = QPainterPath(QPointF(0, 0))
    before.lineTo(size, 0)
    before.lineTo(0, size)
    before.closeSubpath()
    p.setClipPath(frame.intersected(before))
    p.drawImage(0, 0, blocky)
    p.setClipPath(frame)
    p.setPen(QPen(QColor("#ffffff"), size * 0.025))
    p.drawLine(QPointF(size, 0), QPointF(0, size))  # the split
    p.setClipping(False)
    p.setPen(QPen(QColor(255, 255, 255, 90), size * 0.012))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(frame)
    p.end()
    return out


if __name__ == "__main__":
    app = QGuiApplication(sys.argv[:1])
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "resources" / "icon.png"
    if not icon().save(str(target)):
        sys.exit(f"could not write {target}")
    print(target)
