"""Image files in and out: every file the engine touches goes through this package.

Reading (:mod:`.read`) gives an upright :class:`Image` with uint8 or uint16 pixels and
one :class:`ImageReadError` per unreadable file; writing (:mod:`.write`) is atomic
(:mod:`.atomic`), never replaces an input (:mod:`.protected`), and keeps depth, alpha,
grey, ICC and EXIF wherever the format can hold them. Formats and suffixes are in
:mod:`.formats`; the PNG/TIFF encoders in :mod:`.png` and :mod:`.tiff`.
"""

import importlib

#: where each name the package offers is defined; imported on first use (PEP 562), so that
#: a submodule of its own (``imageio.formats``, which every command's flags use) does not
#: import numpy and Pillow with the package: ``sr-desktop --help`` did
_HOMES = {
    "ImageReadError": "sr_desktop.engine.core.errors",
    "ImageWriteError": "sr_desktop.engine.core.errors",
    "is_temp_path": "sr_desktop.engine.imageio.atomic",
    "IMAGE_SUFFIXES": "sr_desktop.engine.imageio.formats",
    "WRITE_FORMATS": "sr_desktop.engine.imageio.formats",
    "format_for_path": "sr_desktop.engine.imageio.formats",
    "format_named_by": "sr_desktop.engine.imageio.formats",
    "is_image_path": "sr_desktop.engine.imageio.formats",
    "suffix_for_format": "sr_desktop.engine.imageio.formats",
    "suffixes_of_format": "sr_desktop.engine.imageio.formats",
    "Image": "sr_desktop.engine.imageio.image",
    "ProtectedPaths": "sr_desktop.engine.imageio.protected",
    "resolved": "sr_desktop.engine.imageio.protected",
    "DEFAULT_MAX_PIXELS": "sr_desktop.engine.imageio.read",
    "check_input_file": "sr_desktop.engine.imageio.read",
    "read_image": "sr_desktop.engine.imageio.read",
    "read_image_bytes": "sr_desktop.engine.imageio.read",
    "EncodedImage": "sr_desktop.engine.imageio.write",
    "SaveOptions": "sr_desktop.engine.imageio.write",
    "check_output_path": "sr_desktop.engine.imageio.write",
    "encode_image": "sr_desktop.engine.imageio.write",
    "lossy_changes": "sr_desktop.engine.imageio.write",
    "write_image": "sr_desktop.engine.imageio.write",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # (looked up once)
    return value


__all__ = sorted(_HOMES)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
