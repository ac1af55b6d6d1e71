/*
 * imgset: labelled image datasets from directory trees and archives (libarchive);
 * contracts and layout rules in imgset.h. Opening lists the images and classes without
 * decoding; xf_imgset_next then reads one file at a time into a reused byte buffer.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "imgset.h"

#define ARCHIVE_BLOCK 65536   /* libarchive read block size */
#define FIRST_BUF 65536       /* initial size of the file buffer, which then doubles */

struct entry {
	char *id;                  /* path in the archive or relative to the directory; owned */
	size_t class_off;          /* the class name is id[class_off .. class_off + class_len) */
	size_t class_len;
	int64_t label;             /* index into classes */
};

struct xf_imgset {
	char *path;                  /* as given to xf_imgset_open; owned */
	bool is_dir;                 /* directory tree rather than archive */
	struct xf_imgset_opts opts;  /* copy of the caller's options */
	struct entry *entries;       /* every image: archive order, or sorted by id */
	int64_t n_entries, cap_entries;
	char **classes;              /* sorted, unique class names; owned */
	int n_classes;
	int64_t n_skipped;           /* regular files not taken as images */
	int64_t n_corrupt;           /* images skipped as corrupt (opts.on_corrupt) */
	int64_t next;                /* index of the entry xf_imgset_next returns next */
	struct archive *ar;          /* the second pass over an archive, while it runs */
	uint8_t *buf;                /* bytes of the current file, reused */
	size_t buf_cap;
	int64_t shape[3];            /* [H, W, C] of the first image, once have_shape */
	bool have_shape;
};

enum path_kind { PATH_SKIP, PATH_IMAGE, PATH_ORPHAN };

/* ---- layout rules ---- */

static bool has_image_ext(const char *base)
{
	static const char *const exts[] = { ".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm" };
	size_t n = strlen(base);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t k = strlen(exts[i]);
		if (n > k && !strcasecmp(base + n - k, exts[i]))
			return true;
	}
	return false;
}

static bool is_skipped_component(const char *p, size_t len)
{
	return (len > 0 && p[0] == '.') || (len == 8 && !memcmp(p, "__MACOSX", 8));
}

/*
 * Applies the layout rules of imgset.h to a path; for an image, sets the span of its
 * class (the last non-empty directory component). Leading "/" and "./" are ignored, so
 * that "./3/17.png" has class "3" but "./17.png" has none.
 */
static enum path_kind classify(const char *id, size_t *class_off, size_t *class_len)
{
	const char *p = id, *parent = NULL;
	size_t parent_len = 0;

	while (p[0] == '/' || (p[0] == '.' && p[1] == '/'))
		p += p[0] == '/' ? 1 : 2;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (is_skipped_component(p, len))
			return PATH_SKIP;
		if (!slash)
			break;
		if (len > 0) {
			parent = p;
			parent_len = len;
		}
		p = slash + 1;
	}
	if (!has_image_ext(p))
		return PATH_SKIP;
	if (!parent)
		return PATH_ORPHAN;
	*class_off = (size_t)(parent - id);
	*class_len = parent_len;
	return PATH_IMAGE;
}

/* Adds an image or counts a skipped file; an image outside any directory is an error. */
static int add_path(struct xf_imgset *s, const char *id, struct xf_err *err)
{
	struct entry *e;
	size_t off = 0, len = 0;

	switch (classify(id, &off, &len)) {
	case PATH_SKIP:
		s->n_skipped++;
		return 0;
	case PATH_ORPHAN:
		return xf_err_set(err, XF_E_FORMAT, "'%s': image is not inside a class directory "
				  "(expected CLASS/FILE)", id);
	case PATH_IMAGE:
		break;
	}
	if (s->n_entries == s->cap_entries) {
		int64_t cap = s->cap_entries ? 2 * s->cap_entries : 256;
		void *p = realloc(s->entries, (size_t)cap * sizeof(*e));
		if (!p)
			return xf_err_nomem(err, (size_t)cap * sizeof(*e));
		s->entries = p;
		s->cap_entries = cap;
	}
	e = &s->entries[s->n_entries];
	e->id = strdup(id);
	if (!e->id)
		return xf_err_nomem(err, strlen(id) + 1);
	e->class_off = off;
	e->class_len = len;
	e->label = -1;
	s->n_entries++;
	return 0;
}

/* ---- classes ---- */

/* Orders (a, na) and (b, nb) as strcmp orders the same strings NUL-terminated. */
static int span_cmp(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);

	return c ? c : (na > nb) - (na < nb);
}

static int entry_class_cmp(const void *pa, const void *pb)
{
	const struct entry *a = *(const struct entry *const *)pa, *b = *(const struct entry *const *)pb;

	return span_cmp(a->id + a->class_off, a->class_len, b->id + b->class_off, b->class_len);
}

static int find_class(const struct xf_imgset *s, const struct entry *e)
{
	int lo = 0, hi = s->n_classes - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		const char *name = s->classes[mid];
		int c = span_cmp(e->id + e->class_off, e->class_len, name, strlen(name));
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

static int collect_classes(struct xf_imgset *s, struct entry **by_class, struct xf_err *err)
{
	for (int64_t i = 0; i < s->n_entries; i++)
		by_class[i] = &s->entries[i];
	qsort(by_class, (size_t)s->n_entries, sizeof(*by_class), entry_class_cmp);
	for (int64_t i = 0; i < s->n_entries; i++) {
		const struct entry *e = by_class[i];
		if (i > 0 && entry_class_cmp(&by_class[i - 1], &by_class[i]) == 0)
			continue;
		if (s->n_classes == INT_MAX)
			return xf_err_set(err, XF_E_LIMIT, "'%s': too many classes", s->path);
		s->classes[s->n_classes] = strndup(e->id + e->class_off, e->class_len);
		if (!s->classes[s->n_classes])
			return xf_err_nomem(err, e->class_len + 1);
		s->n_classes++;
	}
	return 0;
}

/* Gives the classes ids 0..K-1 in strcmp order and labels every entry. */
static int assign_labels(struct xf_imgset *s, struct xf_err *err)
{
	size_t bytes = (size_t)s->n_entries * sizeof(struct entry *);
	struct entry **by_class = malloc(bytes);
	int rc;

	s->classes = calloc((size_t)s->n_entries, sizeof(*s->classes));
	if (!by_class || !s->classes) {
		free(by_class);
		return xf_err_nomem(err, bytes);
	}
	rc = collect_classes(s, by_class, err);
	free(by_class);
	for (int64_t i = 0; rc == 0 && i < s->n_entries; i++)
		s->entries[i].label = find_class(s, &s->entries[i]);
	return rc;
}

/* ---- directories ---- */

/* "a/b", or just b when a is empty; NULL when out of memory. */
static char *path_join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *p = malloc(na + nb + 2);

	if (!p)
		return NULL;
	if (na) {
		memcpy(p, a, na);
		p[na++] = '/';
	}
	memcpy(p + na, b, nb + 1);
	return p;
}

static int walk_dir(struct xf_imgset *s, const char *rel, struct xf_err *err);

static bool is_image_path(const char *id)
{
	size_t off, len;

	return classify(id, &off, &len) == PATH_IMAGE;
}

/*
 * One directory entry, rel being its path relative to the root. Symbolic links to
 * regular files count as files; dangling ones and links to directories are ignored.
 */
static int walk_one(struct xf_imgset *s, const char *rel, const char *name, struct xf_err *err)
{
	char *full = path_join(s->path, rel);
	struct stat st;
	int rc = 0;

	if (!full)
		return xf_err_nomem(err, strlen(s->path) + strlen(rel) + 2);
	if (lstat(full, &st) < 0)
		rc = xf_err_set(err, XF_E_IO, "cannot stat '%s': %s", full, strerror(errno));
	else if (S_ISDIR(st.st_mode) && !is_skipped_component(name, strlen(name)))
		rc = walk_dir(s, rel, err);
	else if (S_ISLNK(st.st_mode) && (stat(full, &st) < 0 || !S_ISREG(st.st_mode)))
		rc = 0;
	else if (S_ISREG(st.st_mode) && st.st_size > XF_IMGSET_MAX_FILE && is_image_path(rel))
		rc = xf_err_set(err, XF_E_LIMIT, "'%s' is %lld bytes, above the limit of %" PRId64,
				full, (long long)st.st_size, XF_IMGSET_MAX_FILE);
	else if (S_ISREG(st.st_mode))
		rc = add_path(s, rel, err);
	free(full);
	return rc;
}

/* Recursive walk; directory symlinks are not followed (lstat), so there are no loops. */
static int walk_dir(struct xf_imgset *s, const char *rel, struct xf_err *err)
{
	char *full = rel[0] ? path_join(s->path, rel) : strdup(s->path);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (!full)
		return xf_err_nomem(err, strlen(s->path) + strlen(rel) + 2);
	d = opendir(full);
	if (!d) {
		rc = xf_err_set(err, XF_E_IO, "cannot open directory '%s': %s", full, strerror(errno));
		free(full);
		return rc;
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		char *child;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = path_join(rel, de->d_name);
		rc = child ? walk_one(s, child, de->d_name, err) : xf_err_nomem(err, strlen(rel) + 256);
		free(child);
	}
	if (rc == 0 && errno)
		rc = xf_err_set(err, XF_E_IO, "cannot read directory '%s': %s", full, strerror(errno));
	closedir(d);
	free(full);
	return rc;
}

static int entry_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id);
}

static int list_dir(struct xf_imgset *s, struct xf_err *err)
{
	if (walk_dir(s, "", err) < 0)
		return -1;
	if (s->n_entries > 0)
		qsort(s->entries, (size_t)s->n_entries, sizeof(*s->entries), entry_id_cmp);
	return 0;
}

/* ---- archives ---- */

static int archive_fail(struct xf_imgset *s, struct archive *a, int code, struct xf_err *err)
{
	const char *msg = archive_error_string(a);

	return xf_err_set(err, code, "'%s': %s", s->path, msg ? msg : "unknown archive error");
}

static int archive_begin(struct xf_imgset *s, struct archive **out, struct xf_err *err)
{
	struct archive *a = archive_read_new();

	*out = NULL;
	if (!a)
		return xf_err_set(err, XF_E_NOMEM, "'%s': cannot create an archive reader", s->path);
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, s->path, ARCHIVE_BLOCK) != ARCHIVE_OK) {
		/* libarchive reports an unrecognised format as EILSEQ, and its own failures as -1 */
		int e = archive_errno(a);
		archive_fail(s, a, e > 0 && e != EILSEQ ? XF_E_IO : XF_E_FORMAT, err);
		archive_read_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

/* The next header of a regular file, with its path; 0 at the end of the archive. */
static int archive_next_file(struct xf_imgset *s, struct archive *a, const char **id,
			     int64_t *size, struct xf_err *err)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		*id = archive_entry_pathname(e);
		if (!*id)
			*id = archive_entry_pathname_utf8(e);
		if (!*id)
			return xf_err_set(err, XF_E_FORMAT, "'%s': an entry has an unreadable name",
					  s->path);
		*size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
		return 1;
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(s, a, XF_E_FORMAT, err);
	return 0;
}

static int list_archive(struct xf_imgset *s, struct xf_err *err)
{
	struct archive *a;
	const char *id;
	int64_t size;
	int rc;

	if (archive_begin(s, &a, err) < 0)
		return -1;
	while ((rc = archive_next_file(s, a, &id, &size, err)) == 1) {
		if (size > XF_IMGSET_MAX_FILE && is_image_path(id)) {
			rc = xf_err_set(err, XF_E_LIMIT, "'%s': entry '%s' is %" PRId64
					" bytes, above the limit of %" PRId64, s->path, id, size,
					XF_IMGSET_MAX_FILE);
			break;
		}
		if ((rc = add_path(s, id, err)) < 0)
			break;
	}
	archive_read_free(a);
	return rc;
}

/* ---- reading one file ---- */

/* Room for at least one byte after `used`: doubling, never beyond the limit plus one. */
static int grow_buf(struct xf_imgset *s, size_t used, struct xf_err *err)
{
	size_t cap;
	void *p;

	if (used < s->buf_cap)
		return 0;
	cap = s->buf_cap ? 2 * s->buf_cap : FIRST_BUF;
	if (cap > (size_t)XF_IMGSET_MAX_FILE + 1)
		cap = (size_t)XF_IMGSET_MAX_FILE + 1;
	p = realloc(s->buf, cap);
	if (!p)
		return xf_err_nomem(err, cap);
	s->buf = p;
	s->buf_cap = cap;
	return 0;
}

static int too_big(const char *id, struct xf_err *err)
{
	return xf_err_set(err, XF_E_LIMIT, "'%s' is more than %" PRId64 " bytes", id,
			  XF_IMGSET_MAX_FILE);
}

static int read_fd(struct xf_imgset *s, int fd, const char *id, size_t *len, struct xf_err *err)
{
	*len = 0;
	for (;;) {
		ssize_t n;
		if (grow_buf(s, *len, err) < 0)
			return -1;
		n = read(fd, s->buf + *len, s->buf_cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return xf_err_set(err, XF_E_IO, "cannot read '%s': %s", id, strerror(errno));
		if (n == 0)
			return 0;
		*len += (size_t)n;
		if (*len > (size_t)XF_IMGSET_MAX_FILE)
			return too_big(id, err);
	}
}

static int read_dir_file(struct xf_imgset *s, const char *id, size_t *len, struct xf_err *err)
{
	char *full = path_join(s->path, id);
	int fd, rc;

	if (!full)
		return xf_err_nomem(err, strlen(s->path) + strlen(id) + 2);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		rc = xf_err_set(err, XF_E_IO, "cannot open '%s': %s", full, strerror(errno));
	else
		rc = read_fd(s, fd, id, len, err);
	if (fd >= 0)
		close(fd);
	free(full);
	return rc;
}

/* Finds the next image header in the second pass; it must be the one the first pass saw. */
static int archive_seek_image(struct xf_imgset *s, const char *want, struct xf_err *err)
{
	const char *id;
	int64_t size;
	int rc;

	if (!s->ar && archive_begin(s, &s->ar, err) < 0)
		return -1;
	while ((rc = archive_next_file(s, s->ar, &id, &size, err)) == 1) {
		if (!is_image_path(id))
			continue;
		if (strcmp(id, want) || size > XF_IMGSET_MAX_FILE)
			break;
		return 0;
	}
	if (rc < 0)
		return -1;
	return xf_err_set(err, XF_E_FORMAT, "'%s' changed since it was opened (at '%s')", s->path,
			  want);
}

/* Entry data in chunks, so that the buffer only grows with bytes actually present. */
static int read_archive_file(struct xf_imgset *s, const char *id, size_t *len, struct xf_err *err)
{
	if (archive_seek_image(s, id, err) < 0)
		return -1;
	*len = 0;
	for (;;) {
		la_ssize_t n;
		if (grow_buf(s, *len, err) < 0)
			return -1;
		n = archive_read_data(s->ar, s->buf + *len, s->buf_cap - *len);
		if (n < 0)
			return xf_err_set(err, XF_E_FORMAT, "'%s': '%s': %s", s->path, id,
					  archive_error_string(s->ar) ? archive_error_string(s->ar) :
					  "read error");
		if (n == 0)
			return 0;
		*len += (size_t)n;
		if (*len > (size_t)XF_IMGSET_MAX_FILE)
			return too_big(id, err);
	}
}

/* ---- decoding ---- */

static int check_shape(struct xf_imgset *s, const char *id, const struct xf_tensor *img,
		       struct xf_err *err)
{
	if (!s->have_shape) {
		memcpy(s->shape, img->shape, sizeof(s->shape));
		s->have_shape = true;
		return 0;
	}
	if (img->shape[0] == s->shape[0] && img->shape[1] == s->shape[1] &&
	    img->shape[2] == s->shape[2])
		return 0;
	return xf_err_set(err, XF_E_FORMAT, "'%s' is %" PRId64 "x%" PRId64 ", the first image was %"
			  PRId64 "x%" PRId64 "; use --size HxW", id, img->shape[0], img->shape[1],
			  s->shape[0], s->shape[1]);
}

/* Decodes s->buf[0..len), resizes it if asked, and holds it to the first image's shape. */
static int decode_fit(struct xf_imgset *s, const char *id, size_t len, struct xf_tensor *image, bool *corrupt,
		      struct xf_err *err)
{
	const struct xf_imgset_opts *o = &s->opts;
	struct xf_tensor img, small;

	if (xf_image_decode(s->buf, len, id, o->gray, &img, err) < 0) {
		*corrupt = err->code == XF_E_FORMAT;
		return -1;
	}
	if (o->height && (img.shape[0] != o->height || img.shape[1] != o->width)) {
		int rc = xf_image_resize(&img, o->height, o->width, &small, err);
		xf_tensor_release(&img);
		if (rc < 0)
			return xf_err_prefix(err, "'%s'", id);
		img = small;
	}
	if (check_shape(s, id, &img, err) < 0) {
		xf_tensor_release(&img);
		return -1;
	}
	*image = img;
	return 0;
}

/* ---- public ---- */

static int check_opts(const struct xf_imgset_opts *o, struct xf_err *err)
{
	if (o->height < 0 || o->width < 0 || (o->height == 0) != (o->width == 0) ||
	    (o->height && o->height > XF_IMAGE_MAX_PIXELS / o->width))
		return xf_err_set(err, XF_E_USAGE, "bad image size %" PRId64 "x%" PRId64
				  " (both must be positive, or both 0 to keep the size)",
				  o->height, o->width);
	return 0;
}

static int list_images(struct xf_imgset *s, struct xf_err *err)
{
	struct stat st;

	if (stat(s->path, &st) < 0)
		return xf_err_set(err, XF_E_IO, "cannot open '%s': %s", s->path, strerror(errno));
	s->is_dir = S_ISDIR(st.st_mode);
	if ((s->is_dir ? list_dir(s, err) : list_archive(s, err)) < 0)
		return -1;
	if (s->n_entries == 0)
		return xf_err_set(err, XF_E_FORMAT, "no images found in '%s'", s->path);
	return assign_labels(s, err);
}

int xf_imgset_open(const char *path, const struct xf_imgset_opts *opts, struct xf_imgset **out,
		   struct xf_err *err)
{
	static const struct xf_imgset_opts defaults = XF_IMGSET_OPTS_INIT;
	struct xf_imgset *s;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (check_opts(opts, err) < 0)
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return xf_err_nomem(err, sizeof(*s) + strlen(path) + 1);
	}
	s->opts = *opts;
	if (list_images(s, err) < 0) {
		xf_imgset_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

int64_t xf_imgset_count(const struct xf_imgset *s)
{
	return s->n_entries;
}

int xf_imgset_n_classes(const struct xf_imgset *s)
{
	return s->n_classes;
}

const char *xf_imgset_class(const struct xf_imgset *s, int i)
{
	return i >= 0 && i < s->n_classes ? s->classes[i] : NULL;
}

int64_t xf_imgset_n_skipped(const struct xf_imgset *s)
{
	return s->n_skipped;
}

int64_t xf_imgset_n_corrupt(const struct xf_imgset *s)
{
	return s->n_corrupt;
}

void xf_image_to_chw(const struct xf_tensor *hwc, uint8_t *chw)
{
	int64_t hgt = hwc->shape[0], wid = hwc->shape[1], ch = hwc->shape[2];
	const uint8_t *p = hwc->data;

	for (int64_t c = 0; c < ch; c++)
		for (int64_t i = 0; i < hgt * wid; i++)
			chw[c * hgt * wid + i] = p[i * ch + c];
}

int xf_imgset_declare(const struct xf_imgset *s, struct xf_header *h, struct xf_err *err)
{
	int64_t chw[3] = { s->shape[2], s->shape[0], s->shape[1] };
	char **names = calloc((size_t)s->n_classes + 1, sizeof(*names));
	int rc;

	if (!names)
		return xf_err_nomem(err, 0);
	for (int i = 0; i < s->n_classes; i++)
		names[i] = s->classes[i];
	rc = xf_header_add_field(h, "x", XF_DTYPE_U8, 3, chw, err);
	rc = rc ? rc : xf_header_add_field(h, "y", XF_DTYPE_I64, 0, NULL, err);
	rc = rc ? rc : xf_header_add_field(h, "id", XF_DTYPE_STR, 0, NULL, err);
	rc = rc ? rc : xf_header_set_classes(h, s->n_classes, names, err);
	free(names);
	return rc;
}

int xf_imgset_next(struct xf_imgset *s, struct xf_tensor *image, int64_t *label, const char **id,
		   struct xf_err *err)
{
	const struct entry *e;
	size_t len = 0;
	bool corrupt = false;
	int rc;

	xf_tensor_init(image);
	do {
		if (s->next >= s->n_entries) {
			archive_read_free(s->ar);   /* NULL is fine */
			s->ar = NULL;
			return 0;
		}
		e = &s->entries[s->next];
		rc = s->is_dir ? read_dir_file(s, e->id, &len, err) : read_archive_file(s, e->id, &len, err);
		if (rc == 0 && (rc = decode_fit(s, e->id, len, image, &corrupt, err)) < 0 && corrupt && s->opts.on_corrupt) {
			s->opts.on_corrupt(s->opts.ctx, err->msg);
			s->n_corrupt++, s->next++;
			continue;
		}
		if (rc < 0)
			return -1;
	} while (rc < 0);
	*label = e->label;
	*id = e->id;
	s->next++;
	return 1;
}

/* The images of [first, first + n) in cols, as xf_imgset_read_rows returns them. */
static int make_columns(const struct xf_tensor *images, const int64_t *labels, char **ids, int64_t n,
			struct xf_tensor cols[3], struct xf_err *err)
{
	int64_t shape[4] = { n, images[0].shape[2], images[0].shape[0], images[0].shape[1] }, plane = shape[1] * shape[2] * shape[3];
	size_t text = 0;
	char *p;
	int rc;

	for (int64_t i = 0; i < n; i++)
		text += strlen(ids[i]) + 1;
	rc = xf_tensor_alloc_uninit(&cols[0], XF_DTYPE_U8, 4, shape, err);
	rc = rc ? rc : xf_tensor_alloc(&cols[1], XF_DTYPE_I64, 1, shape, err);
	rc = rc ? rc : xf_tensor_alloc_str(&cols[2], n, text, &p, err);
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		xf_image_to_chw(&images[i], (uint8_t *)cols[0].data + i * plane);
		((int64_t *)cols[1].data)[i] = labels[i];
		((char **)cols[2].data)[i] = strcpy(p, ids[i]);
		p += strlen(ids[i]) + 1;
	}
	return rc;
}

int64_t xf_imgset_read_rows(struct xf_imgset *s, int64_t max, struct xf_tensor cols[3], struct xf_err *err)
{
	struct xf_tensor *images = calloc((size_t)max, sizeof(*images));
	int64_t *labels = calloc((size_t)max, sizeof(*labels)), n = 0;
	char **ids = calloc((size_t)max, sizeof(*ids));
	const char *id;
	int got = 1;

	for (int k = 0; k < 3; k++)
		xf_tensor_init(&cols[k]);
	if (!images || !labels || !ids)
		got = xf_err_nomem(err, 0);
	while (got > 0 && n < max && (got = xf_imgset_next(s, &images[n], &labels[n], &id, err)) > 0)
		if (!(ids[n++] = strdup(id)))
			got = xf_err_nomem(err, 0);
	if (got >= 0 && n > 0 && make_columns(images, labels, ids, n, cols, err) < 0)
		got = -1;
	for (int64_t i = 0; i < n; i++)
		xf_tensor_release(&images[i]), free(ids[i]);
	free(images), free(labels), free(ids);
	if (got < 0)
		for (int k = 0; k < 3; k++)
			xf_tensor_release(&cols[k]);
	return got < 0 ? -1 : n;
}

void xf_imgset_close(struct xf_imgset *s)
{
	if (!s)
		return;
	for (int64_t i = 0; i < s->n_entries; i++)
		free(s->entries[i].id);
	for (int i = 0; i < s->n_classes; i++)
		free(s->classes[i]);
	archive_read_free(s->ar);
	free(s->entries);
	free(s->classes);
	free(s->buf);
	free(s->path);
	free(s);
}
