/* export: NumPy files from held rows; see export.h. */
#include "export.h"
#include "npy.h"

int xf_export_stack(const struct xf_header *h, int field, const struct xf_tensor *parts, int n,
		    struct xf_tensor *out, struct xf_err *err)
{
	const struct xf_field *f = &h->fields[field];
	int64_t shape[XF_MAX_DIMS + 1] = { 0 };
	char *text;

	if (n > 0)
		return xf_tensor_concat_rows(parts, n, out, err);
	if (f->dtype == XF_DTYPE_STR)
		return xf_tensor_alloc_str(out, 0, 0, &text, err);
	if (h->kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "tensor '%s' is missing", f->name);
	for (int i = 0; i < f->ndim; i++)
		shape[i + 1] = f->shape[i];
	return xf_tensor_alloc(out, f->dtype, f->ndim + 1, shape, err);
}

int xf_export_npy(int fd, const char *name, const struct xf_tensor *t, struct xf_err *err)
{
	struct xf_npy_writer *w = xf_npy_writer_open(fd, name, t->dtype, t->ndim, t->shape, err);

	if (!w)
		return -1;
	if (xf_npy_writer_write(w, t, err) < 0) {
		xf_npy_writer_abort(w);
		return -1;
	}
	return xf_npy_writer_close(w, err);
}

int xf_export_npz(int fd, const char *name, const struct xf_header *h, const struct xf_tensor *arrays,
		  struct xf_err *err)
{
	struct xf_npz_writer *w = xf_npz_writer_open_fd(fd, name, 0, err);

	if (!w)
		return -1;
	for (int i = 0; i < h->n_fields; i++)
		if (xf_npz_writer_add(w, h->fields[i].name, &arrays[i], err) < 0) {
			struct xf_err ignored = XF_ERR_INIT;

			xf_npz_writer_close(w, &ignored);
			return -1;
		}
	return xf_npz_writer_close(w, err);
}
