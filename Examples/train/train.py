"""Train a network exported by `sharesc export SPEC -o model.py`, on one device or many.

    python3 train.py model.py --dataset digits --epochs 30          # CPU, offline, about 90 s
    python3 train.py model.py --dataset cifar10 --data ~/data      # one GPU (torchvision needed)
    torchrun --nproc_per_node=8 train.py model.py --dataset cifar100 --data ~/data
    torchrun --nproc_per_node=8 train.py model.py --dataset cifar100 --data ~/data --fsdp

Under torchrun the model is wrapped in DistributedDataParallel (NCCL on GPUs, gloo on CPUs), or with
--fsdp sharded by FSDP2 (each stage, then the whole network); on CUDA its batchnorms become SyncBatchNorm and the forward pass runs in float16 autocast (--no-amp turns it
off). The defaults are the CIFAR recipe of the ShaResNet and Wide ResNet papers: SGD with momentum
0.9, weight decay 5e-4 (ResNet-164 used 1e-4), learning rate 0.1 divided by 5 at 30%, 60% and 80% of
the epochs, batch 128 per process. Every epoch prints the loss and accuracy; OUT/model.safetensors
holds the weights under sharesc's names (`sharesc run SPEC --weights OUT/model.safetensors`), and
OUT/metrics.json the per-epoch figures.
"""
import argparse
import importlib.util
import json
import math
import os
import pathlib
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=pathlib.Path, help="a file written by `sharesc export SPEC -o model.py`")
    parser.add_argument("--dataset", choices=["digits", "cifar10", "cifar100"], default="cifar10")
    parser.add_argument("--data", type=pathlib.Path, default=pathlib.Path("data"), help="torchvision's download folder")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128, help="per process")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--milestones", type=float, nargs="*", default=[0.3, 0.6, 0.8],
                        help="fractions of the epochs where the learning rate drops")
    parser.add_argument("--gamma", type=float, default=0.2, help="factor of each drop")
    parser.add_argument("--weights", type=pathlib.Path, help="start from these weights (safetensors, sharesc names)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=4, help="data loading processes (image datasets)")
    parser.add_argument("--max-steps", type=int, help="stop each epoch after this many steps (smoke tests)")
    parser.add_argument("--threads", type=int, help="CPU threads per process (default: the cores, shared among local processes)")
    parser.add_argument("--no-amp", dest="amp", action="store_false", help="no float16 autocast on CUDA")
    parser.add_argument("--fsdp", action="store_true", help="under torchrun, shard with FSDP2 instead of replicating with DDP")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("run"))
    return parser.parse_args()


def load_generated(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Distributed:
    """torchrun's environment, or a single process."""

    def __init__(self, threads: int | None):
        self.enabled = "RANK" in os.environ and "WORLD_SIZE" in os.environ
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if torch.cuda.is_available():
            self.device = torch.device("cuda", local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
            # Processes sharing a machine's cores should not each start a thread per core.
            local_world = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
            torch.set_num_threads(threads or max(1, (os.cpu_count() or 1) // local_world))
        if self.enabled:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, *values: float) -> list[float]:
        """Sums of per-process values over all processes."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.enabled:
            dist.all_reduce(tensor)
        return tensor.tolist()


def digits(input_shape):
    """scikit-learn's 8 x 8 handwritten digits (bundled, no download), resized to the network's input,
    80% for training and 20% for testing (a fixed split)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16
    channels, height, width = input_shape
    images = F.interpolate(images, size=(height, width), mode="bilinear", align_corners=False).repeat(1, channels, 1, 1)
    images = (images - images.mean()) / images.std()
    labels = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    split = int(0.8 * len(order))
    train, test = order[:split], order[split:]
    return TensorDataset(images[train], labels[train]), TensorDataset(images[test], labels[test]), 10


def cifar(name: str, root: pathlib.Path, input_shape):
    """CIFAR-10/100 through torchvision, with the usual padding-crop and flip augmentation."""
    try:
        import torchvision
        from torchvision import transforms
    except ImportError as error:
        raise SystemExit(f"--dataset {name} needs torchvision ({error}); --dataset digits needs only scikit-learn")
    if tuple(input_shape) != (3, 32, 32):
        raise SystemExit(f"the model takes {input_shape}; CIFAR images are 3 x 32 x 32")
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    normalize = [transforms.ToTensor(), transforms.Normalize(mean, std)]
    augment = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), *normalize])
    dataset = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    train = dataset(root, train=True, download=True, transform=augment)
    test = dataset(root, train=False, download=True, transform=transforms.Compose(normalize))
    return train, test, 10 if name == "cifar10" else 100


def shard(model: nn.Module) -> nn.Module:
    """FSDP2: each child module (stem, stages, head) is a unit, then the network. The network-wide
    `shared` module (tie groups spanning stages) is never called, so it stays in the root unit, whose
    parameters are gathered for the whole forward and backward pass; a stage's own `shared` module is
    gathered with its stage."""
    from torch.distributed.fsdp import fully_shard

    for name, child in model.named_children():
        if name != "shared":
            fully_shard(child)
    return fully_shard(model)


def load_checkpoint(path: pathlib.Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """A safetensors file under the model's own names, read as sharesc reads it: an AveragedModel's
    `n_averaged` dropped, and a prefix on every name stripped (DistributedDataParallel's or
    AveragedModel's `module.`, torch.compile's `_orig_mod.`, a training framework's `model.`, in any
    order) while that makes more of the names the model's; if none is the model's even then, the names
    stay as the file has them, for load_state_dict to list."""
    original = load_file(path)
    original.pop("n_averaged", None)
    names = set(model.state_dict())

    def known(state):
        return sum(name in names for name in state)

    state = original
    for _ in range(4):  # DDP, torch.compile and an average make three wrappers
        prefix = next(iter(state), "").split(".", 1)[0] + "."
        if not state or not all(name.startswith(prefix) and name != prefix for name in state):
            break
        stripped = {name.removeprefix(prefix): tensor for name, tensor in state.items()}
        if known(stripped) <= known(state) and known(state) > 0:
            break
        state = stripped
    return state if known(state) > 0 else original


def state_dict_for_sharesc(model: nn.Module, sharded: bool) -> dict[str, torch.Tensor]:
    """The model's tensors under sharesc's names (no `module.` prefix), on the CPU, float32 where they
    are floating. With FSDP every process must call it (it gathers the shards); rank 0 gets them."""
    if sharded:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        state = (model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model).state_dict()
    return {name: (t.float() if t.is_floating_point() else t).detach().cpu().contiguous() for name, t in state.items()}


def run_epoch(model, loader, optimizer, scaler, args, env, train: bool):
    model.train(train)
    loss_sum, correct, seen = 0.0, 0.0, 0.0
    autocast = env.device.type == "cuda" and args.amp
    with torch.set_grad_enabled(train):
        for step, (images, labels) in enumerate(loader):
            if train and args.max_steps is not None and step >= args.max_steps:
                break
            images, labels = images.to(env.device, non_blocking=True), labels.to(env.device, non_blocking=True)
            with torch.autocast(env.device.type, dtype=torch.float16, enabled=autocast):
                logits = model(images)
                loss = F.cross_entropy(logits, labels)
            if train:
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
    loss_sum, correct, seen = env.sum(loss_sum, correct, seen)
    return loss_sum / max(seen, 1), correct / max(seen, 1)


def share_rank0_buffers(model):
    """Every process's buffers (batchnorm's running statistics) made rank 0's. FSDP shards the
    parameters but leaves each process its own buffers, which without SyncBatchNorm (on CPUs) drift
    apart; the checkpoint holds rank 0's, so the test pass (each process its share of the test set) must
    run with them to measure the checkpoint. DDP does the same before every forward pass."""
    for buffer in model.buffers():
        dist.broadcast(buffer.data, 0)


def ranks_agree(model, env) -> float:
    """The largest difference between this process's parameters and rank 0's, over all processes."""
    flat = torch.cat([p.detach().flatten().double() for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, 0)
    difference = (flat - reference).abs().max()
    dist.all_reduce(difference, op=dist.ReduceOp.MAX)
    return difference.item()


def main():
    args = parse_arguments()
    env = Distributed(args.threads)
    generated = load_generated(args.model)
    torch.manual_seed(args.seed)
    model = generated.create_model()
    if args.weights:
        model.load_state_dict(load_checkpoint(args.weights, model))  # `sharesc init` files too: PyTorch adds the batchnorm counters
    parameters = sum(p.numel() for p in model.parameters())  # a tied weight is one Parameter: counted once

    if args.dataset == "digits":
        train_set, test_set, classes = digits(generated.INPUT_SHAPE)
    else:
        train_set, test_set, classes = cifar(args.dataset, args.data, generated.INPUT_SHAPE)
    with torch.no_grad():  # one sample through the network, on the CPU: how many classes it tells apart
        outputs = model.eval()(torch.zeros(1, *generated.INPUT_SHAPE)).shape[-1]
    if outputs != classes:
        sys.exit(f"{args.model}: the network has {outputs} outputs, but {args.dataset} has {classes} classes; "
                 f"export the spec with {classes} (for example --set classes={classes}, where it has that variable)")
    model = model.to(env.device)
    if env.enabled and env.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    sharded = env.enabled and args.fsdp
    if sharded:
        model = shard(model)
    elif env.enabled:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[env.device.index] if env.device.type == "cuda" else None)

    train_sampler = DistributedSampler(train_set, seed=args.seed) if env.enabled else None
    test_sampler = DistributedSampler(test_set, shuffle=False) if env.enabled else None
    workers = 0 if args.dataset == "digits" else args.workers
    train_loader = DataLoader(train_set, args.batch_size, shuffle=train_sampler is None, sampler=train_sampler,
                              num_workers=workers, pin_memory=env.device.type == "cuda", drop_last=True,
                              generator=torch.Generator().manual_seed(args.seed))
    test_loader = DataLoader(test_set, args.batch_size, sampler=test_sampler, num_workers=workers)

    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    milestones = sorted({max(1, math.floor(f * args.epochs)) for f in args.milestones})
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=args.gamma)
    scaler = torch.amp.GradScaler(env.device.type, enabled=env.device.type == "cuda" and args.amp)

    args.out.mkdir(parents=True, exist_ok=True)
    if env.main:
        threads = f", {torch.get_num_threads()} thread(s) each" if env.device.type == "cpu" else ""
        print(f"{parameters:,} parameters, {len(train_set)} training and {len(test_set)} test images, "
              f"{env.world} process(es) on {env.device.type}{threads}", flush=True)
    history = []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        if train_sampler is not None:
            train_sampler.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_accuracy = run_epoch(model, train_loader, optimizer, scaler, args, env, train=True)
        if sharded:
            share_rank0_buffers(model)
        test_loss, test_accuracy = run_epoch(model, test_loader, optimizer, scaler, args, env, train=False)
        schedule.step()
        elapsed = time.perf_counter() - start
        history.append(dict(epoch=epoch, lr=lr, train_loss=train_loss, train_accuracy=train_accuracy,
                            test_loss=test_loss, test_accuracy=test_accuracy, seconds=elapsed))
        state = state_dict_for_sharesc(model, sharded)
        if env.main:
            print(f"epoch {epoch:3d}  lr {lr:.4g}  train loss {train_loss:.4f} acc {100 * train_accuracy:5.2f}%  "
                  f"test loss {test_loss:.4f} acc {100 * test_accuracy:5.2f}%  {elapsed:.1f}s", flush=True)
            save_file(state, args.out / "model.safetensors")

    if env.enabled and not sharded:  # FSDP's processes hold different shards by design
        difference = ranks_agree(model, env)
        if env.main:
            print(f"ranks agree: largest parameter difference {difference:g}", flush=True)
    if env.main:
        summary = dict(model=str(args.model), dataset=args.dataset, parameters=parameters, processes=env.world,
                       parallelism="fsdp" if sharded else "ddp" if env.enabled else "none",
                       device=env.device.type, threads=torch.get_num_threads(), epochs=args.epochs, seconds=time.perf_counter() - start,
                       test_accuracy=history[-1]["test_accuracy"] if history else None, history=history)
        (args.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.out / 'model.safetensors'} and {args.out / 'metrics.json'}", flush=True)
    if env.enabled:
        # Every rank is done before any leaves (rank 0 may still be writing the metrics).
        dist.barrier()


if __name__ == "__main__":
    main()
    if dist.is_initialized():
        # The work is done and every rank has passed the barrier. Tearing the process group down still
        # races between ranks under gloo: a rank whose peer has already gone aborts in its connection
        # threads (`terminate called without an active exception`, about one run in 20 on CPU, after
        # the checkpoint is written), so the process ends here, without destructors.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
