/*
 * xfer-pack: bring data in as an xfer stream: NumPy arrays, CSV/TSV, image datasets,
 * safetensors weights. Writes the stream to stdout. See xfer-pack(1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pack.h"
#include "prog.h"

static const char synopsis[] =
	"usage: xfer-pack [NAME=]FILE.npy... [--labels FILE.npy] | FILE.npz | FILE.csv [--label-column NAME]\n"
	"                 [--id-column NAME] | IMAGES [--gray] [--size HxW] | FILE.safetensors [--arch FILE.json]\n"
	"                 [-o FILE] [-z[LEVEL]]\n";

static const char help[] =
	"usage: xfer-pack [NAME=]FILE.npy... [--labels FILE.npy] | FILE.npz | FILE.csv [--label-column NAME]\n"
	"                 [--id-column NAME] | IMAGES [--gray] [--size HxW] | FILE.safetensors [--arch FILE.json]\n"
	"                 [-o FILE] [-z[LEVEL]]\n"
	"\n"
	"Turn data into an xfer stream on stdout (a samples segment; a model segment for weights).\n"
	"\n"
	"Inputs, by name:\n"
	"  NAME=FILE.npy         an array whose rows become field NAME (plain FILE.npy is field x);\n"
	"                        several arrays must have the same number of rows; read in blocks\n"
	"  FILE.npz              every member NAME.npy becomes field NAME (PREFIX=FILE.npz: PREFIX.NAME)\n"
	"  FILE.csv, FILE.tsv    a table with a header row: numeric columns become x (float32)\n"
	"  DIR, or an archive    images laid out CLASS/FILE (.tar, .tar.gz, .tgz, .tar.zst, .tar.xz, .zip):\n"
	"                        PNG, JPEG, PGM/PPM; x is uint8 [C, H, W], y the class id (classes in\n"
	"                        sorted order, names in meta.classes), id the file's path\n"
	"  FILE.safetensors      model weights, one tensor frame each\n"
	"\n"
	"Options:\n"
	"      --labels FILE.npy     labels, as field y (same as y=FILE.npy)\n"
	"      --label-column NAME   CSV: column of labels, field y (names become classes)\n"
	"      --id-column NAME      CSV: column of row ids, field id\n"
	"      --delimiter C         CSV: the separator (default: tab if the header has one, else comma)\n"
	"      --gray                images: one channel (ITU-R 601 luma)\n"
	"      --size HxW            images: bilinear resize to H rows and W columns\n"
	"      --arch FILE.json      safetensors: the model graph (schemas/stream.md, \"graph\")\n"
	"  -o, --output FILE         write FILE (through a temporary, renamed on success)\n"
	"  -z, --zstd[=LEVEL]        compress with zstd (default level 3; on for -o NAME.zst)\n"
	"  -f, --force               write binary data even to a terminal\n"
	"  -j, --threads N           zstd worker threads\n"
	"  -q, -v                    quieter, more verbose;  -h, --help;  -V, --version\n"
	"\n"
	"Examples:\n"
	"  xfer-pack x=images.npy y=labels.npy -o digits.xs\n"
	"  xfer-pack mnist-png.tar.gz --gray -z -o digits.xs.zst\n"
	"  xfer-pack iris.csv --label-column species | xfer-cat --info\n"
	"  xfer-pack resnet18.safetensors --arch resnet18.json -o resnet18.xs\n";

enum { OPT_LABELS = PROG_OPT_FIRST_FREE, OPT_LABEL_COLUMN, OPT_ID_COLUMN, OPT_DELIMITER, OPT_GRAY, OPT_SIZE, OPT_ARCH };

struct pack_opts {
	struct prog_common common;
	struct xf_pack_csv_opts csv;
	struct xf_imgset_opts images;
	const char *labels, *arch;
	struct xf_pack_array *arrays;
	int n_arrays;
};

static void parse_size(const char *arg, struct xf_imgset_opts *o)
{
	char *x = strchr(arg, 'x');
	char h[32];

	if (!x || x == arg || (size_t)(x - arg) >= sizeof(h))
		usage_error("--size: want HxW, got '%s'", arg);
	memcpy(h, arg, x - arg);
	h[x - arg] = '\0';
	o->height = prog_parse_int("--size", h, 1, 1 << 16);
	o->width = prog_parse_int("--size", x + 1, 1, 1 << 16);
}

static void parse_options(int argc, char **argv, struct pack_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "labels", required_argument, NULL, OPT_LABELS }, { "label-column", required_argument, NULL, OPT_LABEL_COLUMN },
		{ "id-column", required_argument, NULL, OPT_ID_COLUMN }, { "delimiter", required_argument, NULL, OPT_DELIMITER },
		{ "gray", no_argument, NULL, OPT_GRAY }, { "size", required_argument, NULL, OPT_SIZE },
		{ "arch", required_argument, NULL, OPT_ARCH }, { NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT, longopts, NULL)) != -1) {
		if (prog_common_option(opt, optarg, &o->common))
			continue;
		switch (opt) {
		case OPT_LABELS: o->labels = optarg; break;
		case OPT_LABEL_COLUMN: o->csv.label_column = optarg; break;
		case OPT_ID_COLUMN: o->csv.id_column = optarg; break;
		case OPT_DELIMITER:
			if (strlen(optarg) != 1 && strcmp(optarg, "\\t"))
				usage_error("--delimiter: one character, got '%s'", optarg);
			o->csv.delimiter = strcmp(optarg, "\\t") ? optarg[0] : '\t';
			break;
		case OPT_GRAY: o->images.gray = true; break;
		case OPT_SIZE: parse_size(optarg, &o->images); break;
		case OPT_ARCH: o->arch = optarg; break;
		}
	}
	if (optind == argc)
		usage_error("no input: give arrays, a CSV file, images or a safetensors file");
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcasecmp(s + n - k, suffix);
}

enum input_kind { INPUT_ARRAYS, INPUT_CSV, INPUT_SAFETENSORS, INPUT_IMAGES };

static enum input_kind kind_of(const char *arg)
{
	struct stat st;

	/* The kind comes from the name, and CSV files and image archives are read twice. */
	if (!strcmp(arg, "-"))
		usage_error("standard input is not supported: give a file name");
	if (has_suffix(arg, ".npy") || has_suffix(arg, ".npz"))
		return INPUT_ARRAYS;
	if (has_suffix(arg, ".csv") || has_suffix(arg, ".tsv") || has_suffix(arg, ".csv.zst") || has_suffix(arg, ".tsv.zst"))
		return INPUT_CSV;
	if (has_suffix(arg, ".safetensors"))
		return INPUT_SAFETENSORS;
	if (stat(arg, &st) < 0)
		die("cannot open '%s': %s", arg, strerror(errno));
	return INPUT_IMAGES;
}

/* NAME=FILE.npy, FILE.npy (x), PREFIX=FILE.npz or FILE.npz; plus --labels as y. */
static void collect_arrays(int argc, char **argv, struct pack_opts *o)
{
	o->arrays = calloc(argc + 2, sizeof(*o->arrays));
	if (!o->arrays)
		die("out of memory");
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		struct xf_pack_array *a = &o->arrays[o->n_arrays++];

		if (kind_of(argv[i]) != INPUT_ARRAYS)
			usage_error("'%s': arrays (.npy, .npz) cannot be mixed with other inputs", argv[i]);
		a->path = eq ? eq + 1 : argv[i];
		if (eq)
			*eq = '\0';
		a->name = eq ? argv[i] : has_suffix(argv[i], ".npz") ? NULL : "x";
	}
	if (o->labels)
		o->arrays[o->n_arrays++] = (struct xf_pack_array){ "y", o->labels };
}

static int pack_inputs(int argc, char **argv, struct pack_opts *o, struct xf_header *h, struct xf_writer *w,
		       struct xf_err *err)
{
	/* The whole argument: NAME= is split off only for arrays, and a directory may hold '='. */
	enum input_kind kind = kind_of(argv[0]);

	if (kind != INPUT_ARRAYS && argc > 1)
		usage_error("one CSV, image or safetensors input at a time");
	if (kind != INPUT_ARRAYS && o->labels)
		usage_error("--labels goes with .npy arrays");
	if (kind != INPUT_CSV && (o->csv.label_column || o->csv.id_column || o->csv.delimiter))
		usage_error("--label-column, --id-column and --delimiter go with CSV input");
	if (kind != INPUT_IMAGES && (o->images.gray || o->images.height))
		usage_error("--gray and --size go with image datasets");
	if (kind != INPUT_SAFETENSORS && o->arch)
		usage_error("--arch goes with a safetensors file");
	switch (kind) {
	case INPUT_ARRAYS:
		collect_arrays(argc, argv, o);
		return xf_pack_arrays(o->arrays, o->n_arrays, h, w, err);
	case INPUT_CSV: return xf_pack_csv(argv[0], &o->csv, h, w, err);
	case INPUT_SAFETENSORS: return xf_pack_safetensors(argv[0], o->arch, h, w, err);
	default: return xf_pack_images(argv[0], &o->images, h, w, err);
	}
}

int main(int argc, char **argv)
{
	struct pack_opts o = { PROG_COMMON_INIT, { NULL, NULL, 0 }, XF_IMGSET_OPTS_INIT, NULL, NULL, NULL, 0 };
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct prog_output *out;

	prog_init("xfer-pack", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	h.meta = json_object();
	prog_add_history(&h);
	out = prog_open_output(&o.common, true);
	if (pack_inputs(argc - optind, argv + optind, &o, &h, prog_output_writer(out), &err) < 0)
		die_err(&err);
	prog_close_output(out);
	note(2, "packed %d fields", h.n_fields);
	xf_header_release(&h);
	free(o.arrays);
	return 0;
}
