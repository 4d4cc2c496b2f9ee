"""Names the PyTorch export cannot mirror: every public attribute of `nn.Module` and of the containers
the generated module builds, taken from the installed PyTorch, is refused as a layer or stage name with
a located error (`append` once passed, and the module it wrote failed in `create_model()`); a name
beside them builds."""
import pathlib

import pytest
import torch

from conftest import load_module

ATTRIBUTES = sorted(
    {
        name
        for container in (torch.nn.Module, torch.nn.Sequential, torch.nn.ModuleDict, torch.nn.ModuleList)
        for name in dir(container)
        if not name.startswith("_")
    }
)


def spec(layer: str, stage: str) -> str:
    return f"""network: names
input: [3, 8, 8]
blocks:
  b:
    body: [{{conv: {{out: 3, kernel: 3, pad: 1}}}}]
stem: [{{conv: {{out: 3, kernel: 3, pad: 1, name: {layer}}}}}]
stages: [{{block: b, name: {stage}}}]
head: [global_avgpool, {{linear: {{out: 2}}}}]
"""


@pytest.mark.parametrize("where", ["layer", "stage"])
def test_module_attributes_are_refused(sharesc, tmp_path: pathlib.Path, where: str):
    unrefused = []
    for name in ATTRIBUTES:
        path = tmp_path / f"{name}.yaml"
        path.write_text(spec(name, "stage1") if where == "layer" else spec("conv1", name))
        result = sharesc.call("export", str(path), "-o", str(tmp_path / f"{name}.py"))
        if result.returncode != 1 or not result.stderr.startswith(f"{path}:"):
            unrefused.append(name)
    assert unrefused == []


def test_a_name_beside_them_builds(sharesc, tmp_path: pathlib.Path):
    path = tmp_path / "beside.yaml"
    path.write_text(spec("append_", "extend_"))
    sharesc.run("export", str(path), "-o", str(tmp_path / "beside.py"))
    model = load_module(tmp_path / "beside.py").create_model()
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 2)
