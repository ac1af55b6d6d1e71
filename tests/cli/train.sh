#!/bin/sh
# xfer-train's linear heads: softmax regression against scikit-learn's LogisticRegression (same
# objective, lbfgs, multinomial) on real digits, ridge against numpy's closed form (primal and
# dual), the head run by xfer-embed, separable data, determinism, and bad input; kernel ridge
# regression (--model krr) run by xfer-embed against scikit-learn's KernelRidge, and ridge.
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
print("yes" if err <= 1e-6 and abs(meta["train"]["l2"] - lam) <= 1e-6 * lam else "no %g %g %g" % (err, meta["train"]["l2"], lam))
PY
)"
	done
done

# ---- kernel ridge regression: xfer-embed's predictions against scikit-learn's KernelRidge ----
# 300 digits (784 features), 1000 test digits; each case's options, the same for KernelRidge.
krr_cases="rbf|rbf --gamma 0.02 --l2 0.1|poly|poly --gamma 0.01 --degree 2 --coef0 0.5 --l2 0.1|linear|linear --l2 5"
echo "$krr_cases" | tr '|' '\n' >"$T/krr-cases.txt"
k=0
while read -r spec; do
	k=$((k + 1))
	# shellcheck disable=SC2086
	xfer-train --model krr --kernel $spec "$T/tr300.xs" --valid "$T/te.xs" -o "$T/krr$k.xs" 2>"$T/krr$k.err"
	xfer-embed -m "$T/krr$k.xs" --logits "$T/te.xs" -o "$T/krr$k-pred.xs"
done <"$T/krr-cases.txt"
"$PY" - "$T" <<'PY' >"$T/krr.txt"
import sys, re, numpy as np, msgpack
sys.path.insert(0, sys.argv[1]); from head import column
from sklearn.kernel_ridge import KernelRidge
t = sys.argv[1]
x = column(t + "/tr300.xs", "x").reshape(300, -1) / 255.0; y = column(t + "/tr300.xs", "y")
xt = column(t + "/te.xs", "x").reshape(1000, -1) / 255.0; yt = column(t + "/te.xs", "y")
for k, line in enumerate(open(t + "/krr-cases.txt").read().split("\n")[:-1], 1):
    w = line.split(); o = dict(zip(w[1::2], w[2::2]))
    kw = dict(alpha=float(o.get("--l2", 1)), kernel=w[0])
    if w[0] != "linear":
        kw["gamma"] = float(o.get("--gamma", 1 / 784))
    if w[0] == "poly":
        kw.update(degree=int(o.get("--degree", 3)), coef0=float(o.get("--coef0", 1)))
    sk = KernelRidge(**kw).fit(x, np.eye(10)[y])
    ref, got = sk.predict(xt), column(t + "/krr%d-pred.xs" % k, "logits")
    err = np.abs(got - ref).max() / np.abs(ref).max()
    log = open(t + "/krr%d.err" % k).read()
    acc = [float(a) for a in re.findall(r"(?:train|valid) accuracy ([0-9.]+)", log)]
    want = [(sk.predict(x).argmax(1) == y).mean(), (got.argmax(1) == yt).mean()]
    version = next(iter(msgpack.Unpacker(open(t + "/krr%d.xs" % k, "rb"), raw=False, max_buffer_size=0)))["xfer"]
    print(k, "%.2e" % err, "yes" if np.allclose(acc, want, atol=1e-4) else "no %s %s" % (acc, want), version)
PY
k=0
while read -r spec; do
	k=$((k + 1))
	set -- $(sed -n "${k}p" "$T/krr.txt")
	same "krr --kernel $spec: xfer-embed --logits is KernelRidge's prediction to 1e-4 ($2)" yes \
		"$(awk -v e="$2" 'BEGIN { print (e + 0 <= 1e-4 ? "yes" : "no") }')"
	same "krr --kernel $spec: the reported train and valid accuracies are the predictions'" yes "$3"
	same "krr --kernel $spec: the model is a format version 2 segment" 2 "${4:-}"
done <"$T/krr-cases.txt"
# Ridge regularises its bias column, so ridge is KRR with the kernel x.c + 1: poly, gamma 1,
# degree 1, coef0 1. With 300 rows < 785 columns ridge solves its dual (N x N) system.
xfer-train -q --model ridge --l2 0.5 "$T/tr300.xs" -o "$T/ridge300.xs"
xfer-train -q --model krr --kernel poly --gamma 1 --degree 1 --coef0 1 --l2 0.5 "$T/tr300.xs" -o "$T/krr-ridge.xs"
xfer-embed -m "$T/ridge300.xs" --logits "$T/te.xs" -o "$T/ridge300-pred.xs"
xfer-embed -m "$T/krr-ridge.xs" --logits "$T/te.xs" -o "$T/krr-ridge-pred.xs"
same "krr with the kernel x.c + 1 predicts as --model ridge (dual form), to 1e-4" yes "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); from head import column
a, b = column(sys.argv[1] + "/ridge300-pred.xs", "logits"), column(sys.argv[1] + "/krr-ridge-pred.xs", "logits")
e = np.abs(a - b).max() / np.abs(a).max()
print("yes" if e <= 1e-4 else "no %g" % e)
PY
)"
same "... and ridge stays a format version 1 segment" 1 "$("$PY" -c 'import sys, msgpack
print(next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))["xfer"])' "$T/ridge300.xs")"
same "krr: the model is x -> flatten -> kernel (300 centers) -> fc [10, 300]" \
	"kernel.centers [300, 784] fc.weight [10, 300]" \
	"$(xfer-cat --info "$T/krr1.xs" | awk '$2 == "<f4" {printf "%s%s %s %s", sep, $1, $3, $4; sep = " "}')"
if "$PY" -c 'import jsonschema' 2>/dev/null; then
	same "krr: every frame of the model validates against the JSON Schemas" valid "$("$PY" - "$top/schemas" "$T/krr4.xs" <<'PY'
import json, sys, msgpack, jsonschema
def view(o):
    if isinstance(o, bytes):
        return {"$bin": len(o)}
    if isinstance(o, dict):
        return {(k.decode() if isinstance(k, bytes) else k): view(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [view(v) for v in o]
    return o
schemas = {t: json.load(open(f"{sys.argv[1]}/{t}.schema.json")) for t in ("header", "tensor", "end")}
for frame in msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False, max_buffer_size=0):
    jsonschema.Draft202012Validator(schemas[frame["t"]]).validate(view(frame))
print("valid")
PY
)"
else
	skip_oracle "JSON Schema validation of the krr model: /usr/bin/python3 lacks jsonschema"
fi
# The kernel op's backward, end to end: fine-tuning the rbf model moves its centers and head.
xfer-train -q --init "$T/krr1.xs" --epochs 1 --batch 50 --lr 1e-3 "$T/tr300.xs" -o "$T/krr-tuned.xs"
same "krr --init: fine-tuning moves the centers and the head" "kernel.centers fc.weight" "$("$PY" - "$T" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
def tensors(p):
    fr = list(msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False, max_buffer_size=0))
    return {f["name"]: np.asarray(f["data"]) for f in fr[1:-1]}
a, b = tensors(sys.argv[1] + "/krr1.xs"), tensors(sys.argv[1] + "/krr-tuned.xs")
print(" ".join(k for k in a if not np.array_equal(a[k], b[k])))
PY
)"
expect_fail 2 "krr: --gamma 0" xfer-train --model krr --gamma 0 "$T/tr300.xs"
stderr_has "... says why" "*--gamma: '0' is not a positive number*"
expect_fail 2 "krr: --gamma -1" xfer-train --model krr --kernel poly --gamma -1 "$T/tr300.xs"
expect_fail 2 "krr: --degree 0" xfer-train --model krr --kernel poly --degree 0 "$T/tr300.xs"
stderr_has "... says why" "*--degree: 0 is out of range*"
expect_fail 2 "krr: an unknown kernel" xfer-train --model krr --kernel sigmoid "$T/tr300.xs"
stderr_has "... names the choices" "*--kernel: 'sigmoid' is not linear, rbf or poly*"
expect_fail 2 "krr: --gamma with --kernel linear" xfer-train --model krr --kernel linear --gamma 1 "$T/tr300.xs"
expect_fail 2 "krr: --degree with the rbf kernel" xfer-train --model krr --degree 2 "$T/tr300.xs"
expect_fail 2 "--kernel without --model krr" xfer-train --model ridge --kernel rbf "$T/tr300.xs"
expect_fail 2 "krr: --class-weight" xfer-train --model krr --class-weight balanced "$T/tr300.xs"
cat "$digits" "$digits" >"$T/d20k.xs.zst"
expect_fail 1 "krr: 20000 rows are above the limit of 16384" xfer-train --model krr "$T/d20k.xs.zst" -o "$T/never.xs"
stderr_has "... says how much memory the system would take" "*20000 rows*3.2 GB*at most 16384 rows*"

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

# ---- networks: training steps against PyTorch (float64), through exported models ----
if "$PY" -c 'import torch' 2>/dev/null; then
	ref="$top/tests/ref"
	"$PY" "$ref/ref_embed_data.py" digits32 "$T/tr.xs" "$T/d64.xs" 64
	cat >"$T/steps.py" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
def tensors(p):
    fr = list(msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False, max_buffer_size=0))
    return {f["name"]: np.asarray(f["data"], np.float64) for f in fr[1:-1]}
got, init, ref = tensors(sys.argv[1]), tensors(sys.argv[2]), np.load(sys.argv[3])
skip = sys.argv[5].split(",") if len(sys.argv) > 5 else []
worst, where = 0, ""
for k in ref.files:
    if k in skip:
        continue
    r = ref[k]; g = got[k].reshape(r.shape); step = r - init[k].reshape(r.shape)
    e = np.abs(g - r).max() / max(np.abs(step).max(), 1e-4 * np.abs(r).max())
    if e > worst:
        worst, where = e, k
print("%s %.1e %s" % ("ok" if worst <= float(sys.argv[4]) else "TOO LARGE", worst, where))
PY
	steps() { # DESC NET SEED TOL SKIP REF-ARGS -- XFER-ARGS
		desc=$1 net=$2 seed=$3 tol=$4 skip=$5; shift 5
		refargs=; while [ "$1" != -- ]; do refargs="$refargs $1"; shift; done; shift
		"$PY" "$ref/ref_torchnets.py" export "$net" "$seed" "$T/$net$seed"
		xfer-pack "$T/$net$seed.safetensors" --arch "$T/$net$seed.json" -o "$T/$net$seed.xs"
		# shellcheck disable=SC2086
		"$PY" "$ref/ref_train_step.py" "$net" "$seed" "$T/d64.xs" "$T/ref.npz" $refargs
		xfer-train -q --init "$T/$net$seed.xs" --batch 64 --schedule constant "$@" "$T/d64.xs" -o "$T/stepped.xs"
		r=$("$PY" "$T/steps.py" "$T/stepped.xs" "$T/$net$seed.xs" "$T/ref.npz" "$tol" "$skip")
		case $r in ok*) pass "$desc (error ${r#ok } of the update)" ;; *) fail "$desc"; echo "#   $r" ;; esac
	}
	steps "lenet, one SGD step (conv, batchnorm in training mode, pools, gelu, linear): torch's weights and running statistics" \
		lenet 3 1e-4 "" --steps 1 --lr 0.1 -- --epochs 1 --optimizer sgd --momentum 0 --weight-decay 0 --lr 0.1
	steps "lenet, three SGD steps with momentum, weight decay and label smoothing" \
		lenet 3 1e-4 "" --steps 3 --lr 0.05 --momentum 0.9 --weight-decay 0.01 --label-smoothing 0.1 -- \
		--epochs 3 --optimizer sgd --momentum 0.9 --weight-decay 0.01 --lr 0.05 --label-smoothing 0.1
	# conv2's bias has a zero gradient (batchnorm follows): AdamW turns its float noise into full
	# steps, which also move bn2's running mean; everything else is compared.
	steps "lenet, three AdamW steps with decoupled weight decay" lenet 3 1e-3 conv2.bias,bn2.running_mean \
		--steps 3 --optimizer adamw --lr 0.001 --weight-decay 0.05 -- --epochs 3 --optimizer adamw --lr 0.001 \
		--weight-decay 0.05
	# Through 20 layers the float32 gradient itself is this far from float64: torch's own float32
	# step is 7e-3 away.
	steps "resnet18 (width 16), one SGD step: residual adds, shortcuts, 20 batchnorms" resnet18 4 1e-2 "" \
		--steps 1 --lr 0.05 -- --epochs 1 --optimizer sgd --momentum 0 --weight-decay 0 --lr 0.05
	# ---- fine-tuning options, on the exported lenet ----
	cat >"$T/diff.py" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
def tensors(p):
    fr = list(msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False, max_buffer_size=0))
    return {f["name"]: np.asarray(f["data"], np.float64) for f in fr[1:-1]}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
print(" ".join(k for k in a if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k])))
PY
	base="--epochs 1 --batch 64 --optimizer sgd --momentum 0 --weight-decay 0 --lr 0.1 --schedule constant"
	# shellcheck disable=SC2086
	xfer-train -q --init "$T/lenet3.xs" --freeze pool2 $base "$T/d64.xs" -o "$T/frozen.xs"
	same "--freeze pool2: conv1, conv2 and bn2 (weights and running statistics: eval mode) stay, fc1-fc3 move" \
		"fc1.weight fc1.bias fc2.weight fc2.bias fc3.weight fc3.bias" "$("$PY" "$T/diff.py" "$T/frozen.xs" "$T/lenet3.xs")"
	"$PY" -c 'import numpy as np; np.save("'"$T"'/y3.npy", np.arange(64) % 3)'
	"$PY" - "$T" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
t = sys.argv[1]
x = np.concatenate([f["cols"]["x"] for f in msgpack.Unpacker(open(t + "/d64.xs", "rb"), object_hook=m.decode, raw=False) if f["t"] == "batch"])
np.save(t + "/x64.npy", x)
PY
	xfer-pack x="$T/x64.npy" y="$T/y3.npy" -o "$T/three.xs"
	# shellcheck disable=SC2086
	xfer-train -q --init "$T/lenet3.xs" --new-head $base "$T/three.xs" -o "$T/newhead.xs"
	same "--new-head: a 3-class head in place of fc3" "logits [3]" \
		"$(xfer-embed -m "$T/newhead.xs" --logits "$T/three.xs" | xfer-cat --info | awk '$1 == "logits" {print $1, $3}')"
	# shellcheck disable=SC2086
	xfer-train -q --init "$T/lenet3.xs" $base "$T/d64.xs" -o "$T/plain.xs"
	# shellcheck disable=SC2086
	xfer-train -q --init "$T/lenet3.xs" --layer-decay 0.5 $base "$T/d64.xs" -o "$T/decayed.xs"
	same "--layer-decay 0.5: each layer's step is 0.5^k of the plain step (k below the head)" yes "$("$PY" - "$T" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
def tensors(p):
    fr = list(msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False, max_buffer_size=0))
    return {f["name"]: np.asarray(f["data"], np.float64) for f in fr[1:-1]}
t = sys.argv[1]; w0, a, b = tensors(t + "/lenet3.xs"), tensors(t + "/plain.xs"), tensors(t + "/decayed.xs")
depth = {"conv1": 4, "conv2": 3, "bn2": 3, "fc1": 2, "fc2": 1, "fc3": 0}
ok = True
for k in w0:
    if "running" in k or k == "conv2.bias":
        continue
    want = (a[k] - w0[k]) * 0.5 ** depth[k.split(".")[0]]
    ok &= np.abs((b[k] - w0[k]) - want).max() <= 1e-4 * np.abs(want).max()
print("yes" if ok else "no")
PY
)"
	# shellcheck disable=SC2086
	xfer-train -q --init "$T/lenet3.xs" --reinit 1 --epochs 1 --lr 1e-12 --schedule constant "$T/d64.xs" -o "$T/reinit.xs"
	same "--reinit 1: the top layer drawn afresh, the rest as they were (lr 1e-12)" "fc3.weight fc3.bias" \
		"$("$PY" "$T/diff.py" "$T/reinit.xs" "$T/lenet3.xs" | tr ' ' '\n' | grep -v running | while read -r k; do
			"$PY" -c 'import sys, numpy as np, msgpack, msgpack_numpy as m
def t(p):
    fr = list(msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False)); return {f["name"]: np.asarray(f["data"]) for f in fr[1:-1]}
a, b = t(sys.argv[1]), t(sys.argv[2]); k = sys.argv[3]
print(k if np.abs(a[k] - b[k]).max() > 1e-6 * max(np.abs(b[k]).max(), 1) else "")' "$T/reinit.xs" "$T/lenet3.xs" "$k"; done | xargs)"
	# shellcheck disable=SC2086
	xfer-train -q --init "$T/lenet3.xs" --sam 0.05 $base "$T/d64.xs" -o "$T/sam.xs"
	same "--sam: a different step from the plain one" yes \
		"$([ -n "$("$PY" "$T/diff.py" "$T/sam.xs" "$T/plain.xs")" ] && echo yes || echo no)"
	expect_fail 2 "--freeze without --init" xfer-train --model mlp --freeze fc1 "$T/tr.xs"
	expect_fail 2 "--freeze of an unknown node" xfer-train --init "$T/lenet3.xs" --freeze nope "$T/d64.xs"
	expect_fail 2 "--freeze of the last node leaves nothing to train" xfer-train --init "$T/lenet3.xs" --freeze fc3 "$T/d64.xs"
else
	skip_oracle "/usr/bin/python3 with torch is needed for the training steps"
fi

# ---- networks from scratch: an MLP and an architecture file; distillation; validation ----
xfer-train --model mlp --hidden 64 --epochs 3 --seed 5 --valid-split 0.2 "$T/tr.xs" -o "$T/mlp.xs" 2>"$T/mlp.err"
same "mlp: one log line per epoch, validation marked, then the accuracies" "3 2" \
	"$(grep -c '^xfer-train: epoch [1-3]/3: loss .* | valid loss' "$T/mlp.err") $(grep -c 'accuracy [0-9.]*$' "$T/mlp.err")"
same "mlp: above 75% on held-out digits after 3 epochs on 1600" yes \
	"$(awk '/valid accuracy/ { print ($NF > 0.75 ? "yes" : "no " $NF) }' "$T/mlp.err")"
xfer-embed -m "$T/mlp.xs" --probs "$T/te.xs" -o "$T/mlp-pred.xs"
same "mlp: xfer-embed runs it (fields y, probs)" "y probs" \
	"$(xfer-cat --info "$T/mlp-pred.xs" | awk '/<f4|\|u1/ {print $1}' | tr '\n' ' ' | sed 's/ $//')"
xfer-train -q --model mlp --hidden 64 --epochs 3 --seed 5 --valid-split 0.2 "$T/tr.xs" -o "$T/mlp2.xs"
same "mlp: the same seed, the same model" "$(xfer-cat --check "$T/mlp.xs" >/dev/null; "$PY" -c 'import sys; print(open(sys.argv[1], "rb").read()[-200:] == open(sys.argv[2], "rb").read()[-200:])' "$T/mlp.xs" "$T/mlp2.xs")" True
xfer-train --model "$top/pipelines/arch/lenet5.json" --epochs 2 --lr 0.003 "$T/tr.xs" --valid "$T/te.xs" -o "$T/cnn.xs" 2>"$T/cnn.err"
same "lenet5.json: a CNN from an architecture file learns (above 75% on 1000 test digits)" yes \
	"$(awk '/valid accuracy/ { print ($NF > 0.75 ? "yes" : "no " $NF) }' "$T/cnn.err")"
same "lenet5.json: xfer-embed reads its [28, 28] digits as [1, 28, 28]" "probs [10]" \
	"$(xfer-embed -m "$T/cnn.xs" --probs "$T/te.xs" | xfer-cat --info | awk '$1 == "probs" {print $1, $3}')"
# A student distilled from the MLP's probabilities alone (alpha 0) learns what the teacher says.
xfer-embed -m "$T/mlp.xs" --probs "$T/tr.xs" -o "$T/t1.xs"
"$PY" - "$T" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
t = sys.argv[1]
fr = list(msgpack.Unpacker(open(t + "/t1.xs", "rb"), object_hook=m.decode, raw=False))
b = [f for f in fr if f["t"] == "batch"]
p = np.concatenate([f["cols"]["probs"] for f in b]); y = np.concatenate([f["cols"]["y"] for f in b])
x = np.concatenate([f["cols"]["x"] for f in msgpack.Unpacker(open(t + "/tr.xs", "rb"), object_hook=m.decode, raw=False) if f["t"] == "batch"])
np.save(t + "/dx.npy", x); np.save(t + "/dy.npy", (p.argmax(1) + 1) % 10); np.save(t + "/dp.npy", p.astype("<f4"))
np.save(t + "/agree.npy", p.argmax(1))
PY
xfer-pack x="$T/dx.npy" y="$T/dy.npy" teacher="$T/dp.npy" -o "$T/distil.xs"
xfer-train -q --model mlp --hidden 64 --epochs 3 --teacher teacher --alpha 0 --temperature 2 "$T/distil.xs" -o "$T/student.xs"
same "--teacher with --alpha 0: the student follows the teacher, not the (shifted) labels" yes "$("$PY" - "$T" <<'PY'
import sys, numpy as np, subprocess, msgpack, msgpack_numpy as m
t = sys.argv[1]
out = subprocess.run(["xfer-embed", "-m", t + "/student.xs", "--probs", t + "/distil.xs"], capture_output=True).stdout
p = np.concatenate([f["cols"]["probs"] for f in msgpack.Unpacker(__import__("io").BytesIO(out), object_hook=m.decode, raw=False) if f["t"] == "batch"])
agree = (p.argmax(1) == np.load(t + "/agree.npy")).mean()
print("yes" if agree > 0.85 else "no %.3f" % agree)
PY
)"
expect_fail 1 "a teacher field of another width" xfer-train --model mlp --teacher x --epochs 1 "$T/distil.xs"
expect_fail 2 "--teacher with a linear head" xfer-train --teacher teacher "$T/distil.xs"

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
expect_fail 1 "krr: NaN in the features" xfer-train --model krr --kernel rbf "$T/nan.xs" -o "$T/never.xs"
stderr_has "... names the row" "*row 7 holds NaN*"
same "... and leaves no file" no "$([ -e "$T/never.xs" ] && echo yes || echo no)"
xfer-pack x="$T/x3.npy" y="$T/big.npy" -o "$T/x3.xs"
xfer-pack x="$T/x20.npy" y="$T/big.npy" -o "$T/x20.xs"
expect_fail 1 "--valid with another feature width" xfer-train --valid "$T/x3.xs" "$T/x20.xs"
expect_fail 1 "--valid with a label the training data does not have" xfer-train --valid "$T/x20.xs" "$T/sep.xs"
expect_fail 2 "an unknown --model" xfer-train --model forest "$T/tr.xs"
expect_fail 2 "--class-weight with ridge" xfer-train --model ridge --class-weight balanced "$T/tr.xs"
expect_fail 2 "a negative --l2" xfer-train --l2 -1 "$T/tr.xs"
xfer-train -q --model mlp --hidden 8 --epochs 1 "$T/x20.xs" -o "$T/mlp20.xs"
expect_fail 1 "--init with a model for another input width" xfer-train --init "$T/mlp20.xs" "$T/tr.xs"
stderr_has "... says which" "*takes 4 values per row, field 'x' has 784*"
xfer-train -q --model mlp --hidden 8 --epochs 1 "$T/sep.xs" -o "$T/mlp3.xs"
"$PY" -c 'import numpy as np; np.save("'"$T"'/y6.npy", np.arange(60) % 6)'
xfer-pack x="$T/sx.npy" y="$T/y6.npy" -o "$T/six.xs"
expect_fail 1 "--init with a model for fewer classes" xfer-train --init "$T/mlp3.xs" "$T/six.xs"
stderr_has "... says so" "*has 3 outputs, the labels go up to 5*"
expect_fail 2 "--init with --model" xfer-train --init "$T/mlp20.xs" --model ridge "$T/tr.xs"
expect_fail 2 "--valid and --valid-split" xfer-train --valid "$T/te.xs" --valid-split 0.1 "$T/tr.xs"
# --classes: a ten-way head from rows of digits 0-4 only (for merging with heads on other digits).
xfer-cat --head 300 "$T/tr.xs" | "$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
fr = list(msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False))
for f in fr:
    if f["t"] == "batch":
        keep = f["cols"]["y"] < 5
        f["cols"] = {k: v[keep] for k, v in f["cols"].items()}; f["n"] = int(keep.sum())
    if f["t"] == "end":
        f["rows"] = sum(g["n"] for g in fr if g["t"] == "batch")
    sys.stdout.buffer.write(msgpack.packb(f, default=m.encode, use_bin_type=True))' >"$T/low.xs"
xfer-train -q --classes 10 "$T/low.xs" -o "$T/low10.xs"
same "--classes 10 on digits 0-4: ten logits, the unseen classes never predicted on those rows" "10 0" \
	"$(xfer-embed -m "$T/low10.xs" --logits "$T/low.xs" | "$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
z = np.concatenate([f["cols"]["logits"] for f in b]); print(z.shape[1], int((z.argmax(1) >= 5).sum()))')"
expect_fail 1 "--classes below a label" xfer-train --classes 3 "$T/low.xs"
stderr_has "... names the label" "*label 4*--classes 3*"
expect_fail 2 "--classes 1" xfer-train --classes 1 "$T/low.xs"
echo '{"graph": {"inputs": {"x": {"shape": [784]}}, "nodes": [], "outputs": []}}' >"$T/bad.json"
expect_fail 1 "an architecture file without tensors" xfer-train --model "$T/bad.json" "$T/tr.xs"
stderr_has "... names the file" "*bad.json*"
finish
