# report.awk - the ranking table of pipelines/zoo.sh: each candidate's truth (probe and
# fine-tuning accuracy) and every metric's value, each metric's Kendall tau-b against each
# truth, and the candidate that the chosen metric puts first. Needs kendall.awk:
#   awk -F'\t' -f kendall.awk -f report.awk -v choose=logme -v table=T.tsv -v taus=TAU.tsv \
#       truth.tsv scores.tsv
# truth.tsv: candidate, probe, finetune ("-": not measured), a header line, in zoo order;
# scores.tsv: xfer-score --format tsv (candidate, metric, value, rank). A metric's direction
# is xfer-score's: lower is better where its rank 1 holds the smallest value, and such values
# are negated for tau, so tau > 0 always means "agrees with the truth". Candidates that are
# not in truth.tsv (ensembles) are left out.
function num(v) { return v ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
function cell(v) { return num(v) ? sprintf("%8.3g", v) : sprintf("%8s", v == "" ? "-" : v) }
# Kendall tau of metric m's values (oriented) against truth column tc, over the candidates that
# have both; sets n_used.
function tau_of(m, tc,    i, c, nn, x, y) {
	nn = 0
	for (i = 1; i <= nc; i++) {
		c = cand[i]
		if (!((m, c) in val) || !num(val[m, c]) || !num(truth[c, tc]))
			continue
		nn++
		x[nn] = lower[m] ? -val[m, c] : val[m, c]
		y[nn] = truth[c, tc]
	}
	n_used = nn
	return nn < 2 ? "nan" : tau_b(nn, x, y)
}
function short(m) {
	if (m == "logme_exact") return "logme_x"
	if (m == "hscore_shrinkage") return "hscore_s"
	if (m == "gbc_spherical") return "gbc_sph"
	return substr(m, 1, 8)
}
FNR == 1 { file++; next }
file == 1 {
	cand[++nc] = $1
	is_cand[$1] = 1
	truth[$1, 1] = $2
	truth[$1, 2] = $3
	next
}
file == 2 && ($1 in is_cand) {
	if (!($2 in seen)) {
		seen[$2] = 1
		metric[++nm] = $2
	}
	val[$2, $1] = $3
	if (!num($3))
		next
	if ($4 == 1)
		first[$2] = $3 + 0
	if (!($2 in lo) || $3 + 0 < lo[$2]) lo[$2] = $3 + 0
	if (!($2 in hi) || $3 + 0 > hi[$2]) hi[$2] = $3 + 0
	if ($4 == 1)
		top[$2] = $1
}
END {
	for (j = 1; j <= nm; j++) {
		m = metric[j]
		lower[m] = (m in first) && first[m] == lo[m] && lo[m] < hi[m]
	}
	# table.tsv: one row per candidate; tau.tsv: one row per metric
	line = "candidate\tprobe\tfinetune"
	for (j = 1; j <= nm; j++)
		line = line "\t" metric[j]
	print line > table
	for (i = 1; i <= nc; i++) {
		c = cand[i]
		line = c "\t" truth[c, 1] "\t" truth[c, 2]
		for (j = 1; j <= nm; j++)
			line = line "\t" (((metric[j], c) in val) ? val[metric[j], c] : "-")
		print line > table
	}
	print "metric\ttau_probe\tn_probe\ttau_finetune\tn_finetune\tlower_is_better" > taus
	for (j = 1; j <= nm; j++) {
		m = metric[j]
		t1[m] = tau_of(m, 1); n1[m] = n_used
		t2[m] = tau_of(m, 2); n2[m] = n_used
		printf "%s\t%s\t%d\t%s\t%d\t%d\n", m, t1[m], n1[m], t2[m], n2[m], lower[m] > taus
	}

	# the table for people
	w = 4
	for (i = 1; i <= nc; i++)
		if (length(cand[i]) > w) w = length(cand[i])
	line = sprintf("%-" w "s %8s %8s ", "candidate", "probe", "finetune")
	for (j = 1; j <= nm; j++)
		line = line sprintf(" %8s", short(metric[j]))
	print line
	for (i = 1; i <= nc; i++) {
		c = cand[i]
		line = sprintf("%-" w "s %s %s ", c, cell(truth[c, 1]), cell(truth[c, 2]))
		for (j = 1; j <= nm; j++)
			line = line " " cell(val[metric[j], c])
		print line
	}
	line = sprintf("%-" w "s %8s %8s ", "tau vs probe", "", "")
	for (j = 1; j <= nm; j++)
		line = line " " cell(t1[metric[j]] == "nan" ? "-" : sprintf("%.2f", t1[metric[j]]))
	print line
	line = sprintf("%-" w "s %8s %8s ", "tau vs finetune", "", "")
	for (j = 1; j <= nm; j++)
		line = line " " cell(t2[metric[j]] == "nan" ? "-" : sprintf("%.2f", t2[metric[j]]))
	print line
	printf "(lower is better:"
	for (j = 1; j <= nm; j++)
		if (lower[metric[j]]) printf " %s", metric[j]
	printf "; tau over the candidates a metric scores: leep, nce, accuracy, nll need a source model's probabilities)\n"

	# the truth's best, the choice, the metric that would have been best in hindsight
	for (i = 1; i <= nc; i++)
		if (num(truth[cand[i], 1]) && (best == "" || truth[cand[i], 1] > truth[best, 1]))
			best = cand[i]
	for (j = 1; j <= nm; j++)
		if (t1[metric[j]] != "nan" && (hind == "" || t1[metric[j]] > t1[hind]))
			hind = metric[j]
	printf "best by probe accuracy: %s (%s)\n", best, truth[best, 1]
	if (!(choose in top)) {
		printf "report.awk: no values of the metric %s\n", choose > "/dev/stderr"
		exit 1
	}
	c = top[choose]
	share = (num(truth[c, 1]) && truth[best, 1] > 0) ? sprintf("%.1f%%", 100 * truth[c, 1] / truth[best, 1]) : "-"
	printf "chosen by %s: %s (probe %s, fine-tuned %s; %s of the best probe)\n", choose, c, truth[c, 1],
		truth[c, 2], share
	if (hind != "")
		printf "best metric here: %s (tau %.2f vs probe; its choice: %s, probe %s)\n", hind, t1[hind], top[hind],
			truth[top[hind], 1]
}
