#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer with AddressSanitizer) of every reader of outside bytes:
#   Fuzz/fuzz.sh [SECONDS] [TARGET...]    each target for SECONDS (default 60); targets:
#   spec safetensors npy plan planjson    (default: all, one after another)
# Exits non-zero on the first finding; the input that caused it is left in .build-fuzz/findings/
# (replay it with `swift run sharesc-fuzz TARGET FILE`). The corpus grows in .build-fuzz/corpus/,
# starting from Fuzz/seeds/ and from files made by sharesc for a small network.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec safetensors npy plan planjson)

scratch=.build-fuzz
Fuzz/build.sh --product sharesc-fuzz
swift build --product sharesc  # an ordinary build, for the seed files

# Seeds that sharesc writes, so that they follow its formats: weights, an image, a plan and its JSON.
seeds="$scratch/seeds"
mkdir -p "$seeds"/{safetensors,npy,plan,planjson} "$scratch/findings"
sharesc=.build/debug/sharesc spec="$seeds/tiny.yaml"
sed 's#include: blocks.yaml#include: '"$PWD"'/Architectures/blocks.yaml#' Fuzz/seeds/spec/tiny.yaml > "$spec"
"$sharesc" init "$spec" -o "$seeds/safetensors/tiny.safetensors" --randomize-bn > /dev/null
"$sharesc" compile "$spec" -o "$seeds/plan/tiny.plan" > /dev/null
python3 - "$seeds" <<'PY'
import json, struct, sys
seeds = sys.argv[1]
data = open(f"{seeds}/plan/tiny.plan", "rb").read()
header = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])
open(f"{seeds}/planjson/tiny.json", "w").write(header["__metadata__"]["sharesc.plan"])
npy = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
npy += b" " * (63 - 10 - len(npy)) + b"\n"
open(f"{seeds}/npy/small.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(npy)) + npy + struct.pack("<6f", *range(6)))
PY

fuzz() {  # one target, its log in $scratch/TARGET.log
  local target=$1 corpus="$scratch/corpus/$1"
  mkdir -p "$corpus"
  # detect_leaks=0: the Swift runtime's caches live to the end; this is about memory safety.
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$scratch/debug/sharesc-fuzz" "$target" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    -dict="Fuzz/dictionaries/$target.dict" -artifact_prefix="$scratch/findings/$target-" \
    "$corpus" $(for d in "$seeds/$target" "Fuzz/seeds/$target"; do [ -d "$d" ] && echo "$d"; done) \
    > "$scratch/$target.log" 2>&1
}

# FUZZ_PARALLEL=1 runs the targets side by side (as many processes as targets).
pids=()
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${seconds}s"
  if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then fuzz "$target" & pids+=($!); else fuzz "$target" && pids+=(0) || pids+=(1); fi
done
failed=0
for i in "${!targets[@]}"; do
  target=${targets[$i]} status=${pids[$i]}
  [ "${FUZZ_PARALLEL:-0}" = 1 ] && { wait "$status" && status=0 || status=$?; }
  echo "-- $target: $(grep -E '^Done [0-9]+ runs' "$scratch/$target.log" || echo 'no summary'), $(grep -E 'cov: [0-9]+' -o "$scratch/$target.log" | tail -1)"
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$scratch/$target.log" | sed 's/^/   /'
  if [ "$status" -ne 0 ]; then
    tail -40 "$scratch/$target.log"
    echo "fuzz: $target found a problem (see $scratch/findings/)"
    failed=1
  fi
done
[ $failed -eq 0 ] && echo "fuzz: no finding"
exit $failed
