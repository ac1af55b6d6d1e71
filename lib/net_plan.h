/*
 * net_plan: how a net (net.h) lays out its activations: which nodes run, which values are
 * views of others (flatten, a folded batchnorm, an op done in place), and which buffer holds
 * each value. Internal to net.c; separate so that the plan can be read and tested alone.
 */
#ifndef XF_NET_PLAN_H
#define XF_NET_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

struct xf_net_plan {
	int n_values;        /* g->n_inputs + g->n_nodes */
	bool *runs;          /* per node: computed by its kernel (needed, and not a view) */
	bool *folded;        /* per node: a batchnorm folded into the convolution before it */
	int *root;           /* per value: the value whose memory it is (itself for an owner) */
	int *buffer;         /* per owner value: buffer index; -1 for graph inputs and values not computed */
	int n_buffers;       /* buffers used */
	int64_t *capacity;   /* per buffer: floats per sample */
};

/*
 * Plan g for the values keep[0..n_keep). -1 with err (XF_E_USAGE for a bad id, XF_E_NOMEM).
 */
int xf_net_plan(const struct xf_graph *g, const int *keep, int n_keep, struct xf_net_plan *p, struct xf_err *err);

void xf_net_plan_release(struct xf_net_plan *p);

#endif
