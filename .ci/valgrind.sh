#!/usr/bin/env bash
# A short training run under valgrind memcheck; fails on any memcheck error that involves
# cmlp's own extension.
#
# What counts: every memcheck error (invalid read/write, use of uninitialised values,
# invalid free, overlapping memcpy, ...) and every *definitely lost* leak whose stack has a
# frame in cmlp's extension module (cmlp/_core.*.so: the Cython bridge and every csrc/
# kernel, the CSV parser included) inside the innermost frame of the interpreter running
# Python code (so not errors of Python code cmlp only started, such as importing scipy). CPython and NumPy are not built for valgrind and report
# a few errors of their own (uninitialised reads in the interpreter's start-up, leaks of
# interned objects held until exit); those are listed as a count but do not fail the run.
# PYTHONMALLOC=malloc routes Python's allocations through malloc so valgrind sees them.
#
# Usage: .ci/valgrind.sh            (PYTHON selects the interpreter; default python3)
# The extension under test is the one `import cmlp` finds for that interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }
# the real executable, not a pyenv/virtualenv shim script
PY=$("$PYTHON" -c 'import sys; print(sys.executable)')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS

cat > "$out/run.py" <<'PYEOF'
import os, sys, tempfile
import numpy as np
import cmlp
from cmlp.datasets import load_mnist_csv

print("cmlp from", cmlp.__file__, flush=True)
rng = np.random.default_rng(0)
X = rng.random((40, 12))
y = rng.integers(0, 3, 40)
for dtype in ("float64", "float32"):
    for act, loss in (("sigmoid", "tse"), ("relu", "cross_entropy"), ("tanh", "mse")):
        net = cmlp.Network([12, 9, 7, 3], activation=act, loss=loss, dtype=dtype, seed=0)
        net.fit(X, y, epochs=2, lr=0.1, verbose=0)
        net.fit(np.asfortranarray(X), y, epochs=2, lr=0.1, batch_size=8, verbose=0)
        net.forward(X), net.forward(X[0]), net.forward(X[:0])
        net.gradients(X, y), net.cost(X, y), net.score(X, y), net.predict(X)
    # the non-finite path: FloatingPointError after a partial epoch
    boom = cmlp.Network([12, 5, 2], activation="relu", output="identity", dtype=dtype, seed=0)
    try:
        boom.fit(X, rng.random((40, 2)) * 10, epochs=20, lr=1e6, verbose=0)
    except FloatingPointError:
        pass
# refused input on the way in
for bad in (np.full((2, 12), np.nan), np.zeros((2, 5)), np.array([["a"] * 12])):
    try:
        net.forward(bad)
    except (ValueError, TypeError):
        pass
# the C CSV parser, plain and gzip
tmp = tempfile.mkdtemp()
rows = "".join(f"{i % 10}," + ",".join(str((i * j) % 256) for j in range(784)) + "\n"
               for i in range(5))
plain = os.path.join(tmp, "rows.csv")
with open(plain, "w") as f:
    f.write(rows)
import gzip
with gzip.open(plain + ".gz", "wt") as f:
    f.write(rows)
for path in (plain, plain + ".gz"):
    Xc, lc = load_mnist_csv(path)
    assert Xc.shape == (5, 784)
with open(os.path.join(tmp, "bad.csv"), "w") as f:
    f.write("1,2,3\n")
try:
    load_mnist_csv(os.path.join(tmp, "bad.csv"))
except ValueError:
    pass
try:  # save / load, where cmlp.persistence exists
    from cmlp.persistence import load, save
except ImportError:
    pass
else:
    save(net, os.path.join(tmp, "net"))
    assert np.array_equal(load(os.path.join(tmp, "net")).params, net.params)
print("run finished", flush=True)
PYEOF

echo "== valgrind memcheck: $PY $out/run.py"
set +e
PYTHONMALLOC=malloc valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=50 \
    --xml=yes --xml-file="$out/memcheck.xml" --log-file="$out/memcheck.log" \
    "$PY" "$out/run.py" > "$out/stdout" 2>&1
rc=$?
cat "$out/stdout"
# rc is 1 as soon as CPython/NumPy report anything; the verdict is ours, below
"$PY" - "$out/memcheck.xml" <<'PYEOF'
import os, sys, xml.etree.ElementTree as ET
from collections import Counter

root = ET.parse(sys.argv[1]).getroot()
ours, others = [], Counter()
for err in root.iter("error"):
    frames = [(f.findtext("fn") or "?", f.findtext("obj") or "", f.findtext("file") or "",
               f.findtext("line") or "") for f in err.iter("frame")]
    # ours: a frame of cmlp's extension inside (before) the innermost frame where the
    # interpreter runs Python code, i.e. the error is in cmlp's C code or in what that code
    # calls directly, not in Python code that cmlp merely started (an import of scipy, a
    # callback), whose own errors are the interpreter's or that library's
    ours_first = False
    for fn, obj, _, _ in frames:
        if os.path.basename(obj).startswith("_core.") and "cmlp" in obj:
            ours_first = True
            break
        if fn.startswith("_PyEval_EvalFrame"):
            break
    if ours_first:
        ours.append((err.findtext("kind"), err.findtext("what")
                     or err.findtext("xwhat/text"), frames))
    else:
        others[err.findtext("kind")] += 1
for kind, what, frames in ours:
    print(f"CMLP ERROR {kind}: {what}")
    for fn, obj, file, line in frames[:25]:
        print(f"    {fn}  {file}:{line}  ({os.path.basename(obj)})")
print(f"memcheck: {len(ours)} error(s) in cmlp's extension; outside it (CPython, NumPy, "
      f"not counted): {dict(others) or 'none'}")
sys.exit(1 if ours else 0)
PYEOF
verdict=$?
set -e
if ! grep -q "^run finished" "$out/stdout"; then
    echo "valgrind.sh: the training script did not finish (valgrind exit $rc)"; verdict=1
fi
echo "== valgrind.sh: $((SECONDS - start)) s"
exit "$verdict"
