/*
 * prog_mmap: the programs' own mmap, in front of the C library's. OpenBLAS 0.3.21 (Debian 12)
 * maps its 128 MiB work buffer with mmap at a thread's first BLAS call and, when that fails,
 * retries forever (OpenMathLib/OpenBLAS#5289). Under an address-space limit (`ulimit -v`) that
 * leaves room for the data but not for that buffer, a program would hang instead of failing.
 * The executable defines mmap, so the shared libraries' calls come here. After
 * FAILURES_IN_A_ROW failures with ENOMEM and no success between them, the program ends as out
 * of memory. Nothing of ours retries a failed map, and glibc's malloc maps through its own
 * internal call, so the count is only reached by a retry loop.
 * Sanitizer builds keep their runtime's mmap, which must see every map; 32-bit systems keep the
 * C library's (their mmap system call takes other arguments).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prog.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
#define XF_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XF_SANITIZED 1
#endif

#define FAILURES_IN_A_ROW 1000

static atomic_uint failures_in_a_row;

void prog_mmap_reset(void)
{
	atomic_store(&failures_in_a_row, 0);
}

#if !defined(XF_SANITIZED) && defined(__LP64__)
void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	long r = syscall(SYS_mmap, addr, length, prot, flags, fd, offset);

	if (r != -1) {
		atomic_store(&failures_in_a_row, 0);
		return (void *)r;
	}
	if (errno == ENOMEM && atomic_fetch_add(&failures_in_a_row, 1) + 1 >= FAILURES_IN_A_ROW) {
		char what[96];

		snprintf(what, sizeof(what), "a library cannot map %zu bytes (an address-space limit? ulimit -v)",
			 length);
		prog_die_in_library(what);
	}
	return MAP_FAILED;
}
#endif
