"""docs/ARCHITECTURE.md's tree names every module, so that a contributor finds where a
concept lives (eight modules added over the sessions were in no list)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: packages the tree describes as a whole ("one architecture per file", "ncnn reader and exact
#: torch interpreter"), not module by module
DESCRIBED_AS_A_WHOLE = {"archs", "ncnn", "zssr", "map_sr", "community"}


def test_the_tree_names_every_module():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    tree = doc[doc.index("## The tree"):doc.index("## Where a change goes")]  # (not a word elsewhere)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", tree))
    unnamed = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "sr_desktop").rglob("*.py"))
               if path.name != "__init__.py" and path.parent.name not in DESCRIBED_AS_A_WHOLE
               and path.stem not in words]
    assert unnamed == []


def test_the_readme_names_every_architecture_models_add_reads():
    """The README's "Your own models" table left out SAN, EnhanceNet, CSNLN and ProSR, which
    `models add` reads and its --help names."""
    from sr_desktop.engine.models.archs import ARCH_REGISTRY

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("Your own models:"):readme.index("**Community models**")]
    # (VDSR-EDSR is EDSR-PyTorch's VDSR, named in VDSR's row)
    missing = [s.name for s in ARCH_REGISTRY if s.name not in table and s.name != "VDSR-EDSR"]
    assert missing == []


def test_the_training_guide_lists_which_architectures_train():
    from sr_desktop.engine.models.archs import ARCH_REGISTRY
    from sr_desktop.engine.training.arch_choices import SCRATCH_ARGUMENTS

    guide = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    trainable = guide[guide.index("Trainable:"):guide.index("aliases")]
    not_trainable = guide[guide.index("Not trainable (their"):]
    not_trainable = not_trainable[:not_trainable.index("\n\n")]
    assert [name for name in SCRATCH_ARGUMENTS if not re.search(rf"\b{name}\b", trainable)] == []
    others = [s.name for s in ARCH_REGISTRY if s.name not in SCRATCH_ARGUMENTS]
    assert [name for name in others if not re.search(rf"(?<![\w-]){name}(?![\w-])", not_trainable)] == []
