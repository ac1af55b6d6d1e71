#!/bin/sh
# xfer-prune end to end: DP4TL's label and feature mapping on hand-checked cases, the coreset
# methods through the program (their hand-checked cases are in tests/unit/test-prune.c), file
# and stdin inputs, --indices, determinism, and bad input.
. "$(dirname "$0")/../lib.sh"

if ! has_python; then
	skip_oracle "/usr/bin/python3 with numpy and msgpack is needed"
	finish
	exit 0
fi
# Source: 12 rows, classes 0-3 (3 rows each, interleaved), 1-D feature = 10 class + row/100.
# Target predictions over the 4 source classes: argmax 2, 2, 1, 2, 1 (class 2: 3 votes, 1: 2).
"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
y = np.arange(12) % 4
x = (10.0 * y + np.arange(12) / 100.0).astype("<f4")[:, None]
np.save(t + "/sx.npy", x); np.save(t + "/sy.npy", y.astype("<i8"))
np.save(t + "/sid.npy", np.arange(100, 112).astype("<i8"))
p = np.full((5, 4), 0.1, "<f4")
for i, c in enumerate([2, 2, 1, 2, 1]):
    p[i, c] = 0.7
np.save(t + "/tp.npy", p)
np.save(t + "/tp5.npy", np.c_[p, np.zeros(5, "<f4")])
np.save(t + "/tx.npy", np.array([[30.2], [29.9], [10.1], [31.0], [10.3]], "<f4"))   # votes: 3, 3, 1, 3, 1
PY
xfer-pack x="$T/sx.npy" y="$T/sy.npy" id="$T/sid.npy" -o "$T/src.xs"
xfer-pack probs="$T/tp.npy" -o "$T/tpred.xs"
xfer-pack probs="$T/tp5.npy" -o "$T/tpred5.xs"
xfer-pack x="$T/tx.npy" -o "$T/tfeat.xs"
ids() { "$PY" -c 'import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
print(" ".join(str(v) for v in (np.concatenate([f["cols"][sys.argv[1]] for f in b]) if b else [])))' "${1:-id}"; }

same "lm --keep 2: the two classes the target predicts most (2, then 1), every row of them" \
	"101 102 105 106 109 110" "$(xfer-prune -q --method lm --keep 2 --target "$T/tpred.xs" "$T/src.xs" | ids)"
same "lm --keep 0.75: 3 of 4 classes; class 0 wins the tie at 0 votes against 3 (lower index)" \
	"100 101 102 104 105 106 108 109 110" "$(xfer-prune -q --method lm --keep 0.75 --target "$T/tpred.xs" "$T/src.xs" | ids)"
same "lm --indices: index, group (class) and score (its votes)" "1 1 2 2 2 3 5 1 2" \
	"$(xfer-prune -q --method lm --keep 2 --indices --target "$T/tpred.xs" "$T/src.xs" | xfer-cat --head 3 --to csv | tail -n +2 | tr ',\n' '  ' | sed 's/ $//')"
same "fm --groups labels: the classes nearest to most target features (3: 3 votes, 1: 2)" \
	"101 103 105 107 109 111" "$(xfer-prune -q --method fm --groups labels --keep 2 --target "$T/tfeat.xs" "$T/src.xs" | ids)"
same "fm with k-means (4 clusters = the 4 classes here): the same choice" \
	"101 103 105 107 109 111" "$(xfer-prune -q --method fm --clusters 4 --keep 2 --seed 1 --target "$T/tfeat.xs" "$T/src.xs" | ids)"
same "the same rows from stdin as from the file" \
	"$(xfer-prune -q --method lm --keep 2 --target "$T/tpred.xs" "$T/src.xs" | ids)" \
	"$(xfer-prune -q --method lm --keep 2 --target "$T/tpred.xs" <"$T/src.xs" | ids)"
same "every field carried, the meta records the pruning" "x y id|lm 6 12 2" \
	"$(xfer-prune -q --method lm --keep 2 --target "$T/tpred.xs" "$T/src.xs" | xfer-cat --info | awk '/<f4|<i8/ {printf "%s ", $1}' | sed 's/ $//')|$(xfer-prune -q --method lm --keep 2 --target "$T/tpred.xs" "$T/src.xs" | "$PY" -c 'import sys, msgpack; h = next(iter(msgpack.Unpacker(sys.stdin.buffer, raw=False))); p = h["meta"]["prune"]; print(p["method"], p["kept"], p["rows"], p["groups_kept"])')"
xfer-prune --method random --keep 5 --seed 3 "$T/src.xs" -o "$T/r1.xs" 2>"$T/r.err"
xfer-prune -q --method random --keep 5 --seed 3 "$T/src.xs" -o "$T/r2.xs"
same "random --keep 5: five rows, the same with the same seed" "5 yes" \
	"$(ids <"$T/r1.xs" | wc -w) $([ "$(ids <"$T/r1.xs")" = "$(ids <"$T/r2.xs")" ] && echo yes || echo no)"
same "the summary on stderr" "xfer-prune: random: kept 5 of 12 rows (41.7%)" "$(cat "$T/r.err")"
same "random --keep 0.5 --per-class: half of each class (round half to even: 2 of 3)" "2 2 2 2" \
	"$(xfer-prune -q --method random --keep 0.5 --per-class "$T/src.xs" | ids y | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s ", $1}' | sed 's/ $//')"
for m in kcenter herding moderate codebook; do
	rows=$(xfer-prune -q --method "$m" --keep 6 --clusters 2 "$T/src.xs" | ids | wc -w)
	same "$m --keep 6 through the program: 6 rows" 6 "$rows"
done

same "codebook, mini-batch k-means, 4 clusters of 3: ceil(0.5 x 3) = 2 rows each" 8 \
	"$(xfer-prune -q --method codebook --keep 0.5 --clusters 4 --minibatch 4 "$T/src.xs" | ids | wc -w)"
same "kcenter --indices: the seeded first row has no score, the next the largest distance" "nan" \
	"$(xfer-prune -q --method kcenter --keep 3 --indices --seed 2 "$T/src.xs" | xfer-cat --to csv | awk -F, 'NR > 1 && $3 == "nan" {print $3}' | head -1)"
# semdedup on directions: rows 0-3 point the same way (cosine 1), 4-5 nearly (cosine > 0.999), 6-9 apart.
"$PY" -c 'import numpy as np
a = np.linspace(0, 1.5, 6)
x = np.c_[np.cos(a), np.sin(a)]; x = np.r_[np.repeat(x[:1], 4, 0), x[1:2], x[1:2] * [1, 1.001], x[2:]].astype("<f4")
np.save("'"$T"'/dup.npy", x)'
xfer-pack x="$T/dup.npy" -o "$T/dup.xs"
same "semdedup --eps 0.01: one of the four copies and one of the near pair survive (10 rows -> 6)" 6 \
	"$(xfer-prune -q --method semdedup --eps 0.01 --clusters 1 "$T/dup.xs" --indices | ids index | wc -w)"
same "semdedup --keep 7: eps chosen to keep 7 rows" 7 \
	"$(xfer-prune -q --method semdedup --keep 7 --clusters 1 "$T/dup.xs" --indices | ids index | wc -w)"

# ---- bad input ----
expect_fail 1 "--keep larger than the data" xfer-prune --method kcenter --keep 20 "$T/src.xs"
stderr_has "... says so" "*--keep 20 rows, the data has 12*"
expect_fail 1 "lm: target predictions over classes the source does not have" \
	xfer-prune --method lm --keep 2 --target "$T/tpred5.xs" "$T/src.xs"
stderr_has "... says so" "*the predictions cover 5 classes, the source labels 4*"
expect_fail 1 "lm: --keep more classes than there are" xfer-prune --method lm --keep 5 --target "$T/tpred.xs" "$T/src.xs"
expect_fail 1 "fm: target features of another width" xfer-prune --method fm --keep 2 --target "$T/tpred.xs" --target-field probs "$T/src.xs"
"$PY" -c 'import numpy as np; x = np.load("'"$T"'/sx.npy"); x[4, 0] = np.nan; np.save("'"$T"'/nan.npy", x)'
xfer-pack x="$T/nan.npy" y="$T/sy.npy" -o "$T/nan.xs"
expect_fail 1 "NaN in the features" xfer-prune --method kcenter --keep 3 "$T/nan.xs" -o "$T/never.xs"
stderr_has "... names the row" "*row 4 holds NaN*"
same "... and leaves no file" no "$([ -e "$T/never.xs" ] && echo yes || echo no)"
expect_fail 1 "moderate without labels" xfer-prune --method moderate --keep 3 --labels nope "$T/src.xs"
expect_fail 2 "no --method" xfer-prune --keep 3 "$T/src.xs"
expect_fail 2 "no --keep" xfer-prune --method kcenter "$T/src.xs"
expect_fail 2 "lm without --target" xfer-prune --method lm --keep 2 "$T/src.xs"
expect_fail 2 "--keep 1.5" xfer-prune --method random --keep 1.5 "$T/src.xs"
: >"$T/empty.xs"
expect_fail 1 "empty input" xfer-prune --method random --keep 1 "$T/empty.xs"
finish
