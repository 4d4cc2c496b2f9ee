"""ONNX Runtime as the outside check of `sharesc export`: the exported models are valid ONNX, run in
ONNX Runtime, store every tied weight once, carry exactly the weights of the safetensors file, and
agree with an independent NumPy forward pass."""
import collections

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from safetensors.numpy import load_file

import reference
from conftest import ROOT

# (spec, input size, classes)
NETWORKS = [
    ("Architectures/imagenet/resnet-18.yaml", 224, 1000),
    ("Architectures/imagenet/sharesnet-50.yaml", 224, 1000),
    ("Architectures/cifar/sharesnet-164.yaml", 32, 10),
    ("Architectures/cifar/sharewrn-40-4.yaml", 32, 10),
]
VARIANTS = [(), ("--sequential",)]
# The modern families (depthwise, squeeze-excitation, LayerNorm, layer scale, the new activations), each
# as written: the shared-* variants are the tied ones, and their --sequential is the plain spec.
MODERN = [name for family in ("resnext50-32x4d", "mobilenet-v2", "efficientnet-b0", "regnet-y-400mf", "convnext-tiny")
          for name in (family, "shared-" + family)]
CASES = [(n, v) for n in NETWORKS for v in VARIANTS] + [((f"Architectures/imagenet/{n}.yaml", 224, 1000), ()) for n in MODERN]


def session(model_path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=CASES,
                ids=lambda p: p[0][0].split("/")[-1].removesuffix(".yaml") + ("-sequential" if p[1] else ""))
def exported(request, sharesc):
    (spec, size, classes), variant = request.param
    name = spec.split("/")[-1].removesuffix(".yaml") + ("-sequential" if variant else "")
    weights, model_path = sharesc.export(spec, name, *variant)
    return dict(spec=spec, size=size, classes=classes, variant=variant, weights=weights, model_path=model_path,
                model=onnx.load(str(model_path)), report=sharesc.report(spec, *variant))


def test_checker_accepts_the_model(exported):
    onnx.checker.check_model(exported["model"], full_check=True)
    assert exported["model"].opset_import[0].version >= 17


@pytest.mark.parametrize("batch", [1, 3])
def test_runs_in_onnx_runtime(exported, batch):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 3, exported["size"], exported["size"])).astype(np.float32)
    (logits,) = session(exported["model_path"]).run(["logits"], {"input": x})
    assert logits.shape == (batch, exported["classes"])
    assert np.isfinite(logits).all()


def test_initializers_hold_exactly_the_trainable_parameters(exported):
    sizes = {t.name: int(np.prod(t.dims)) for t in exported["model"].graph.initializer}
    trainable = sum(n for name, n in sizes.items() if not name.endswith(("running_mean", "running_var")))
    assert trainable == exported["report"]["parameters"]["total"]
    assert len(sizes) == len(exported["model"].graph.initializer), "initializer names must be unique"


def test_every_tied_weight_is_one_initializer_with_several_conv_consumers(exported):
    consumers = collections.Counter(name for node in exported["model"].graph.node if node.op_type == "Conv" for name in node.input[1:])
    names = [t.name for t in exported["model"].graph.initializer]
    ties = exported["report"]["ties"]
    if exported["report"]["variant"] != "shared":
        assert ties == [] and max(consumers.values()) == 1
    else:
        assert ties, "the shared variant must have ties"
    # Only the ShaResNet and shared-* specs tie weights as written ("untied" for the others); --sequential unties them.
    expected = ("shared" if "/share" in exported["spec"] else "untied") if not exported["variant"] else "sequential"
    assert exported["report"]["variant"] == expected
    for tie in ties:
        assert names.count(tie["weight"]) == 1
        assert consumers[tie["weight"]] == tie["uses"] >= 2


def test_safetensors_and_onnx_hold_the_same_values(exported):
    stored = load_file(str(exported["weights"]))
    initializers = {t.name: numpy_helper.to_array(t) for t in exported["model"].graph.initializer}
    assert stored.keys() == initializers.keys()
    for name, values in stored.items():
        assert values.dtype == np.float32
        assert np.array_equal(values, initializers[name]), name  # bit for bit


SMALL = [
    ("Architectures/cifar/sharesnet-164.yaml", ("--set", "depth=29")),       # 3 blocks a stage, tied 3x3s
    ("Architectures/cifar/sharewrn-40-4.yaml", ("--set", "depth=22", "--set", "k=1")),
    ("Architectures/cifar/resnet-56.yaml", ("--set", "depth=14")),           # subsample-and-pad shortcuts
    ("Examples/1-custom-block.yaml", ()),                                    # grouped convolutions
]


@pytest.mark.parametrize("spec,options", SMALL, ids=lambda v: v.split("/")[-1] if isinstance(v, str) else "")
@pytest.mark.parametrize("variant", VARIANTS, ids=["shared", "sequential"])
def test_onnx_runtime_agrees_with_numpy_reference(sharesc, spec, options, variant):
    name = "small-" + spec.split("/")[-1].removesuffix(".yaml") + "-".join(options + variant)
    _, model_path = sharesc.export(spec, name, *options, *variant, seed=5)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    (actual,) = session(model_path).run(["logits"], {"input": x})
    expected = reference.run(onnx.load(str(model_path)), x)
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    assert error < 1e-4, f"relative error {error:.2e}"


def small_variant(sharesc, name: str) -> str:
    """A shipped ImageNet spec at 32 x 32 pixels (the same layers, a fiftieth of the work), for the NumPy reference."""
    spec = sharesc.workdir / f"small-{name}.yaml"
    spec.write_text(f"network: small-{name}\nextends: {ROOT}/Architectures/imagenet/{name}.yaml\ninput: [3, 32, 32]\n")
    return str(spec)


@pytest.mark.parametrize("name", [n for n in MODERN if n.startswith("shared-")])
@pytest.mark.parametrize("variant", VARIANTS, ids=["shared", "sequential"])
def test_onnx_runtime_agrees_with_numpy_reference_on_modern_networks(sharesc, name, variant):
    spec = small_variant(sharesc, name)
    _, model_path = sharesc.export(spec, f"small-{name}{''.join(variant)}", "--set", "classes=10", *variant, seed=5)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    (actual,) = session(model_path).run(["logits"], {"input": x})
    expected = reference.run(onnx.load(str(model_path)), x)
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    assert error < 1e-4, f"relative error {error:.2e}"


def written_activations(model) -> dict:
    """The GELUs (one Erf each) and SiLUs (a Mul of x and Sigmoid(x)) of an exported model."""
    sigmoid_input = {node.output[0]: node.input[0] for node in model.graph.node if node.op_type == "Sigmoid"}
    return {"Gelu": sum(node.op_type == "Erf" for node in model.graph.node),
            "QuickGelu": sum(node.op_type == "Mul" and sigmoid_input.get(node.input[1]) == node.input[0]
                             for node in model.graph.node)}


@pytest.mark.parametrize("name,fused", [("convnext-tiny", "Gelu"), ("efficientnet-b0", "QuickGelu")])
def test_onnx_runtime_fuses_the_activations_written_as_formulas(sharesc, tmp_path, name, fused):
    """Opset 17 has no GELU or SiLU op: the exporter writes their formulas in the form ONNX Runtime fuses
    into one kernel each (Gelu; QuickGelu with alpha 1, which is SiLU), and none is left unfused."""
    _, model_path = sharesc.export(small_variant(sharesc, name), f"fusion-{name}", "--set", "classes=10")
    written = written_activations(onnx.load(str(model_path)))[fused]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(options.optimized_model_filepath)
    op_types = collections.Counter(node.op_type for node in optimized.graph.node)
    assert written > 0 and op_types[fused] == written, op_types
    assert written_activations(optimized) == {"Gelu": 0, "QuickGelu": 0}, op_types


@pytest.mark.parametrize("layers", ["stages: [{block: b, width: 3, repeat: 0}]", "stem: [dropout]"])
def test_a_network_of_no_layers_exports_its_input(sharesc, tmp_path, layers):
    """Stages of no blocks leave the input as the output: the model passes it on (an Identity), where it
    named an output no node wrote, which ONNX Runtime refused."""
    spec = tmp_path / "empty.yaml"
    spec.write_text("input: [3, 5, 4]\nblocks:\n  b:\n    args: {width: required}\n"
                    f"    body: [{{conv: {{out: $width, kernel: 3, pad: 1}}}}]\n{layers}\n")
    model_path = tmp_path / "empty.onnx"
    sharesc.run("export", str(spec), "-o", str(model_path))
    onnx.checker.check_model(onnx.load(str(model_path)), full_check=True)
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 4)).astype(np.float32)
    (logits,) = session(model_path).run(["logits"], {"input": x})
    np.testing.assert_array_equal(logits, x)
