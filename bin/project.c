/*
 * xfer-project: feature rows to 1-3 dimensions (PCA, t-SNE) for people to see, with an
 * optional scatter plot. Reads a samples stream and writes it back with the feature field
 * replaced by the embedding, every other field carried along. See xfer-project(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "image_layout.h"
#include "image_tar.h"
#include "plot.h"
#include "prog.h"
#include "project.h"
#include "samples.h"

static const char synopsis[] =
	"usage: xfer-project [--method pca|tsne] [--dim 1|2|3] [--field NAME] [--labels NAME]\n"
	"                    [--pca D] [--perplexity P] [--theta T] [--dof A] [--iters N]\n"
	"                    [--exaggeration A] [--exag-iters N] [--learning-rate R]\n"
	"                    [--profile opentsne|fitsne|sklearn] [--repulsion auto|exact|bh|fft]\n"
	"                    [--knn auto|exact|approx] [--init pca|random] [--seed S]\n"
	"                    [--plot FILE.png|FILE.svg] [--title TEXT]\n"
	"                    [--image HxW [--layout FILE | --save-layout FILE] [--layout-method tsne|pca]\n"
	"                     [--norm minmax|log|none] [--channels 1|3] [--images-to FILE.tar]]\n"
	"                    [-o FILE] [-j N] [FILE]\n";

static const char help_tail[] =
	"\n"
	"Map each row's features to --dim coordinates: principal component scores (pca) or a\n"
	"t-SNE embedding (tsne, the default). The output is the input samples stream with the\n"
	"feature field replaced by the coordinates (float32), other fields unchanged.\n"
	"\n"
	"Options:\n"
	"      --method M        tsne (default) or pca\n"
	"      --dim N           output dimensions (default 2)\n"
	"      --field NAME      the feature field (default x)\n"
	"      --labels NAME     the label field for the plot's colours (default y, if present)\n"
	"      --pca D           t-SNE on the top D principal components (default 50 when there\n"
	"                        are more features; 0: the features as they are)\n"
	"      --perplexity P    t-SNE perplexity (default 30; lowered to (N-1)/3 for small N)\n"
	"      --theta T         Barnes-Hut accuracy, full cell width over distance (default 0.5)\n"
	"      --dof A           kernel (1 + d^2/A)^-A; below 1 gives heavier tails (default 1)\n"
	"      --iters N         iterations, early exaggeration included (default 750;\n"
	"                        1000 with --profile sklearn)\n"
	"      --exaggeration A  early exaggeration factor (default 12) ...\n"
	"      --exag-iters N    ... for the first N iterations (default 250)\n"
	"      --learning-rate R fixed learning rate (default: the profile's automatic rate)\n"
	"      --profile P       schedule: opentsne (default: rate N/12 then N, momentum 0.8),\n"
	"                        fitsne (rate max(200, N/12), momentum 0.5 then 0.8), sklearn\n"
	"                        (its rate and momenta, no step clipping or recentring)\n"
	"      --repulsion M     auto (exact to 1000 points, Barnes-Hut below 20,000 or in 3-D,\n"
	"                        else FFT interpolation), exact, bh or fft\n"
	"      --knn M           neighbours: auto (exact to 25,000 points), exact, approx\n"
	"      --init I          pca (default: the first components scaled to std 1e-4) or random\n"
	"      --seed S          seed of the initial jitter, random init and approximate search\n"
	"                        (default 0); same seed and threads, same output\n"
	"      --plot FILE       also draw the first two coordinates, coloured by label, as PNG or\n"
	"                        SVG (by the suffix); class names from the stream's metadata\n"
	"      --title TEXT      the plot's title\n"
	"Feature vectors to images (DeepInsight):\n"
	"      --image HxW       write each row as an H x W image (float32 [C, H, W] in [0, 1])\n"
	"                        instead of coordinates: the features are laid out on the grid by a\n"
	"                        t-SNE (cosine distance) or PCA of the normalised, transposed\n"
	"                        training matrix, turned to the minimum-area rectangle of their convex\n"
	"                        hull; features on the same pixel are averaged\n"
	"      --save-layout FILE  also keep the layout fitted on this input\n"
	"      --layout FILE     apply a saved layout (fit on training data) instead of fitting\n"
	"      --layout-method M tsne (default) or pca, for placing the features\n"
	"      --norm N          value normalisation fitted with the layout: minmax (default, per\n"
	"                        feature), log (DeepInsight's Norm-2) or none (values in [0, 1])\n"
	"      --channels C      1 (default) or 3 (gray repeated, for RGB networks)\n"
	"      --images-to FILE  also write the images as PNG files in a tar archive\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -j, --threads N       threads (default: all cores)\n"
	"  -q, -v                quieter (no final KL); KL every 50 iterations;  -h, -V\n"
	"\n"
	"Examples:\n"
	"  xfer-project --plot digits.png < digits.xs > digits-tsne.xs\n"
	"  xfer-project --method pca --dim 3 features.xs -o pca.xs\n"
	"  xfer-project --perplexity 50 --profile fitsne --seed 7 -v features.xs -o tsne.xs\n"
	"  xfer-project --image 32x32 --save-layout layout.xs train.xs -o train-img.xs\n"
	"  xfer-project --image 32x32 --layout layout.xs test.xs -o test-img.xs\n";

enum { OPT_METHOD = PROG_OPT_FIRST_FREE, OPT_DIM, OPT_FIELD, OPT_LABELS, OPT_PCA, OPT_PERPLEXITY, OPT_THETA,
       OPT_DOF, OPT_ITERS, OPT_EXAGGERATION, OPT_EXAG_ITERS, OPT_LEARNING_RATE, OPT_PROFILE, OPT_REPULSION,
       OPT_KNN, OPT_INIT, OPT_SEED, OPT_PLOT, OPT_TITLE, OPT_IMAGE, OPT_LAYOUT, OPT_SAVE_LAYOUT, OPT_LAYOUT_METHOD,
       OPT_NORM, OPT_CHANNELS, OPT_IMAGES_TO };

struct project_opts {
	struct prog_common common;
	struct xf_project_opts p;
	const char *field, *labels, *plot, *title, *input;
	struct xf_image_opts image;   /* --image: height > 0 */
	const char *layout, *save_layout, *images_to;
	int channels;
};

/* The index of word in words[0..n), or a usage error naming the option. */
static int choose(const char *opt, const char *arg, const char *const *words, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(arg, words[i]))
			return i;
	usage_error("%s: '%s' is not one of the choices (see --help)", opt, arg);
}

static void parse_choice(int opt, const char *arg, struct xf_project_opts *p)
{
	static const char *const methods[] = { "pca", "tsne" }, *const profiles[] = { "opentsne", "fitsne", "sklearn" },
		*const repulsions[] = { "auto", "exact", "bh", "fft" }, *const knns[] = { "auto", "exact", "approx" },
		*const inits[] = { "pca", "random" };

	switch (opt) {
	case OPT_METHOD: p->method = (enum xf_project_method)choose("--method", arg, methods, 2); break;
	case OPT_PROFILE: p->tsne.profile = (enum xf_tsne_profile)choose("--profile", arg, profiles, 3); break;
	case OPT_REPULSION: p->tsne.method = (enum xf_tsne_method)choose("--repulsion", arg, repulsions, 4); break;
	case OPT_KNN: p->knn = (enum xf_knn_choice)choose("--knn", arg, knns, 3); break;
	case OPT_INIT: p->init = (enum xf_init_choice)choose("--init", arg, inits, 2); break;
	}
}

static void parse_image(int opt, const char *arg, struct project_opts *o)
{
	static const char *const methods[] = { "tsne", "pca" }, *const norms[] = { "none", "minmax", "log" };
	char tail;

	switch (opt) {
	case OPT_IMAGE:
		if (sscanf(arg, "%dx%d%c", &o->image.height, &o->image.width, &tail) != 2 || o->image.height < 1 ||
		    o->image.width < 1 || o->image.height > 8192 || o->image.width > 8192)
			usage_error("--image: '%s' is not HxW (1 to 8192 each)", arg);
		break;
	case OPT_LAYOUT: o->layout = arg; break;
	case OPT_SAVE_LAYOUT: o->save_layout = arg; break;
	case OPT_IMAGES_TO: o->images_to = arg; break;
	case OPT_CHANNELS: o->channels = (int)prog_parse_int("--channels", arg, 1, 3); break;
	case OPT_LAYOUT_METHOD:
		o->image.embedding = (enum xf_feature_embedding)choose("--layout-method", arg, methods, 2);
		break;
	case OPT_NORM: o->image.norm = (enum xf_layout_norm_kind)choose("--norm", arg, norms, 3); break;
	}
}

static double positive(const char *opt, const char *arg)
{
	double v = prog_parse_double(opt, arg);

	if (!(v > 0))
		usage_error("%s: '%s' is not positive", opt, arg);
	return v;
}

static void parse_number(int opt, const char *arg, struct xf_project_opts *p)
{
	switch (opt) {
	case OPT_DIM: p->dim = (int)prog_parse_int("--dim", arg, 1, 3); break;
	case OPT_PCA: p->pca_dims = prog_parse_int("--pca", arg, 0, 1 << 20); break;
	case OPT_PERPLEXITY: p->perplexity = positive("--perplexity", arg); break;
	case OPT_THETA: p->tsne.theta = prog_parse_double("--theta", arg); break;
	case OPT_DOF: p->tsne.dof = positive("--dof", arg); break;
	case OPT_ITERS: p->tsne.iters = (int)prog_parse_int("--iters", arg, 1, 1 << 24); break;
	case OPT_EXAGGERATION: p->tsne.exaggeration = positive("--exaggeration", arg); break;
	case OPT_EXAG_ITERS: p->tsne.exag_iters = (int)prog_parse_int("--exag-iters", arg, 0, 1 << 24); break;
	case OPT_LEARNING_RATE: p->tsne.learning_rate = positive("--learning-rate", arg); break;
	case OPT_SEED: p->seed = (uint64_t)prog_parse_int("--seed", arg, 0, INT64_MAX); break;
	}
}

static void parse_options(int argc, char **argv, struct project_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "method", required_argument, NULL, OPT_METHOD }, { "dim", required_argument, NULL, OPT_DIM },
		{ "field", required_argument, NULL, OPT_FIELD }, { "labels", required_argument, NULL, OPT_LABELS },
		{ "pca", required_argument, NULL, OPT_PCA }, { "perplexity", required_argument, NULL, OPT_PERPLEXITY },
		{ "theta", required_argument, NULL, OPT_THETA }, { "dof", required_argument, NULL, OPT_DOF },
		{ "iters", required_argument, NULL, OPT_ITERS },
		{ "exaggeration", required_argument, NULL, OPT_EXAGGERATION },
		{ "exag-iters", required_argument, NULL, OPT_EXAG_ITERS },
		{ "learning-rate", required_argument, NULL, OPT_LEARNING_RATE },
		{ "profile", required_argument, NULL, OPT_PROFILE }, { "repulsion", required_argument, NULL, OPT_REPULSION },
		{ "knn", required_argument, NULL, OPT_KNN }, { "init", required_argument, NULL, OPT_INIT },
		{ "seed", required_argument, NULL, OPT_SEED }, { "plot", required_argument, NULL, OPT_PLOT },
		{ "title", required_argument, NULL, OPT_TITLE }, { "image", required_argument, NULL, OPT_IMAGE },
		{ "layout", required_argument, NULL, OPT_LAYOUT }, { "save-layout", required_argument, NULL, OPT_SAVE_LAYOUT },
		{ "layout-method", required_argument, NULL, OPT_LAYOUT_METHOD },
		{ "norm", required_argument, NULL, OPT_NORM }, { "channels", required_argument, NULL, OPT_CHANNELS },
		{ "images-to", required_argument, NULL, OPT_IMAGES_TO },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT, longopts, NULL)) != -1) {
		if (prog_common_option(opt, optarg, &o->common))
			continue;
		switch (opt) {
		case OPT_FIELD: o->field = optarg; break;
		case OPT_LABELS: o->labels = optarg; break;
		case OPT_PLOT: o->plot = optarg; break;
		case OPT_TITLE: o->title = optarg; break;
		default: parse_choice(opt, optarg, &o->p), parse_number(opt, optarg, &o->p), parse_image(opt, optarg, o);
		}
	}
	o->input = prog_single_input(argc, argv);
	if (!o->image.height && !o->layout && (o->save_layout || o->images_to || o->channels))
		usage_error("--save-layout, --channels and --images-to go with --image HxW or --layout");
	if (o->layout && o->save_layout)
		usage_error("--layout applies a saved layout; --save-layout fits one: not both");
	if (o->channels == 2)
		usage_error("--channels: 1 or 3");
	if ((o->image.height || o->layout) && o->plot)
		usage_error("--plot draws coordinates, not --image output");
	if (o->p.tsne.theta < 0)
		usage_error("--theta: must be 0 or more");
	if (o->p.method == XF_PROJECT_TSNE && o->p.dim == 3 && o->p.tsne.method == XF_TSNE_FFT)
		usage_error("--repulsion fft is for 1-D and 2-D output; 3-D uses bh or exact");
}

static void show_kl(void *ctx, int iter, double kl)
{
	prog_progress_update(ctx, iter);
	note(2, "iteration %d: KL divergence %.6f", iter, kl);
}

static void show_note(void *ctx, const char *line)
{
	(void)ctx;
	note(2, "%s", line);
}

/* Class names from meta.classes when it has one string per class. */
static const char **class_names(const struct xf_samples *s, int64_t c)
{
	json_t *classes = json_object_get(s->h.meta, "classes");
	const char **names;

	if (!json_is_array(classes) || (int64_t)json_array_size(classes) < c || !(names = calloc(c + 1, sizeof(*names))))
		return NULL;
	for (int64_t k = 0; k < c; k++)
		names[k] = json_string_value(json_array_get(classes, k));
	return names;
}

/* The first two coordinates (a zero second one in 1-D), as the plot takes them. */
static double *plane_of(const double *y, int64_t n, int dim)
{
	double *xy = calloc((size_t)(2 * n) + 1, sizeof(double));

	if (!xy)
		die("out of memory");
	for (int64_t i = 0; i < n; i++)
		xy[2 * i] = y[i * dim], xy[2 * i + 1] = dim > 1 ? y[i * dim + 1] : 0;
	return xy;
}

static void plot(const struct project_opts *o, const struct xf_samples *s, const double *y)
{
	struct xf_plot_opts popts = XF_PLOT_OPTS_INIT;
	struct xf_err err = XF_ERR_INIT;
	const char *field = o->labels ? o->labels : "y", **names = NULL;
	int64_t *labels = NULL, c = 0;
	double *xy = plane_of(y, s->n, o->p.dim);
	int skipped;

	if ((o->labels || xf_header_find(&s->h, field) >= 0) && xf_samples_labels(s, field, &labels, &err) < 0)
		die_input(o->input, &err);
	for (int64_t i = 0; labels && i < s->n; i++) {
		if (labels[i] < 0 || labels[i] > 1 << 20)
			die("%s: label %lld of row %lld is out of range for a plot", o->input, (long long)labels[i],
			    (long long)i);
		c = labels[i] + 1 > c ? labels[i] + 1 : c;
	}
	names = labels ? class_names(s, c) : NULL;
	popts.title = o->title;
	if ((skipped = xf_plot_file(o->plot, xy, s->n, labels, c, names, &popts, &err)) < 0)
		die_err(&err);
	if (skipped)
		note(1, "%s: %d points with non-finite coordinates left out", o->plot, skipped);
	free(xy);
	free(labels);
	free(names);
}

/* The embedding as a float32 [n, dim] field. */
static void put_embedding(struct xf_samples *s, const char *field, const double *y, int dim)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t = XF_TENSOR_INIT;
	int64_t shape[2] = { s->n, dim };

	if (xf_tensor_alloc(&t, XF_DTYPE_F32, 2, shape, &err) < 0)
		die_err(&err);
	for (int64_t i = 0; i < s->n * dim; i++)
		((float *)t.data)[i] = (float)y[i];
	if (xf_samples_put(s, field, &t, &err) < 0)
		die_err(&err);
}

static void record(struct xf_samples *s, const struct project_opts *o, const struct xf_project_result *res)
{
	static const char *const methods[] = { "auto", "exact", "bh", "fft" };
	json_t *info = o->p.method == XF_PROJECT_PCA
		? json_pack("{s:s, s:i, s:f}", "method", "pca", "dim", o->p.dim, "explained_variance", res->explained)
		: json_pack("{s:s, s:i, s:f, s:f, s:I, s:I, s:s, s:I}", "method", "tsne", "dim", o->p.dim, "kl", res->kl,
			    "perplexity", res->perplexity, "neighbours", (json_int_t)res->neighbours, "pca",
			    (json_int_t)res->pca_dims, "repulsion", methods[res->method], "seed", (json_int_t)o->p.seed);

	if (!info || json_object_set_new(s->h.meta, "projection", info) < 0)
		die("out of memory");
	prog_add_history(&s->h);
}

/* The layout: fitted on x, or read from --layout (re-binned if --image asks for another size). */
static void get_layout(const struct project_opts *o, const struct xf_samples *s, const double *x, int64_t d,
		       struct xf_layout *l)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_reader *r;

	if (!o->layout) {
		if (xf_image_fit(x, s->n, d, &o->image, l, &err) < 0)
			die_input(o->input, &err);
		if (o->save_layout && xf_image_layout_save(o->save_layout, &s->h, l, &err) < 0)
			die_err(&err);
		return;
	}
	r = prog_open_reader(o->layout);
	if (xf_image_layout_read(r, l, &err) < 0)
		die_err(&err);
	xf_reader_close(r);
	if (l->d != d)
		die("%s: the layout places %lld features, %s has %lld", o->layout, (long long)l->d, o->input, (long long)d);
	if (o->image.height && (o->image.height != l->height || o->image.width != l->width)) {
		l->height = o->image.height, l->width = o->image.width;
		if (xf_layout_bin(l->rotated, d, l->height, l->width, XF_LAYOUT_BIN, l->pixel, &err) < 0)
			die_err(&err);
	}
}

/* Each row as an image: float32 [n, channels, H, W] in place of the features. */
static void make_images(const struct project_opts *o, struct xf_samples *s, const double *x, int64_t d)
{
	struct xf_layout l;
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t = XF_TENSOR_INIT;
	int channels = o->channels ? o->channels : 1;
	int64_t *labels = NULL, plane, shape[4] = { s->n, channels, 0, 0 };
	float *img;

	get_layout(o, s, x, d, &l);
	plane = (int64_t)l.height * l.width;
	shape[2] = l.height, shape[3] = l.width;
	if (xf_tensor_alloc(&t, XF_DTYPE_F32, 4, shape, &err) < 0)
		die_err(&err);
	img = t.data;
	if (xf_layout_transform(&l, x, s->n, img, &err) < 0) /* n x H x W, spread below */
		die_input(o->input, &err);
	for (int64_t i = s->n - 1; channels > 1 && i >= 0; i--)
		for (int c = channels - 1; c >= 0; c--)
			memmove(img + (i * channels + c) * plane, img + i * plane, (size_t)plane * sizeof(float));
	if (o->images_to && xf_header_find(&s->h, o->labels ? o->labels : "y") >= 0 &&
	    xf_samples_labels(s, o->labels ? o->labels : "y", &labels, &err) < 0)
		die_input(o->input, &err);
	if (o->images_to && xf_image_tar_write(o->images_to, img, s->n, channels, l.height, l.width, labels, &err) < 0)
		die_err(&err);
	if (xf_samples_put(s, o->field ? o->field : "x", &t, &err) < 0)
		die_err(&err);
	free(labels);
	xf_layout_release(&l);
}

/* The embedding of x in place of the features, with the plot if asked for. */
static void embed(struct project_opts *o, struct xf_samples *s, const double *x, int64_t d)
{
	struct xf_project_result res;
	struct xf_err err = XF_ERR_INIT;
	double *y = calloc((size_t)(s->n * o->p.dim) + 1, sizeof(double));

	if (!y)
		die("out of memory");
	o->p.tsne.ctx = prog_progress_start(&o->common, "t-SNE iterations", xf_tsne_iterations(&o->p.tsne));
	if (xf_project(x, s->n, d, &o->p, y, &res, &err) < 0)
		die_input(o->input, &err);
	prog_progress_done(o->p.tsne.ctx);
	if (o->p.method == XF_PROJECT_TSNE)
		note(1, "KL divergence %.6f after %d iterations", res.kl, xf_tsne_iterations(&o->p.tsne));
	if (o->plot)
		plot(o, s, y);
	put_embedding(s, o->field ? o->field : "x", y, o->p.dim);
	record(s, o, &res);
	free(y);
}

static void run(struct project_opts *o, struct prog_output *out)
{
	struct xf_samples s = XF_SAMPLES_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_reader *r = prog_open_reader(o->input);
	double *x = NULL;
	int64_t d;

	if (xf_samples_read(r, &s, &err) < 0 || xf_samples_f64(&s, o->field ? o->field : "x", &x, &d, &err) < 0)
		die_input(o->input, &err);
	xf_reader_close(r);
	if (o->image.height || o->layout) {
		make_images(o, &s, x, d);
		prog_add_history(&s.h);
	} else {
		embed(o, &s, x, d);
	}
	if (xf_samples_write(prog_output_writer(out), &s, &err) < 0)
		die_err(&err);
	free(x);
	xf_samples_release(&s);
}

int main(int argc, char **argv)
{
	static char help[sizeof(synopsis) + sizeof(help_tail)];
	struct project_opts o = { PROG_COMMON_INIT, XF_PROJECT_OPTS_INIT, NULL, NULL, NULL, NULL, NULL,
				  { 0, 0, XF_FEATURES_TSNE, XF_LAYOUT_NORM_MINMAX, XF_PROJECT_OPTS_INIT }, NULL, NULL, NULL, 0 };
	struct prog_output *out;

	snprintf(help, sizeof(help), "%s%s", synopsis, help_tail);
	prog_init("xfer-project", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	o.p.tsne.threads = prog_threads(&o.common);
	o.p.tsne.report = show_kl;
	o.p.note = show_note;
	o.image.project = o.p; /* the feature layout's t-SNE: these settings, cosine distance */
	o.image.project.metric = XF_METRIC_COSINE;
	o.image.project.tsne.report = NULL;
	xf_linalg_set_threads(o.p.tsne.threads);
	out = prog_open_output(&o.common, true);
	run(&o, out);
	prog_close_output(out);
	return 0;
}
