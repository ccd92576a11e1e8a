"""The "Remove GPS location" box of the Save As and batch dialogs (``--no-gps``: the kept
metadata without the position a photo was taken at)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox


def gps_check(checked: bool, metadata_check: QCheckBox) -> QCheckBox:
    """The box, ticked as `checked`, enabled while `metadata_check` (keep the metadata) is:
    without metadata there is no position to remove."""
    box = QCheckBox("Remove GPS location")
    box.setObjectName("gpsCheck")
    box.setChecked(bool(checked))
    box.setToolTip("The file keeps the date, camera, rights and colour profile, not the GPS position it "
                   "was taken at: EXIF's GPS data is erased and every XMP property named GPS… left out "
                   "(as --no-gps); place names (city, country) stay")
    box.setEnabled(metadata_check.isChecked())
    metadata_check.toggled.connect(box.setEnabled)
    return box
