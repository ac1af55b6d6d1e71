#!/bin/sh
# Benchmark: xfer-project's t-SNE against scikit-learn's TSNE (Barnes-Hut), in the same run on
# the same machine and the same input, then xfer-project alone on growing synthetic data.
#  1. MNIST 10k (data/mnist10k.xs.zst) reduced once to 50 dimensions (numpy: exact PCA), packed
#     as float32 and given as it is to both: xfer-project (default settings, --pca 0; and once
#     more with --profile sklearn: scikit-learn's schedule and 1000 iterations, the like-for-like
#     run) and sklearn.manifold.TSNE with the defaults of
#     scikit-learn 1.2 (perplexity 30, init pca, learning rate auto, 1000 iterations,
#     Barnes-Hut, angle 0.5). Wall times include the neighbour search and the affinities. The
#     quality of every embedding is measured with scikit-learn: trustworthiness (k = 10,
#     against the 50-D input) and leave-one-out 10-NN accuracy of the digit labels; KL is each
#     tool's own report (scikit-learn's with its own P, from 91 neighbours). Also
#     xfer-project's phases: its own PCA of the digits (`--method pca`: the same covariance and
#     eigensolver as the pre-reduction to 50), preparation (kNN, P, initialisation: a
#     1-iteration run) and the iterations (the rest).
#  2. Scaling: xfer-project alone on a mixture of 20 Gaussians in 50-D for N = 1e4, 3e4, 1e5
#     (and 3e5, 1e6 on request): wall time, peak resident memory (/usr/bin/time), KL, the
#     repulsion and neighbour methods used, and the time per point relative to the smallest
#     size (1.0 = linear).
# Times are the best of TSNE_BENCH_RUNS runs (default 3; scikit-learn: TSNE_BENCH_SK_RUNS,
# default 1, as it takes about half a minute; sizes above 1e5: one run). The repeated xfer runs
# are also checked to give identical embeddings (same seed and threads).
# usage: tests/bench/tsne.sh [MAX_N]     (default 100000; 1000000 for the whole table, which
#        takes a while; 0 skips the scaling table). Environment: TSNE_BENCH_THREADS (default 2),
#        TSNE_BENCH_RUNS, TSNE_BENCH_SK_RUNS.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
max_n=${1:-${TSNE_BENCH_MAX_N:-100000}}
threads=${TSNE_BENCH_THREADS:-2}
runs=${TSNE_BENCH_RUNS:-3}
sk_runs=${TSNE_BENCH_SK_RUNS:-1}
seed=1
case $max_n$threads$runs$sk_runs in *[!0-9]*) echo "usage: $0 [MAX_N]" >&2; exit 2 ;; esac
PATH=$top/bin:$PATH
PY=/usr/bin/python3
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
make -s -C "$top" >/dev/null

# Best wall time of $1 runs of the rest of the line, in seconds. Run i writes its stderr to
# $work/err.i; $work/rss gets the peak resident memory (KB) of the last run.
best() {
	nruns=$1; shift
	b=""
	i=0
	while [ "$i" -lt "$nruns" ]; do
		/usr/bin/time -f '%e %M' -o "$work/t" "$@" 2>"$work/err.$i"
		t=$(cut -d' ' -f1 "$work/t")
		cut -d' ' -f2 "$work/t" >"$work/rss"
		b=$(echo "$t ${b:-$t}" | awk '{print ($1 < $2) ? $1 : $2}')
		i=$((i + 1))
	done
	echo "$b"
}
kl_of() { sed -n 's/.*KL divergence \([0-9.]*\) after.*/\1/p' "$1" | tail -n 1; }
embedding() { xfer-cat --fields x --to npy "$1" -o "$2"; }

echo "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $threads threads;" \
	"times: best of $runs (xfer), $sk_runs (scikit-learn)"

# -- 1. MNIST 10k against scikit-learn --
mnist=$top/data/mnist10k.xs.zst
xfer-cat --fields x,y --to npz "$mnist" -o "$work/mnist.npz"
"$PY" - "$work" <<'PY'
import sys, numpy as np
work = sys.argv[1]
d = np.load(f"{work}/mnist.npz")
x = d["x"].reshape(len(d["x"]), -1).astype(np.float64)
x -= x.mean(0)
val, vec = np.linalg.eigh(x.T @ x)
vec = vec[:, ::-1][:, :50]
vec *= np.sign(vec[np.abs(vec).argmax(0), range(50)])
np.save(f"{work}/x50.npy", (x @ vec).astype("<f4")); np.save(f"{work}/y.npy", d["y"])
PY
xfer-pack x="$work/x50.npy" y="$work/y.npy" -o "$work/pca50.xs"

t_prep=$(best "$runs" xfer-project --pca 0 --iters 1 --exag-iters 1 --seed "$seed" -j "$threads" \
	"$work/pca50.xs" -o "$work/prep.xs")
t_pca=$(best "$runs" xfer-project --method pca -j "$threads" "$mnist" -o "$work/pca2.xs")
t_psk=$(best "$runs" xfer-project --pca 0 --profile sklearn --seed "$seed" -j "$threads" "$work/pca50.xs" \
	-o "$work/psk.xs")
kl_psk=$(kl_of "$work/err.0")
embedding "$work/psk.xs" "$work/psk.npy"
t_xf=$(best "$runs" xfer-project --pca 0 --seed "$seed" -j "$threads" "$work/pca50.xs" -o "$work/emb.xs")
kl_xf=$(kl_of "$work/err.0")
embedding "$work/emb.xs" "$work/emb.npy"
xfer-project -q --pca 0 --seed "$seed" -j "$threads" "$work/pca50.xs" -o "$work/again.xs"
embedding "$work/again.xs" "$work/again.npy"
same=identical
cmp -s "$work/emb.npy" "$work/again.npy" || same=DIFFERENT
i=1
while [ "$i" -lt "$runs" ]; do
	[ "$(kl_of "$work/err.$i")" = "$kl_xf" ] || same=DIFFERENT
	i=$((i + 1))
done

"$PY" - "$work" "$threads" "$sk_runs" "$seed" "$t_pca" "$t_prep" "$t_xf" "$kl_xf" "$t_psk" "$kl_psk" "$same" <<'PY'
import sys, time, warnings
import numpy as np
from sklearn.manifold import TSNE, trustworthiness
from sklearn.neighbors import NearestNeighbors

work, threads, sk_runs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t_pca, t_prep, t_xf, kl_xf, t_psk, kl_psk = map(float, sys.argv[5:11])
same = sys.argv[11]
x, y = np.load(f"{work}/x50.npy"), np.load(f"{work}/y.npy").astype(np.int64)

t_sk, emb_sk, kl_sk = float("inf"), None, None
for _ in range(sk_runs):
    tsne = TSNE(n_components=2, perplexity=30.0, init="pca", learning_rate="auto", n_iter=1000,
                method="barnes_hut", angle=0.5, n_jobs=threads, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        t = time.perf_counter()
        e = tsne.fit_transform(x)
        t = time.perf_counter() - t
    if t < t_sk:
        t_sk, emb_sk, kl_sk = t, e.astype(np.float64), float(tsne.kl_divergence_)

def knn_accuracy(emb, labels, k=10):
    """Leave-one-out k-NN accuracy: each point's label against the majority of its k nearest
    other points (ties to the smaller label); itself excluded by index, not by position."""
    idx = NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(emb, return_distance=False)
    rows = np.arange(len(emb))
    keep = idx != rows[:, None]
    keep[keep.sum(1) > k, -1] = False         # self not among the k + 1: drop the farthest
    nb = idx[keep].reshape(len(emb), k)
    votes = np.zeros((len(emb), labels.max() + 1), np.int64)
    np.add.at(votes, (np.repeat(rows, k), labels[nb].ravel()), 1)
    return float(np.mean(votes.argmax(1) == labels))

def quality(e):
    return trustworthiness(x, e, n_neighbors=10), knn_accuracy(e, y)

rows = [("scikit-learn TSNE (BH, 1000 it.)", t_sk, kl_sk, quality(emb_sk)),
        ("xfer-project (default, 750 it.)", t_xf, kl_xf, quality(np.load(f"{work}/emb.npy").astype(np.float64))),
        ("xfer-project --profile sklearn", t_psk, kl_psk, quality(np.load(f"{work}/psk.npy").astype(np.float64)))]
print(f"MNIST 10k, PCA-50 input (the same float32 array for both), seed {seed}")
print(f"{'':34s} {'wall s':>7s} {'vs sklearn':>10s} {'KL':>7s} {'trust@10':>9s} {'10-NN acc':>9s}")
for name, t, kl, (tr, acc) in rows:
    print(f"{name:34s} {t:7.2f} {t_sk / t:9.1f}x {kl:7.4f} {tr:9.4f} {acc:9.4f}")
sk_q = rows[0][3]
for name, t, kl, q in rows[1:]:
    verdict = "at least as good" if q[0] >= sk_q[0] and q[1] >= sk_q[1] else "BELOW scikit-learn's"
    print(f"{name}: {t_sk / t:.1f} x faster than scikit-learn (aim >= 20), quality {verdict}")
print(f"repeated xfer runs: {same} embeddings")
opt = max(t_xf - t_prep, 0.0)
print(f"xfer phases: PCA of the 784-D digits {t_pca:.2f} s (not in the times above), "
      f"kNN + P + init {t_prep:.2f} s ({100 * t_prep / t_xf:.0f}%), iterations {opt:.2f} s ({100 * opt / t_xf:.0f}%)")
PY

# -- 2. scaling on a Gaussian mixture in 50-D --
[ "$max_n" -ge 10000 ] || exit 0
echo
echo "scaling: xfer-project on a mixture of 20 Gaussians in 50-D (seed $seed, -j $threads)"
printf '%9s %8s %8s %8s %7s %7s %11s\n' N 'wall s' 'RSS MB' KL repuls. kNN 's/N vs 1e4'
base=""
for n in 10000 30000 100000 300000 1000000; do
	[ "$n" -le "$max_n" ] || break
	"$PY" - "$work/g.npy" "$work/gl.npy" "$n" <<'PY'
import sys, numpy as np
n = int(sys.argv[3])
rng = np.random.default_rng(12345)
centres = rng.normal(scale=4.0, size=(20, 50))
labels = rng.integers(0, 20, n)
x = centres[labels] + rng.normal(size=(n, 50))
np.save(sys.argv[1], x.astype("<f4")); np.save(sys.argv[2], labels)
PY
	xfer-pack x="$work/g.npy" y="$work/gl.npy" -o "$work/g.xs"
	r=$runs
	[ "$n" -le 100000 ] || r=1
	t=$(best "$r" xfer-project -v --seed "$seed" -j "$threads" "$work/g.xs" -o "$work/g-emb.xs")
	rss=$(($(cat "$work/rss") / 1024))
	knn=$(sed -n 's/.*: \([a-z]*\) search for.*/\1/p' "$work/err.0")
	rep=$("$PY" -c "import msgpack
print(next(msgpack.Unpacker(open('$work/g-emb.xs', 'rb'), raw=False))['meta']['projection']['repulsion'])")
	base=${base:-$(echo "$t $n" | awk '{print $1 / $2}')}
	printf '%9d %8.2f %8d %8.4f %7s %7s %11.2f\n' "$n" "$t" "$rss" "$(kl_of "$work/err.0")" "$rep" "$knn" \
		"$(echo "$t $n $base" | awk '{print $1 / $2 / $3}')"
done
