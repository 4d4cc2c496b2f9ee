#!/usr/bin/env bash
# Two builds of the kernels (Sources/CKernels), shape by shape, in one process: bench/kernel_ab.c
# loads both and alternates them on every repetition, so a slow phase of the machine hits both alike,
# and checks that their outputs agree. A revision is anything `git archive` takes, or "." for the
# working tree; both must share the kernel API's structs (sharesc_kernels.h), as every revision since
# plans record each convolution's algorithm does. SHAPES `activations` compares the elementwise
# activations instead (bench/activation_ab.c). A shapes file's lines are
# `count in_channels height width out_channels kernel stride pad residual [algorithm [groups]]`, the algorithm
# as `sharesc compile --emit plan` names it (igemm when absent). The kernels build with the flags Package.swift gives them.
#
# Usage: bash bench/kernel-ab.sh [REV_A] [REV_B] [SHAPES] [REPS]
#   defaults: HEAD, ".", bench/kernel-shapes/resnet-50.txt, 20
# Pinned to CPU 0 when taskset exists. KERNEL_AB_EVICT=1 writes 64 MiB between runs (cold caches);
# KERNEL_AB_ACT=N applies activation SC_ACT_N in the epilogue instead of ReLU (3 SiLU, 5 GELU).
# KERNEL_AB_LEVEL=N runs both at instruction-set level N (0 portable, 1 AVX2, 2 AVX-512, at most
# what the CPU has), KERNEL_AB_LEVEL=N,M A at N and B at M (`HEAD HEAD`: one build's two levels).
set -euo pipefail
cd "$(dirname "$0")/.."
rev_a=${1:-HEAD}
rev_b=${2:-.}
shapes=${3:-bench/kernel-shapes/resnet-50.txt}
reps=${4:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The kernels' sources of revision $1 in directory $2.
sources() {
  mkdir -p "$2"
  if [ "$1" = . ]; then
    cp -R Sources/CKernels/. "$2"
  else
    git archive "$1" Sources/CKernels | tar -x -C "$2" --strip-components=2
  fi
}

library() {
  clang -O3 -fno-math-errno -fPIC -shared -I"$1/include" -I"$1" "$1"/*.c -o "$2" -lpthread -lm
}

sources "$rev_a" "$work/a"
sources "$rev_b" "$work/b"
library "$work/a" "$work/a.so"
library "$work/b" "$work/b.so"
pin=()
if command -v taskset > /dev/null; then pin=(taskset -c 0); fi
if [ "$shapes" = activations ]; then
  clang -O2 -I"$work/b/include" bench/activation_ab.c -o "$work/activation_ab" -ldl -lm
  echo "A = $rev_a, B = $rev_b; activations"
  "${pin[@]}" "$work/activation_ab" "$work/a.so" "$work/b.so" "$reps"
  exit
fi
clang -O2 -I"$work/b/include" bench/kernel_ab.c -o "$work/kernel_ab" -ldl
echo "A = $rev_a, B = $rev_b; $shapes; fastest of $reps alternations"
"${pin[@]}" "$work/kernel_ab" "$work/a.so" "$work/b.so" "$shapes" "$reps"
