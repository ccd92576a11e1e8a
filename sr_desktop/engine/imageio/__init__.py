"""Image files in and out: every file the engine touches goes through this package.

Reading (:mod:`.read`) gives an upright :class:`Image` with uint8 or uint16 pixels and
one :class:`ImageReadError` per unreadable file; writing (:mod:`.write`) is atomic
(:mod:`.atomic`), never replaces an input (:mod:`.protected`), and keeps depth, alpha,
grey, ICC and EXIF wherever the format can hold them. Formats and suffixes are in
:mod:`.formats`; the PNG/TIFF encoders in :mod:`.png` and :mod:`.tiff`.
"""

from sr_desktop.engine.core.errors import ImageReadError, ImageWriteError
from sr_desktop.engine.imageio.atomic import is_temp_path
from sr_desktop.engine.imageio.formats import (
    IMAGE_SUFFIXES,
    WRITE_FORMATS,
    format_for_path,
    format_named_by,
    is_image_path,
    suffix_for_format,
    suffixes_of_format,
)
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.protected import ProtectedPaths, resolved
from sr_desktop.engine.imageio.read import DEFAULT_MAX_PIXELS, check_input_file, read_image, read_image_bytes
from sr_desktop.engine.imageio.write import (
    EncodedImage,
    SaveOptions,
    check_output_path,
    encode_image,
    lossy_changes,
    write_image,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "WRITE_FORMATS",
    "EncodedImage",
    "Image",
    "ImageReadError",
    "ImageWriteError",
    "ProtectedPaths",
    "SaveOptions",
    "check_input_file",
    "check_output_path",
    "encode_image",
    "format_for_path",
    "format_named_by",
    "is_image_path",
    "is_temp_path",
    "lossy_changes",
    "read_image",
    "read_image_bytes",
    "resolved",
    "suffix_for_format",
    "suffixes_of_format",
    "write_image",
]
