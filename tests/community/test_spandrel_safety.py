"""spandrel checkpoints that are refused: other purposes (face restoration, inpainting),
crafted or damaged files, networks past the weights budget, fp16 where unsupported."""

from __future__ import annotations

import time

import pytest
import torch

from tests.community.community_nets import import_spandrel, save, state_dict

spandrel = import_spandrel()

from sr_desktop.engine.core.errors import ModelError  # noqa: E402
from sr_desktop.engine.models import custom  # noqa: E402
from sr_desktop.engine.models.community import loading  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


class _FakeArch(spandrel.Architecture):
    """An architecture recognised by one key, whose descriptor says `purpose`."""

    def __init__(self, arch_id: str, purpose: str):
        super().__init__(id=arch_id, detect=lambda state: f"{arch_id}.weight" in state)
        self.purpose = purpose

    def load(self, state):
        net = torch.nn.Conv2d(3, 3, 1)
        weights = {"weight": state[f"{self.id}.weight"], "bias": state[f"{self.id}.bias"]}
        common = {"tags": [], "supports_half": False, "supports_bfloat16": False,
                  "input_channels": 3, "output_channels": 3}
        if self.purpose == "Inpainting":
            return spandrel.MaskedImageModelDescriptor(net, weights, self, purpose="Inpainting", **common)
        return spandrel.ImageModelDescriptor(net, weights, self, purpose=self.purpose, scale=1, **common)


def _with_fake(monkeypatch, arch: _FakeArch, module: str | None = None):
    """A spandrel registry of `arch` alone (its class placed in `module`, as an extra arch's is)."""
    if module:
        monkeypatch.setattr(type(arch), "__module__", module)
    registry = spandrel.ArchRegistry()
    registry.add(spandrel.ArchSupport.from_architecture(arch))
    monkeypatch.setattr(loading, "spandrel_registry", lambda: (spandrel, registry))


def _fake_file(tmp_path, arch_id: str):
    path = tmp_path / f"{arch_id.lower()}.pth"
    torch.save({f"{arch_id}.weight": torch.randn(3, 3, 1, 1), f"{arch_id}.bias": torch.zeros(3)}, path)
    return path


@pytest.mark.parametrize("purpose,words", [("FaceSR", "face-restoration"), ("Inpainting", "inpainting")])
def test_other_purposes_are_refused_naming_what_the_file_is(home, tmp_path, monkeypatch, purpose, words):
    _with_fake(monkeypatch, _FakeArch("GFPGAN" if purpose == "FaceSR" else "LaMa", purpose))
    arch_id = "GFPGAN" if purpose == "FaceSR" else "LaMa"
    path = _fake_file(tmp_path, arch_id)
    with pytest.raises(ModelError) as err:
        custom.add_custom_model(path)
    assert str(err.value) == (f"{path.name} is a {arch_id} {words} model; "
                              "SR Desktop runs super-resolution and 1× restoration models")
    assert not list(custom.custom_models_dir().iterdir())  # nothing copied or recorded


def test_extra_arches_licence_is_recorded_and_described(home, tmp_path, monkeypatch):
    _with_fake(monkeypatch, _FakeArch("SRFormer", "Restoration"), "spandrel_extra_arches.architectures.SRFormer")
    spec = custom.add_custom_model(_fake_file(tmp_path, "SRFormer"))
    assert spec.license == "CC BY-NC 4.0 (spandrel-extra-arches: not for commercial use)"
    assert spec.description.endswith("; licence: " + spec.license)  # the picker's tooltip
    assert spec.to_json()["license"] == spec.license  # `sr-desktop models --json`
    listed = {s.id: s for s in custom.list_custom_specs()}
    assert listed[spec.id].license == spec.license and listed[spec.id].source["family"] == "spandrel:SRFormer"


def test_spandrels_own_architectures_carry_no_licence_line(home, tmp_path):
    spec = custom.add_custom_model(save("hat", tmp_path))
    assert spec.license == "" and "licence" not in spec.description


def test_crafted_file_claiming_huge_tensors_is_refused_at_once(home, tmp_path):
    state = dict(state_dict("hat"))
    state["conv_first.weight"] = torch.zeros(1).expand(4096, 4096, 3, 3)  # one stored number
    path = tmp_path / "crafted.pth"
    torch.save(state, path)
    start = time.perf_counter()
    with pytest.raises(ModelError, match=r"claim .* MB but it stores .*conv_first.weight claims 4096×4096×3×3"):
        custom.add_custom_model(path)
    assert time.perf_counter() - start < 1.0


def test_network_past_the_weights_budget_is_refused_before_it_is_built(home, tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "MAX_PARAMETERS", 5_000)  # the tiny HAT has 11 422 weights
    built = []
    monkeypatch.setattr(loading, "SpandrelModel", lambda *a: built.append(a))
    with pytest.raises(ModelError, match=r"HAT with [\d,]+ weights is not a plausible network"):
        custom.load_model_file(save("hat", tmp_path))
    assert not built


def test_mismatching_tensor_is_named_with_both_shapes(home, tmp_path):
    state = dict(state_dict("hat"))
    key = "layers.0.residual_group.blocks.0.mlp.fc1.bias"
    state[key] = torch.zeros(state[key].shape[0] + 1)
    path = tmp_path / "damaged.safetensors"
    from safetensors.torch import save_file

    save_file(state, str(path))
    with pytest.raises(ModelError) as err:
        custom.add_custom_model(path)
    message = str(err.value)
    assert "\n" not in message and f"size mismatch for {key}" in message
    assert "torch.Size([49])" in message and "torch.Size([48])" in message


def test_unknown_file_names_both_registries(home, tmp_path):
    path = tmp_path / "mystery.pth"
    torch.save({"encoder.stage9.weight": torch.zeros(4, 3, 3, 3)}, path)
    with pytest.raises(ModelError, match=r"state dict, nor an ncnn .param/.bin pair "
                                         r"\(no known layer names, nor any of spandrel's\)$"):
        custom.add_custom_model(path)


def test_fp16_only_where_spandrel_says_so(home, tmp_path):
    hat = custom.load_model_file(save("hat", tmp_path))  # supports_half False
    assert not hat.supports_fp16
    with pytest.raises(ModelError, match="does not support fp16"):
        hat.to("cpu", torch.float16)
    omnisr = custom.load_model_file(save("omnisr", tmp_path))  # supports_half True
    assert omnisr.supports_fp16
    assert omnisr.to("cpu", torch.float16).dtype == torch.float16


def test_integer_weights_are_refused_as_for_the_projects_own_architectures(home, tmp_path):
    """spandrel's build cast an int32 SwinIR weight to float: the file was added and ran,
    where the project's own architectures refuse it ("holds int32 values")."""
    state = dict(state_dict("swinir-grey"))
    state["conv_first.weight"] = (state["conv_first.weight"] * 100).to(torch.int32)
    path = tmp_path / "int.pth"
    torch.save(state, path)
    with pytest.raises(ModelError, match=r"weight conv_first\.weight holds int32 values, not floating-point weights"):
        custom.add_custom_model(path)
    assert custom.list_custom_specs() == []


def test_a_tensor_of_the_wrong_rank_names_what_is_wrong(home, tmp_path):
    """"spandrel cannot build it: IndexError: tuple index out of range" said nothing."""
    state = dict(state_dict("swinir-grey"))
    state["conv_first.weight"] = state["conv_first.weight"].flatten()
    path = tmp_path / "rank.pth"
    torch.save(state, path)
    with pytest.raises(ModelError) as err:
        custom.add_custom_model(path)
    assert "spandrel knows its layer names but cannot build it" in str(err.value)
    assert "a tensor of an unexpected shape: a damaged or edited file?" in str(err.value)
