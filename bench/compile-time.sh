#!/usr/bin/env bash
# Times release-built `sharesc compile` on resnet-152 and on pre-activation networks of growing
# depth (up to 1,000 blocks), to check that compile time is milliseconds and grows linearly.
# Usage: bash bench/compile-time.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
swift build -c release --product sharesc > /dev/null
bin=.build/release/sharesc

# Median wall time of `runs` runs, in milliseconds.
median_ms() {
  local times=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$bin" "$@" > /dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

printf '%-34s %8s %10s\n' "spec" "blocks" "median ms"
printf '%-34s %8s %10s\n' "imagenet/resnet-152" 50 "$(median_ms compile Architectures/imagenet/resnet-152.yaml --format json)"
printf '%-34s %8s %10s\n' "imagenet/sharesnet-152" 50 "$(median_ms compile Architectures/imagenet/sharesnet-152.yaml --format json)"
# Pre-activation ResNet-164 family: depth = 9 n + 2 gives 3 n blocks.
for blocks in 30 150 300 600 1002; do
  n=$((blocks / 3))
  printf '%-34s %8s %10s\n' "cifar/sharesnet-164 depth=$((9 * n + 2))" "$blocks" \
    "$(median_ms compile Architectures/cifar/sharesnet-164.yaml --set depth=$((9 * n + 2)) --format json)"
done
