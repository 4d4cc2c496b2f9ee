"""`sharesc compile --batch N`: its estimate of the activations a training step saves for backward against
what PyTorch saves, measured on the exported module. One forward pass in training mode under
`torch.autograd.graph.saved_tensors_hooks` sees every tensor autograd saves; each storage counts once (a
ReLU's output is saved by the ReLU and again by the next conv; a linear layer saves a view of the flattened
pooling output), and parameters and batchnorm buffers, which autograd also saves, are left out."""
import pytest
import torch

BATCH = 2

NETWORKS = [
    ("Architectures/imagenet/resnet-18.yaml",),
    ("Architectures/imagenet/resnet-50.yaml",),
    ("Architectures/cifar/sharesnet-164.yaml",),
    ("Architectures/cifar/sharesnet-164.yaml", "--sequential"),
    ("Architectures/cifar/sharewrn-40-4.yaml",),
    ("Architectures/cifar/sharewrn-40-4.yaml", "--set", "dropout=0.3"),
    ("Architectures/cifar/resnet-56.yaml",),
    ("Architectures/imagenet/sharesnet-50.yaml", "--sequential"),
    ("Examples/2-tie-group.yaml",),
    ("Tests/pytorch/specs/preact-pools.yaml",),
    ("Tests/pytorch/specs/residual-mlp.yaml",),
    ("Tests/pytorch/specs/flatten-batchnorm.yaml",),
    # The modern families at full size (each well under a second here): depthwise convolutions, ReLU6, SiLU,
    # GELU, squeeze-and-excitation, LayerNorm over channels, layer scale, stochastic depth in training.
    ("Architectures/imagenet/mobilenet-v2.yaml",),
    ("Architectures/imagenet/efficientnet-b0.yaml",),
    ("Architectures/imagenet/regnet-y-400mf.yaml",),
    ("Architectures/imagenet/convnext-tiny.yaml",),
    ("Architectures/imagenet/shared-convnext-tiny.yaml",),
    ("Architectures/imagenet/resnext50-32x4d.yaml",),
    # Hardswish, sigmoid, a vector LayerNorm and layer scale, stochastic depth where there is no residual.
    ("Tests/pytorch/specs/modern-corners.yaml",),
    # Layers before the first weight, which save nothing.
    ("Tests/pytorch/specs/untracked-front.yaml",),
]


def saved_activation_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages that one training forward pass saves for backward, parameters and
    buffers excluded."""
    own = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in own:
            storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x)
    return sum(storages.values())


@pytest.mark.parametrize("arguments", NETWORKS, ids=lambda a: " ".join(a).split("/")[-1])
def test_saved_activations_match_pytorch(sharesc, arguments):
    spec, *options = arguments
    name = "memory_" + "_".join(arguments).replace("/", "_").replace(".", "_").replace("-", "_").replace("=", "_")
    module = sharesc.export(spec, name, *options)
    torch.manual_seed(0)
    model = module.create_model().train()
    measured = saved_activation_bytes(model, torch.randn(BATCH, *module.INPUT_SHAPE))
    memory = sharesc.report(spec, "--batch", str(BATCH), *options)["memory"]
    estimated = memory["training"]["saved_activation_bytes"]
    ratio = estimated / measured
    print(f"{' '.join(arguments)}: sharesc {estimated:,} B, PyTorch {measured:,} B, ratio {ratio:.4f}")
    assert 0.9 <= ratio <= 1.1, f"sharesc {estimated:,} B against PyTorch {measured:,} B (ratio {ratio:.3f})"


def test_the_other_rows_follow_the_parameters(sharesc):
    """Weights, gradients and optimizer state are the distinct parameters (a tied weight once) as float32."""
    spec = "Architectures/cifar/sharesnet-164.yaml"
    module = sharesc.export(spec, "memory_parameters")
    model = module.create_model()
    weights = sum(p.numel() * 4 for p in model.parameters())
    report = sharesc.report(spec, "--batch", "8")
    training = report["memory"]["training"]
    assert training["weight_bytes"] == training["gradient_bytes"] == training["sgd_momentum_bytes"] == weights
    assert training["adam_bytes"] == 2 * weights
    assert training["total_adam_bytes"] == 4 * weights + training["buffer_bytes"] + training["saved_activation_bytes"]
    assert report["memory"]["inference"]["arena_bytes"] == 8 * report["memory"]["inference"]["arena_bytes_per_image"]
