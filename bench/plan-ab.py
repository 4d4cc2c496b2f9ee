#!/usr/bin/env python3
"""Two schedules of one network against each other, on a host whose speed drifts.

  python3 bench/plan-ab.py edit IN.plan OUT.plan STEP:SPLIT:PIECES...
      writes IN's plan with those steps' schedules replaced (`sharesc compile SPEC --threads T -o IN.plan`
      writes one; STEP is the index `--emit plan` prints, SPLIT pixels or panels for a convolution).
  python3 bench/plan-ab.py compare A.plan B.plan [--threads T] [--alternations N] [--runs R]
      runs `sharesc bench --profile` on A and B alternately and, in every run, divides the time of the
      steps whose schedules differ by the time of all the others: a slow phase of the machine
      lengthens both alike, so the ratio of B's median quotient to A's is the change itself, per step
      and together. (Whole-network times of the two, a minute apart, differed by 20% with no change.)
"""
import argparse
import json
import pathlib
import re
import statistics
import struct
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
STEP_LINE = re.compile(r"\s+([0-9.]+) ms\s+[0-9.]+%.*?\s(\d+): ")


def read_plan(path):
    """A plan file (safetensors: 8-byte header length, JSON header, tensors) as header, plan, tensor bytes."""
    data = pathlib.Path(path).read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    return header, json.loads(header["__metadata__"]["sharesc.plan"]), data[8 + length:]


def write_plan(path, header, plan, tensors):
    header["__metadata__"]["sharesc.plan"] = json.dumps(plan, sort_keys=True, separators=(",", ":"))
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # tensors stay 8-byte aligned
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(encoded)) + encoded + tensors)


def edit(args):
    header, plan, tensors = read_plan(args.input)
    steps = plan["schedule"]["steps"]
    for change in args.changes:
        index, split, pieces = change.split(":")
        steps[int(index)].update(split=split, pieces=int(pieces))
    write_plan(args.output, header, plan, tensors)


def step_times(binary, plan, threads, runs):
    out = subprocess.run([str(binary), "bench", str(plan), "--threads", str(threads), "--runs", str(runs),
                          "--profile", "--profile-steps", "100000"], capture_output=True, text=True, check=True).stdout
    return {int(m.group(2)): float(m.group(1)) for m in map(STEP_LINE.match, out.splitlines()) if m}


def compare(args):
    steps_a = read_plan(args.a)[1]["schedule"]["steps"]
    steps_b = read_plan(args.b)[1]["schedule"]["steps"]
    if len(steps_a) != len(steps_b):
        sys.exit("plan-ab: the plans are of different programs")
    changed = [i for i, (x, y) in enumerate(zip(steps_a, steps_b)) if x != y]
    if not changed:
        sys.exit("plan-ab: the plans schedule every step alike")
    quotients = {"A": [], "B": []}
    for n in range(args.alternations):
        for name in ("A", "B") if n % 2 == 0 else ("B", "A"):
            times = step_times(args.binary, args.a if name == "A" else args.b, args.threads, args.runs)
            rest = sum(t for i, t in times.items() if i not in changed)
            quotients[name].append({i: times.get(i, 0.0) / rest for i in changed})

    def ratio(select):
        a = statistics.median(select(q) for q in quotients["A"])
        return statistics.median(select(q) for q in quotients["B"]) / a

    for i in changed:
        x, y = steps_a[i], steps_b[i]
        print(f"step {i}: {x['split']} x {x['pieces']} -> {y['split']} x {y['pieces']}: B/A {ratio(lambda q: q[i]):.3f}")
    print(f"changed steps together: B/A {ratio(lambda q: sum(q.values())):.3f} "
          f"(medians of {args.alternations} alternations, each step's fastest of {args.runs} runs)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    e = commands.add_parser("edit")
    e.add_argument("input")
    e.add_argument("output")
    e.add_argument("changes", nargs="+", metavar="STEP:SPLIT:PIECES")
    c = commands.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--alternations", type=int, default=8)
    c.add_argument("--runs", type=int, default=3)
    c.add_argument("--binary", default=ROOT / ".build/release/sharesc")
    args = parser.parse_args()
    edit(args) if args.command == "edit" else compare(args)


if __name__ == "__main__":
    main()
