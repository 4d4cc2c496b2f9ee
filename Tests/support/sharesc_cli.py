"""What the Python suites share: the repository root, the sharesc binary they test, and weights that
carry the input through the network."""
import os
import pathlib

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

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


def keep_signal(weights: pathlib.Path, seed: int) -> None:
    """Redraws every convolution weight in a weights file He-normal by its fan-in, keeping the file's
    metadata. `sharesc init` draws by fan-out, as torchvision does, which for a depthwise convolution
    over C channels shrinks the signal's variance C / 2 times; with running statistics that do not
    follow, MobileNetV2's logits then differ by 4e-7 of their scale from one image to the next, and a
    comparison of two engines' logits checks the biases and little else."""
    with safe_open(weights, "np") as f:
        metadata = f.metadata()
    values = load_file(weights)
    rng = np.random.default_rng(seed)
    for name in sorted(values):
        shape = values[name].shape
        if len(shape) == 4:
            values[name] = (rng.standard_normal(shape) * np.sqrt(2 / np.prod(shape[1:]))).astype(np.float32)
    save_file(values, weights, metadata=metadata)
