/*
 * merge_run: the tensor loop of a merge; see merge_run.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "merge_run.h"
#include "tensor.h"

struct buffers {
	float **in;           /* per input: room for a converted tensor */
	const float **data;   /* per input: the tensor as read (in[i], or mapped from the file) */
	const float **models; /* per model: data[] or NULL where the model sits out */
	float *out[2];        /* results, alternately: one is written while the next is merged */
};

static void free_buffers(struct buffers *b, int n)
{
	for (int i = 0; b->in && i < n; i++)
		free(b->in[i]);
	free(b->in);
	free(b->data);
	free(b->models);
	free(b->out[0]);
	free(b->out[1]);
}

#define HUGE_PAGE ((size_t)2 << 20)

/*
 * An output buffer on transparent huge pages where the kernel offers them: a result is
 * written once per tensor, and first touches of 4 KiB pages (a fault and a clear each)
 * cost as much as the merge itself on a large tensor.
 */
static float *alloc_output(size_t bytes)
{
	void *p;

	if (bytes < HUGE_PAGE)
		return malloc(bytes);
	if (posix_memalign(&p, HUGE_PAGE, bytes))
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, bytes, MADV_HUGEPAGE); /* advice only: 4 KiB pages are correct too */
#endif
	return p;
}

static int alloc_buffers(struct buffers *b, int n, int64_t count, struct xf_err *err)
{
	size_t bytes = (size_t)(count ? count : 1) * sizeof(float);

	b->in = calloc((size_t)n, sizeof(*b->in));
	b->data = calloc((size_t)n, sizeof(*b->data));
	b->models = calloc((size_t)n, sizeof(*b->models));
	b->out[0] = alloc_output(bytes);
	b->out[1] = alloc_output(bytes);
	if (!b->in || !b->data || !b->models || !b->out[0] || !b->out[1])
		return xf_err_nomem(err, bytes);
	for (int i = 0; i < n; i++)
		if (!(b->in[i] = malloc(bytes)))
			return xf_err_nomem(err, bytes);
	return 0;
}

/* Read entry e of every input into the buffers; models[] points at those present. */
static int read_entry(const struct xf_merge_run *run, const struct xf_merge_entry *e, struct buffers *b,
		      struct xf_err *err)
{
	int first_model = run->has_base ? 1 : 0;

	for (int i = 0; i < run->plan->n_inputs; i++) {
		bool present = e->index[i] >= 0;

		b->data[i] = NULL;
		if (present && xf_model_source_get(run->inputs[i], e->index[i], b->in[i], &b->data[i], err) < 0)
			return -1;
		if (i >= first_model)
			b->models[i - first_model] = b->data[i];
	}
	return 0;
}

static const float *base_of(const struct xf_merge_run *run, const struct buffers *b)
{
	return run->has_base ? b->data[0] : NULL;
}

static int rewind_all(const struct xf_merge_run *run, struct xf_err *err)
{
	for (int i = 0; i < run->plan->n_inputs; i++)
		if (xf_model_source_rewind(run->inputs[i], err) < 0)
			return -1;
	return 0;
}

static void report(const struct xf_merge_run *run, int64_t *done, int64_t count)
{
	*done += count;
	if (run->progress)
		run->progress(run->progress_ctx, *done);
}

static int scan_pass(const struct xf_merge_run *run, int pass, struct buffers *b, int64_t *done, struct xf_err *err)
{
	const struct xf_merge_plan *p = run->plan;

	for (int t = 0; t < p->n; t++) {
		const struct xf_merge_entry *e = &p->entries[t];

		if (read_entry(run, e, b, err) < 0 ||
		    xf_merger_scan(run->merger, pass, base_of(run, b), b->models, e->count, err) < 0)
			return -1;
		report(run, done, e->count);
	}
	return xf_merger_end_pass(run->merger, pass, err);
}

/*
 * Write-behind: the sink writes tensor t on its own thread while tensor t + 1 is read and
 * merged, so the kernel's copy into the output overlaps the merge. Without the thread (it
 * could not be started) tensors are written in line.
 */
struct write_behind {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct xf_model_sink *sink;
	const float *data;   /* the tensor being handed over; NULL when idle */
	int index;
	bool quit, started;
	int rc;              /* -1 once a write failed (err holds why) */
	struct xf_err err;
};

static void *write_behind_main(void *arg)
{
	struct write_behind *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		const float *data;
		int rc;

		while (!w->data && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->data)
			break;
		data = w->data;
		pthread_mutex_unlock(&w->lock);
		rc = w->rc < 0 ? -1 : xf_model_sink_put(w->sink, w->index, data, &w->err);
		pthread_mutex_lock(&w->lock);
		w->rc = rc < 0 ? -1 : w->rc;
		w->data = NULL;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void write_behind_start(struct write_behind *w, struct xf_model_sink *sink)
{
	*w = (struct write_behind){ .sink = sink, .err = XF_ERR_INIT };
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->started = pthread_create(&w->thread, NULL, write_behind_main, w) == 0;
}

/* Wait until the tensor handed over last is written; -1 with err if any write failed. */
static int write_behind_wait(struct write_behind *w, struct xf_err *err)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	while (w->data)
		pthread_cond_wait(&w->cond, &w->lock);
	rc = w->rc;
	pthread_mutex_unlock(&w->lock);
	if (rc < 0)
		*err = w->err;
	return rc;
}

/* Hand tensor i over (after write_behind_wait); data must stay untouched until the next wait. */
static int write_behind_put(struct write_behind *w, int i, const float *data, struct xf_err *err)
{
	if (!w->started)
		return xf_model_sink_put(w->sink, i, data, err);
	pthread_mutex_lock(&w->lock);
	w->data = data;
	w->index = i;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void write_behind_stop(struct write_behind *w)
{
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->quit = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

static int merge_tensors(const struct xf_merge_run *run, struct buffers *b, struct write_behind *w, int64_t *done,
			 struct xf_err *err)
{
	const struct xf_merge_plan *p = run->plan;

	for (int t = 0; t < p->n; t++) {
		const struct xf_merge_entry *e = &p->entries[t];
		float *out = b->out[t & 1];

		if (read_entry(run, e, b, err) < 0 ||
		    xf_merger_tensor(run->merger, e->name, t, base_of(run, b), b->models, e->count, out, err) < 0 ||
		    write_behind_wait(w, err) < 0 || write_behind_put(w, t, out, err) < 0)
			return -1;
		report(run, done, e->count);
	}
	return write_behind_wait(w, err);
}

static int output_pass(const struct xf_merge_run *run, struct buffers *b, int64_t *done, struct xf_err *err)
{
	struct write_behind w;
	int rc;

	write_behind_start(&w, run->sink);
	rc = merge_tensors(run, b, &w, done, err);
	write_behind_stop(&w);
	return rc < 0 ? -1 : xf_model_sink_end(run->sink, err);
}

int xf_merge_run(const struct xf_merge_run *run, struct xf_err *err)
{
	int n = run->plan->n_inputs, passes = xf_merger_passes(run->merger), rc = 0;
	struct buffers b = { NULL, NULL, NULL, { NULL, NULL } };
	int64_t done = 0;

	if (alloc_buffers(&b, n, run->plan->max_count, err) < 0) {
		free_buffers(&b, n);
		return -1;
	}
	for (int p = 0; p < passes && rc == 0; p++)
		rc = (p > 0 ? rewind_all(run, err) : 0) < 0 ? -1 : scan_pass(run, p, &b, &done, err);
	if (rc == 0 && passes > 0)
		rc = rewind_all(run, err);
	if (rc == 0)
		rc = output_pass(run, &b, &done, err);
	free_buffers(&b, n);
	return rc;
}
