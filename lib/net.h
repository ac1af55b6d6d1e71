/*
 * net: a model graph (model.h) made ready to run forward on batches of float32 samples, and
 * run. This is the engine behind xfer-embed; xfer-train adds the backward pass beside it.
 *
 *	int keep[] = { xf_graph_find(m.g, "fc1") };
 *	struct xf_net *net;
 *	if (xf_net_new(&m, keep, 1, 64, threads, &net, &err) < 0) return -1;
 *	const float *inputs[] = { images };             one per graph input, [batch, shape]
 *	if (xf_net_run(net, inputs, batch, &err) < 0) ...
 *	const float *fc1 = xf_net_value(net, keep[0]);  [batch, shape of fc1]
 *	xf_net_free(net);
 *
 * At load time: only the nodes that lead to a kept value run; a batchnorm whose input is a
 * convolution read by nothing else (and not kept) is folded into that convolution's
 * weights (nn_conv.h); convolution weights are packed once for the GEMM kernel; flatten is
 * a view. Activation memory is planned once for max_batch samples: each value gets a
 * buffer when it is computed and gives it back after its last reader, elementwise ops and
 * add write over an input that nobody reads afterwards, so a ResNet needs a few buffers of
 * its largest activation rather than one per node. Kept values keep their own buffers.
 */
#ifndef XF_NET_H
#define XF_NET_H

#include "model.h"

struct xf_net;

/*
 * Prepare m (borrowed: it must outlive the net) to compute the values keep[0..n_keep)
 * (value ids as in graph.h; graph inputs allowed, they are passed back as given) for up to
 * max_batch samples per run, with `threads` threads (0 or less: all cores). -1 with err:
 * XF_E_USAGE for no kept value or a bad id, XF_E_FORMAT for a batchnorm that cannot be
 * folded (naming the node), XF_E_LIMIT, XF_E_NOMEM.
 */
int xf_net_new(const struct xf_model *m, const int *keep, int n_keep, int64_t max_batch, int threads,
	       struct xf_net **out, struct xf_err *err);

/*
 * Run on `batch` samples (1..max_batch): inputs[i] is graph input i as float32
 * [batch, its shape], C order, left unchanged. -1 with err naming the node for a kernel's
 * error (e.g. sizes beyond BLAS integers).
 */
int xf_net_run(struct xf_net *net, const float *const *inputs, int64_t batch, struct xf_err *err);

/* Value v (one of the kept ids) of the last run: [batch, shape], valid until the next run. */
const float *xf_net_value(const struct xf_net *net, int v);

/* Bytes of activation buffers and scratch planned for max_batch samples (for -v). */
size_t xf_net_memory(const struct xf_net *net);

void xf_net_free(struct xf_net *net);

#endif
