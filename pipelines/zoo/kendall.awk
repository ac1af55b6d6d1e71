# kendall.awk - Kendall's tau-b of two rankings, as an awk function (scipy.stats.kendalltau's
# default): (concordant - discordant) / sqrt((P - ties in x) (P - ties in y)) over the
# P = n(n-1)/2 pairs, a pair tied in both counting in both tie sums. Used by report.awk:
#   awk -f pipelines/zoo/kendall.awk -f YOUR.awk   (x[1..n] and y[1..n] numbers)
# Returns "nan" when either ranking is constant or n < 2.
function tau_b(n, x, y,    i, j, dx, dy, nc, nd, tx, ty, pairs) {
	nc = nd = tx = ty = 0
	for (i = 1; i < n; i++)
		for (j = i + 1; j <= n; j++) {
			dx = x[i] - x[j]
			dy = y[i] - y[j]
			if (dx == 0)
				tx++
			if (dy == 0)
				ty++
			if (dx * dy > 0)
				nc++
			else if (dx * dy < 0)
				nd++
		}
	pairs = n * (n - 1) / 2
	if (pairs - tx <= 0 || pairs - ty <= 0)
		return "nan"
	return (nc - nd) / sqrt((pairs - tx) * (pairs - ty))
}
