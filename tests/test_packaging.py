"""Where the bundled files (models/, resources/) are found: source checkout and installed wheel.

The installed wheel itself is checked end to end by scripts/check_wheel.sh (run by
scripts/test.sh before pytest).
"""

from __future__ import annotations

from pathlib import Path

from sr_desktop.engine.core import paths

REPO = Path(__file__).resolve().parent.parent


def test_source_checkout_reads_the_repository_folders():
    assert paths.bundled_root() == REPO
    assert paths.MODELS_DIR == REPO / "models"
    assert paths.RESOURCES_DIR == REPO / "resources"
    assert paths.SAMPLE_IMAGE == REPO / "resources" / "sample.jpg"
    assert (paths.MODELS_DIR / "manifest.json").is_file()
    assert paths.SAMPLE_IMAGE.is_file()


def test_installed_package_reads_its_own_copy(tmp_path):
    package = tmp_path / "site-packages" / "sr_desktop"
    package.mkdir(parents=True)
    assert paths.bundled_root(package) == tmp_path / "site-packages"
    (package / "_data").mkdir()
    assert paths.bundled_root(package) == package / "_data"


def test_registry_reads_the_bundled_manifest():
    from sr_desktop.engine.models import registry

    assert registry.MANIFEST == paths.MODELS_DIR / "manifest.json"
