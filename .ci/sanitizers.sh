#!/usr/bin/env bash
# Build cmlp with AddressSanitizer + UndefinedBehaviorSanitizer in a copy of the tree and run
# the test suite against that build; fails on any test failure and on any sanitizer report.
#
#   .ci/sanitizers.sh          the default test suite (-m "not slow")
#   .ci/sanitizers.sh --fast   a subset: the kernel, network, reliability and dataset tests
#                              (.ci/c_tests.sh runs the C driver under the same sanitizers)
#
# Measured on the shared 2-core development machine: the build takes 90-150 s (most of
# both modes), the full suite then ~2 min (full mode 210 s in all), the --fast subset ~1 min.
#
# How: the tree is copied (no .git, no build products) to a temporary directory and built
# in place there with CMLP_EXTRA_CFLAGS / CMLP_EXTRA_LDFLAGS (read by setup.py); pytest runs
# with that copy's src/ first on PYTHONPATH, so `import cmlp` is the sanitized build (checked).
# CPython is not sanitized, so libasan is preloaded (it must come first) and leak detection
# is off (CPython keeps memory until exit by design). Reports go to log files, which are
# checked even when the run itself passed (a report in a subprocess would otherwise be lost).
# PYTHON selects the interpreter (default python3); CC the compiler (default gcc).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
CC=${CC:-gcc}
FAST=0
for arg in "$@"; do
    case "$arg" in
        --fast) FAST=1 ;;
        *) echo "usage: $0 [--fast]" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
# tests find the MNIST files beside the repository: mirror that layout
tree="$work/cmlp"
if [ -d "$repo/../shared" ]; then ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"; fi
rsync -a --exclude .git --exclude build --exclude '*.so' --exclude 'src/cmlp/_core.c' \
    --exclude '.hypothesis' --exclude '__pycache__' --exclude '*.egg-info' "$repo/" "$tree/"

echo "== building with ASan + UBSan in $tree"
(
    cd "$tree"
    CC="$CC" \
    CMLP_EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer \
-fno-sanitize-recover=undefined -g" \
    CMLP_EXTRA_LDFLAGS="-fsanitize=address,undefined" \
        "$PYTHON" setup.py -q build_ext --inplace > "$work/build.log" 2>&1 \
        || { cat "$work/build.log"; exit 1; }
)
echo "== built in $((SECONDS - start)) s"

libasan=$("$CC" -print-file-name=libasan.so)
[ -e "$libasan" ] || { echo "sanitizers.sh: $CC has no libasan.so" >&2; exit 2; }
# C++ extensions in the test environment (matplotlib's ft2font) throw exceptions; ASan's
# __cxa_throw interceptor needs libstdc++ loaded before it initialises
libstdcxx=$("$CC" -print-file-name=libstdc++.so)
[ -e "$libstdcxx" ] || libstdcxx=
logs="$work/reports"
mkdir -p "$logs"
export LD_PRELOAD="$libasan${libstdcxx:+ $libstdcxx}"
# allocator_may_return_null: a refused huge allocation is a MemoryError, as without ASan
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:\
allocator_may_return_null=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
export PYTHONPATH="$tree/src${PYTHONPATH:+:$PYTHONPATH}"
# the tests' subprocesses inherit all of the above
# latency limits in the tests assume an unsanitized build: sanitized code runs ~2x slower
export CMLP_SANITIZED=1

"$PYTHON" - "$tree" <<'PYEOF'
import sys
import cmlp, cmlp._core
assert cmlp._core.__file__.startswith(sys.argv[1]), \
    f"imported {cmlp._core.__file__}, not the sanitized build in {sys.argv[1]}"
print("== testing", cmlp._core.__file__)
PYEOF

cd "$tree"
set +e
if [ "$FAST" = 1 ]; then
    "$PYTHON" -m pytest -q -p no:cacheprovider -m "not slow" \
        tests/test_core_kernels.py tests/test_core_network.py tests/test_reliability.py \
        tests/test_datasets.py
    rc=$?
else
    "$PYTHON" -m pytest -q -p no:cacheprovider -m "not slow" tests
    rc=$?
fi
set -e

# a report is an error or a UBSan runtime error; warnings alone (e.g. a refused huge
# allocation, which allocator_may_return_null turns into MemoryError) are shown, not counted
logged=$(find "$logs" -type f -size +0 | sort)
pattern="ERROR: [A-Za-z]+Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer|CHECK failed"
errors=$(grep -l -E "$pattern" $logged /dev/null || true)
for f in $logged; do
    if grep -qxF "$f" <<< "$errors"; then continue; fi
    echo "== sanitizer warning (not an error): $f"; head -n 5 "$f"
done
if [ -n "$errors" ]; then
    echo "== sanitizer reports:"
    for f in $errors; do echo "--- $f"; head -n 60 "$f"; done
    rc=1
fi
echo "== sanitizers.sh$([ "$FAST" = 1 ] && echo " --fast"): exit $rc, $((SECONDS - start)) s"
exit "$rc"
