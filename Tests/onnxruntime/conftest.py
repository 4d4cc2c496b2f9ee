"""Shared fixtures for the ONNX Runtime suite: where the sharesc binary is, and how to call it."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def sharesc_binary() -> pathlib.Path:
    """$SHARESC, else the release build, else the debug build."""
    if os.environ.get("SHARESC"):
        return pathlib.Path(os.environ["SHARESC"])
    for configuration in ("release", "debug"):
        candidate = ROOT / ".build" / configuration / "sharesc"
        if candidate.exists():
            return candidate
    pytest.exit("no sharesc binary: run `swift build -c release` first or set SHARESC", returncode=2)


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
        """Writes initial weights with non-trivial batchnorm statistics, then the model from them."""
        weights = self.workdir / f"{name}.safetensors"
        model = self.workdir / f"{name}.onnx"
        self.run("init", spec, "-o", str(weights), "--seed", str(seed), "--randomize-bn", *options)
        self.run("export", spec, "-o", str(model), "--weights", str(weights), *options)
        return weights, model


@pytest.fixture(scope="session")
def sharesc(tmp_path_factory) -> Sharesc:
    return Sharesc(sharesc_binary(), tmp_path_factory.mktemp("sharesc"))
