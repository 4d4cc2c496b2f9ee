#!/usr/bin/env bash
# The ShaResNet comparison at tiny scale, offline on the CPU: Examples/train/digits-sharesnet.yaml,
# shared and sequential, trained on scikit-learn's bundled 8x8 digits with the same recipe and seed,
# then one Markdown table (parameters and MACs from sharesc, accuracy and time from training).
#   Examples/train/digits-demo.sh [EPOCHS]        (default 30; SHARESC=path/to/sharesc, OUT=folder)
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARESC=${SHARESC:-.build/release/sharesc}
OUT=${OUT:-digits-demo}
EPOCHS=${1:-30}
SPEC=Examples/train/digits-sharesnet.yaml
mkdir -p "$OUT"
for variant in shared sequential; do
  flags=(); [ "$variant" = sequential ] && flags=(--sequential)
  "$SHARESC" export "$SPEC" "${flags[@]}" -o "$OUT/$variant.py"
  "$SHARESC" compile "$SPEC" "${flags[@]}" --format json > "$OUT/$variant.report.json"
  python3 Examples/train/train.py "$OUT/$variant.py" --dataset digits --epochs "$EPOCHS" --out "$OUT/$variant"
done
python3 - "$OUT" "$EPOCHS" <<'PYTHON'
import json, pathlib, platform, sys, torch
out, epochs = pathlib.Path(sys.argv[1]), sys.argv[2]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
print(f"digits-sharesnet, {epochs} epochs, batch 128, SGD 0.1 momentum 0.9 weight decay 5e-4; "
      f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}\n")
print("| variant | parameters | MACs per image | test accuracy | training time |")
print("|---|---:|---:|---:|---:|")
for variant in ("shared", "sequential"):
    report = json.loads((out / f"{variant}.report.json").read_text())
    metrics = json.loads((out / variant / "metrics.json").read_text())
    print(f"| {variant} | {report['parameters']['total']:,} | {report['macs']:,} | "
          f"{100 * metrics['test_accuracy']:.2f}% | {metrics['seconds']:.0f} s |")
PYTHON
