/*
 * xf-tool: test-only helper (not installed).
 *   xf-tool gen ramp|blobs|model [--rows N] [--dim D] [--classes K] [--seed S] [--batch-bytes B]
 *   xf-tool dump [FILE]                    stable text rendering of a stream (meta.history left out)
 *   xf-tool corrupt --truncate N | --flip OFFSET [FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prog.h"

struct gen_opts {
	const char *kind;
	int64_t rows, dim, classes, batch_bytes;
	uint64_t seed;
};

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
	return *s;
}

static void die_if(int rc, const struct xf_err *err)
{
	if (rc < 0)
		die_err(err);
}

static void gen_rows(const struct gen_opts *g, struct xf_writer *w, struct xf_header *h)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor cols[3];
	int64_t shape[2] = { g->rows, g->dim };
	uint64_t s = g->seed * 2654435761u + 1;
	char *text, **ids;
	bool blobs = !strcmp(g->kind, "blobs");

	die_if(xf_header_add_field(h, "x", XF_DTYPE_F32, 1, &g->dim, &err), &err);
	die_if(xf_tensor_alloc(&cols[0], XF_DTYPE_F32, 2, shape, &err), &err);
	if (blobs) {
		die_if(xf_header_add_field(h, "y", XF_DTYPE_I64, 0, NULL, &err), &err);
		die_if(xf_header_add_field(h, "id", XF_DTYPE_STR, 0, NULL, &err), &err);
		die_if(xf_tensor_alloc(&cols[1], XF_DTYPE_I64, 1, shape, &err), &err);
		die_if(xf_tensor_alloc_str(&cols[2], g->rows, (size_t)g->rows * 24, &text, &err), &err);
	}
	ids = cols[2].data;
	for (int64_t i = 0; i < g->rows; i++) {
		int64_t y = blobs ? (int64_t)(next_random(&s) % (uint64_t)g->classes) : 0;

		for (int64_t j = 0; j < g->dim; j++) {
			double noise = (double)(next_random(&s) >> 11) / 9007199254740992.0 - 0.5;

			((float *)cols[0].data)[i * g->dim + j] = blobs ? (float)(y * 3 + noise) : (float)(i * g->dim + j);
		}
		if (blobs) {
			((int64_t *)cols[1].data)[i] = y;
			ids[i] = text;
			text += sprintf(text, "row-%lld", (long long)i) + 1;
		}
	}
	die_if(xf_writer_begin(w, h, &err), &err);
	die_if(xf_writer_rows(w, g->rows, cols, &err), &err);
	die_if(xf_writer_end(w, &err), &err);
	for (int i = 0; i < (blobs ? 3 : 1); i++)
		xf_tensor_release(&cols[i]);
}

/* A linear classifier over dim inputs: weight [classes, dim], bias [classes]. */
static void gen_model(const struct gen_opts *g, struct xf_writer *w, struct xf_header *h)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;
	int64_t wshape[2] = { g->classes, g->dim };

	die_if(xf_header_add_field(h, "fc.weight", XF_DTYPE_F32, 2, wshape, &err), &err);
	die_if(xf_header_add_field(h, "fc.bias", XF_DTYPE_F32, 1, &g->classes, &err), &err);
	h->graph = json_pack("{s:{s:{s:[I]}}, s:[{s:s, s:s, s:[s], s:{s:s, s:s}}], s:[s]}", "inputs", "x", "shape",
			     (json_int_t)g->dim, "nodes", "name", "fc", "op", "linear", "inputs", "x", "weights", "weight",
			     "fc.weight", "bias", "fc.bias", "outputs", "fc");
	die_if(xf_writer_begin(w, h, &err), &err);
	for (int k = 0; k < 2; k++) {
		die_if(xf_tensor_alloc(&t, XF_DTYPE_F32, 2 - k, k ? &g->classes : wshape, &err), &err);
		for (int64_t i = 0; i < xf_tensor_count(&t); i++)
			((float *)t.data)[i] = (float)(i % 7) * 0.25f - k;
		die_if(xf_writer_tensor(w, k, &t, &err), &err);
		xf_tensor_release(&t);
	}
	die_if(xf_writer_end(w, &err), &err);
}

static int cmd_gen(int argc, char **argv)
{
	struct gen_opts g = { NULL, 10, 3, 3, XF_BATCH_BYTES, 1 };
	struct xf_header h = XF_HEADER_INIT;
	struct prog_common c = PROG_COMMON_INIT;
	struct prog_output *out;
	struct xf_writer *w;

	c.force = true;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--rows"))
			g.rows = prog_parse_int("--rows", argv[++i], 0, INT64_MAX / 4096);
		else if (i + 1 < argc && !strcmp(argv[i], "--dim"))
			g.dim = prog_parse_int("--dim", argv[++i], 1, 1 << 20);
		else if (i + 1 < argc && !strcmp(argv[i], "--classes"))
			g.classes = prog_parse_int("--classes", argv[++i], 1, 1000);
		else if (i + 1 < argc && !strcmp(argv[i], "--seed"))
			g.seed = (uint64_t)prog_parse_int("--seed", argv[++i], 0, INT64_MAX);
		else if (i + 1 < argc && !strcmp(argv[i], "--batch-bytes"))
			g.batch_bytes = prog_parse_int("--batch-bytes", argv[++i], 1, INT32_MAX);
		else if (!g.kind)
			g.kind = argv[i];
		else
			usage_error("gen: unexpected '%s'", argv[i]);
	}
	if (!g.kind || (strcmp(g.kind, "ramp") && strcmp(g.kind, "blobs") && strcmp(g.kind, "model")))
		usage_error("gen: kind must be ramp, blobs or model");
	h.kind = strcmp(g.kind, "model") ? XF_KIND_SAMPLES : XF_KIND_MODEL;
	h.meta = json_pack("{s:I}", "seed", (json_int_t)g.seed);
	out = prog_open_output(&c, true);
	w = prog_output_writer(out);
	xf_writer_set_batch_bytes(w, (size_t)g.batch_bytes);
	if (h.kind == XF_KIND_MODEL)
		gen_model(&g, w, &h);
	else
		gen_rows(&g, w, &h);
	xf_header_release(&h);
	prog_close_output(out);
	return 0;
}

static void dump_header(const struct xf_header *h)
{
	json_t *meta = json_deep_copy(h->meta);
	char shape[160], *text;

	printf("header kind=%s\n", xf_kind_name(h->kind));
	for (int i = 0; i < h->n_fields; i++)
		printf("  field %s %s %s\n", h->fields[i].name, xf_dtype_name(h->fields[i].dtype),
		       xf_shape_str(h->fields[i].ndim, h->fields[i].shape, shape, sizeof(shape)));
	json_object_del(meta, "history");
	text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
	printf("  meta %s\n", text ? text : "?");
	free(text);
	json_decref(meta);
	if (h->graph) {
		text = json_dumps(h->graph, JSON_COMPACT | JSON_SORT_KEYS);
		printf("  graph %s\n", text ? text : "?");
		free(text);
	}
}

static void dump_values(const char *name, const struct xf_tensor *t, int64_t rows)
{
	int64_t per_row = rows ? xf_tensor_count(t) / rows : 0;

	for (int64_t r = 0; r < rows; r++) {
		printf("  %s[%lld]", name, (long long)r);
		if (t->dtype == XF_DTYPE_STR)
			printf(" \"%s\"", ((char **)t->data)[r]);
		for (int64_t k = 0; t->dtype != XF_DTYPE_STR && k < per_row; k++)
			printf(t->dtype == XF_DTYPE_F64 ? " %.17g" : " %.9g", xf_tensor_get_f64(t, r * per_row + k));
		printf("\n");
	}
}

static int cmd_dump(int argc, char **argv)
{
	struct xf_reader *r = prog_open_reader(argc > 1 ? argv[1] : "-");
	struct xf_err err = XF_ERR_INIT;
	struct xf_frame f;
	int rc;

	while ((rc = xf_reader_next(r, &f, &err)) > 0) {
		const struct xf_header *h = xf_reader_header(r);

		if (f.type == XF_FRAME_HEADER)
			dump_header(h);
		else if (f.type == XF_FRAME_BATCH) {
			printf("batch n=%lld\n", (long long)f.n_rows);
			for (int i = 0; i < f.n_cols; i++)
				dump_values(h->fields[i].name, &f.cols[i], f.n_rows);
		} else if (f.type == XF_FRAME_TENSOR) {
			printf("tensor %s\n", h->fields[f.field].name);
			dump_values(h->fields[f.field].name, &f.tensor, 1);
		} else {
			printf("end count=%lld\n", (long long)f.count);
		}
		xf_frame_release(&f);
	}
	xf_reader_close(r);
	if (rc < 0)
		die_err(&err);
	return fflush(stdout) ? 1 : 0;
}

static int cmd_corrupt(int argc, char **argv)
{
	int64_t truncate = -1, flip = -1, pos = 0;
	FILE *in = stdin;
	int c;

	if (argc >= 3 && !strcmp(argv[1], "--truncate"))
		truncate = prog_parse_int("--truncate", argv[2], 0, INT64_MAX);
	else if (argc >= 3 && !strcmp(argv[1], "--flip"))
		flip = prog_parse_int("--flip", argv[2], 0, INT64_MAX);
	else
		usage_error("corrupt: --truncate N or --flip OFFSET");
	if (argc > 3 && !(in = fopen(argv[3], "rb")))
		die("cannot open '%s'", argv[3]);
	while ((c = getc(in)) != EOF && (truncate < 0 || pos < truncate)) {
		putchar(pos == flip ? c ^ 0xff : c);
		pos++;
	}
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const char usage[] = "usage: xf-tool gen|dump|corrupt ...\n";

	prog_init("xf-tool", usage, usage);
	prog_set_args(argc, argv);
	if (argc < 2)
		usage_error("missing command");
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "corrupt"))
		return cmd_corrupt(argc - 1, argv + 1);
	usage_error("unknown command '%s'", argv[1]);
}
