"""Shared fixtures for the ONNX Runtime suite: where the sharesc binary is, and how to call it."""
import json
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from sharesc_cli import ROOT, keep_signal, sharesc_binary  # noqa: E402


class Sharesc:
    def __init__(self, binary: pathlib.Path, workdir: pathlib.Path):
        self.binary = binary
        self.workdir = workdir

    def run(self, *arguments: str) -> str:
        result = subprocess.run([str(self.binary), *arguments], cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            raise AssertionError(f"sharesc {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr}")
        return result.stdout

    def report(self, spec: str, *options: str) -> dict:
        return json.loads(self.run("compile", spec, "--format", "json", *options))

    def export(self, spec: str, name: str, *options: str, seed: int = 1) -> tuple[pathlib.Path, pathlib.Path]:
        """Writes initial weights with non-trivial batchnorm statistics and convolutions that carry the
        input's signal through the network, then the model from them."""
        weights = self.workdir / f"{name}.safetensors"
        model = self.workdir / f"{name}.onnx"
        self.run("init", spec, "-o", str(weights), "--seed", str(seed), "--randomize-bn", *options)
        keep_signal(weights, seed)
        self.run("export", spec, "-o", str(model), "--weights", str(weights), *options)
        return weights, model


@pytest.fixture(scope="session")
def sharesc(tmp_path_factory) -> Sharesc:
    return Sharesc(sharesc_binary(), tmp_path_factory.mktemp("sharesc"))
