/* csr: compressed sparse rows; see csr.h. */
#include <stdlib.h>

#include "csr.h"

void xf_csr_release(struct xf_csr *m)
{
	free(m->rowptr);
	free(m->col);
	free(m->val);
	*m = (struct xf_csr)XF_CSR_INIT;
}
