"""`sharesc run` (the CPU plan) against ONNX Runtime on the same exported model, weights and input."""
import numpy as np
import onnxruntime as ort
import pytest

RUN = [
    ("Architectures/imagenet/resnet-18.yaml", 224, ()),
    ("Architectures/imagenet/sharesnet-50.yaml", 224, ()),
    ("Architectures/cifar/sharesnet-164.yaml", 32, ()),
    ("Architectures/cifar/sharesnet-164.yaml", 32, ("--sequential",)),
    ("Architectures/cifar/resnet-56.yaml", 32, ()),
]


def relative_error(actual, expected):
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


@pytest.mark.parametrize("spec,size,variant", RUN, ids=lambda v: v.split("/")[-1] if isinstance(v, str) else None)
def test_run_agrees_with_onnx_runtime(sharesc, spec, size, variant):
    name = "run-" + spec.split("/")[-1].removesuffix(".yaml") + "".join(variant)
    weights, model = sharesc.export(spec, name, *variant, seed=11)
    x = np.random.default_rng(3).standard_normal((3, 3, size, size)).astype(np.float32)
    inputs = sharesc.workdir / f"{name}-x.npy"
    np.save(inputs, x)
    (expected,) = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(["logits"], {"input": x})

    # From the spec, on one and on two threads.
    for threads in ("1", "2"):
        outputs = sharesc.workdir / f"{name}-y{threads}.npy"
        sharesc.run("run", spec, *variant, "--weights", str(weights), "--input", str(inputs), "--output", str(outputs),
                    "--threads", threads)
        actual = np.load(outputs)
        assert actual.shape == expected.shape
        assert relative_error(actual, expected) < 1e-4, f"{threads} threads"

    # From a plan file scheduled for two threads, run on the machine's (the steps split again).
    plan = sharesc.workdir / f"{name}.plan"
    sharesc.run("compile", spec, *variant, "--weights", str(weights), "-o", str(plan), "--threads", "2")
    outputs = sharesc.workdir / f"{name}-plan.npy"
    sharesc.run("run", str(plan), "--input", str(inputs), "--output", str(outputs))
    assert relative_error(np.load(outputs), expected) < 1e-4
