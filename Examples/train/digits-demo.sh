#!/usr/bin/env bash
# The ShaResNet comparison at tiny scale, offline on the CPU: Examples/train/digits-sharesnet.yaml,
# shared and sequential, trained on scikit-learn's bundled 8x8 digits with the same recipe and seed,
# then one Markdown table: parameters and MACs from sharesc, test accuracy and time from training, and
# the test accuracy of the trained weights brought back to `sharesc run`.
#   Examples/train/digits-demo.sh [EPOCHS [THREADS]]   (default 30 epochs, 1 thread; SHARESC=path/to/sharesc, OUT=folder)
# One thread by default: on a machine whose cores are busy, PyTorch's threads wait for each other.
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARESC=${SHARESC:-.build/release/sharesc}
OUT=${OUT:-digits-demo}
EPOCHS=${1:-30}
THREADS=${2:-1}
SPEC=Examples/train/digits-sharesnet.yaml
mkdir -p "$OUT"
for variant in shared sequential; do
  flags=(); [ "$variant" = sequential ] && flags=(--sequential)
  "$SHARESC" export "$SPEC" "${flags[@]}" -o "$OUT/$variant.py"
  "$SHARESC" compile "$SPEC" "${flags[@]}" --format json > "$OUT/$variant.report.json"
  python3 Examples/train/train.py "$OUT/$variant.py" --dataset digits --epochs "$EPOCHS" --threads "$THREADS" --out "$OUT/$variant"
done
# The test images, as train.py splits them, scored by sharesc on each trained checkpoint.
PYTHONPATH=Examples/train python3 -c "
import sys, numpy as np, train
_, test, _ = train.digits((1, 16, 16))
np.save(sys.argv[1] + '/test-images.npy', test.tensors[0].numpy()); np.save(sys.argv[1] + '/test-labels.npy', test.tensors[1].numpy())
" "$OUT"
for variant in shared sequential; do
  flags=(); [ "$variant" = sequential ] && flags=(--sequential)
  "$SHARESC" run "$SPEC" "${flags[@]}" --weights "$OUT/$variant/model.safetensors" --input "$OUT/test-images.npy" \
    --output "$OUT/$variant/sharesc-logits.npy" > /dev/null
done
python3 - "$OUT" "$EPOCHS" <<'PYTHON'
import json, pathlib, platform, sys, numpy as np, torch
out, epochs = pathlib.Path(sys.argv[1]), sys.argv[2]
threads = json.loads((out / "shared" / "metrics.json").read_text())["threads"]
fields = dict(line.split(":", 1) for line in open("/proc/cpuinfo").read().split("\n\n")[0].splitlines() if ":" in line)
fields = {key.strip(): value.strip() for key, value in fields.items()}
cpu = f"{fields.get('model name', platform.processor())} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
print(f"digits-sharesnet, {epochs} epochs, batch 128, SGD 0.1 momentum 0.9 weight decay 5e-4; "
      f"{cpu}, {threads} thread(s), torch {torch.__version__}\n")
labels = np.load(out / "test-labels.npy")
print("| variant | parameters | MACs per image | test accuracy | training time | test accuracy in `sharesc run` |")
print("|---|---:|---:|---:|---:|---:|")
for variant in ("shared", "sequential"):
    report = json.loads((out / f"{variant}.report.json").read_text())
    metrics = json.loads((out / variant / "metrics.json").read_text())
    print(f"| {variant} | {report['parameters']['total']:,} | {report['macs']:,} | "
          f"{100 * metrics['test_accuracy']:.2f}% | {metrics['seconds']:.0f} s | "
          f"{100 * (np.load(out / variant / 'sharesc-logits.npy').argmax(1) == labels).mean():.2f}% |")
PYTHON
