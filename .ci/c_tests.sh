#!/usr/bin/env bash
# C test driver for the kernels (tests/c/test_kernels.c): every kernel in csrc/cmlp.h against a
# naive loop at boundary sizes (0, 1, 7, 63, 65), float64 and float32, with guard zones
# around every output buffer.
#
# Builds and runs the driver three ways:
#   plain      cc -std=c99 -O2 -Wall -Wextra -Werror            (the portable baseline)
#   setup.py   the extension's own flags: -O3 -fopenmp-simd -DCMLP_OMP_SIMD (vectorised paths)
#   sanitized  -O1 -fsanitize=address,undefined, aborting on the first report
# Usage: .ci/c_tests.sh [--no-sanitizers]      (CC overrides the compiler; default cc)
# Exits non-zero if a build fails, a check fails or a sanitizer reports anything.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-cc}
SANITIZE=1
for arg in "$@"; do
    case "$arg" in
        --no-sanitizers) SANITIZE=0 ;;
        *) echo "usage: $0 [--no-sanitizers]" >&2; exit 2 ;;
    esac
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# every kernel source; csv.c is the CSV parser, not a kernel, but it builds as plain C99 too
sources=(csrc/*.c)
base=(-std=c99 -Wall -Wextra -Werror -Icsrc)

run() {
    local name=$1; shift
    local start=$SECONDS
    echo "== $name: $CC ${base[*]} $* csrc/*.c tests/c/test_kernels.c -lm"
    "$CC" "${base[@]}" "$@" "${sources[@]}" tests/c/test_kernels.c -lm -o "$out/$name"
    set +e
    "$out/$name" | tail -n 25
    local rc=${PIPESTATUS[0]}
    set -e
    echo "== $name: exit $rc, $((SECONDS - start)) s"
    return "$rc"
}

run plain -O2
run setup_flags -O3 -fopenmp-simd -DCMLP_OMP_SIMD
if [ "$SANITIZE" = 1 ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run sanitized -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
        -fno-sanitize-recover=undefined
fi
echo "c_tests: all passed"
