/*
 * xfer-cat: inspect, validate, slice, shard, concatenate and export xfer streams.
 * Reads streams (default stdin), writes a stream (or text) to stdout. See xfer-cat(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catout.h"
#include "prog.h"
#include "select.h"

static const char synopsis[] =
	"usage: xfer-cat [--info | --check | --to npy|npz|csv|jsonl] [--head N | --rows A:B] [--shard I/N]\n"
	"                [--fields LIST] [-o FILE] [-z[LEVEL]] [-q] [-v] [FILE...]\n";

static const char help[] =
	"usage: xfer-cat [--info | --check | --to npy|npz|csv|jsonl] [--head N | --rows A:B] [--shard I/N]\n"
	"                [--fields LIST] [-o FILE] [-z[LEVEL]] [-q] [-v] [FILE...]\n"
	"\n"
	"Read xfer streams (stdin when no FILE or FILE is -; zstd is detected) and write them\n"
	"to stdout as one stream. Consecutive segments with the same fields become one segment,\n"
	"so shards put back together with cat read as one table.\n"
	"\n"
	"Modes:\n"
	"      --info            describe the input: segments, fields, dtypes, shapes, rows,\n"
	"                        per-field min/mean/max and NaN/Inf counts, classes, history\n"
	"      --check           read and validate everything; exit 1 with the reason if the\n"
	"                        input is malformed or truncated; no output\n"
	"      --to FORMAT       export: npy (one field), npz (all fields, or a model's tensors),\n"
	"                        csv (shaped fields flattened to NAME_0, NAME_1...), jsonl\n"
	"Selection (rows are counted across all inputs, from 0):\n"
	"      --head N          the first N rows\n"
	"      --rows A:B        rows A to B-1 (A: and :B too)\n"
	"      --shard I/N       shard I of N (0 <= I < N): a contiguous block, shards differ in\n"
	"                        size by at most one row; needs files (rows are counted first)\n"
	"      --fields LIST     only these fields (or model tensors), in this order: x,y\n"
	"                        (a model keeps its graph only when all its tensors are kept)\n"
	"Common options:\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -z, --zstd[=LEVEL]    compress the output stream with zstd (default level 3; on for *.zst)\n"
	"  -f, --force           write binary data even to a terminal\n"
	"  -j, --threads N       zstd worker threads (default: all cores)\n"
	"  -q, --quiet           only errors;  -v, --verbose: a summary at the end\n"
	"      --progress, --no-progress   progress on stderr (default: when it is a terminal)\n"
	"  -h, --help            this text;  -V, --version\n"
	"\n"
	"Examples:\n"
	"  xfer-cat --info digits.xs\n"
	"  xfer-cat --shard \"$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT\" digits.xs -o part.xs\n"
	"  cat part-*.xs | xfer-cat --check\n"
	"  xfer-cat --fields x,y --head 100 digits.xs --to npz -o first100.npz\n"
	"\n"
	"Exit status: 0 success, 1 bad data or runtime failure, 2 bad usage.\n";

enum { OPT_INFO = PROG_OPT_FIRST_FREE, OPT_CHECK, OPT_TO, OPT_HEAD, OPT_ROWS, OPT_SHARD, OPT_FIELDS };

struct cat_opts {
	struct prog_common common;
	struct xf_catout_opts out;
	bool has_head, has_rows;
	const char *shard;
	char **inputs;
	int n_inputs;
};

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static void parse_options(int argc, char **argv, struct cat_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "info", no_argument, NULL, OPT_INFO }, { "check", no_argument, NULL, OPT_CHECK },
		{ "to", required_argument, NULL, OPT_TO }, { "head", required_argument, NULL, OPT_HEAD },
		{ "rows", required_argument, NULL, OPT_ROWS }, { "shard", required_argument, NULL, OPT_SHARD },
		{ "fields", required_argument, NULL, OPT_FIELDS }, { NULL, 0, NULL, 0 }
	};
	struct xf_err err = XF_ERR_INIT;
	int opt, modes = 0;
	static char *stdin_only[] = { "-" };

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT, longopts, NULL)) != -1) {
		if (prog_common_option(opt, optarg, &o->common))
			continue;
		switch (opt) {
		case OPT_INFO: o->out.mode = XF_CATOUT_INFO, modes++; break;
		case OPT_CHECK: o->out.mode = XF_CATOUT_CHECK, modes++; break;
		case OPT_TO:
			if (xf_catout_parse_format(optarg, &o->out.mode) < 0)
				usage_error("--to: unknown format '%s' (npy, npz, csv, jsonl)", optarg);
			modes++;
			break;
		case OPT_HEAD:
			o->out.rows.end = prog_parse_int("--head", optarg, 0, INT64_MAX);
			o->has_head = true;
			break;
		case OPT_ROWS:
			if (xf_rowsel_parse(optarg, &o->out.rows, &err) < 0)
				usage_error("--rows: %s", err.msg);
			o->has_rows = true;
			break;
		case OPT_SHARD: o->shard = optarg; break;
		case OPT_FIELDS: o->out.fields = optarg; break;
		}
	}
	if (modes > 1)
		usage_error("give at most one of --info, --check and --to");
	if (o->common.zstd_level && o->out.mode != XF_CATOUT_STREAM)
		usage_error("-z compresses streams; it does not apply to --info, --check or --to");
	if (o->out.mode != XF_CATOUT_STREAM && o->common.output && has_suffix(o->common.output, ".zst"))
		usage_error("-o NAME.zst compresses streams; it does not apply to --info, --check or --to");
	if (o->has_head && o->has_rows)
		usage_error("give --head or --rows, not both");
	if ((o->has_head || o->has_rows) && o->shard)
		usage_error("--shard cannot be combined with --head or --rows");
	o->inputs = optind < argc ? argv + optind : stdin_only;
	o->n_inputs = optind < argc ? argc - optind : 1;
}

/* Rows in all samples and table segments of all inputs, for --shard. */
static int64_t count_rows(const struct cat_opts *o)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_frame f;
	int64_t total = 0;
	int rc;

	for (int i = 0; i < o->n_inputs; i++) {
		struct xf_reader *r;

		if (!strcmp(o->inputs[i], "-"))
			usage_error("--shard counts rows before it starts, so it needs files, not stdin");
		r = prog_open_reader(o->inputs[i]);
		while ((rc = xf_reader_next(r, &f, &err)) > 0) {
			if (f.type == XF_FRAME_END && xf_reader_header(r)->kind != XF_KIND_MODEL)
				total += f.count;
			xf_frame_release(&f);
		}
		if (rc < 0)
			die_err(&err);
		xf_reader_close(r);
	}
	return total;
}

static void set_shard(struct cat_opts *o)
{
	struct xf_err err = XF_ERR_INIT;
	int64_t index, count;

	if (xf_shard_parse(o->shard, &index, &count, &err) < 0)
		usage_error("--shard: %s", err.msg);
	xf_shard_range(index, count, count_rows(o), &o->out.rows);
	note(3, "shard %lld/%lld: rows %lld:%lld", (long long)index, (long long)count,
	     (long long)o->out.rows.begin, (long long)o->out.rows.end);
}

/* Feed one input's frames to the output; returns false once no more rows can be wanted. */
static bool cat_one_input(const char *path, struct xf_catout *out, struct prog_progress *progress)
{
	struct xf_reader *r = prog_open_reader(path);
	struct xf_err err = XF_ERR_INIT;
	struct xf_frame f;
	bool more = true;
	int rc;

	while (more && (rc = xf_reader_next(r, &f, &err)) > 0) {
		more = xf_catout_frame(out, xf_reader_header(r), &f, &err);
		xf_frame_release(&f);
		if (!more && err.code)
			die_err(&err);
		prog_progress_update(progress, (long long)xf_reader_offset(r));
	}
	if (more && rc < 0)
		die_err(&err);
	if (more && xf_reader_segments(r) == 0)
		die("%s: empty input (no stream)", xf_reader_name(r));
	xf_reader_close(r);
	return more;
}

int main(int argc, char **argv)
{
	struct cat_opts o = { PROG_COMMON_INIT, XF_CATOUT_OPTS_INIT, false, false, NULL, NULL, 0 };
	struct prog_progress *progress;
	struct prog_output *output;
	struct xf_err err = XF_ERR_INIT;
	struct xf_catout *out;

	prog_init("xfer-cat", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	o.out.argc = argc;
	o.out.argv = argv;
	if (o.shard)
		set_shard(&o);
	output = o.out.mode == XF_CATOUT_CHECK ? NULL : prog_open_output(&o.common, xf_catout_is_binary(o.out.mode));
	if (output) {
		o.out.export_fd = prog_output_fd(output);
		o.out.export_name = prog_output_name(output);
	}
	out = xf_catout_new(&o.out, output ? prog_output_sink(output) : NULL, &err);
	if (!out)
		die_err(&err);
	progress = prog_progress_start(&o.common, "bytes read", 0);
	for (int i = 0; i < o.n_inputs && cat_one_input(o.inputs[i], out, progress); i++)
		;
	prog_progress_done(progress);
	if (xf_catout_finish(out, &err) < 0)
		die_err(&err);
	note(2, "%lld segments in, %lld rows out", (long long)xf_catout_segments_in(out), (long long)xf_catout_rows_out(out));
	xf_catout_free(out);
	if (output)
		prog_close_output(output);
	return 0;
}
