"""Weights going back from PyTorch to sharesc, and the training example: one SGD step then
`sharesc run` on the saved state_dict (plain, DDP-prefixed, half precision), `compile -o` and
`export` on it, the digits example for a few steps, and two processes under torchrun (DDP, and
FSDP2 also with a tie group spanning stages). Small networks of the modern families train a few steps
with their tied weights kept tied, and their state_dict goes back to sharesc; stochastic depth behaves
as torchvision's."""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from conftest import ROOT, assert_close, tied_users

SPEC = "Examples/train/digits-sharesnet.yaml"
TRAIN = ROOT / "Examples/train/train.py"


@pytest.fixture(scope="module")
def stepped(sharesc, tmp_path_factory):
    """The digits network after one SGD step in PyTorch, its state_dict saved with safetensors."""
    directory = tmp_path_factory.mktemp("stepped")
    module = sharesc.export(SPEC, "stepped")
    torch.manual_seed(0)
    model = module.create_model().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(8, *module.INPUT_SHAPE)
    loss = F.cross_entropy(model(x), torch.arange(8) % 10)
    loss.backward()
    optimizer.step()
    model.eval()
    state = model.state_dict()
    save_file(state, directory / "plain.safetensors")
    probe = np.random.default_rng(1).standard_normal((3, *module.INPUT_SHAPE)).astype(np.float32)
    return dict(module=module, model=model, state=state, directory=directory, probe=probe)


def torch_output(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x)).numpy()


def test_sharesc_runs_the_saved_state_dict(stepped, sharesc):
    assert any(k.endswith("num_batches_tracked") for k in stepped["state"])
    assert_close(sharesc.forward(SPEC, stepped["directory"] / "plain.safetensors", stepped["probe"]),
                 torch_output(stepped["model"], stepped["probe"]))


def test_a_ddp_prefixed_state_dict_runs_with_a_note(stepped, sharesc):
    path = stepped["directory"] / "ddp.safetensors"
    save_file({"module." + k: v for k, v in stepped["state"].items()}, path)
    result = sharesc.call("run", SPEC, "--weights", str(path), "--batch", "1")
    assert result.returncode == 0, result.stderr
    assert "note: stripped the prefix 'module.'" in result.stderr
    assert "note: ignored" in result.stderr and "num_batches_tracked" in result.stderr
    assert_close(sharesc.forward(SPEC, path, stepped["probe"]), torch_output(stepped["model"], stepped["probe"]))


def train_example():
    """Examples/train/train.py as a module, for its functions."""
    spec = importlib.util.spec_from_file_location("train_example", TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("wrapper", ["compiled-ddp", "framework", "averaged"])
def test_a_wrapped_models_checkpoint_loads_in_the_module_once_its_prefix_is_stripped(stepped, sharesc, wrapper):
    """A checkpoint of a wrapped model (torch.compile over DDP, a training framework's `model.`, an
    AveragedModel's `module.` beside its `n_averaged`) fits the exported module without its prefix:
    export --weights says so (it said the file fit load_state_dict, which refuses the prefixed names), and
    train.py --weights strips it as sharesc does (it stripped only DDP's and torch.compile's, and no prefix
    where a name lacked it, as `n_averaged` does)."""
    prefix = {"compiled-ddp": "_orig_mod.module.", "framework": "model.", "averaged": "module."}[wrapper]
    state = {prefix + k: v for k, v in stepped["state"].items()}
    if wrapper == "averaged":
        state["n_averaged"] = torch.tensor(3)
    path = stepped["directory"] / f"{wrapper}.safetensors"
    save_file(state, path)
    result = sharesc.call("export", SPEC, "-o", str(stepped["directory"] / "again.py"), "--weights", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path} fits it without the prefix '{prefix}' (strip it for load_state_dict" in result.stdout
    model = stepped["module"].create_model()
    model.load_state_dict(train_example().load_checkpoint(path, model))
    assert_close(torch_output(model, stepped["probe"]), torch_output(stepped["model"], stepped["probe"]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=["F16", "BF16", "F64"])
def test_half_precision_weights_are_read_as_float32(stepped, sharesc, dtype):
    half = {k: v.to(dtype) if v.is_floating_point() else v for k, v in stepped["state"].items()}
    path = stepped["directory"] / f"{dtype}.safetensors"
    save_file(half, path)
    result = sharesc.call("run", SPEC, "--weights", str(path), "--batch", "1")
    assert "to float32" in result.stderr
    # The reference: the same network holding the half values widened to float32.
    widened = stepped["module"].create_model()
    widened.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    assert_close(sharesc.forward(SPEC, path, stepped["probe"]), torch_output(widened, stepped["probe"]))


def test_compile_and_export_take_the_saved_state_dict(stepped, sharesc):
    directory = stepped["directory"]
    weights = str(directory / "plain.safetensors")
    sharesc.run("compile", SPEC, "-o", str(directory / "stepped.plan"), "--weights", weights)
    plan_output = directory / "plan.npy"
    np.save(directory / "probe.npy", stepped["probe"])
    sharesc.run("run", str(directory / "stepped.plan"), "--input", str(directory / "probe.npy"), "--output", str(plan_output))
    assert_close(np.load(plan_output), torch_output(stepped["model"], stepped["probe"]))
    sharesc.run("export", SPEC, "-o", str(directory / "stepped.onnx"), "--weights", weights)
    assert (directory / "stepped.onnx").stat().st_size > 4 * 200_000


def test_misfitting_weights_are_still_errors(stepped, sharesc):
    path = stepped["directory"] / "wrong.safetensors"
    state = dict(stepped["state"])
    state["head.fc1.weight"] = state["head.fc1.weight"][:5].clone()
    state["stage1.block1.bn1.step"] = torch.tensor(1)
    save_file(state, path)
    result = sharesc.call("run", SPEC, "--weights", str(path))
    assert result.returncode != 0
    assert "tensor 'stage1.block1.bn1.step' is I64" in result.stderr
    sequential = sharesc.call("run", SPEC, "--sequential", "--weights", str(stepped["directory"] / "plain.safetensors"))
    assert "missing tensor 'stage1.block2.conv2.weight'" in sequential.stderr


def train(arguments, launcher=(sys.executable,), timeout=600) -> subprocess.CompletedProcess:
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([*launcher, str(TRAIN), *arguments], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_digits_example_trains_and_its_checkpoint_runs_in_sharesc(sharesc, tmp_path):
    model = tmp_path / "digits.py"
    sharesc.run("export", SPEC, "-o", str(model))
    initial = sharesc.init(SPEC, "digits-initial")  # the script starts from sharesc's weights
    result = train([str(model), "--dataset", "digits", "--epochs", "2", "--max-steps", "4", "--batch-size", "32",
                    "--threads", "1", "--weights", str(initial), "--out", str(tmp_path / "run")])
    assert "epoch   2" in result.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["history"]] == [1, 2]
    assert metrics["parameters"] == sharesc.report(SPEC)["parameters"]["total"]
    assert all(np.isfinite(e["train_loss"]) and 0 <= e["test_accuracy"] <= 1 for e in metrics["history"])
    checkpoint = tmp_path / "run" / "model.safetensors"
    trained = sharesc.export(SPEC, "digits-reloaded").create_model()
    trained.load_state_dict(load_file(checkpoint))
    probe = np.random.default_rng(2).standard_normal((2, 1, 16, 16)).astype(np.float32)
    assert_close(sharesc.forward(SPEC, checkpoint, probe), torch_output(trained, probe))


def test_a_network_with_other_classes_than_the_dataset_is_refused_up_front(sharesc, tmp_path):
    model = tmp_path / "digits7.py"
    sharesc.run("export", SPEC, "-o", str(model), "--set", "classes=7")
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, str(TRAIN), str(model), "--dataset", "digits", "--epochs", "1",
                             "--out", str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=environment)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "the network has 7 outputs, but digits has 10 classes; export the spec with 10 "
        "(for example --set classes=10, where it has that variable)"), result.stderr
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_two_processes_under_torchrun_end_identical(sharesc, tmp_path):
    model = tmp_path / "digits.py"
    sharesc.run("export", SPEC, "-o", str(model))
    result = train([str(model), "--dataset", "digits", "--epochs", "1", "--max-steps", "3", "--batch-size", "16",
                    "--out", str(tmp_path / "run")],
                   launcher=(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"))
    assert "2 process(es) on cpu" in result.stdout
    assert "ranks agree: largest parameter difference 0\n" in result.stdout
    checkpoint = tmp_path / "run" / "model.safetensors"
    assert not any(k.startswith("module.") for k in load_file(checkpoint))
    sharesc.run("run", SPEC, "--weights", str(checkpoint), "--batch", "1")


@pytest.mark.parametrize("spec", [SPEC, "Examples/2-tie-group.yaml"], ids=["digits", "tie-group"])
def test_two_processes_sharded_with_fsdp(sharesc, tmp_path, spec):
    model = tmp_path / "model.py"
    sharesc.run("export", spec, "-o", str(model))
    train([str(model), "--dataset", "digits", "--epochs", "1", "--max-steps", "3", "--batch-size", "8", "--fsdp",
           "--out", str(tmp_path / "run")],
          launcher=(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["parallelism"] == "fsdp"
    # The gathered checkpoint is complete and runs in sharesc as in PyTorch.
    checkpoint = tmp_path / "run" / "model.safetensors"
    module = sharesc.export(spec, "fsdp-" + pathlib.Path(spec).stem)
    trained = module.create_model()
    trained.load_state_dict(load_file(checkpoint))
    probe = np.random.default_rng(4).standard_normal((2, *module.INPUT_SHAPE)).astype(np.float32)
    assert_close(sharesc.forward(spec, checkpoint, probe), torch_output(trained, probe))
    # The test loss printed is the checkpoint's: each process tested with its own batchnorm statistics,
    # where the checkpoint holds rank 0's. Over the test set as two processes' samplers split it (the
    # first sample repeated where the count is odd).
    _, test_set, _ = train_example().digits(module.INPUT_SHAPE)
    order = list(range(len(test_set))) + list(range(len(test_set) % 2))
    images, labels = test_set[order]
    with torch.no_grad():
        loss = F.cross_entropy(trained.eval()(images), labels).item()
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"][-1]["test_loss"]
    assert abs(recorded - loss) <= 1e-4 * abs(loss), (recorded, loss)


MODERN = ["mobilenet-small", "efficientnet-small", "regnet-small", "convnext-small", "resnext-small", "modern-corners"]


@pytest.mark.parametrize("name", MODERN)
def test_a_small_modern_network_trains_and_goes_back_to_sharesc(sharesc, tmp_path, name):
    spec = f"Tests/pytorch/specs/{name}.yaml"
    module = sharesc.export(spec, "train-" + name)
    users = tied_users(sharesc.init(spec, "train-" + name))
    torch.manual_seed(0)
    model = module.create_model().train()
    classes = model(torch.zeros(2, *module.INPUT_SHAPE)).shape[1]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(16, *module.INPUT_SHAPE)
    target = torch.arange(16) % classes
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    # Tied weights stay tied: after the steps every use still reads the one parameter the optimizer updated.
    parameters = dict(model.named_parameters())
    for weight, layers in users.items():
        for layer in layers:
            role = weight.rsplit(".", 1)[1]  # the tied convolution's weight or bias
            assert getattr(model.get_submodule(layer).owner, role) is parameters[weight]
    # The trained state_dict fits sharesc's weights (names and shapes of the new parameters included) ...
    path = tmp_path / "trained.safetensors"
    save_file(model.state_dict(), path)
    fits = sharesc.run("export", spec, "-o", str(tmp_path / "again.py"), "--weights", str(path))
    assert "fits it (load_state_dict)" in fits
    # ... and sharesc computes what PyTorch computes with it.
    probe = np.random.default_rng(3).standard_normal((2, *module.INPUT_SHAPE)).astype(np.float32)
    assert_close(sharesc.forward(spec, path, probe), torch_output(model, probe))


def test_stochastic_depth_drops_whole_samples_in_training_only(sharesc):
    module = sharesc.export("Tests/pytorch/specs/modern-corners.yaml", "stochastic-depth")
    model = module.create_model()
    kept_block = model.stage1.block2  # rate 0.1 x block 2, with its residual sum
    assert isinstance(kept_block.drop_path1, module.StochasticDepth) and kept_block.drop_path1.p == pytest.approx(0.2)
    # In a block without its residual sum (the width changes, or `merge: none`) it is the identity.
    assert isinstance(model.stage3.block1.drop_path1, torch.nn.Identity)
    assert isinstance(model.stage2.block1.drop_path1, torch.nn.Identity)
    layer = module.StochasticDepth(0.25)
    x = torch.ones(4000, 3, 2, 2)
    assert torch.equal(layer.eval()(x), x)
    torch.manual_seed(1)
    y = layer.train()(x)
    # torchvision's "row" mode: each sample entirely dropped or entirely kept and scaled by 1 / (1 - p).
    per_sample = y.flatten(1)
    assert torch.all((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1))
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.25) < 0.03
