#!/bin/sh
# xfer-train's linear heads: softmax regression against scikit-learn's LogisticRegression (same
# objective, lbfgs, multinomial) on real digits, ridge against numpy's closed form (primal and
# dual), the head run by xfer-embed, separable data, determinism, and bad input.
. "$(dirname "$0")/../lib.sh"

if ! has_python || ! "$PY" -c 'import sklearn' 2>/dev/null; then
	skip_oracle "/usr/bin/python3 with numpy, msgpack and scikit-learn is needed"
	finish
	exit 0
fi
digits="$top/data/mnist10k.xs.zst"
xfer-cat --head 2000 "$digits" -o "$T/tr.xs"
xfer-cat --rows 8000:9000 "$digits" -o "$T/te.xs"

# The head of a model stream as numpy arrays, and its training record.
cat >"$T/head.py" <<'PY'
import sys, json, numpy as np, msgpack, msgpack_numpy as m
def head(path):
    fr = list(msgpack.Unpacker(open(path, "rb"), object_hook=m.decode, raw=False, max_buffer_size=0))
    assert fr[0]["kind"] == "model" and fr[-1]["t"] == "end"
    names = list(fr[0]["fields"])
    t = {names[i] if "name" not in f else f["name"]: np.asarray(f["data"], np.float64) for i, f in enumerate(fr[1:-1])}
    return t["fc.weight"], t["fc.bias"], fr[0]["meta"]
def column(path, name):
    return np.concatenate([f["cols"][name] for f in msgpack.Unpacker(open(path, "rb"), object_hook=m.decode, raw=False)
                           if f["t"] == "batch"])
PY

# ---- softmax regression against scikit-learn ----
xfer-train --tol 1e-7 "$T/tr.xs" --valid "$T/te.xs" -o "$T/soft.xs" 2>"$T/soft.err"
"$PY" - "$T" <<'PY' >"$T/sk.txt"
import sys, warnings, numpy as np
sys.path.insert(0, sys.argv[1]); from head import head, column
from sklearn.linear_model import LogisticRegression
t = sys.argv[1]
x = column(t + "/tr.xs", "x").reshape(2000, -1) / 255.0; y = column(t + "/tr.xs", "y")
xt = column(t + "/te.xs", "x").reshape(1000, -1) / 255.0; yt = column(t + "/te.xs", "y")
def objective(w, b, c=1.0):
    z = x @ w.T + b; z -= z.max(1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return (-lp[np.arange(len(y)), y].sum() * c + 0.5 * (w ** 2).sum()) / (c * len(y))
sk = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8).fit(x, y)
w, b, meta = head(t + "/soft.xs")
print("objective %.3e" % ((objective(w, b) - objective(sk.coef_, sk.intercept_)) / objective(sk.coef_, sk.intercept_)))
acc = lambda w, b, x, y: ((x @ w.T + b).argmax(1) == y).mean()
print("test %.4f %.4f" % (acc(w, b, xt, yt), sk.score(xt, yt)))
print("train %.4f %.4f" % (meta["train"]["train_accuracy"], acc(w, b, x, y)))
skb = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8, class_weight="balanced").fit(x[:300], y[:300])
np.save(t + "/skb.npy", np.c_[skb.coef_, skb.intercept_])
np.save(t + "/x300.npy", x[:300]); np.save(t + "/y300.npy", y[:300])
PY
rel=$(awk '/^objective/ {print $2}' "$T/sk.txt")
same "softmax: the objective is scikit-learn's minimum to 1e-6 ($rel)" yes \
	"$(awk -v r="$rel" 'BEGIN { print (r + 0 <= 1e-6 ? "yes" : "no") }')"
same "softmax: test accuracy as scikit-learn's, within 0.5 points ($(awk '/^test/ {print $2, $3}' "$T/sk.txt"))" yes \
	"$(awk '/^test/ { d = $2 - $3; print (d <= 0.005 && d >= -0.005 ? "yes" : "no") }' "$T/sk.txt")"
same "softmax: the recorded train accuracy is the head's" yes "$(awk '/^train/ { print ($2 == $3 ? "yes" : "no") }' "$T/sk.txt")"
same "softmax: the summary on stderr" 2 "$(grep -c 'train accuracy\|valid accuracy' "$T/soft.err")"
xfer-cat --head 300 "$T/tr.xs" -o "$T/tr300.xs"
xfer-train -q --class-weight balanced --tol 1e-7 "$T/tr300.xs" -o "$T/bal.xs"
same "--class-weight balanced: scikit-learn's class_weight='balanced' minimum, to 1e-6" yes "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); from head import head
t = sys.argv[1]; x = np.load(t + "/x300.npy"); y = np.load(t + "/y300.npy").astype(int)
s = len(y) / (10 * np.bincount(y, minlength=10))
def objective(w, b):
    z = x @ w.T + b; z -= z.max(1, keepdims=True); lp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return (-(s[y] * lp[np.arange(len(y)), y]).sum() + 0.5 * (w ** 2).sum()) / len(y)
w, b, _ = head(t + "/bal.xs"); ref = np.load(t + "/skb.npy")
mine, theirs = objective(w, b), objective(ref[:, :-1], ref[:, -1])
print("yes" if abs(mine - theirs) <= 1e-6 * theirs else "no %.9f %.9f" % (mine, theirs))
PY
)"

# ---- the head runs in xfer-embed: its argmax is the head's, its probabilities softmax(W x + b) ----
xfer-embed -m "$T/soft.xs" --probs "$T/te.xs" -o "$T/pred.xs"
same "xfer-embed --probs on the head: numpy's softmax of the head, to 1e-5" yes "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); from head import head, column
w, b, _ = head(sys.argv[1] + "/soft.xs")
x = column(sys.argv[1] + "/te.xs", "x").reshape(1000, -1) / 255.0
z = x @ w.T + b; e = np.exp(z - z.max(1, keepdims=True)); p = e / e.sum(1, keepdims=True)
got = column(sys.argv[1] + "/pred.xs", "probs")
print("yes" if np.abs(got - p).max() <= 1e-5 else "no %g" % np.abs(got - p).max())
PY
)"

# ---- ridge against numpy, primal (N > D) and dual (N < D) ----
for rows in 2000 300; do
	xfer-cat --head "$rows" "$T/tr.xs" -o "$T/r$rows.xs"
	for l2 in default 0.5; do
		args=; [ "$l2" = default ] || args="--l2 $l2"
		# shellcheck disable=SC2086
		xfer-train -q --model ridge $args "$T/r$rows.xs" -o "$T/ridge.xs"
		same "ridge, $rows rows (784 features), l2 $l2: numpy's closed form to 1e-6" yes "$("$PY" - "$T" "$rows" "$l2" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); from head import head, column
t, n = sys.argv[1], int(sys.argv[2])
x = column(t + "/r%d.xs" % n, "x").reshape(n, -1) / 255.0; y = column(t + "/r%d.xs" % n, "y")
a = np.c_[x, np.ones(n)]; Y = np.eye(10)[y]
lam = 1e-6 * (a ** 2).sum() if sys.argv[3] == "default" else float(sys.argv[3])
W = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ Y)
w, b, meta = head(t + "/ridge.xs")
err = np.abs(np.c_[w, b] - W.T).max() / np.abs(W).max()
print("yes" if err <= 1e-6 and abs(meta["train"]["l2"] - lam) <= 1e-12 * lam else "no %g %g %g" % (err, meta["train"]["l2"], lam))
PY
)"
	done
done

# ---- separable data: every row right; determinism over threads ----
"$PY" -c 'import numpy as np; r = np.random.default_rng(1); y = r.integers(0, 3, 60)
x = r.normal(size=(60, 5)) * 0.1 + np.eye(3, 5)[y] * 4; np.save("'"$T"'/sx.npy", x.astype("<f4")); np.save("'"$T"'/sy.npy", y)'
xfer-pack x="$T/sx.npy" y="$T/sy.npy" -o "$T/sep.xs"
xfer-train --l2 1e-6 "$T/sep.xs" -o "$T/sep-model.xs" 2>"$T/sep.err"
same "softmax on separable classes: 100% of the rows" "xfer-train: train accuracy 1.0000" "$(cat "$T/sep.err")"
xfer-train --model ridge "$T/sep.xs" -o "$T/sep-ridge.xs" 2>"$T/sep.err"
same "ridge on separable classes: 100% of the rows" "xfer-train: train accuracy 1.0000" "$(cat "$T/sep.err")"
xfer-train -q -j 1 "$T/tr300.xs" -o "$T/j1.xs"
xfer-train -q -j 2 "$T/tr300.xs" -o "$T/j2.xs"
same "softmax: the same head with 1 and 2 threads" yes "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); from head import head
a, b = head(sys.argv[1] + "/j1.xs")[:2], head(sys.argv[1] + "/j2.xs")[:2]
print("yes" if all(np.array_equal(u, v) for u, v in zip(a, b)) else "no")
PY
)"

# ---- bad input ----
expect_fail 1 "no label field" xfer-train --labels nope "$T/tr.xs"
stderr_has "... names it" "*no field 'nope'*"
"$PY" -c 'import numpy as np; np.save("'"$T"'/one.npy", np.zeros(20, "<i8")); np.save("'"$T"'/neg.npy", np.r_[np.zeros(19, "<i8"), [-1]])
x = np.random.default_rng(0).normal(size=(20, 4)).astype("<f4"); np.save("'"$T"'/x20.npy", x); x[7, 2] = np.nan; np.save("'"$T"'/nan.npy", x)
np.save("'"$T"'/x3.npy", x[:, :3]); np.save("'"$T"'/big.npy", np.r_[np.zeros(10, "<i8"), np.full(10, 5)])'
xfer-pack x="$T/x20.npy" y="$T/one.npy" -o "$T/one.xs"
expect_fail 1 "a single class" xfer-train "$T/one.xs"
stderr_has "... says so" "*needs two classes*"
xfer-pack x="$T/x20.npy" y="$T/neg.npy" -o "$T/neg.xs"
expect_fail 1 "a negative label" xfer-train "$T/neg.xs"
stderr_has "... names the row" "*label -1 of row 19*"
xfer-pack x="$T/nan.npy" y="$T/sy.npy" -o "$T/nan.xs" 2>/dev/null || xfer-pack x="$T/nan.npy" y="$T/big.npy" -o "$T/nan.xs"
expect_fail 1 "NaN in the features" xfer-train "$T/nan.xs" -o "$T/never.xs"
stderr_has "... names the row" "*row 7 holds NaN*"
same "... and leaves no file" no "$([ -e "$T/never.xs" ] && echo yes || echo no)"
xfer-pack x="$T/x3.npy" y="$T/big.npy" -o "$T/x3.xs"
xfer-pack x="$T/x20.npy" y="$T/big.npy" -o "$T/x20.xs"
expect_fail 1 "--valid with another feature width" xfer-train --valid "$T/x3.xs" "$T/x20.xs"
expect_fail 1 "--valid with a label the training data does not have" xfer-train --valid "$T/x20.xs" "$T/sep.xs"
expect_fail 2 "an unknown --model" xfer-train --model forest "$T/tr.xs"
expect_fail 2 "--class-weight with ridge" xfer-train --model ridge --class-weight balanced "$T/tr.xs"
expect_fail 2 "a negative --l2" xfer-train --l2 -1 "$T/tr.xs"
finish
