#!/usr/bin/env bash
# Times release-built `sharesc compile` on resnet-152 and on pre-activation networks of growing
# depth (about 100 to 10,000 blocks), both the default report and `--emit plan` (which prints every
# step and buffer), to check that compile time is milliseconds and grows linearly: time per block
# beyond the process's start-up (a 3-block network's time) should stay flat as the depth grows.
# Usage: bash bench/compile-time.sh [runs]   (runs for the small networks; the big ones get fewer)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
swift build -c release --product sharesc > /dev/null
bin=.build/release/sharesc

# Fastest wall time of `count` runs of sharesc with the remaining arguments, in milliseconds (on a
# shared host the fastest repeats from one invocation to the next; medians wander with the neighbours).
fastest_ms() {
  local count=$1 times=()
  shift
  for _ in $(seq "$count"); do
    local start end
    start=$(date +%s%N)
    "$bin" "$@" > /dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk 'NR == 1 {printf "%.2f", $1 / 1000}'
}

# Start-up and the smallest network: sharesnet-164 at depth 11 has 3 blocks.
spec=Architectures/cifar/sharesnet-164.yaml
base_report=$(fastest_ms "$runs" compile "$spec" --set depth=11 --format json)
base_plan=$(fastest_ms "$runs" compile "$spec" --set depth=11 --emit plan)
# Milliseconds per block beyond the 3-block network's time.
per_block() { awk -v ms="$1" -v base="$2" -v blocks="$3" 'BEGIN {printf "%.4f", (ms - base) / (blocks - 3)}'; }

format='%-34s %6s %5s %10s %9s %10s %9s\n'
printf "$format" "spec" "blocks" "runs" "report ms" "ms/block" "plan ms" "ms/block"
printf "$format" "cifar/sharesnet-164 depth=11" 3 "$runs" "$base_report" "-" "$base_plan" "-"
for name in resnet-152 sharesnet-152; do
  report=$(fastest_ms "$runs" compile "Architectures/imagenet/$name.yaml" --format json)
  plan=$(fastest_ms "$runs" compile "Architectures/imagenet/$name.yaml" --emit plan)
  printf "$format" "imagenet/$name" 50 "$runs" "$report" "$(per_block "$report" "$base_report" 50)" \
    "$plan" "$(per_block "$plan" "$base_plan" 50)"
done
# Pre-activation ResNet-164 family: depth = 9 n + 2 gives 3 n blocks.
for n in 33 100 200 334 667 1000 2222 3333; do
  depth=$((9 * n + 2)) blocks=$((3 * n))
  count=$runs  # fewer runs for the big ones, so that the script takes a couple of minutes
  if (( blocks > 3000 )); then
    count=$(( runs < 5 ? runs : 5 ))
  elif (( blocks > 1000 )); then
    count=$(( (runs + 3) / 4 ))
  fi
  report=$(fastest_ms "$count" compile "$spec" --set depth=$depth --format json)
  plan=$(fastest_ms "$count" compile "$spec" --set depth=$depth --emit plan)
  printf "$format" "cifar/sharesnet-164 depth=$depth" "$blocks" "$count" \
    "$report" "$(per_block "$report" "$base_report" "$blocks")" "$plan" "$(per_block "$plan" "$base_plan" "$blocks")"
done
