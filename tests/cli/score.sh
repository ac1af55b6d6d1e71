#!/bin/sh
# xfer-score end to end: every metric against the independent numpy references in tests/ref
# (relative error < 1e-6) on several shapes of data, ranking, formats, and bad input.
. "$(dirname "$0")/../lib.sh"

if ! has_python || ! "$PY" -c 'import scipy' 2>/dev/null; then
	skip_oracle "/usr/bin/python3 with numpy and scipy is needed"
	finish
	exit 0
fi

# Data sets: name n d c [extra]; features float32 like real embeddings, labels int64.
"$PY" - "$T" <<'PY'
import sys, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(7)
def save(name, x, y, p=None):
    np.save(f"{out}/{name}-x.npy", x.astype("<f4"))
    np.save(f"{out}/{name}-y.npy", y.astype("<i8"))
    if p is not None:
        np.save(f"{out}/{name}-p.npy", p.astype("<f4"))
def probs(n, cs, y):
    z = rng.normal(size=(n, cs)) + 2.0 * np.eye(cs)[y % cs]
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
n, d, c = 200, 12, 4
y = rng.integers(0, c, n); save("generic", rng.normal(size=(n, d)) + 0.7 * y[:, None], y, probs(n, 6, y))
y = rng.integers(0, 3, 30); save("wide", rng.normal(size=(30, 64)) + 0.3 * y[:, None], y)
y = np.r_[np.zeros(40, int), np.ones(40, int), [2], [3, 3]]
save("tiny", rng.normal(size=(len(y), 8)) + y[:, None], y)
y = rng.integers(0, 3, 150); save("offset", rng.normal(size=(150, 10)) + 1000 + 0.5 * y[:, None], y)
y = rng.integers(0, 5, 300); x = np.maximum(rng.normal(size=(300, 24)) + 0.4 * y[:, None], 0); x[:, :5] = 0
save("dead", x, y)
PY

metrics=all
for set in generic wide tiny offset dead; do
	args="x=$T/$set-x.npy y=$T/$set-y.npy"
	[ -f "$T/$set-p.npy" ] && args="$args p=$T/$set-p.npy"
	# shellcheck disable=SC2086
	xfer-pack $args -o "$T/$set.xs"
	xfer-score -m "$metrics" --format json "$T/$set.xs" >"$T/$set.json"
	verdict=$("$PY" - "$top/tests/ref" "$T" "$set" <<'PY'
import json, sys, numpy as np
sys.path.insert(0, sys.argv[1])
import os, ref_logme, ref_nleep, ref_probe, ref_prob, ref_sfda
t, name = sys.argv[2], sys.argv[3]
x, y = np.load(f"{t}/{name}-x.npy").astype(np.float64), np.load(f"{t}/{name}-y.npy")
p = np.load(f"{t}/{name}-p.npy").astype(np.float64) if os.path.exists(f"{t}/{name}-p.npy") else None
got = {r["metric"]: r["value"] for r in json.load(open(f"{t}/{name}.json"))["results"]}
refs = {m: (getattr(mod, m), "f") for mod, ms in ((ref_logme, ("logme", "logme_exact", "hscore")),
        (ref_sfda, ("hscore_shrinkage", "sfda")), (ref_prob, ("gbc", "tmi")), (ref_nleep, ("nleep",)),
        (ref_probe, ("knn", "linprobe"))) for m in ms}
refs.update({m: (getattr(ref_prob, m), "p") for m in ("leep", "nce", "accuracy", "nll")})
bad = []
for m, (fn, src) in refs.items():
    if (name == "tiny" and m == "logme_exact") or (src == "p" and p is None):
        continue
    want = fn(x if src == "f" else p, y)
    want = want[0] if isinstance(want, tuple) else want   # some references also return a parameter
    tol = 1e-12 if m == "gbc" and abs(want) < 1e-6 else 1e-6 * max(1.0, abs(want))
    if m not in got or abs(got[m] - want) > tol:
        bad.append(f"{m}: got {got.get(m)} want {want}")
print("; ".join(bad) or f"agree ({len(got)} metrics)")
PY
)
	case $verdict in agree*) pass "$set: every metric agrees with numpy to 1e-6: $verdict" ;;
	*) fail "$set: metrics agree with numpy"; echo "#   $verdict" ;; esac
done

# H-score by hand: f = 0, 2 | 4, 6 (classes 0, 1): var(g) / var(f) = 16 / 20.
"$PY" -c "
import numpy as np
np.save('$T/h-x.npy', np.array([[0], [2], [4], [6]], '<f4')); np.save('$T/h-y.npy', np.array([0, 0, 1, 1]))"
xfer-pack x="$T/h-x.npy" y="$T/h-y.npy" | xfer-score -m hscore --format tsv >"$T/h.tsv"
same "H-score of a hand-checked case is 0.8 (to 1e-15)" yes \
	"$(sed -n '2p' "$T/h.tsv" | cut -f3 | awk '{print ($1 - 0.8 < 1e-15 && 0.8 - $1 < 1e-15) ? "yes" : $1}')"

# Ranking and formats: generic features rank above a copy with the signal removed.
"$PY" -c "
import numpy as np
x = np.load('$T/generic-x.npy'); rng = np.random.default_rng(1)
np.save('$T/noise-x.npy', rng.permutation(x))"
xfer-pack x="$T/noise-x.npy" y="$T/generic-y.npy" -o "$T/noise.xs"
xfer-score -m logme,hscore --format tsv "$T/noise.xs" "$T/generic.xs" >"$T/rank.tsv"
same "the informative candidate ranks first for both metrics" "generic logme 1
noise logme 2
generic hscore 1
noise hscore 2" "$(sed 1d "$T/rank.tsv" | awk -F'\t' '{print $1, $2, $4}')"
xfer-score -m logme "$T/noise.xs" "$T/generic.xs" >"$T/rank.xs"
check "the default output is a table stream" xfer-cat --check "$T/rank.xs"
same "its fields" "candidate,metric,value,rank" "$(xfer-cat --to csv "$T/rank.xs" | head -n 1)"
same "text format ranks" "1" "$(xfer-score -m hscore --format text "$T/generic.xs" | awk 'NR == 2 {print $2}')"

# Layers of one stream, chosen with --field.
"$PY" -c "
import numpy as np
x = np.load('$T/generic-x.npy'); np.save('$T/l2.npy', x[:, :6])"
xfer-pack layer1="$T/generic-x.npy" layer2="$T/l2.npy" y="$T/generic-y.npy" -o "$T/layers.xs"
same "--field 'layer*' scores each layer" "layer1
layer2" "$(xfer-score -m hscore --field 'layer*' --format tsv "$T/layers.xs" | sed 1d | cut -f1 | sort)"

# --metric all: metrics without their inputs are skipped with the reason.
xfer-score --format json "$T/wide.xs" >"$T/all.json"
same "metrics needing probabilities are skipped, saying why" "no probabilities (field p)" \
	"$("$PY" -c "
import json; d = json.load(open('$T/all.json'))
print(next((s['why'] for s in d['skipped'] if s['metric'] == 'leep'), 'leep not skipped'))")"

# --partial on 4 shards, then --reduce, equals one pass (1e-9 relative) for the reducible
# metrics; rows sorted by label so that shards miss classes, and an offset of 1000.
"$PY" -c "
import numpy as np
rng = np.random.default_rng(5); n, d = 400, 10
y = np.sort(rng.integers(0, 5, n)); x = rng.normal(size=(n, d)) + 0.4 * y[:, None] + 1000
z = rng.normal(size=(n, 7)) + 2 * np.eye(7)[y]; p = np.exp(z); p /= p.sum(1, keepdims=True)
np.save('$T/s-x.npy', x.astype('<f4')); np.save('$T/s-y.npy', y); np.save('$T/s-p.npy', p.astype('<f4'))"
xfer-pack x="$T/s-x.npy" y="$T/s-y.npy" p="$T/s-p.npy" -o "$T/sharded.xs"
reducible=logme,logme_exact,hscore,gbc,gbc_spherical,nce,accuracy,nll
xfer-score -m "$reducible" --format tsv "$T/sharded.xs" | sed 1d | cut -f2,3 >"$T/one-pass.tsv"
for i in 0 1 2 3; do
	xfer-cat --shard "$i/4" "$T/sharded.xs" -o "$T/shard-$i.xs"
	xfer-score --partial --name sharded "$T/shard-$i.xs" -o "$T/named-$i.xs"
done
xfer-score --partial "$T/shard-0.xs" -o "$T/stats-0.xs"
check "partial streams are valid streams" xfer-cat --check "$T/stats-0.xs"
same "a candidate is named after its file by default" shard-0 \
	"$(xfer-cat --info "$T/stats-0.xs" >/dev/null && "$PY" -c "
import msgpack; print(next(msgpack.Unpacker(open('$T/stats-0.xs', 'rb'), raw=False))['meta']['candidate'])")"
xfer-score --reduce -m "$reducible" --format tsv "$T"/named-*.xs | sed 1d | cut -f2,3 >"$T/reduced.tsv"
same "--reduce of 4 shards equals one pass to 1e-9 for $reducible" yes "$(paste "$T/one-pass.tsv" "$T/reduced.tsv" |
	awk -F'\t' '$1 != $3 { bad = 1 } { r = ($2 - $4) / ($2 == 0 ? 1 : $2); if (r < 0) r = -r; if (r > 1e-9) bad = 1 }
		END { print (NR == 8 && !bad) ? "yes" : "no (" NR " rows)" }')"
xfer-score --reduce --format json "$T"/named-*.xs >"$T/reduced.json"
same "--reduce with all skips what needs every row" "hscore_shrinkage knn leep linprobe ncti nleep sfda tmi" \
	"$("$PY" -c "import json; print(' '.join(sorted(s['metric'] for s in json.load(open('$T/reduced.json'))['skipped'])))")"
expect_fail 1 "naming a metric that cannot be reduced fails" xfer-score --reduce -m tmi "$T"/named-*.xs
stderr_has "saying why" "*needs every row at once*"
expect_fail 2 "--partial takes no --metric" xfer-score --partial -m logme "$T/shard-0.xs"
expect_fail 1 "--reduce refuses a stream that is not partial statistics" xfer-score --reduce "$T/sharded.xs"

# Ensembles: ms_leep and e_leep of four source models, and the greedy best two.
"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng(11); n = 150
y = rng.integers(0, 3, n); np.save(f"{t}/e-y.npy", y)
for k, (cs, strength) in enumerate([(4, 2.0), (3, 0.5), (5, 1.0), (2, 0.1)]):
    z = rng.normal(size=(n, cs)) + strength * np.eye(cs)[y % cs]
    p = np.exp(z); p /= p.sum(1, keepdims=True); np.save(f"{t}/e-p{k}.npy", p.astype("<f4"))
PY
for k in 0 1 2 3; do xfer-pack p="$T/e-p$k.npy" y="$T/e-y.npy" -o "$T/src$k.xs"; done
xfer-score -m ms_leep,e_leep --format tsv "$T"/src?.xs | sed 1d >"$T/ens-all.tsv"
xfer-score -m ms_leep,e_leep --ensemble 2 --format tsv "$T"/src?.xs | sed 1d >"$T/ens-2.tsv"
same "ensemble metrics and greedy choice agree with numpy to 1e-9" agree "$("$PY" - "$top/tests/ref" "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); t = sys.argv[2]
import ref_ensemble as r
y = np.load(f"{t}/e-y.npy"); ps = [np.load(f"{t}/e-p{k}.npy") for k in range(4)]
want = [("src0+src1+src2+src3", "ms_leep", r.ms_leep(ps, y)), ("src0+src1+src2+src3", "e_leep", r.e_leep(ps, y))]
for name, fn in (("ms_leep", r.ms_leep), ("e_leep", r.e_leep)):
    chosen, v = r.greedy(fn, ps, y, 2)
    want.append(("+".join(f"src{j}" for j in chosen), name, v))
got = [l.split("\t")[:3] for l in open(f"{t}/ens-all.tsv").read().splitlines() + open(f"{t}/ens-2.tsv").read().splitlines()]
ok = len(got) == 4 and all(g[0] == w[0] and g[1] == w[1] and abs(float(g[2]) - w[2]) <= 1e-9 * abs(w[2])
                           for g, w in zip(got, want))
print("agree" if ok else f"got {got} want {want}")
PY
)"
expect_fail 1 "--ensemble larger than the pool fails" xfer-score -m ms_leep --ensemble 5 "$T"/src?.xs
stderr_has "saying how many have probabilities" "*only 4 inputs have probabilities*"

# NCTI over a set of candidates (both LDA solvers: small-variance features take the
# shrinkage branch), against tests/ref/ref_ncti.py; a lone candidate has no NCTI.
"$PY" -c "
import numpy as np
x = np.load('$T/generic-x.npy'); rng = np.random.default_rng(3)
np.save('$T/small-x.npy', (0.02 * x).astype('<f4')); np.save('$T/mixed-x.npy', (x + 2 * rng.normal(size=x.shape)).astype('<f4'))"
xfer-pack x="$T/small-x.npy" y="$T/generic-y.npy" -o "$T/small.xs"
xfer-pack x="$T/mixed-x.npy" y="$T/generic-y.npy" -o "$T/mixed.xs"
xfer-score -m ncti --format tsv "$T/generic.xs" "$T/noise.xs" "$T/small.xs" "$T/mixed.xs" >"$T/ncti.tsv"
same "ncti of four candidates agrees with numpy to 1e-8" agree "$("$PY" - "$top/tests/ref" "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); t = sys.argv[2]
import ref_ncti as r
y = np.load(f"{t}/generic-y.npy"); names = ["generic", "noise", "small", "mixed"]
parts = [r.ncti_parts(np.load(f"{t}/{m}-x.npy"), y) for m in names]
want = dict(zip(names, r.combine([p[0] for p in parts])))
solvers = sorted({p[1] for p in parts})
got = {l.split("\t")[0]: float(l.split("\t")[2]) for l in open(f"{t}/ncti.tsv").read().splitlines()[1:]}
ok = got.keys() == want.keys() and all(abs(got[m] - want[m]) <= 1e-8 * max(1, abs(want[m])) for m in names)
print("agree" if ok and solvers == ["eigen", "svd"] else f"got {got} want {want} solvers {solvers}")
PY
)"
expect_fail 1 "ncti of one candidate fails" xfer-score -m ncti "$T/generic.xs"
stderr_has "saying it compares a set" "*two or more candidates*"

# OSBORN: per-model domain, task and cohesion terms, the whole pool and the greedy best two,
# against tests/ref/ref_osborn.py (scipy's assignment solver for the transport term).
"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng(13)
y = np.load(f"{t}/e-y.npy"); n = len(y)
for k in range(4):
    d = 3 + k
    np.save(f"{t}/o-x{k}.npy", (rng.normal(size=(n, d)) + y[:, None]).astype("<f4"))
    np.save(f"{t}/o-s{k}.npy", (rng.normal(size=(120 + 40 * k, d)) * (1 + k)).astype("<f4"))
PY
for k in 0 1 2 3; do
	xfer-pack x="$T/o-x$k.npy" p="$T/e-p$k.npy" y="$T/e-y.npy" -o "$T/osb$k.xs"
	xfer-pack x="$T/o-s$k.npy" -o "$T/osb-src$k.xs"
done
src="--source-feats $T/osb-src0.xs --source-feats $T/osb-src1.xs --source-feats $T/osb-src2.xs --source-feats $T/osb-src3.xs"
# shellcheck disable=SC2086
xfer-score -m osborn --format tsv $src "$T"/osb?.xs | sed 1d >"$T/osb-all.tsv"
# shellcheck disable=SC2086
xfer-score -m osborn --ensemble 2 --osborn-weights 0.5,1,2 --format tsv $src "$T"/osb?.xs | sed 1d >"$T/osb-2.tsv"
same "osborn of the pool and its greedy pair agree with numpy to 1e-9" agree "$("$PY" - "$top/tests/ref" "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); t = sys.argv[2]
import ref_osborn as r
y = np.load(f"{t}/e-y.npy")
models = [(np.load(f"{t}/o-x{k}.npy").astype(float), np.load(f"{t}/o-s{k}.npy").astype(float),
           np.load(f"{t}/e-p{k}.npy")) for k in range(4)]
terms = r.terms(models, y)
chosen, best = r.greedy(terms, 2, (0.5, 1.0, 2.0))
want = [("osb0+osb1+osb2+osb3", r.score(terms, [0, 1, 2, 3])), ("+".join(f"osb{j}" for j in chosen), best)]
got = [l.split("\t") for l in open(f"{t}/osb-all.tsv").read().splitlines() + open(f"{t}/osb-2.tsv").read().splitlines()]
ok = len(got) == 2 and all(g[0] == w[0] and g[1] == "osborn" and abs(float(g[2]) - w[1]) <= 1e-9 * abs(w[1])
                           for g, w in zip(got, want))
print("agree" if ok else f"got {got} want {want}")
PY
)"
expect_fail 1 "osborn without source features fails" xfer-score -m osborn "$T"/osb?.xs
stderr_has "naming the option" "*--source-feats*"
expect_fail 2 "one --source-feats per candidate" xfer-score -m osborn --source-feats "$T/osb-src0.xs" "$T"/osb?.xs
expect_fail 1 "source features of another width are refused" \
	xfer-score -m osborn --source-feats "$T/osb-src1.xs" "$T/osb0.xs"
stderr_has "naming both widths" "*4 columns*has 3*"

# Weights over sources: softmax of the values / T (negated where lower is better) and
# normalized values, checked against the printed values; each metric's weights sum to 1.
xfer-score -m hscore,logme --weights softmax --temperature 0.5 --format tsv "$T/noise.xs" "$T/generic.xs" >"$T/w.tsv"
same "softmax weights follow the values" agree "$("$PY" - "$T/w.tsv" <<'PY'
import sys, numpy as np
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()[1:]]
ok = len(rows) == 4
for m in ("hscore", "logme"):
    v = np.array([float(r[2]) for r in rows if r[1] == m]); w = np.array([float(r[4]) for r in rows if r[1] == m])
    e = np.exp((v - v.max()) / 0.5); ok &= bool(np.allclose(w, e / e.sum(), rtol=1e-12, atol=0))
print("agree" if ok else rows)
PY
)"
xfer-score -m hscore --weights normalized --format json "$T/noise.xs" "$T/generic.xs" >"$T/w.json"
same "normalized weights are the values over their sum" agree "$("$PY" - "$T/w.json" <<'PY'
import sys, json
r = json.load(open(sys.argv[1]))["results"]; total = sum(x["value"] for x in r)
print("agree" if all(abs(x["weight"] - x["value"] / total) < 1e-15 for x in r) else r)
PY
)"
same "the weight is a column of the table stream" "candidate,metric,value,rank,weight" \
	"$(xfer-score -m hscore --weights softmax "$T/generic.xs" | xfer-cat --to csv | head -n 1)"
expect_fail 2 "normalized weights of a lower-is-better metric are refused" \
	xfer-score -m nll --weights normalized "$T/generic.xs"
stderr_has "saying to use softmax" "*nll is lower-is-better; use softmax*"
expect_fail 2 "--temperature without softmax weights is a usage error" xfer-score --temperature 2 "$T/generic.xs"

# Bad input.
"$PY" -c "
import numpy as np
np.save('$T/one-y.npy', np.zeros(200, int))
x = np.load('$T/generic-x.npy'); x[5, 3] = np.nan; np.save('$T/nan-x.npy', x)
np.save('$T/short-x.npy', x[:150]); np.save('$T/short-y.npy', np.load('$T/generic-y.npy')[:150])"
xfer-pack x="$T/generic-x.npy" y="$T/one-y.npy" -o "$T/one.xs"
expect_fail 1 "a single class is refused" xfer-score -m logme "$T/one.xs"
stderr_has "saying so" "*one label*two classes*"
xfer-pack x="$T/nan-x.npy" y="$T/generic-y.npy" -o "$T/nan.xs"
expect_fail 1 "NaN in features is refused" xfer-score -m hscore "$T/nan.xs"
stderr_has "naming the row" "*feature 3 of row 5 is NaN*"
xfer-pack x="$T/generic-x.npy" -o "$T/nolabels.xs"
expect_fail 1 "a label-based metric without labels fails" xfer-score -m logme "$T/nolabels.xs"
stderr_has "naming the field" "*no labels (field y)*"
xfer-pack x="$T/short-x.npy" y="$T/short-y.npy" -o "$T/short.xs"
expect_fail 1 "candidates with different rows are refused" xfer-score -m logme "$T/generic.xs" "$T/short.xs"
stderr_has "naming both" "*'short' has 150 rows, 'generic' has 200*"
expect_fail 2 "an unknown metric is a usage error" xfer-score -m logmee "$T/generic.xs"
expect_fail 2 "an unknown format is a usage error" xfer-score --format xml "$T/generic.xs"
finish
