"""The package layout; everything else about the build is in pyproject.toml.

The bundled data stays at the top of the repository, its one source: ``models/`` (the model
registry, ``manifest.json``) and ``resources/`` (sample photos and their licences). The wheel
carries them as the data packages ``sr_desktop._data.models`` and ``sr_desktop._data.resources``,
mapped onto those folders; pyproject.toml cannot list mapped packages next to an automatic
package search, hence this file. ``sr_desktop.engine.core.paths`` looks for the installed copy
first and falls back to the repository (source checkout, editable install).
"""

from setuptools import find_namespace_packages, setup

BUNDLED = {"models": ["*.json", "literature/*.safetensors", "fkp/*.safetensors", "fkp/*.json"], "resources": ["*"]}

setup(
    packages=[
        *find_namespace_packages(include=["sr_desktop", "sr_desktop.*"]),
        *(f"sr_desktop._data.{folder}" for folder in BUNDLED),
    ],
    package_dir={f"sr_desktop._data.{folder}": folder for folder in BUNDLED},
    package_data={f"sr_desktop._data.{folder}": globs for folder, globs in BUNDLED.items()},
)
