#!/bin/sh
# Benchmark: xfer-score against straightforward numpy implementations of the same metrics
# (tests/ref), run in the same script on the same data, and against the hardware floor for
# LogME (one D x D Gram product plus one symmetric eigendecomposition through OpenBLAS/LAPACK).
# usage: tests/bench/score.sh [N D C]      (default 10000 1024 10; also try 50000 2048 100)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-10000} d=${2:-1024} c=${3:-10}
PATH=$top/bin:$PATH
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$PY" - "$work" "$n" "$d" "$c" <<'PY'
import sys, numpy as np
out, n, d, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
y = rng.integers(0, c, n)
x = (rng.normal(size=(n, d)) + 0.05 * rng.normal(size=(c, d))[y]).astype("<f4")
z = rng.normal(size=(n, 1000)) + 3 * np.eye(1000)[y]
p = np.exp(z - z.max(1, keepdims=True)); p = (p / p.sum(1, keepdims=True)).astype("<f4")
np.save(f"{out}/x.npy", x); np.save(f"{out}/y.npy", y); np.save(f"{out}/p.npy", p)
PY
xfer-pack x="$work/x.npy" y="$work/y.npy" p="$work/p.npy" -o "$work/data.xs"
echo "data: N=$n D=$d C=$c (p: 1000 source classes); $(nproc) cores"

# xfer-score: the suite of metrics the numpy references cover (N-LEEP has none here: its
# full-covariance mixture on hundreds of PCA dimensions takes tens of seconds either way), and
# LogME alone; per-metric times from -v.
suite=logme,logme_exact,hscore,hscore_shrinkage,sfda,leep,nce,gbc,tmi,accuracy,nll
start=$(date +%s.%N)
xfer-score -v -m "$suite" --format tsv "$work/data.xs" >"$work/c.tsv" 2>"$work/c.err"
end=$(date +%s.%N)
suite=$(echo "$start $end" | awk '{print $2 - $1}')
xfer-score -v -m logme --format tsv "$work/data.xs" >/dev/null 2>"$work/logme.err"

"$PY" - "$top/tests/ref" "$work" "$suite" <<'PY'
import re, sys, time, numpy as np
sys.path.insert(0, sys.argv[1])
work, suite = sys.argv[2], float(sys.argv[3])
x = np.load(f"{work}/x.npy"); y = np.load(f"{work}/y.npy"); p = np.load(f"{work}/p.npy")

def timed(fn, *args):
    t = time.perf_counter(); v = fn(*args); return time.perf_counter() - t, v

def floor():
    f = x.astype(np.float64)
    g = f.T @ f
    np.linalg.eigh(g)

t_floor = min(timed(floor)[0] for _ in range(3))
refs = {}
import ref_logme
refs.update(logme=ref_logme.logme, logme_exact=ref_logme.logme_exact, hscore=ref_logme.hscore)
for mod in ("ref_prob", "ref_sfda"):
    try:
        m = __import__(mod)
    except ImportError:
        continue
    for name in ("leep", "nce", "gbc", "tmi", "accuracy", "nll", "hscore_shrinkage", "sfda"):
        if hasattr(m, name):
            refs[name] = getattr(m, name)
needs_p = {"leep", "nce", "accuracy", "nll"}
c_times = {m: float(t) for m, t in re.findall(r": (\w+) = \S+ \(([\d.]+) s\)", open(f"{work}/c.err").read())}
c_vals = {l.split("\t")[1]: float(l.split("\t")[2]) for l in open(f"{work}/c.tsv").read().splitlines()[1:]}
logme_alone = float(re.findall(r"\(([\d.]+) s\)", open(f"{work}/logme.err").read())[0])
print(f"hardware floor (numpy: F^T F + eigh): {t_floor:.3f} s")
print(f"LogME alone in xfer-score: {logme_alone:.3f} s = {logme_alone / t_floor:.2f} x the floor (aim <= 1.5)")
total_ref = 0.0
print(f"{'metric':18s} {'numpy s':>9s} {'xfer s':>9s} {'speed-up':>9s}  agreement")
for name, fn in refs.items():
    if name not in c_vals:
        continue
    args = (p, y) if name in needs_p else (x, y)
    t, v = timed(fn, *args)
    v = v[0] if isinstance(v, tuple) else v
    total_ref += t
    ct = c_times.get(name, float("nan"))
    rel = abs(v - c_vals[name]) / max(1.0, abs(v))
    print(f"{name:18s} {t:9.3f} {ct:9.3f} {t / ct if ct > 0 else float('inf'):9.1f}  {rel:.1e}")
print(f"suite: numpy references one after another {total_ref:.2f} s; xfer-score on the same metrics {suite:.2f} s "
      f"(wall, including reading the stream): {total_ref / suite:.1f} x faster (aim >= 10)")
PY
