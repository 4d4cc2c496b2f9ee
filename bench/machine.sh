#!/usr/bin/env bash
# The machine line to name beside any figure: the CPU as /proc/cpuinfo gives it (model name, family
# and model, the vector extensions the kernels can use), then bench/machine.c's measurements: FMA
# peak per core alone and on every CPU at once, and what reading another core's writes costs.
#
# Usage: bash bench/machine.sh [KIB]   (KIB: the buffer handed from core to core, default 1024)
set -euo pipefail
cd "$(dirname "$0")"
cpus=$(nproc)
grep -m1 'model name' /proc/cpuinfo | sed 's/^model name\s*: /CPU: /'
family=$(grep -m1 '^cpu family' /proc/cpuinfo | awk '{print $NF}')
model=$(grep -m1 '^model\s' /proc/cpuinfo | awk '{print $NF}')
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|avx512_vnni)$' | tr '\n' ' ')
echo "family $family model $model, $cpus CPUs; $flags"
lscpu | grep -E '^(L2|L3) cache' || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -mavx2 -mfma -pthread machine.c -o "$work/machine"
"$work/machine" "$cpus" "${1:-1024}"
