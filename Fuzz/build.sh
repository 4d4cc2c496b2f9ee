#!/usr/bin/env bash
# The sanitized build, in .build-fuzz: every target with AddressSanitizer and libFuzzer's coverage, so
# that one build serves the fuzzer (sharesc-fuzz, Fuzz/fuzz.sh) and the tests under AddressSanitizer
# (.ci/run: `swift test --skip-build --scratch-path .build-fuzz`). Arguments go to `swift build`:
#   Fuzz/build.sh --product sharesc-fuzz      Fuzz/build.sh --build-tests
#
# Swift's -sanitize=fuzzer would link all of libFuzzer, its main() included, into every product, and the
# test runner has a main() of its own. So the code is instrumented as -sanitize=fuzzer does it (the
# frontend's flag, naming address again: the frontend keeps its last -sanitize=), and a copy of
# libFuzzer's archive less its main() is linked instead, its driver kept by --undefined: sharesc-fuzz
# finds LLVMFuzzerRunDriver with dlsym; the other products carry it unused.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-fuzz

toolchain=$(dirname "$(readlink -f "$(command -v swift)")")
archive=$("$toolchain/clang" -print-file-name="libclang_rt.fuzzer-$(uname -m).a")
if [ ! -f "$archive" ]; then
  echo "Fuzz/build.sh: the toolchain in $toolchain has no libFuzzer ($archive)" >&2
  exit 1
fi
mkdir -p "$scratch"
cp "$archive" "$scratch/libfuzzer-no-main.a"
ar d "$scratch/libfuzzer-no-main.a" FuzzerMain.cpp.o

swift build --scratch-path "$scratch" "$@" \
  -Xswiftc -sanitize=address -Xswiftc -Xfrontend -Xswiftc -sanitize=fuzzer,address \
  -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld \
  -Xlinker --export-dynamic -Xlinker --undefined=LLVMFuzzerRunDriver \
  -Xlinker "$PWD/$scratch/libfuzzer-no-main.a" -Xlinker -lstdc++
