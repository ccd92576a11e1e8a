"""Conversions between engine pixel arrays (H×W×C uint8/uint16) and QImage."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QByteArray
from PySide6.QtGui import QColorSpace, QImage


def array_to_qimage(pixels: np.ndarray) -> QImage:
    """H×W×C (C 1..4) or H×W uint8/uint16 pixels → a QImage that owns a copy of the data.

    Gray stays gray (Grayscale8/16), gray+alpha becomes RGBA; 16-bit stays 16-bit.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected H×W×C pixels with C in 1..4, got shape {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    height, width, channels = pixels.shape
    wide = pixels.dtype == np.uint16
    if channels == 2:
        gray, alpha = pixels[:, :, :1], pixels[:, :, 1:]
        pixels = np.concatenate([gray, gray, gray, alpha], axis=2)
        channels = 4
    if channels == 1:
        fmt = QImage.Format.Format_Grayscale16 if wide else QImage.Format.Format_Grayscale8
    elif channels == 3:
        if wide:  # 16-bit RGB is RGBX64: a fourth, unused channel (an RGBA64 one went to other
            # apps as a PNG with an alpha channel)
            opaque = np.full((height, width, 1), 65535, np.uint16)
            pixels = np.concatenate([pixels, opaque], axis=2)
            channels = 4
            fmt = QImage.Format.Format_RGBX64
        else:
            fmt = QImage.Format.Format_RGB888
    else:
        fmt = QImage.Format.Format_RGBA64 if wide else QImage.Format.Format_RGBA8888
    data = np.ascontiguousarray(pixels)
    bytes_per_line = data.strides[0]
    image = QImage(data.data, width, height, bytes_per_line, fmt)
    return image.copy()  # detach from the numpy buffer


def qimage_in_srgb(image: QImage, icc: bytes | None) -> QImage:
    """`image`, whose colours the ICC profile `icc` describes, converted to sRGB (what the
    screen is taken to show, and other apps take a clipboard image to be); unchanged without
    a profile, with an sRGB one, or with one Qt cannot use. An Adobe RGB photo was shown, and
    copied, with its stored values as if they were sRGB, up to 34 levels off on red."""
    if not icc:
        return image
    return converted_to_srgb(image, QColorSpace.fromIccProfile(QByteArray(icc)))


def converted_to_srgb(image: QImage, space: QColorSpace) -> QImage:
    """`image`, whose colours are in `space`, converted to sRGB (`qimage_in_srgb`); a grey
    space (a grey image's gamma 1.8 or linear profile: shown as stored, up to 73 levels off)
    is applied to the grey values of an image without alpha. Unchanged when `space` is
    invalid, sRGB, or grey for an image with alpha."""
    srgb = QColorSpace(QColorSpace.NamedColorSpace.SRgb)
    if not space.isValid() or space == srgb:
        return image
    if space.colorModel() == QColorSpace.ColorModel.Gray:
        if image.hasAlphaChannel():
            return image
        grey = QImage(image) if image.isGrayscale() and image.depth() == 8 else image.convertToFormat(
            QImage.Format.Format_Grayscale8)  # (grey shown as RGB: its channels are equal)
        grey.setColorSpace(space)
        converted = grey.convertedToColorSpace(srgb, QImage.Format.Format_RGB32)
        return image if converted.isNull() else converted
    if space.colorModel() != QColorSpace.ColorModel.Rgb:
        return image
    tagged = QImage(image)
    tagged.setColorSpace(space)
    converted = tagged.convertedToColorSpace(srgb)
    return image if converted.isNull() else converted


def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage → H×W×C uint8 (gray: C=1, opaque colour: C=3, with alpha: C=4).

    16-bit gray / RGBA64 images give uint16 arrays.
    """
    if image.isNull():
        raise ValueError("empty image")
    fmt = image.format()
    if fmt in (QImage.Format.Format_Grayscale8, QImage.Format.Format_Grayscale16):
        wide = fmt == QImage.Format.Format_Grayscale16
        channels, dtype = 1, (np.uint16 if wide else np.uint8)
    elif fmt in (QImage.Format.Format_RGBA64, QImage.Format.Format_RGBX64,
                 QImage.Format.Format_RGBA64_Premultiplied):
        image = image.convertToFormat(QImage.Format.Format_RGBA64)
        channels, dtype = 4, np.uint16
    elif image.hasAlphaChannel():
        image = image.convertToFormat(QImage.Format.Format_RGBA8888)
        channels, dtype = 4, np.uint8
    else:
        image = image.convertToFormat(QImage.Format.Format_RGB888)
        channels, dtype = 3, np.uint8
    height, width = image.height(), image.width()
    itemsize = np.dtype(dtype).itemsize
    row = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = row.reshape(height, image.bytesPerLine())[:, : width * channels * itemsize]
    # a copy always: without row padding `rows` is a view of `image`, which is a converted
    # temporary freed on return (pasted images came out as noise)
    out = np.array(rows, copy=True).view(dtype).reshape(height, width, channels)
    if channels == 4 and dtype == np.uint16 and fmt == QImage.Format.Format_RGBX64:
        out = out[:, :, :3].copy()
    return out


def encoded_grab(widget, fmt: str, quality: int = -1) -> bytes | None:
    """What `widget` shows, encoded as `fmt` ("PNG", "JPG"; `quality` for JPEG, -1: Qt's
    default) in memory; None when Qt cannot encode it."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    encoded = QByteArray()
    buffer = QBuffer(encoded)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not widget.grab().save(buffer, fmt, quality):
        return None
    return encoded.data()
