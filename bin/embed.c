/*
 * xfer-embed: run a frozen model over samples (a stream, or an image archive) and write
 * features from chosen layers, logits or probabilities, the other fields carried through.
 * See xfer-embed(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "imgset.h"
#include "prog.h"

static const char synopsis[] =
	"usage: xfer-embed -m MODEL [--layer NAME]... [--logits] [--probs] [--pool avg|none]\n"
	"                  [--field NAME] [--size HxW] [--gray | --rgb] [--mean M,...] [--std S,...]\n"
	"                  [--batch N] [--archive FILE [--skip-corrupt]] [--list]\n"
	"                  [-o FILE] [-j N] [FILE]\n";

static const char help_tail[] =
	"\n"
	"Run the model (a model stream with a graph: xfer-pack FILE.safetensors --arch FILE.json)\n"
	"forward over each row of a samples stream and write the stream back with the chosen\n"
	"outputs as float32 fields and every other field but the model's input carried through.\n"
	"\n"
	"Options:\n"
	"  -m, --model FILE      the model\n"
	"      --layer NAME      emit this node's output (repeatable): field x for one layer,\n"
	"                        x.NAME for several (default: the graph's outputs)\n"
	"      --logits          emit field logits: the graph's first output (its input, when that\n"
	"                        output is a softmax)\n"
	"      --probs           emit field probs: softmax of the logits\n"
	"      --pool avg|none   layers of shape [C, ...]: the mean over all but C (avg), or\n"
	"                        flattened (none, the default)\n"
	"      --field NAME      the field that feeds the model (default: the field named like the\n"
	"                        model's input, else x)\n"
	"Images (fields [C, H, W] or [H, W]; uint8 values are scaled to [0, 1] first):\n"
	"      --size HxW        bilinear resize (torch's interpolate, align_corners=False)\n"
	"      --gray, --rgb     convert 3 channels to 1 (luma) or 1 to 3 (copies)\n"
	"      --mean M,...      subtract per channel (one value: every channel) ...\n"
	"      --std S,...       ... then divide, as torchvision's Normalize\n"
	"      --archive FILE    read images laid out CLASS/FILE from a directory or archive, as\n"
	"                        xfer-pack does, instead of a stream (decoded to the model's\n"
	"                        channels; --size resizes at decoding, as xfer-pack --size)\n"
	"      --skip-corrupt    skip images that do not decode, with a warning (default: fail)\n"
	"Running:\n"
	"      --batch N         rows per forward pass (default 64); memory is one batch\n"
	"      --list            print the model's inputs and nodes (name, op, shape) and exit\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -j, --threads N       threads (default: all cores)\n"
	"  -q, -v                quieter; memory and rows at the end;  -h, -V\n"
	"\n"
	"Examples:\n"
	"  xfer-embed -m resnet18.xs --layer layer4 --pool avg < images.xs > features.xs\n"
	"  xfer-pack digits/ --size 32x32 | xfer-embed -m lenet.xs --layer fc1 --layer fc2 -o feats.xs\n"
	"  xfer-embed -m head.xs --probs test-features.xs -o predictions.xs\n"
	"  xfer-embed -m net.xs --archive photos.tgz --size 64x64 --mean 0.5 --std 0.25 --logits -o l.xs\n"
	"  xfer-embed -m net.xs --list\n";

enum { OPT_LAYER = PROG_OPT_FIRST_FREE, OPT_LOGITS, OPT_PROBS, OPT_POOL, OPT_FIELD, OPT_SIZE, OPT_GRAY, OPT_RGB,
       OPT_MEAN, OPT_STD, OPT_BATCH, OPT_ARCHIVE, OPT_SKIP_CORRUPT, OPT_LIST };

struct embed_opts {
	struct prog_common common;
	struct xf_embed_opts e;
	const char *model, *archive, *input;
	const char **layers;
	bool skip_corrupt, list;
};

/* "0.5,0.25,..." into values[], at most XF_PREP_MAX_CHANNELS of them. */
static int parse_values(const char *opt, const char *arg, double *values)
{
	char *copy = strdup(arg), *save = NULL;
	int n = 0;

	if (!copy)
		die("out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == XF_PREP_MAX_CHANNELS)
			usage_error("%s: at most %d values", opt, XF_PREP_MAX_CHANNELS);
		values[n++] = prog_parse_double(opt, tok);
	}
	free(copy);
	if (!n)
		usage_error("%s: no values", opt);
	return n;
}

static void parse_image_option(int opt, const char *arg, struct xf_prep *p)
{
	char tail;

	switch (opt) {
	case OPT_SIZE:
		if (sscanf(arg, "%dx%d%c", &p->height, &p->width, &tail) != 2 || p->height < 1 || p->width < 1 ||
		    p->height > 16384 || p->width > 16384)
			usage_error("--size: '%s' is not HxW (1 to 16384 each)", arg);
		break;
	case OPT_GRAY: case OPT_RGB:
		if (p->color != XF_COLOR_KEEP)
			usage_error("--gray and --rgb: one of them");
		p->color = opt == OPT_GRAY ? XF_COLOR_GRAY : XF_COLOR_RGB;
		break;
	case OPT_MEAN: p->n_mean = parse_values("--mean", arg, p->mean); break;
	case OPT_STD: p->n_std = parse_values("--std", arg, p->std); break;
	}
}

static void parse_option(int opt, const char *arg, struct embed_opts *o)
{
	switch (opt) {
	case 'm': o->model = arg; break;
	case OPT_LAYER:
		if (!(o->layers = realloc(o->layers, (size_t)(o->e.n_layers + 1) * sizeof(*o->layers))))
			die("out of memory");
		o->layers[o->e.n_layers++] = arg;
		break;
	case OPT_LOGITS: o->e.logits = true; break;
	case OPT_PROBS: o->e.probs = true; break;
	case OPT_POOL:
		if (strcmp(arg, "avg") && strcmp(arg, "none"))
			usage_error("--pool: avg or none");
		o->e.pool_avg = !strcmp(arg, "avg");
		break;
	case OPT_FIELD: o->e.field = arg; break;
	case OPT_BATCH: o->e.batch = prog_parse_int("--batch", arg, 1, 1 << 20); break;
	case OPT_ARCHIVE: o->archive = arg; break;
	case OPT_SKIP_CORRUPT: o->skip_corrupt = true; break;
	case OPT_LIST: o->list = true; break;
	default: parse_image_option(opt, arg, &o->e.prep);
	}
}

static void parse_options(int argc, char **argv, struct embed_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "model", required_argument, NULL, 'm' }, { "layer", required_argument, NULL, OPT_LAYER },
		{ "logits", no_argument, NULL, OPT_LOGITS }, { "probs", no_argument, NULL, OPT_PROBS },
		{ "pool", required_argument, NULL, OPT_POOL }, { "field", required_argument, NULL, OPT_FIELD },
		{ "size", required_argument, NULL, OPT_SIZE }, { "gray", no_argument, NULL, OPT_GRAY },
		{ "rgb", no_argument, NULL, OPT_RGB }, { "mean", required_argument, NULL, OPT_MEAN },
		{ "std", required_argument, NULL, OPT_STD }, { "batch", required_argument, NULL, OPT_BATCH },
		{ "archive", required_argument, NULL, OPT_ARCHIVE },
		{ "skip-corrupt", no_argument, NULL, OPT_SKIP_CORRUPT }, { "list", no_argument, NULL, OPT_LIST },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT "m:", longopts, NULL)) != -1)
		if (!prog_common_option(opt, optarg, &o->common))
			parse_option(opt, optarg, o);
	if (!o->model)
		usage_error("-m MODEL is required");
	if (optind < argc - 1 || (o->archive && optind < argc))
		usage_error(o->archive ? "--archive is the input: no FILE with it" : "one input at a time");
	if (o->skip_corrupt && !o->archive)
		usage_error("--skip-corrupt goes with --archive");
	o->input = optind < argc ? argv[optind] : "-";
	o->e.layers = o->layers;
}

/* Die for err about `input`: a usage error as such, a closed pipe quietly. */
static void fail(const char *input, const struct xf_err *err)
{
	if (err->code == XF_E_PIPE || err->code == XF_E_USAGE)
		die_err(err);
	die_input(input, err);
}

static void load_model(const char *path, struct xf_model *m)
{
	struct xf_reader *r = prog_open_reader(path);
	struct xf_err err = XF_ERR_INIT;

	if (xf_model_read(r, m, &err) < 0)
		fail(path, &err);
	xf_reader_close(r);
}

static void list_model(const struct xf_model *m)
{
	const struct xf_graph *g = m->g;
	char shape[128];

	for (int v = 0; v < g->n_inputs + g->n_nodes; v++) {
		int ndim;
		const int64_t *s = xf_graph_value_shape(g, v, &ndim);

		printf("%-24s %-15s %s\n", xf_graph_value_name(g, v),
		       v < g->n_inputs ? "input" : xf_op_name(g->nodes[v - g->n_inputs].op),
		       xf_shape_str(ndim, s, shape, sizeof(shape)));
	}
	printf("outputs:");
	for (int k = 0; k < g->n_outputs; k++)
		printf(" %s", g->nodes[g->outputs[k]].name);
	printf("\n");
	if (fflush(stdout) != 0 || ferror(stdout))
		die("stdout: write error");
}

static void show_rows(void *ctx, int64_t rows)
{
	prog_progress_update(ctx, rows);
}

/* A segment with header h begins: its embedder, and the output's header written. */
static struct xf_embedder *start_segment(struct embed_opts *o, const struct xf_model *m, const struct xf_header *h,
					 struct xf_writer *w)
{
	struct xf_embedder *e;
	struct xf_err err = XF_ERR_INIT;

	if (h->kind == XF_KIND_MODEL)
		die("%s: a model stream; samples expected (the model goes with -m)", o->input);
	if (xf_embedder_new(m, &o->e, h, &e, &err) < 0)
		fail(o->input, &err);
	prog_add_history(xf_embedder_header(e));
	if (xf_writer_begin(w, xf_embedder_header(e), &err) < 0)
		fail(o->input, &err);
	note(3, "%s: %.1f MiB of activations for batches of %lld", o->input,
	     (double)xf_embedder_memory(e) / (1 << 20), (long long)o->e.batch);
	return e;
}

static void end_segment(struct embed_opts *o, struct xf_embedder *e, struct xf_writer *w)
{
	struct xf_err err = XF_ERR_INIT;

	if (xf_embedder_flush(e, w, &err) < 0 || xf_writer_end(w, &err) < 0)
		fail(o->input, &err);
	note(2, "%s: %lld rows", o->input, (long long)xf_writer_count(w));
	xf_embedder_free(e);
}

static void run_stream(struct embed_opts *o, const struct xf_model *m, struct xf_writer *w)
{
	struct xf_reader *r = prog_open_reader(o->input);
	struct xf_frame f = XF_FRAME_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_embedder *e = NULL;
	int rc;

	while ((rc = xf_reader_next(r, &f, &err)) > 0) {
		if (f.type == XF_FRAME_HEADER)
			e = start_segment(o, m, xf_reader_header(r), w);
		else if (f.type == XF_FRAME_BATCH && xf_embedder_rows(e, f.n_rows, f.cols, w, &err) < 0)
			fail(o->input, &err);
		else if (f.type == XF_FRAME_END)
			end_segment(o, e, w), e = NULL;
		xf_frame_release(&f);
	}
	if (rc < 0)
		fail(o->input, &err);
	if (xf_reader_segments(r) == 0)
		die("%s: empty input (no stream)", o->input);
	xf_reader_close(r);
}

static void warn_corrupt(void *ctx, const char *why)
{
	note(1, "%s: skipped: %s", (const char *)ctx, why);
}

static void run_archive(struct embed_opts *o, const struct xf_model *m, struct xf_writer *w)
{
	struct xf_imgset_opts io = { m->g->inputs[0].ndim == 3 && m->g->inputs[0].shape[0] == 1, o->e.prep.height,
				     o->e.prep.width, o->skip_corrupt ? warn_corrupt : NULL, (void *)o->archive };
	struct xf_header h = XF_HEADER_INIT;
	struct xf_tensor cols[3];
	struct xf_err err = XF_ERR_INIT;
	struct xf_embedder *e = NULL;
	struct xf_imgset *s;
	int64_t n;

	o->input = o->archive;
	o->e.prep.height = o->e.prep.width = 0; /* resized at decoding */
	if (xf_imgset_open(o->archive, &io, &s, &err) < 0)
		fail(o->archive, &err);
	while ((n = xf_imgset_read_rows(s, o->e.batch, cols, &err)) > 0) {
		if (!e && (xf_imgset_declare(s, &h, &err) < 0 || !(e = start_segment(o, m, &h, w))))
			fail(o->archive, &err);
		if (xf_embedder_rows(e, n, cols, w, &err) < 0)
			fail(o->archive, &err);
		for (int k = 0; k < 3; k++)
			xf_tensor_release(&cols[k]);
	}
	if (n < 0)
		fail(o->archive, &err);
	if (!e)
		die("%s: no image decodes", o->archive);
	end_segment(o, e, w);
	if (xf_imgset_n_corrupt(s))
		note(1, "%s: %lld corrupt images skipped", o->archive, (long long)xf_imgset_n_corrupt(s));
	xf_imgset_close(s);
	xf_header_release(&h);
}

int main(int argc, char **argv)
{
	static char help[sizeof(synopsis) + sizeof(help_tail)];
	struct embed_opts o = { PROG_COMMON_INIT, XF_EMBED_OPTS_INIT, NULL, NULL, NULL, NULL, false, false };
	struct xf_model m;
	struct prog_output *out;

	snprintf(help, sizeof(help), "%s%s", synopsis, help_tail);
	prog_init("xfer-embed", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	o.e.threads = prog_threads(&o.common);
	load_model(o.model, &m);
	if (o.list) {
		list_model(&m);
		xf_model_release(&m);
		return 0;
	}
	out = prog_open_output(&o.common, true);
	o.e.ctx = prog_progress_start(&o.common, "rows", 0);
	o.e.on_batch = show_rows;
	if (o.archive)
		run_archive(&o, &m, prog_output_writer(out));
	else
		run_stream(&o, &m, prog_output_writer(out));
	prog_progress_done(o.e.ctx);
	prog_close_output(out);
	xf_model_release(&m);
	free(o.layers);
	return 0;
}
