#!/usr/bin/env bash
# Times release-built `sharesc compile` on resnet-152 and on pre-activation networks of growing
# depth (about 100 to 10,000 blocks), both the default report and `--emit plan` (which prints every
# step and buffer), to check that compile time is milliseconds and grows linearly: time per block
# should stay flat as the depth grows.
# Usage: bash bench/compile-time.sh [runs]   (runs for the small networks; the big ones get fewer)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
swift build -c release --product sharesc > /dev/null
bin=.build/release/sharesc

# Median wall time of `count` runs of sharesc with the remaining arguments, in milliseconds.
median_ms() {
  local count=$1 times=()
  shift
  for _ in $(seq "$count"); do
    local start end
    start=$(date +%s%N)
    "$bin" "$@" > /dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

per_block() { awk -v ms="$1" -v blocks="$2" 'BEGIN {printf "%.4f", ms / blocks}'; }

format='%-34s %6s %5s %10s %9s %10s %9s\n'
printf "$format" "spec" "blocks" "runs" "report ms" "ms/block" "plan ms" "ms/block"
for spec in resnet-152 sharesnet-152; do
  report=$(median_ms "$runs" compile "Architectures/imagenet/$spec.yaml" --format json)
  plan=$(median_ms "$runs" compile "Architectures/imagenet/$spec.yaml" --emit plan)
  printf "$format" "imagenet/$spec" 50 "$runs" "$report" "$(per_block "$report" 50)" "$plan" "$(per_block "$plan" 50)"
done
# Pre-activation ResNet-164 family: depth = 9 n + 2 gives 3 n blocks.
for n in 33 100 200 334 667 1000 2222 3333; do
  depth=$((9 * n + 2)) blocks=$((3 * n))
  count=$runs  # fewer runs for the big ones, so that the script takes a couple of minutes
  if (( blocks > 3000 )); then
    count=$(( runs < 3 ? runs : 3 ))
  elif (( blocks > 1000 )); then
    count=$(( (runs + 3) / 4 ))
  fi
  spec=Architectures/cifar/sharesnet-164.yaml
  report=$(median_ms "$count" compile "$spec" --set depth=$depth --format json)
  plan=$(median_ms "$count" compile "$spec" --set depth=$depth --emit plan)
  printf "$format" "cifar/sharesnet-164 depth=$depth" "$blocks" "$count" \
    "$report" "$(per_block "$report" "$blocks")" "$plan" "$(per_block "$plan" "$blocks")"
done
