#!/usr/bin/env python3
"""Inference time of `sharesc bench` against ONNX Runtime on the same network.

For SPEC, exports the model with `sharesc export SPEC -o model.onnx --seed 1`, then alternates REPEATS
times between
  (a) ONNX Runtime in this process (graph optimisation ORT_ENABLE_ALL, THREADS intra-op threads,
      1 inter-op thread): warm-up runs, then the median of RUNS timed runs on a float32 input of the
      model's shape at batch BATCH;
  (b) `sharesc bench SPEC --batch BATCH --threads THREADS --runs RUNS --format json` in a fresh
      process, which prints JSON with median_ms, min_ms, max_ms, gflops, arena_bytes,
      packed_weight_bytes and peak_rss_bytes.
Alternating spreads drift of the machine (frequency, other load) over both, and both run on the
same CPUs (the first THREADS usable ones, or --cpus). Prints each repeat's
two medians, then the median over repeats, the ratio sharesc / ONNX Runtime, GFLOP/s of both
(2 x MACs x batch / time, MACs from `sharesc compile SPEC --format json`), and the machine.

The binary is $SHARESC, else .build/release/sharesc. The environment is passed on unchanged (thread
variables such as OMP_* or OPENBLAS_* included), so set them before running if you need them.

Usage: python3 bench/compare_onnxruntime.py Architectures/cifar/resnet-56.yaml --batch 8 --threads 4
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import NoReturn

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH_KEYS = ("median_ms", "min_ms", "max_ms", "gflops", "arena_bytes", "packed_weight_bytes", "peak_rss_bytes")


def fail(message: str) -> NoReturn:
    print(f"compare_onnxruntime: {message}", file=sys.stderr)
    sys.exit(1)


def sharesc_binary() -> pathlib.Path:
    if os.environ.get("SHARESC"):
        binary = pathlib.Path(os.environ["SHARESC"])
    else:
        binary = ROOT / ".build" / "release" / "sharesc"
    if not binary.exists():
        fail(f"no sharesc binary at {binary}: run `swift build -c release` first or set SHARESC")
    return binary


def run_sharesc(binary: pathlib.Path, *arguments: str, hint: str = "") -> str:
    command = [str(binary), *arguments]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        fail(f"cannot run {binary}: {error}")
    if result.returncode != 0:
        fail(f"`{' '.join(command)}` failed with exit status {result.returncode}:\n{result.stderr.strip() or result.stdout.strip()}{hint}")
    return result.stdout


def parse_json(text: str, command: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"`{command}` did not print JSON ({error}); it printed:\n{text[:2000]}")
    if not isinstance(value, dict):
        fail(f"`{command}` printed JSON that is not an object:\n{text[:2000]}")
    return value


def sharesc_bench(binary: pathlib.Path, spec: str, extra: list[str], batch: int, threads: int, runs: int) -> dict:
    arguments = ["bench", spec, *extra, "--batch", str(batch), "--threads", str(threads), "--runs", str(runs), "--format", "json"]
    command = f"sharesc {' '.join(arguments)}"
    hint = f"\n(this script needs a sharesc with the `bench` command; {binary} may predate it)"
    result = parse_json(run_sharesc(binary, *arguments, hint=hint), command)
    missing = [key for key in BENCH_KEYS if key not in result]
    if missing:
        fail(f"`{command}` printed JSON without {', '.join(missing)}; it has: {', '.join(sorted(result))}")
    for key in BENCH_KEYS:
        if not isinstance(result[key], (int, float)) or isinstance(result[key], bool):
            fail(f"`{command}` printed {key} = {result[key]!r}; expected a number")
    return result


def onnxruntime_session(model: pathlib.Path, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def input_for(session, batch: int):
    """A deterministic float32 input of the model's shape, the symbolic batch dimension set to `batch`."""
    import numpy as np
    declared = session.get_inputs()[0]
    shape = [batch] + [int(dim) for dim in declared.shape[1:]]
    if any(not isinstance(dim, int) for dim in shape):
        fail(f"the model's input {declared.name} has shape {declared.shape}; expected fixed sizes after the batch")
    return declared.name, np.random.default_rng(0).standard_normal(shape, dtype=np.float32)


def time_onnxruntime(session, feed: dict, runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    model = value.strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    import onnxruntime
    return {"cpu": model, "logical_cpus": os.cpu_count(), "usable_cpus": usable, "onnxruntime": onnxruntime.__version__,
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}"}


def gflops(macs: int, batch: int, milliseconds: float) -> float:
    return 2 * macs * batch / (milliseconds / 1000) / 1e9 if milliseconds > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", help="the network spec, e.g. Architectures/cifar/resnet-56.yaml")
    parser.add_argument("--batch", type=int, default=1, help="samples per inference (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="threads of both engines (default 1)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of the two engines (default 3)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed ONNX Runtime runs before each measurement (default 5)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="spec variable override, passed to every sharesc command (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--cpus", metavar="LIST",
                        help="run both engines on these CPUs only, e.g. 0 or 0,1 (default: the first THREADS usable CPUs)")
    args = parser.parse_args()
    for name in ("batch", "threads", "runs", "repeats"):
        if getattr(args, name) < 1:
            fail(f"--{name} must be at least 1")
    if args.warmup < 0:
        fail("--warmup must not be negative")
    try:
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as error:
        fail(f"needs numpy and onnxruntime in this Python ({error}); e.g. pip install numpy onnxruntime")

    # Both engines on the same CPUs: sharesc runs as a child process and inherits this process's
    # affinity. Without it the scheduler may put the two on different virtual CPUs, which on a shared
    # host are not equally fast (here the second one has a noisy neighbour).
    if hasattr(os, "sched_setaffinity"):
        usable = sorted(os.sched_getaffinity(0))
        try:
            cpus = [int(cpu) for cpu in args.cpus.split(",")] if args.cpus else usable[:args.threads]
            os.sched_setaffinity(0, cpus)
        except (ValueError, OSError) as error:
            fail(f"--cpus {args.cpus}: {error} (usable CPUs: {usable})")

    binary = sharesc_binary()
    spec = args.spec
    extra = [argument for value in args.set for argument in ("--set", value)]
    report = parse_json(run_sharesc(binary, "compile", spec, *extra, "--format", "json"), f"sharesc compile {spec} --format json")
    if not isinstance(report.get("macs"), int):
        fail(f"`sharesc compile {spec} --format json` has no integer 'macs'")
    macs = report["macs"]

    with tempfile.TemporaryDirectory(prefix="sharesc-compare-") as directory:
        model = pathlib.Path(directory) / "model.onnx"
        run_sharesc(binary, "export", spec, *extra, "-o", str(model), "--seed", "1")
        session = onnxruntime_session(model, args.threads)
        name, data = input_for(session, args.batch)
        feed = {name: data}
        repeats = []
        for repeat in range(args.repeats):
            ort_result = time_onnxruntime(session, feed, args.runs, args.warmup)
            sharesc_result = sharesc_bench(binary, spec, extra, args.batch, args.threads, args.runs)
            repeats.append({"onnxruntime": ort_result, "sharesc": sharesc_result})
            if not args.json:
                print(f"repeat {repeat + 1}/{args.repeats}: onnxruntime {ort_result['median_ms']:.3f} ms, "
                      f"sharesc {sharesc_result['median_ms']:.3f} ms", file=sys.stderr, flush=True)

    ort_median = statistics.median(r["onnxruntime"]["median_ms"] for r in repeats)
    sharesc_median = statistics.median(r["sharesc"]["median_ms"] for r in repeats)
    last = repeats[-1]["sharesc"]
    summary = {
        "spec": spec, "network": report.get("network"), "overrides": args.set,
        "batch": args.batch, "threads": args.threads, "runs": args.runs, "repeats": args.repeats, "warmup": args.warmup,
        "macs_per_sample": macs,
        "onnxruntime_median_ms": ort_median, "sharesc_median_ms": sharesc_median,
        "ratio_sharesc_over_onnxruntime": sharesc_median / ort_median if ort_median > 0 else float("nan"),
        "onnxruntime_gflops": gflops(macs, args.batch, ort_median), "sharesc_gflops": gflops(macs, args.batch, sharesc_median),
        "sharesc_arena_bytes": last["arena_bytes"], "sharesc_packed_weight_bytes": last["packed_weight_bytes"],
        "sharesc_peak_rss_bytes": max(r["sharesc"]["peak_rss_bytes"] for r in repeats),
        "sharesc_kernel_level": last.get("kernel_level"),
        "repeat_results": repeats, "machine": machine(),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return

    print(f"{report.get('network', spec)} ({spec}{', ' + ', '.join(args.set) if args.set else ''}): batch {args.batch}, "
          f"{args.threads} thread(s), {args.runs} runs x {args.repeats} repeats, {macs:,} MACs per sample")
    print(f"{'repeat':>8} {'onnxruntime ms':>15} {'sharesc ms':>12} {'ratio':>7}")
    for index, r in enumerate(repeats, 1):
        o, s = r["onnxruntime"]["median_ms"], r["sharesc"]["median_ms"]
        print(f"{index:>8} {o:>15.3f} {s:>12.3f} {s / o if o > 0 else float('nan'):>7.2f}")
    print(f"{'median':>8} {ort_median:>15.3f} {sharesc_median:>12.3f} {summary['ratio_sharesc_over_onnxruntime']:>7.2f}")
    print(f"{'GFLOP/s':>8} {summary['onnxruntime_gflops']:>15.2f} {summary['sharesc_gflops']:>12.2f}")
    kernels = f", {last['kernel_level']} kernels" if last.get("kernel_level") else ""
    print(f"sharesc memory: arena {last['arena_bytes']:,} B, packed weights {last['packed_weight_bytes']:,} B, "
          f"peak RSS {summary['sharesc_peak_rss_bytes']:,} B{kernels}")
    m = summary["machine"]
    print(f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable), "
          f"onnxruntime {m['onnxruntime']}, Python {m['python']}, {m['system']}")


if __name__ == "__main__":
    main()
