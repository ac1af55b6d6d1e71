# split.awk - the digits' CSV (xfer-cat --to csv: x_0 ... x_783, y) to PGM images in CLASS/ROW
# folders that xfer-pack packs back (labels 0.. in increasing digit order, class names the
# digits): dir/source (training rows of the source digits), dir/few (K training rows per
# target digit: the seed-th K of each in row order) and dir/test (test rows of the target
# digits). Rows before `ntrain` are training rows. Used by pipelines/zoo.sh:
#   xfer-cat --to csv DATA | awk -F, -f split.awk -v src="0 1 2 3 4" -v tgt="5 6 7 8 9" \
#       -v k=20 -v seed=0 -v ntrain=8000 -v dir=OUT
BEGIN {
	ns = split(src, s, " ")
	nt = split(tgt, t, " ")
	mk = "mkdir -p"
	for (i = 1; i <= ns; i++) {
		is_src[s[i]] = 1
		mk = mk " " dir "/source/" s[i]
	}
	for (i = 1; i <= nt; i++) {
		is_tgt[t[i]] = 1
		mk = mk " " dir "/few/" t[i] " " dir "/test/" t[i]
	}
	if (system(mk) != 0)
		exit 1
}
NR == 1 {
	for (i = 1; i <= NF; i++)
		if ($i == "y")
			ycol = i
		else if ($i ~ /^x_/)
			npix++
	side = int(sqrt(npix) + 0.5)
	if (!ycol || npix == 0 || side * side != npix || $1 != "x_0") {
		print "split.awk: want columns x_0 ... x_N (a square image) and y" > "/dev/stderr"
		bad = 1
		exit 1
	}
	next
}
{
	r = NR - 2
	y = $ycol
	d = ""
	if (r < ntrain && (y in is_src))
		d = "source"
	else if (r < ntrain && (y in is_tgt)) {
		i = seen[y]++
		if (i >= seed * k && i < (seed + 1) * k)
			d = "few"
	} else if (r >= ntrain && (y in is_tgt))
		d = "test"
	if (d == "")
		next
	n[d, y]++
	line = $1
	for (i = 2; i <= npix; i++)
		line = line ((i - 1) % side ? " " : "\n") $i
	f = sprintf("%s/%s/%s/%06d.pgm", dir, d, y, r)
	printf "P2\n%d %d\n255\n%s\n", side, side, line > f
	close(f)
}
END {
	if (bad)
		exit 1
	for (i = 1; i <= ns; i++)
		if (!n["source", s[i]])
			miss = miss " source digit " s[i]
	for (i = 1; i <= nt; i++) {
		if (n["few", t[i]] < k)
			miss = miss " " k " labelled rows of digit " t[i] " (" n["few", t[i]] + 0 ")"
		if (!n["test", t[i]])
			miss = miss " test rows of digit " t[i]
	}
	if (miss != "") {
		print "split.awk: the data lacks" miss > "/dev/stderr"
		exit 1
	}
}
