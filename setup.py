"""The package layout; everything else about the build is in pyproject.toml.

The bundled data stays at the top of the repository, its one source: ``models/`` (the model
registry, ``manifest.json``), ``resources/`` (sample photos and their licences) and the guides
of ``docs/``. The wheel carries them as the data packages ``sr_desktop._data.models``, ``…resources``
and ``…docs``,
mapped onto those folders; pyproject.toml cannot list mapped packages next to an automatic
package search, hence this file. ``sr_desktop.engine.core.paths`` looks for the installed copy
first and falls back to the repository (source checkout, editable install).
"""

from setuptools import find_namespace_packages, setup

# (docs: the guides alone, which messages and help name; their pictures stay in the repository)
BUNDLED = {"models": ["*.json", "literature/*.safetensors", "fkp/*.safetensors", "fkp/*.json"], "resources": ["*"],
           "docs": ["*.md"]}

setup(
    packages=[
        *find_namespace_packages(include=["sr_desktop", "sr_desktop.*"]),
        *(f"sr_desktop._data.{folder}" for folder in BUNDLED),
    ],
    package_dir={f"sr_desktop._data.{folder}": folder for folder in BUNDLED},
    package_data={f"sr_desktop._data.{folder}": globs for folder, globs in BUNDLED.items()},
)
