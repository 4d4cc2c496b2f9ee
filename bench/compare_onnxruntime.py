#!/usr/bin/env python3
"""Inference time of `sharesc bench` against ONNX Runtime and OpenVINO on the same network, for one spec or a table of them.

For each row (a SPEC with its batch, threads and overrides), exports the model with `sharesc export SPEC -o model.onnx --seed 1`, then alternates REPEATS
times between
  (a) ONNX Runtime in this process (graph optimisation ORT_ENABLE_ALL, THREADS intra-op threads,
      1 inter-op thread): warm-up runs, then the median of RUNS timed runs on a float32 input of the
      model's shape at batch BATCH;
  (b) OpenVINO in this process, when the `openvino` package is installed (--no-openvino skips it):
      the same ONNX file reshaped to batch BATCH, compiled for the CPU with the latency hint, one
      stream, THREADS inference threads (unpinned: the process is pinned already) and float32
      inference precision; timed as (a);
  (c) `sharesc bench SPEC --batch BATCH --threads THREADS --runs RUNS --format json` in a fresh
      process, which prints JSON with median_ms, min_ms, max_ms, gflops, arena_bytes,
      packed_weight_bytes and peak_rss_bytes.
The ratio is sharesc's median over the faster of the two runtimes' medians (`vs ORT` is against
ONNX Runtime alone).
Alternating spreads drift of the machine (frequency, other load) over both, and both run on the
same CPUs (the first THREADS usable ones, or --cpus). For one row, prints each repeat's two medians,
then the median over repeats, the ratio sharesc / ONNX Runtime, GFLOP/s of both (2 x MACs x batch /
time, MACs from `sharesc compile SPEC --format json`), and the machine. For several rows, prints one
line per row side by side (network, batch, threads, both medians, the ratio, both GFLOP/s) and the
machine's CPU with its vector extensions.

Rows: each positional argument is SPEC or SPEC:BATCH or SPEC:BATCH:THREADS (--batch and --threads
fill in what it leaves out); --table FILE reads more, one a line: SPEC [BATCH [THREADS]] [NAME=VALUE
...], the NAME=VALUEs as --set overrides of that row, `#` starting a comment. bench/ops/rows.txt
holds the modern families' kernels (depthwise 3x3, 5x5, 7x7 at stride 1 and 2, each fused
activation, LayerNorm, squeeze-and-excitation).

The binary is $SHARESC, else .build/release/sharesc. The environment is passed on unchanged (thread
variables such as OMP_* or OPENBLAS_* included), so set them before running if you need them.

Usage: python3 bench/compare_onnxruntime.py Architectures/cifar/resnet-56.yaml --batch 8 --threads 4
       python3 bench/compare_onnxruntime.py Architectures/imagenet/mobilenet-v2.yaml:1:1 \
           Architectures/imagenet/efficientnet-b0.yaml:8:2
       python3 bench/compare_onnxruntime.py --table bench/ops/rows.txt --repeats 3
"""
import argparse
import json
import os
import pathlib
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import NoReturn

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The CPUs this process may use before it pins itself to each row's.
USABLE_CPUS = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
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


def openvino_request(model: pathlib.Path, threads: int, shape: list[int]):
    """An infer request of the ONNX file compiled for the CPU as a latency-bound single stream on
    `threads` threads in float32 (OpenVINO would otherwise pick bf16 where the CPU has it), its threads
    left unpinned: this process is already confined to the row's CPUs, and OpenVINO's own pinning
    inside that mask ran two threads no faster than one (resnet-50 at batch 1: 101 ms on 1 or 2)."""
    import openvino as ov
    core = ov.Core()
    network = core.read_model(str(model))
    network.reshape({network.inputs[0].get_any_name(): shape})
    config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": str(threads),
              "INFERENCE_PRECISION_HINT": "f32", "ENABLE_CPU_PINNING": "NO"}
    return core.compile_model(network, "CPU", config).create_infer_request()


def time_runs(run, runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def openvino_warm_up() -> None:
    import openvino as ov
    from openvino import opset13 as ops
    x = ops.parameter([1, 8], ov.Type.f32)
    ov.Core().compile_model(ov.Model([ops.relu(x)], [x]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


# The vector extensions that decide which kernels either engine can use.
ISA_FLAGS = ("avx2", "fma", "avx512f")


def machine() -> dict:
    model, flags = None, None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                key = key.strip()
                if model is None and key in ("model name", "Model", "Hardware") and value.strip():
                    model = value.strip()
                elif flags is None and key == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    usable = len(USABLE_CPUS)
    import onnxruntime
    openvino = None
    if openvino_available():
        import openvino as ov
        openvino = ov.__version__.split("-")[0]
    return {"cpu": model, "isa": {flag: flag in flags for flag in ISA_FLAGS} if flags is not None else None,
            "logical_cpus": os.cpu_count(), "usable_cpus": usable, "onnxruntime": onnxruntime.__version__,
            "openvino": openvino,
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}"}


def gflops(macs: int, batch: int, milliseconds: float) -> float:
    return 2 * macs * batch / (milliseconds / 1000) / 1e9 if milliseconds > 0 else float("nan")


@dataclass
class Row:
    """One measurement: a spec at a batch size and thread count, with its own --set overrides."""
    spec: str
    batch: int
    threads: int
    overrides: list[str] = field(default_factory=list)


def positive(text: str, what: str, source: str) -> int:
    try:
        value = int(text)
    except ValueError:
        fail(f"{source}: {what} must be a whole number, got {text!r}")
    if value < 1:
        fail(f"{source}: {what} must be at least 1, got {value}")
    return value


def row_argument(text: str, batch: int, threads: int) -> Row:
    """SPEC, SPEC:BATCH or SPEC:BATCH:THREADS."""
    spec, *numbers = text.split(":")
    if not spec or len(numbers) > 2:
        fail(f"{text!r}: expected SPEC, SPEC:BATCH or SPEC:BATCH:THREADS")
    values = [positive(number, name, text) for number, name in zip(numbers, ("batch", "threads"))]
    return Row(spec, *(values + [batch, threads][len(values):]))


def table_rows(path: str, batch: int, threads: int) -> list[Row]:
    """SPEC [BATCH [THREADS]] [NAME=VALUE ...] a line; `#` starts a comment."""
    try:
        lines = pathlib.Path(path).read_text().splitlines()
    except OSError as error:
        fail(f"--table {path}: {error}")
    rows = []
    for number, line in enumerate(lines, 1):
        words = shlex.split(line, comments=True)
        if not words:
            continue
        source = f"{path}:{number}"
        spec, rest = words[0], words[1:]
        numbers = []
        while rest and "=" not in rest[0] and len(numbers) < 2:
            numbers.append(positive(rest.pop(0), ("batch", "threads")[len(numbers)], source))
        if any("=" not in word or word.startswith("=") for word in rest):
            fail(f"{source}: expected SPEC [BATCH [THREADS]] [NAME=VALUE ...], got {line.strip()!r}")
        rows.append(Row(spec, *(numbers + [batch, threads][len(numbers):]), overrides=rest))
    return rows


def pin(threads: int, cpus: str | None) -> None:
    """Both engines on the same CPUs: sharesc runs as a child process and inherits this process's
    affinity. Without it the scheduler may put the two on different virtual CPUs, which on a shared
    host are not equally fast (here the second one has a noisy neighbour)."""
    if not hasattr(os, "sched_setaffinity"):
        return
    usable = sorted(USABLE_CPUS)
    try:
        os.sched_setaffinity(0, [int(cpu) for cpu in cpus.split(",")] if cpus else usable[:threads])
    except (ValueError, OSError) as error:
        fail(f"--cpus {cpus}: {error} (usable CPUs: {usable})")


def measure(binary: pathlib.Path, row: Row, args, verbose: bool) -> dict:
    pin(row.threads, args.cpus)
    spec = row.spec
    overrides = args.set + row.overrides
    extra = [argument for value in overrides for argument in ("--set", value)]
    report = parse_json(run_sharesc(binary, "compile", spec, *extra, "--format", "json"), f"sharesc compile {spec} --format json")
    if not isinstance(report.get("macs"), int):
        fail(f"`sharesc compile {spec} --format json` has no integer 'macs'")
    macs = report["macs"]
    label = report.get("network", spec) + (f" ({', '.join(row.overrides)})" if row.overrides else "")

    with tempfile.TemporaryDirectory(prefix="sharesc-compare-") as directory:
        model = pathlib.Path(directory) / "model.onnx"
        run_sharesc(binary, "export", spec, *extra, "-o", str(model), "--seed", "1")
        session = onnxruntime_session(model, row.threads)
        name, data = input_for(session, row.batch)
        feed = {name: data}
        request = openvino_request(model, row.threads, list(data.shape)) if args.openvino else None
        repeats = []
        for repeat in range(args.repeats):
            result = {"onnxruntime": time_runs(lambda: session.run(None, feed), args.runs, args.warmup)}
            if request is not None:
                result["openvino"] = time_runs(lambda: request.infer({0: data}), args.runs, args.warmup)
            result["sharesc"] = sharesc_bench(binary, spec, extra, row.batch, row.threads, args.runs)
            repeats.append(result)
            if verbose:
                times = ", ".join(f"{engine} {r['median_ms']:.3f} ms" for engine, r in result.items())
                print(f"{label}, batch {row.batch}, {row.threads} thread(s), repeat {repeat + 1}/{args.repeats}: {times}",
                      file=sys.stderr, flush=True)

    ort_median = statistics.median(r["onnxruntime"]["median_ms"] for r in repeats)
    openvino_median = statistics.median(r["openvino"]["median_ms"] for r in repeats) if request is not None else None
    best_median = min(ort_median, openvino_median) if openvino_median is not None else ort_median
    sharesc_median = statistics.median(r["sharesc"]["median_ms"] for r in repeats)
    last = repeats[-1]["sharesc"]
    return {
        "spec": spec, "network": report.get("network"), "label": label, "overrides": overrides,
        "batch": row.batch, "threads": row.threads, "runs": args.runs, "repeats": args.repeats, "warmup": args.warmup,
        "macs_per_sample": macs,
        "onnxruntime_median_ms": ort_median, "openvino_median_ms": openvino_median, "sharesc_median_ms": sharesc_median,
        "ratio_sharesc_over_onnxruntime": sharesc_median / ort_median if ort_median > 0 else float("nan"),
        "ratio_sharesc_over_best": sharesc_median / best_median if best_median > 0 else float("nan"),
        "onnxruntime_gflops": gflops(macs, row.batch, ort_median), "sharesc_gflops": gflops(macs, row.batch, sharesc_median),
        "sharesc_arena_bytes": last["arena_bytes"], "sharesc_packed_weight_bytes": last["packed_weight_bytes"],
        "sharesc_peak_rss_bytes": max(r["sharesc"]["peak_rss_bytes"] for r in repeats),
        "sharesc_kernel_level": last.get("kernel_level"),
        "repeat_results": repeats,
    }


def machine_line(m: dict) -> str:
    isa = ", ".join(f"{flag} {'yes' if present else 'no'}" for flag, present in m["isa"].items()) if m["isa"] else "ISA unknown"
    openvino = f"openvino {m['openvino']}, " if m["openvino"] else "openvino not installed, "
    return (f"machine: {m['cpu']} ({isa}), {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable), "
            f"onnxruntime {m['onnxruntime']}, {openvino}Python {m['python']}, {m['system']}")


ENGINES = (("onnxruntime", "ORT"), ("openvino", "OpenVINO"), ("sharesc", "sharesc"))


def engines_of(summary: dict) -> list[tuple[str, str]]:
    """The engines a row was timed on: OpenVINO only where it was installed and not skipped."""
    return [(key, label) for key, label in ENGINES if summary.get(f"{key}_median_ms") is not None]


def print_single(summary: dict) -> None:
    """One row: every repeat, the medians, and sharesc's memory."""
    repeats = summary["repeat_results"]
    engines = engines_of(summary)
    print(f"{summary['network'] or summary['spec']} ({summary['spec']}"
          f"{', ' + ', '.join(summary['overrides']) if summary['overrides'] else ''}): batch {summary['batch']}, "
          f"{summary['threads']} thread(s), {summary['runs']} runs x {summary['repeats']} repeats, "
          f"{summary['macs_per_sample']:,} MACs per sample")
    print(f"{'repeat':>8} " + " ".join(f"{label + ' ms':>12}" for _, label in engines) + f" {'ratio':>7}")
    for index, r in enumerate(repeats, 1):
        times = [r[key]["median_ms"] for key, _ in engines]
        best = min(times[:-1])
        print(f"{index:>8} " + " ".join(f"{t:>12.3f}" for t in times) + f" {times[-1] / best if best > 0 else float('nan'):>7.2f}")
    print(f"{'median':>8} " + " ".join(f"{summary[key + '_median_ms']:>12.3f}" for key, _ in engines)
          + f" {summary['ratio_sharesc_over_best']:>7.2f}")
    print(f"{'GFLOP/s':>8} " + " ".join(f"{gflops(summary['macs_per_sample'], summary['batch'], summary[key + '_median_ms']):>12.2f}"
                                       for key, _ in engines))
    kernels = f", {summary['sharesc_kernel_level']} kernels" if summary["sharesc_kernel_level"] else ""
    print(f"ratio = sharesc / the faster of {' and '.join(label for _, label in engines[:-1])}")
    print(f"sharesc memory: arena {summary['sharesc_arena_bytes']:,} B, packed weights "
          f"{summary['sharesc_packed_weight_bytes']:,} B, peak RSS {summary['sharesc_peak_rss_bytes']:,} B{kernels}")
    print(machine_line(summary["machine"]))


def print_table(summaries: list[dict], m: dict) -> None:
    """Several rows side by side: medians over repeats; GFLOP/s '-' where a row has no multiply-adds."""
    engines = engines_of(summaries[0])
    def rate(summary: dict, key: str) -> str:
        value = gflops(summary["macs_per_sample"], summary["batch"], summary[key + "_median_ms"])
        return f"{value:.2f}" if summary["macs_per_sample"] > 0 else "-"
    header = (("network", "batch", "threads") + tuple(f"{label} ms" for _, label in engines) + ("ratio", "vs ORT")
              + tuple(f"{label} GFLOP/s" for _, label in engines))
    rows = [(s["label"], str(s["batch"]), str(s["threads"]))
            + tuple(f"{s[key + '_median_ms']:.3f}" for key, _ in engines)
            + (f"{s['ratio_sharesc_over_best']:.2f}", f"{s['ratio_sharesc_over_onnxruntime']:.2f}")
            + tuple(rate(s, key) for key, _ in engines) for s in summaries]
    widths = [max(len(cells[i]) for cells in [header] + rows) for i in range(len(header))]
    for cells in [header] + rows:
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(cells, widths))))
    first = summaries[0]
    print(f"medians of {first['repeats']} alternations of {first['runs']} runs each; "
          f"ratio = sharesc / the faster of {' and '.join(label for _, label in engines[:-1])}")
    print(machine_line(m))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="*", metavar="SPEC[:BATCH[:THREADS]]",
                        help="the network spec, e.g. Architectures/cifar/resnet-56.yaml; several make a table")
    parser.add_argument("--table", metavar="FILE", help="more rows, one a line: SPEC [BATCH [THREADS]] [NAME=VALUE ...]")
    parser.add_argument("--batch", type=int, default=1, help="samples per inference where a row does not say (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="threads of both engines where a row does not say (default 1)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of the two engines (default 3)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed ONNX Runtime runs before each measurement (default 5)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="spec variable override, passed to every sharesc command of every row (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--no-openvino", dest="openvino", action="store_false",
                        help="time ONNX Runtime alone even where the openvino package is installed")
    parser.add_argument("--cpus", metavar="LIST",
                        help="run both engines on these CPUs only, e.g. 0 or 0,1 (default: the first THREADS usable CPUs)")
    args = parser.parse_args()
    for name in ("batch", "threads", "runs", "repeats"):
        if getattr(args, name) < 1:
            fail(f"--{name} must be at least 1")
    if args.warmup < 0:
        fail("--warmup must not be negative")
    rows = [row_argument(text, args.batch, args.threads) for text in args.rows]
    if args.table:
        rows += table_rows(args.table, args.batch, args.threads)
    if not rows:
        fail("no spec: give SPEC[:BATCH[:THREADS]] arguments or --table FILE")
    try:
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as error:
        fail(f"needs numpy and onnxruntime in this Python ({error}); e.g. pip install numpy onnxruntime")

    args.openvino = args.openvino and openvino_available()
    if args.openvino:
        # OpenVINO reads the CPUs it may use once, at its first compile: compile a trivial model while
        # the process may still use all of them, so that a row for more threads after a row for fewer
        # is not confined to the first row's CPUs (it ran resnet-50 on two threads as slowly as on one).
        openvino_warm_up()
    binary = sharesc_binary()
    single = len(rows) == 1 and not args.table
    summaries = [measure(binary, row, args, verbose=not args.json) for row in rows]
    m = machine()
    if single:
        summaries[0]["machine"] = m
        if args.json:
            print(json.dumps(summaries[0], indent=2))
        else:
            print_single(summaries[0])
    elif args.json:
        print(json.dumps({"rows": summaries, "machine": m}, indent=2))
    else:
        print_table(summaries, m)


if __name__ == "__main__":
    main()
