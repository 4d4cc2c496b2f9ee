"""Shared fixtures for the PyTorch suite: the sharesc binary, exports loaded as Python modules, and
sharesc's own forward pass to compare against."""
import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from sharesc_cli import ROOT, keep_signal, sharesc_binary  # noqa: E402, F401

# One thread: on a machine whose cores are busy with other work, PyTorch's threads wait for each
# other (a resnet-152 forward pass measured 8.7 s with two threads against 1.5 s with one).
torch.set_num_threads(1)


def load_module(path: pathlib.Path):
    """Imports a generated file under a unique name."""
    name = "sharesc_export_" + path.stem.replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Sharesc:
    def __init__(self, binary: pathlib.Path, workdir: pathlib.Path):
        self.binary = binary
        self.workdir = workdir

    def call(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *arguments], cwd=ROOT, capture_output=True, text=True)

    def run(self, *arguments: str) -> str:
        result = self.call(*arguments)
        if result.returncode != 0:
            raise AssertionError(f"sharesc {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr}")
        return result.stdout

    def report(self, spec: str, *options: str) -> dict:
        return json.loads(self.run("compile", spec, "--format", "json", *options))

    def init(self, spec: str, name: str, *options: str, seed: int = 1) -> pathlib.Path:
        """Initial weights with non-trivial batchnorm statistics."""
        weights = self.workdir / f"{name}.safetensors"
        self.run("init", spec, "-o", str(weights), "--seed", str(seed), "--randomize-bn", *options)
        return weights

    def export(self, spec: str, name: str, *options: str):
        """The generated module, imported."""
        path = self.workdir / f"{name}.py"
        self.run("export", spec, "-o", str(path), *options)
        return load_module(path)

    def forward(self, spec: str, weights: pathlib.Path, x: np.ndarray, *options: str) -> np.ndarray:
        """sharesc's own CPU executor on `x` (N x C x H x W float32)."""
        inputs, outputs = self.workdir / "x.npy", self.workdir / "y.npy"
        np.save(inputs, x)
        self.run("run", spec, "--weights", str(weights), "--input", str(inputs), "--output", str(outputs), *options)
        return np.load(outputs)


@pytest.fixture(scope="session")
def sharesc(tmp_path_factory) -> Sharesc:
    return Sharesc(sharesc_binary(), tmp_path_factory.mktemp("sharesc"))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-4):
    """Equal within `rtol` of the largest magnitude (logits near zero have no relative precision)."""
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max()), 1e-6)
    error = float(np.abs(actual - expected).max())
    assert error <= rtol * scale, f"max difference {error:.3g} exceeds {rtol} x {scale:.3g}"


def tied_users(weights: pathlib.Path) -> dict[str, list[str]]:
    """For each tied tensor, the layers that use it (from the file's metadata)."""
    with safe_open(weights, "pt") as f:
        metadata = f.metadata() or {}
    return {name: json.loads(users) for name, users in metadata.items() if not name.startswith("sharesc.")}
