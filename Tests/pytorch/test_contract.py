"""The contract of `sharesc export SPEC -o model.py`, checked against PyTorch itself for every shipped
architecture, the examples and the corner specs under specs/, shared and sequential:

- the distinct parameter count is the report's `parameters.total`;
- state_dict() keys (less num_batches_tracked) are exactly the tensors of `sharesc init`, same shapes;
- in eval mode the module computes what `sharesc run` computes on the same weights and input;
- state_dict() saves with safetensors (each tied weight once), and every use of a tied weight reads
  that one parameter object;
- a tied weight's gradient is the sum of the per-use gradients of the sequential export;
- torch.fx traces the module, to the same outputs;
- the torchvision families count torchvision's parameters."""
import copy
import json
import pathlib
import subprocess

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from conftest import ROOT, assert_close, keep_signal, sharesc_binary, tied_users

LIBRARIES = {"blocks.yaml", "modern-blocks.yaml"}  # block templates, no network
SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "Architectures").rglob("*.yaml") if p.name not in LIBRARIES)
SPECS += ["Examples/1-custom-block.yaml", "Examples/2-tie-group.yaml", "Examples/train/digits-sharesnet.yaml"]
SPECS += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "Tests/pytorch/specs").glob("*.yaml"))


def variants(spec: str) -> list[tuple[str, ...]]:
    """Both variants of a spec that ties weights; one of a spec that does not."""
    report = json.loads(subprocess.run([str(sharesc_binary()), "compile", spec, "--format", "json"], cwd=ROOT,
                                       capture_output=True, text=True, check=True).stdout)
    return [(), ("--sequential",)] if report["parameters"]["saved"] > 0 else [()]


CASES = [(spec, variant) for spec in SPECS for variant in variants(spec)]


def case_id(case) -> str:
    spec, variant = case
    return pathlib.Path(spec).stem + ("-sequential" if variant else "")


@pytest.fixture(scope="module", params=CASES, ids=[case_id(c) for c in CASES])
def exported(request, sharesc):
    spec, variant = request.param
    name = case_id(request.param)
    module = sharesc.export(spec, name, *variant)
    weights = sharesc.init(spec, name, *variant)
    keep_signal(weights, seed=1)  # so that the logits compared below depend on the input
    torch.manual_seed(0)
    model = module.create_model()
    model.load_state_dict(load_file(weights))  # strict: PyTorch fills in the batchnorm counters
    shape = module.INPUT_SHAPE
    batch = 1 if shape[1] * shape[2] >= 128 * 128 else 2
    x = np.random.default_rng(7).standard_normal((batch, *shape)).astype(np.float32)
    return dict(spec=spec, variant=variant, name=name, module=module, model=model, weights=weights, x=x,
                report=sharesc.report(spec, *variant))


def test_distinct_parameters_match_the_report(exported):
    total = sum(p.numel() for p in exported["model"].parameters())
    assert total == exported["report"]["parameters"]["total"]


def test_state_dict_keys_are_the_init_tensor_names(exported):
    state = {k: v for k, v in exported["model"].state_dict().items() if not k.endswith("num_batches_tracked")}
    with safe_open(exported["weights"], "pt") as f:
        names = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    assert set(state) == set(names)
    assert {k: tuple(v.shape) for k, v in state.items()} == names


def test_eval_output_matches_sharesc_run(exported, sharesc):
    model = exported["model"].eval()
    with torch.no_grad():
        ours = model(torch.from_numpy(exported["x"])).numpy()
    theirs = sharesc.forward(exported["spec"], exported["weights"], exported["x"], *exported["variant"])
    assert_close(ours, theirs)


def test_torch_fx_traces_the_module(exported):
    """torch.fx.symbolic_trace (what quantization and graph-rewriting tools start from) traces every
    export: no branch on a traced value (LayerScale's forward branched on x.dim()), same outputs."""
    model = exported["model"].eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.from_numpy(exported["x"])
    with torch.no_grad():
        assert torch.equal(traced(x), model(x))


def test_dropout_and_drop_path_rates_are_the_graphs(exported, sharesc):
    """Every dropout and stochastic depth layer drops at the rate sharesc computed for it (a real
    division in a block argument's default was printed as `//`, so rates of 0.04-0.16 became 0)."""
    graph = json.loads(sharesc.run("compile", exported["spec"], "--emit", "graph", "--format", "json",
                                   *exported["variant"]))
    model = exported["model"]
    for node in graph["nodes"]:
        if node["op"] not in ("dropout", "stochastic_depth"):
            continue
        layer = model.get_submodule(node["name"])
        if isinstance(layer, torch.nn.Identity):  # no residual branch to drop
            continue
        assert layer.p == pytest.approx(float(node["attributes"]["p"]), rel=1e-6), node["name"]


def test_state_dict_saves_with_safetensors(exported, tmp_path):
    state = exported["model"].state_dict()
    save_file(state, tmp_path / "saved.safetensors")  # refuses tensors that share memory
    saved = load_file(tmp_path / "saved.safetensors")
    assert set(saved) == set(state)
    assert {tie["weight"] for tie in exported["report"]["ties"]} <= set(saved)


def test_every_use_of_a_tied_weight_reads_one_parameter(exported):
    model = exported["model"]
    for weight, users in tied_users(exported["weights"]).items():
        holder, role = weight.rsplit(".", 1)  # a weight or a bias
        parameter, uses = model.get_parameter(weight), [model.get_submodule(user) for user in users]
        for user, use in zip(users, uses):
            assert getattr(use.owner, role) is parameter, f"{user} does not read {weight}"
            assert getattr(use, role) is parameter, f"{user}.{role} is not {weight}"
        # The holder never runs, but prints and copies as its uses run it, where they all agree.
        for option in ("stride", "padding"):
            values = {getattr(use, option) for use in uses}
            if len(values) == 1:
                assert getattr(model.get_submodule(holder), option) == (values.pop(),) * 2, f"{holder}.{option}"


def test_ties_by_hand_are_checked_and_a_copied_holder_unties(sharesc):
    module = sharesc.export("Examples/2-tie-group.yaml", "hand-ties")
    model = module.create_model().eval()
    trunk = model.shared["trunk"]
    with pytest.raises(KeyError, match="'conv_2' is no convolution this block ties; it ties conv2"):
        module.BasicBlock(64, width=64, tied={"conv_2": trunk})
    with pytest.raises(ValueError, match="the tied convolution lacks a bias, where this one has bias=True"):
        module.conv2d(64, 64, 3, padding=1, bias=True, tied=trunk)
    # A copy of the holder is the convolution its uses run: untying one block by it changes nothing yet.
    x = torch.randn(1, *module.INPUT_SHAPE)
    before = model(x)
    model.stage1.block1.conv2 = copy.deepcopy(trunk)
    assert model.stage1.block1.conv2.weight is not trunk.weight
    assert torch.equal(model(x), before)


# torchvision's parameter counts (torchvision.models.<name>(), its documentation's table): the specs build
# the same networks, so their exports hold as many parameters.
TORCHVISION = {
    "resnext50-32x4d": 25_028_904,
    "mobilenet-v2": 3_504_872,
    "efficientnet-b0": 5_288_548,
    "regnet-y-400mf": 4_344_144,
    "convnext-tiny": 28_589_128,
}


@pytest.mark.parametrize("network", TORCHVISION)
def test_the_torchvision_families_count_torchvisions_parameters(sharesc, network):
    model = sharesc.export(f"Architectures/imagenet/{network}.yaml", "torchvision-" + network).create_model()
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION[network]


def test_tied_gradient_is_the_sum_of_sequential_gradients(exported, sharesc):
    if exported["variant"] or not exported["report"]["ties"]:
        pytest.skip("no tied weight in this variant")
    shared_model = exported["model"].train()
    sequential_model = sharesc.export(exported["spec"], exported["name"] + "-untied", "--sequential").create_model().train()
    users = tied_users(exported["weights"])
    shared_state = load_file(exported["weights"])
    untied = {}
    for name, tensor in shared_state.items():
        role = name.rsplit(".", 1)[1]
        for target in ([f"{user}.{role}" for user in users[name]] if name in users else [name]):
            untied[target] = tensor.clone()
    sequential_model.load_state_dict(untied)

    x = torch.from_numpy(exported["x"])
    gradients = []
    for model in (shared_model, sequential_model):
        torch.manual_seed(3)  # the same dropout masks in both
        out = model(x)
        weights = torch.from_numpy(np.random.default_rng(5).standard_normal(tuple(out.shape)).astype(np.float32))
        (out * weights).sum().backward()
        gradients.append({name: p.grad.numpy() for name, p in model.named_parameters()})
    shared_grads, sequential_grads = gradients
    for name, grad in shared_grads.items():
        if name in users:
            role = name.rsplit(".", 1)[1]
            expected = sum(sequential_grads[f"{user}.{role}"] for user in users[name])
        else:
            expected = sequential_grads[name]
        assert_close(grad, expected, rtol=1e-3)
