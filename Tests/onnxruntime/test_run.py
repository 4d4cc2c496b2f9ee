"""`sharesc run` (the CPU plan) against ONNX Runtime on the same exported model, weights and input."""
import numpy as np
import onnxruntime as ort
import pytest

# (spec, input size, variant, batch)
RUN = [
    ("Architectures/imagenet/resnet-18.yaml", 224, (), 3),
    ("Architectures/imagenet/sharesnet-50.yaml", 224, (), 3),
    ("Architectures/cifar/sharesnet-164.yaml", 32, (), 3),
    ("Architectures/cifar/sharesnet-164.yaml", 32, ("--sequential",), 3),
    ("Architectures/cifar/resnet-56.yaml", 32, (), 3),
    # The modern families: grouped and depthwise (3x3, 5x5, 7x7, stride 1 and 2) convolutions, ReLU6,
    # SiLU, GELU, squeeze-excitation, LayerNorm, layer scale, inverted residuals. Their batchnorm,
    # LayerNorm and layer-scale parameters are randomized (--randomize-bn), so every one counts.
    ("Architectures/imagenet/resnext50-32x4d.yaml", 224, (), 2),
    ("Architectures/imagenet/mobilenet-v2.yaml", 224, (), 2),
    ("Architectures/imagenet/efficientnet-b0.yaml", 224, (), 2),
    ("Architectures/imagenet/regnet-y-400mf.yaml", 224, (), 2),
    ("Architectures/imagenet/convnext-tiny.yaml", 224, (), 2),
    # Tied depthwise filters: with a bias and before LayerNorm (ConvNeXt), before squeeze-excitation (EfficientNet).
    ("Architectures/imagenet/shared-convnext-tiny.yaml", 224, (), 2),
    ("Architectures/imagenet/shared-efficientnet-b0.yaml", 224, (), 2),
]


def relative_error(actual, expected):
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def within_input_effect(actual, expected):
    """The largest error as a fraction of how far apart the first two images' outputs are: in a deep
    network whose output barely depends on its input, an error of 1e-4 of the output's scale can still
    be most of the input's effect."""
    return float(np.abs(actual - expected).max() / np.abs(expected[0] - expected[1]).max())


def assert_agrees(actual, expected, label):
    assert actual.shape == expected.shape, label
    assert relative_error(actual, expected) < 1e-4, label
    assert within_input_effect(actual, expected) < 1e-2, label


@pytest.mark.parametrize("spec,size,variant,batch", RUN,
                         ids=lambda v: v.split("/")[-1] if isinstance(v, str) else None)
def test_run_agrees_with_onnx_runtime(sharesc, spec, size, variant, batch):
    name = "run-" + spec.split("/")[-1].removesuffix(".yaml") + "".join(variant)
    weights, model = sharesc.export(spec, name, *variant, seed=11)
    x = np.random.default_rng(3).standard_normal((batch, 3, size, size)).astype(np.float32)
    inputs = sharesc.workdir / f"{name}-x.npy"
    np.save(inputs, x)
    (expected,) = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(["logits"], {"input": x})

    # From the spec, on one and on two threads.
    for threads in ("1", "2"):
        outputs = sharesc.workdir / f"{name}-y{threads}.npy"
        sharesc.run("run", spec, *variant, "--weights", str(weights), "--input", str(inputs), "--output", str(outputs),
                    "--threads", threads)
        assert_agrees(np.load(outputs), expected, f"{threads} threads")

    # From a plan file scheduled for two threads, run on the machine's (the steps split again).
    plan = sharesc.workdir / f"{name}.plan"
    sharesc.run("compile", spec, *variant, "--weights", str(weights), "-o", str(plan), "--threads", "2")
    outputs = sharesc.workdir / f"{name}-plan.npy"
    sharesc.run("run", str(plan), "--input", str(inputs), "--output", str(outputs))
    assert_agrees(np.load(outputs), expected, "from a plan file")
