#!/bin/sh
# xfer-project end to end: PCA against numpy, t-SNE (every repulsion method, determinism,
# quality on separable data, small N, duplicates, constant features), plots, the
# feature-to-image mode with saved layouts, and bad input.
. "$(dirname "$0")/../lib.sh"

if ! has_python || ! "$PY" -c 'import scipy' 2>/dev/null; then
	skip_oracle "/usr/bin/python3 with numpy and scipy is needed"
	finish
	exit 0
fi

"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng(17)
# 3 separated blobs in 12-D, offset and scaled unevenly (float32, as embeddings are)
y = np.repeat(np.arange(3), 100); centres = rng.normal(size=(3, 12)) * 8
x = centres[y] + rng.normal(size=(300, 12)) * np.linspace(0.5, 2, 12) + 100
np.save(f"{t}/b-x.npy", x.astype("<f4")); np.save(f"{t}/b-y.npy", y)
np.save(f"{t}/b-id.npy", np.arange(300, dtype="<i8") * 7)
np.save(f"{t}/small-x.npy", x[:10].astype("<f4"))
d = np.repeat(x[:40], 5, axis=0); np.save(f"{t}/dup-x.npy", d.astype("<f4"))
np.save(f"{t}/const-x.npy", np.ones((60, 5), "<f4"))
n = x.copy(); n[7, 3] = np.nan; np.save(f"{t}/nan-x.npy", n.astype("<f4"))
PY
xfer-pack x="$T/b-x.npy" y="$T/b-y.npy" id="$T/b-id.npy" -o "$T/b.xs"

# PCA: the scores of numpy's SVD of the centred rows, signs fixed so that each axis's largest
# |entry| is positive; float32 output.
xfer-project --method pca --dim 3 "$T/b.xs" -o "$T/pca.xs"
xfer-cat --fields x --to npy "$T/pca.xs" -o "$T/pca.npy"
same "PCA scores agree with numpy's SVD (float32 precision)" agree "$("$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]; x = np.load(f"{t}/b-x.npy").astype(float); xc = x - x.mean(0)
_, s, vt = np.linalg.svd(xc, full_matrices=False); vt = vt[:3]
vt *= np.sign(vt[np.arange(3), np.abs(vt).argmax(1)])[:, None]
want, got = xc @ vt.T, np.load(f"{t}/pca.npy")
err = np.abs(got - want).max() / np.abs(want).max()
print("agree" if got.dtype == np.float32 and got.shape == (300, 3) and err < 1e-6 else f"error {err} {got.dtype} {got.shape}")
PY
)"
same "other fields pass through unchanged" "$(xfer-cat --fields y,id --to csv "$T/b.xs")" \
	"$(xfer-cat --fields y,id --to csv "$T/pca.xs")"
same "the output records the projection" pca "$("$PY" -c "
import msgpack; print(next(msgpack.Unpacker(open('$T/pca.xs', 'rb'), raw=False))['meta']['projection']['method'])")"

# t-SNE with each repulsion method: the blobs stay apart (10-NN accuracy of the embedding),
# KL of the same size, the same seed gives the same bytes.
for m in exact bh fft; do
	xfer-project --repulsion "$m" --seed 3 -j 2 "$T/b.xs" -o "$T/t-$m.xs" 2>"$T/t-$m.err"
	xfer-cat --fields x --to npy "$T/t-$m.xs" -o "$T/t-$m.npy"
done
same "t-SNE separates the blobs with every method (10-NN accuracy 1)" "exact 1.0 bh 1.0 fft 1.0" "$("$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]; y = np.load(f"{t}/b-y.npy"); out = []
for m in ("exact", "bh", "fft"):
    e = np.load(f"{t}/t-{m}.npy").astype(float)
    d = ((e[:, None] - e[None]) ** 2).sum(-1); np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, 1)[:, :10]
    acc = np.mean([np.bincount(y[r], minlength=3).argmax() == y[i] for i, r in enumerate(nn)])
    out += [m, str(acc)]
print(" ".join(out))
PY
)"
same "the KL divergence of the three methods agrees within 10% (different paths, same optimum)" yes "$("$PY" -c "
import msgpack
kl = [next(msgpack.Unpacker(open(f'$T/t-{m}.xs', 'rb'), raw=False))['meta']['projection']['kl'] for m in ('exact', 'bh', 'fft')]
print('yes' if max(kl) < 1.1 * min(kl) else kl)")"
xfer-project --repulsion bh --seed 3 -j 2 "$T/b.xs" -o "$T/again.xs" 2>/dev/null
same "the same seed gives the same embedding" "$(xfer-cat --fields x --to csv "$T/t-bh.xs" | md5sum)" \
	"$(xfer-cat --fields x --to csv "$T/again.xs" | md5sum)"
xfer-project --repulsion bh --seed 4 -j 2 "$T/b.xs" -o "$T/other.xs" 2>/dev/null
if [ "$(xfer-cat --fields x --to csv "$T/t-bh.xs" | md5sum)" = "$(xfer-cat --fields x --to csv "$T/other.xs" | md5sum)" ]
then fail "another seed gives another embedding"; else pass "another seed gives another embedding"; fi
same "the KL is reported at the end" yes "$(grep -q 'KL divergence [0-9.]* after 750 iterations' "$T/t-bh.err" && echo yes)"
xfer-project -v --iters 100 --seed 3 "$T/b.xs" -o /dev/null 2>"$T/v.err"
same "-v reports the KL every 50 iterations" 2 "$(grep -c 'iteration [0-9]*: KL divergence' "$T/v.err")"
xfer-project -q --seed 3 "$T/b.xs" -o /dev/null 2>"$T/q.err"
same "-q is quiet" "" "$(cat "$T/q.err")"
xfer-project --dim 3 --iters 300 --seed 3 "$T/b.xs" -o "$T/t3.xs" 2>/dev/null
same "--dim 3 gives three coordinates" "x <f4 [3]" "$(xfer-cat --info "$T/t3.xs" | awk '$1 == "x" {print $1, $2, $3}')"
xfer-project --profile sklearn --iters 300 --seed 3 "$T/b.xs" -o /dev/null 2>/dev/null
check "--profile sklearn runs" true
xfer-project --profile fitsne --dof 0.5 --iters 300 --seed 3 "$T/b.xs" -o /dev/null 2>/dev/null
check "--profile fitsne with heavy tails runs" true

# Small N lowers the perplexity, saying so; duplicates and constant features are fine.
xfer-pack x="$T/small-x.npy" -o "$T/small.xs"
xfer-project -v --iters 100 "$T/small.xs" -o "$T/small-out.xs" 2>"$T/small.err"
same "10 points: the perplexity is lowered to 3, with a note" yes \
	"$(grep -q 'perplexity 30 needs 90 neighbours, 10 points have 9: using 3' "$T/small.err" && echo yes)"
xfer-pack x="$T/dup-x.npy" -o "$T/dup.xs"
check "exact duplicates (5 copies of each point) embed" xfer-project --iters 200 -q "$T/dup.xs" -o "$T/dup-out.xs"
same "duplicates give finite coordinates" 0 "$(xfer-cat --info "$T/dup-out.xs" | awk '$1 == "x" {print $7 + $8}')"
xfer-pack x="$T/const-x.npy" -o "$T/const.xs"
check "constant features embed (all points alike)" xfer-project --iters 100 -q "$T/const.xs" -o "$T/const-out.xs"

# Plots.
check "--plot writes a PNG" xfer-project --method pca --plot "$T/p.png" --title blobs "$T/b.xs" -o /dev/null
same "it is a PNG" yes "$(head -c 8 "$T/p.png" | od -An -c | grep -q 'P   N   G' && echo yes)"
check "--plot writes an SVG" xfer-project --method pca --plot "$T/p.svg" "$T/b.xs" -o /dev/null
same "with one circle per point" 300 "$(grep -o '<circle' "$T/p.svg" | wc -l | tr -d ' ')"
expect_fail 1 "an unwritable plot fails" xfer-project --method pca --plot "$T/no/such/dir/p.png" "$T/b.xs" -o "$T/np.xs"
same "and leaves no output" no "$([ -e "$T/np.xs" ] && echo yes || echo no)"

# Feature to image: fit a layout on half the rows, apply it to the other half; the images
# equal those of the fitting run's layout applied directly; PNGs in a tar.
xfer-cat --rows 0:150 "$T/b.xs" -o "$T/train.xs"
xfer-cat --rows 150:300 "$T/b.xs" -o "$T/test.xs"
xfer-project --image 6x5 --save-layout "$T/layout.xs" --images-to "$T/train.tar" "$T/train.xs" -o "$T/train-img.xs"
same "images are float32 [1, 6, 5]" "x <f4 [1,6,5]" "$(xfer-cat --info "$T/train-img.xs" | awk '$1 == "x" {print $1, $2, $3 $4 $5}')"
same "the layout has a row per feature" 12 "$(xfer-cat --info "$T/layout.xs" | sed -n 's/.*table, \([0-9]*\) rows.*/\1/p')"
xfer-project --layout "$T/layout.xs" "$T/train.xs" -o "$T/train-again.xs"
same "the saved layout reproduces the fitting run's images" "$(xfer-cat --to csv "$T/train-img.xs" | md5sum)" \
	"$(xfer-cat --to csv "$T/train-again.xs" | md5sum)"
xfer-project --layout "$T/layout.xs" --channels 3 "$T/test.xs" -o "$T/test-img.xs"
same "test rows become images, gray in 3 channels" "x <f4 [3,6,5]" \
	"$(xfer-cat --info "$T/test-img.xs" | awk '$1 == "x" {print $1, $2, $3 $4 $5}')"
same "pixels are the means of their features' min-max values, checked in numpy" agree "$("$PY" - "$T" <<'PY'
import sys, numpy as np, subprocess
t = sys.argv[1]
def npy(stream, field, out):
    subprocess.run(["xfer-cat", "--fields", field, "--to", "npy", stream, "-o", out], check=True)
    return np.load(out)
row, col = npy(f"{t}/layout.xs", "row", f"{t}/r.npy"), npy(f"{t}/layout.xs", "col", f"{t}/c.npy")
train, test = np.load(f"{t}/b-x.npy")[:150].astype(float), np.load(f"{t}/b-x.npy")[150:].astype(float)
lo, hi = train.min(0), train.max(0)
v = np.clip((test - lo) / (hi - lo), 0, 1)
want = np.zeros((150, 6, 5)); cnt = np.zeros((6, 5))
for j in range(12):
    want[:, row[j], col[j]] += v[:, j]; cnt[row[j], col[j]] += 1
want = np.where(cnt > 0, want / np.maximum(cnt, 1), 0)
got = npy(f"{t}/test-img.xs", "x", f"{t}/img.npy")
ok = got.shape == (150, 3, 6, 5) and np.allclose(got[:, 0], want, atol=1e-6) and (got[:, 0] == got[:, 2]).all()
print("agree" if ok else f"max error {np.abs(got[:, 0] - want).max()}")
PY
)"
same "--images-to writes a PNG per row, named by label" "150 000000-0.png" \
	"$(tar -tf "$T/train.tar" | wc -l | tr -d ' ') $(tar -tf "$T/train.tar" | head -n 1)"
xfer-pack x="$T/small-x.npy" -o "$T/narrow.xs"
"$PY" -c "import numpy as np; np.save('$T/w-x.npy', np.ones((4, 7), '<f4'))"
xfer-pack x="$T/w-x.npy" -o "$T/w.xs"
expect_fail 1 "a layout for another number of features is refused" xfer-project --layout "$T/layout.xs" "$T/w.xs"
stderr_has "naming both counts" "*12 features*has 7*"

# Bad input and usage.
xfer-pack x="$T/nan-x.npy" -o "$T/nan.xs"
expect_fail 1 "NaN features are refused" xfer-project --method pca "$T/nan.xs" -o "$T/nan-out.xs"
stderr_has "naming the place" "*row 7*NaN*"
same "no output is left behind" no "$([ -e "$T/nan-out.xs" ] && echo yes || echo no)"
expect_fail 1 "NaN features are refused by t-SNE" xfer-project "$T/nan.xs"
"$PY" -c "import numpy as np; np.save('$T/one-x.npy', np.ones((1, 4), '<f4'))"
xfer-pack x="$T/one-x.npy" -o "$T/one.xs"
expect_fail 1 "a single row is refused" xfer-project "$T/one.xs"
stderr_has "saying a projection needs two" "*1 rows*at least 2*"
expect_fail 1 "a missing field is named" xfer-project --field z "$T/b.xs"
stderr_has "naming it" "*no field 'z'*"
"$PY" -c "import numpy as np; np.save('$T/two-x.npy', np.arange(20, dtype='<f4').reshape(10, 2) ** 2)"
xfer-pack x="$T/two-x.npy" -o "$T/two.xs"
expect_fail 1 "PCA to more dimensions than features is refused" xfer-project --method pca --dim 3 "$T/two.xs"
stderr_has "saying how many" "*3 components of 10 rows with 2 features*"
expect_fail 2 "--dim 4 is a usage error" xfer-project --dim 4 "$T/b.xs"
expect_fail 2 "FFT repulsion in 3-D is a usage error" xfer-project --dim 3 --repulsion fft "$T/b.xs"
expect_fail 2 "an unknown method is a usage error" xfer-project --method umap "$T/b.xs"
expect_fail 2 "--image with a bad size is a usage error" xfer-project --image 8 "$T/b.xs"
expect_fail 2 "--save-layout without --image is a usage error" xfer-project --save-layout "$T/l.xs" "$T/b.xs"
expect_fail 1 "empty input fails" xfer-project /dev/null
finish
