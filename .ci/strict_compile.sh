#!/usr/bin/env bash
# Strict compiles (called by .ci/run and by .github/workflows/ci.yml):
#   1. every csrc/*.c, alone, with gcc and with clang at
#      -std=c99 -Wall -Wextra -Werror -pedantic (-O2, so that the optimiser's warnings
#      such as -Wmaybe-uninitialized are on), each without and with
#      -fopenmp-simd -DCMLP_OMP_SIMD (the flags setup.py uses for gcc/clang);
#   2. the extension (Cython-generated _core.c + csrc/*.c) built by setup.py with
#      CMLP_WERROR=1, once with gcc and once with clang, in a copy of the tree, and the
#      build log checked: -Werror was on the command lines and no warning was printed.
# MSVC is not available here: the Windows wheels in .github/workflows/wheels.yml build
# the same sources with it (csrc/portable.h keeps the compiler differences).
# Needs gcc, clang and python3 (PYTHON); setuptools, Cython and numpy are installed into a
# temporary venv when that python lacks them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cmlp-strict.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
STRICT=(-std=c99 -Wall -Wextra -Werror -pedantic -O2 -fno-math-errno)

for cc in gcc clang; do
    command -v "$cc" > /dev/null || { echo "strict_compile.sh: $cc not found" >&2; exit 1; }
done
shopt -s nullglob
SOURCES=("$ROOT"/csrc/*.c)
(( ${#SOURCES[@]} > 0 )) || { echo "strict_compile.sh: no csrc/*.c" >&2; exit 1; }

n=0
for cc in gcc clang; do
    for simd in "" "-fopenmp-simd -DCMLP_OMP_SIMD"; do
        for src in "${SOURCES[@]}"; do
            # shellcheck disable=SC2086  # $simd is two words or none
            "$cc" "${STRICT[@]}" $simd -I"$ROOT/csrc" -c "$src" -o "$WORK/$(basename "$src").o"
            n=$((n + 1))
        done
        echo "ok: $cc ${STRICT[*]} ${simd:-(no simd)}: ${#SOURCES[@]} files"
    done
done
echo "$n strict compiles, no warning"

# the extension, as setup.py builds it, with warnings as errors; setup.py runs without
# build isolation here, so its build requirements must be importable (else: a venv)
if ! "$PY" -c "import setuptools, Cython, numpy" 2> /dev/null; then
    "$PY" -m venv "$WORK/venv"
    "$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check \
        "setuptools>=77" "Cython>=3.0" "numpy>=1.25"   # pyproject's build-system.requires
    PY="$WORK/venv/bin/python"
fi
mkdir -p "$WORK/tree/src"
cp -r "$ROOT/setup.py" "$ROOT/pyproject.toml" "$ROOT/csrc" "$WORK/tree/"
for f in README.md LICENSE; do
    if [[ -f "$ROOT/$f" ]]; then cp "$ROOT/$f" "$WORK/tree/"; fi
done
cp -r "$ROOT/src/cmlp" "$WORK/tree/src/"
find "$WORK/tree" \( -name '*.so' -o -name '*.pyd' -o -name '_core.c' -o -name __pycache__ \) \
    -prune -exec rm -rf {} +
for cc in gcc clang; do
    log="$WORK/build-$cc.log"
    rm -rf "$WORK/tree/build"   # every C file is compiled again; Cython runs once
    if ! (cd "$WORK/tree" && CC=$cc CMLP_WERROR=1 "$PY" setup.py build_ext \
            --build-lib "$WORK/tree/build/lib" --build-temp "$WORK/tree/build/tmp" > "$log" 2>&1); then
        tail -40 "$log"
        echo "strict_compile.sh: FAIL: the extension does not build warning-free with $cc" >&2
        exit 1
    fi
    grep -q -- "-Werror" "$log" || { echo "FAIL: -Werror not on $cc's command line" >&2; exit 1; }
    # compiler diagnostics only ("file:line:col: warning: ..."), not setuptools' notices
    if grep -E ":[0-9]+(:[0-9]+)?: warning:|^(cc1|clang)[^:]*: warning:" "$log"; then
        echo "strict_compile.sh: FAIL: warnings in the $cc build" >&2
        exit 1
    fi
    compiled=$(grep -Ec "^$cc .* -c " "$log" || true)
    ls "$WORK"/tree/build/lib/cmlp/_core*.so > /dev/null
    echo "ok: extension built with $cc, CMLP_WERROR=1: $compiled files compiled, no warning"
done
echo "strict_compile.sh: all clean in $((SECONDS - START)) s"
