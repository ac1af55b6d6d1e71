# helpopts.awk: read a program's --help text and print its options, one line each, tab-separated:
#
#   NAME  ARG  ALIAS  CHOICES  FLAGS  LINE  DESCRIPTION
#
#   NAME         --long or -s, as the help spells it
#   ARG          the argument as the option table shows it ("FILE", "softmax|ridge|ARCH.json" when
#                the option has a line per value); "[=LEVEL]" when optional and attached; empty
#                when the option takes none
#   ALIAS        the other spelling of the same option ("-o, --output FILE"), else empty
#   CHOICES      space-separated values the help names for the argument: the lower-case words of
#                "a|b|c" in the synopsis or the table, and the entries of a section named after
#                an upper-case placeholder (METRIC -> "Metrics:")
#   FLAGS        f: the argument names a file (FILE, MODEL, BASE, ARCH, DIR); l: a comma list
#   LINE         the help line of the option's first table entry (0: only in the synopsis)
#   DESCRIPTION  the table's text for that line, continuation lines joined
#
# Used by tools/mkman (man page OPTIONS headings, and entries for options the page does not
# describe) and tools/mkcompletion (bash completion), so both follow --help. POSIX awk (mawk).

function add_name(name) {
	if (!(name in seen)) {
		seen[name] = 1
		order[++n_names] = name
		first_line[name] = 0
	}
}

# Remove the synopsis's closing brackets and repetition marks from an argument: "FILE]" -> FILE,
# "FIELD[:W]]..." -> FIELD[:W], "N,...]" -> N,...; and a description's trailing punctuation.
function clean_arg(t,    opens, closes, tmp) {
	for (;;) {
		sub(/[:;)]+$/, "", t)
		opens = gsub(/\[/, "[", t)
		closes = gsub(/\]/, "]", t)
		if (closes > opens && t ~ /\]$/) { t = substr(t, 1, length(t) - 1); continue }
		tmp = t
		if (t ~ /\]\.\.\.$/) { t = substr(t, 1, length(t) - 3); continue }
		if (t ~ /,$/) { t = substr(t, 1, length(t) - 1); continue }
		return t
	}
}

# Scan one line for options. Sets occ_name[1..k], occ_arg[], occ_start[], occ_end[] (just past
# the argument) and returns k.
function scan(s, is_table,    k, rest, off, pre, name, pos, after, t, arg, m, tail) {
	k = 0
	off = 0
	rest = s
	while (match(rest, /(^|[ ,;(|]|\[)--?[A-Za-z][A-Za-z0-9-]*/)) {
		pre = (RSTART > 1 || substr(rest, 1, 1) !~ /-/) ? 1 : 0
		name = substr(rest, RSTART + pre, RLENGTH - pre)
		pos = off + RSTART + pre
		if (pre && substr(rest, RSTART, 1) == "(" && name !~ /^--/) {
			# "exp(-G ...)": a formula, not an option
			off = pos + length(name) - 1
			rest = substr(s, off + 1)
			continue
		}
		after = substr(s, pos + length(name))
		# the entry's heading: the line's first option and those joined to it by ", "
		if (k == 0)
			in_head = is_table && substr(s, 1, pos - 1) ~ /^ *$/
		else
			in_head = in_head && substr(s, occ_end[k], pos - occ_end[k]) == ", "
		arg = ""
		if (after ~ /^\[/) {
			m = index(after, "]")
			arg = substr(after, 1, m)
		} else if (substr(after, 1, 1) == " " && index(" [|-", substr(after, 2, 1)) == 0) {
			t = substr(after, 2)
			m = index(t, " ")
			tail = m ? substr(t, m) : ""
			if (m)
				t = substr(t, 1, m - 1)
			if (t ~ /^[A-Z]/ || t ~ /\|/ || (in_head && (tail == "" || tail ~ /^  /)))
				arg = " " t
		}
		k++
		occ_name[k] = name
		occ_arg[k] = arg
		occ_start[k] = pos
		occ_end[k] = pos + length(name) + length(arg)
		occ_head[k] = in_head
		off = occ_end[k] - 1
		rest = substr(s, occ_end[k])
	}
	return k
}

function add_arg(name, arg) {
	if (arg == "")
		return
	all_args[name] = all_args[name] "\n" arg
}

{ line[NR] = $0 }

END {
	syn_end = NR
	for (i = 1; i <= NR; i++)
		if (line[i] == "") { syn_end = i - 1; break }
	ex_start = NR + 1
	for (i = syn_end + 1; i <= NR; i++)
		if (line[i] ~ /^Examples:/) { ex_start = i; break }

	# The option table: lines that start with spaces and an option.
	section = ""
	for (i = syn_end + 1; i < ex_start; i++) {
		s = line[i]
		if (s ~ /^[A-Z][^ ]*[ :]/ && s ~ /:$/) {
			section = tolower(s)
			sub(/[ :].*/, "", section)
			continue
		}
		if (section != "" && s ~ /^  [a-z][a-z0-9_-]* /) {
			w = s
			sub(/^  /, "", w)
			sub(/ .*/, "", w)
			section_words[section] = section_words[section] " " w
		}
		if (s !~ /^ +-/)
			continue
		k = scan(s, 1)
		for (head = 0; head < k && occ_head[head + 1]; head++)
			;
		desc = substr(s, head ? occ_end[head] : 1)
		sub(/^ +/, "", desc)
		for (j = i + 1; j < ex_start && line[j] ~ /^        +[^ -]/; j++) {
			c = line[j]
			sub(/^ +/, "", c)
			desc = desc " " c
		}
		for (o = 1; o <= k; o++) {
			name = occ_name[o]
			add_name(name)
			add_arg(name, occ_arg[o])
			a = occ_arg[o]
			sub(/^ /, "", a)
			if (a !~ /^\[/)
				a = clean_arg(a)
			if (o <= head) {
				# an option with a table line per value: --model softmax, --model ridge, ...
				if (!is_head[name])
					head_arg[name] = a
				else if (a != "" && index("|" head_arg[name] "|", "|" a "|") == 0)
					head_arg[name] = head_arg[name] == "" ? a : head_arg[name] "|" a
				if (!is_head[name]) {
					first_line[name] = i
					desc_of[name] = desc
				}
				is_head[name] = 1
			} else if (!is_head[name] && !(name in desc_of)) {
				# only named in another entry's text: "...; --labels NAME: the labels"
				head_arg[name] = a
				first_line[name] = i
				desc_of[name] = desc
			}
			# "-o, --output": a short spelling directly before a long one in a chain
			if (o < k && name ~ /^-[^-]/ && occ_name[o + 1] ~ /^--/ &&
			    substr(s, occ_end[o], occ_start[o + 1] - occ_end[o]) == ", ") {
				alias[name] = occ_name[o + 1]
				alias[occ_name[o + 1]] = name
			}
		}
	}
	for (i = 1; i <= syn_end; i++) {
		k = scan(line[i], 0)
		for (o = 1; o <= k; o++) {
			name = occ_name[o]
			add_name(name)
			add_arg(name, occ_arg[o])
			if (!(name in head_arg) && occ_arg[o] != "") {
				a = occ_arg[o]
				sub(/^ /, "", a)
				head_arg[name] = a ~ /^\[/ ? a : clean_arg(a)
			}
		}
	}

	for (i = 1; i <= n_names; i++) {
		name = order[i]
		choices = ""
		flags = ""
		na = split(all_args[name] (name in alias ? all_args[alias[name]] : ""), args, "\n")
		for (a = 1; a <= na; a++) {
			t = args[a]
			sub(/^[ =\[]+/, "", t)
			t = clean_arg(t)
			if (t ~ /,\.\.\.$/) {
				flags = flags "l"
				sub(/,\.\.\.$/, "", t)
			}
			nv = split(t, alts, "|")
			for (v = 1; v <= nv; v++) {
				w = alts[v]
				sub(/\]$/, "", w)
				if (w ~ /^[a-z0-9][a-z0-9_.-]*$/)
					choices = choices " " w
				else if (w ~ /FILE|MODEL|BASE|ARCH|DIR/)
					flags = flags "f"
				else if ((tolower(w) "s") in section_words)
					choices = choices section_words[tolower(w) "s"]
			}
		}
		# unique, in order
		nc = split(choices, cs, " ")
		choices = ""
		delete used
		for (c = 1; c <= nc; c++)
			if (!(cs[c] in used)) {
				used[cs[c]] = 1
				choices = choices == "" ? cs[c] : choices " " cs[c]
			}
		f = (flags ~ /f/ ? "f" : "") (flags ~ /l/ ? "l" : "")
		printf "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", name, head_arg[name], alias[name], choices, f,
			first_line[name], desc_of[name]
	}
}
