/*
 * prog: what every program in bin/ shares: its name in messages, dying with the right
 * status, the common options, opening inputs and the output (-o FILE through a temporary
 * that is renamed on success and removed on failure or a signal), progress on a terminal,
 * thread counts. The only part of lib/ that prints or exits.
 */
#ifndef XF_PROG_H
#define XF_PROG_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "io.h"
#include "reader.h"
#include "writer.h"

/* Options every program takes; fields filled by prog_common_option. */
struct prog_common {
	const char *output;      /* -o FILE; NULL = stdout */
	bool force;              /* -f: binary to a terminal is allowed */
	int zstd_level;          /* -z/--zstd[=LEVEL]; 0 = off (on by default for -o NAME.zst) */
	int threads;             /* -j/--threads; 0 = all cores (or OPENBLAS_NUM_THREADS) */
	int progress;            /* -1 = only when stderr is a terminal, 0 = never, 1 = always */
};

#define PROG_COMMON_INIT { NULL, false, 0, 0, -1 }

/* getopt_long pieces: append PROG_COMMON_SHORT to the short options and PROG_COMMON_LONG to the table. */
#define PROG_COMMON_SHORT "hVvqo:fz::j:"
enum { PROG_OPT_PROGRESS = 1000, PROG_OPT_NO_PROGRESS, PROG_OPT_FAKE_TTY, PROG_OPT_FIRST_FREE };
#define PROG_COMMON_LONG \
	{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }, \
	{ "verbose", no_argument, NULL, 'v' }, { "quiet", no_argument, NULL, 'q' }, \
	{ "output", required_argument, NULL, 'o' }, { "force", no_argument, NULL, 'f' }, \
	{ "zstd", optional_argument, NULL, 'z' }, { "threads", required_argument, NULL, 'j' }, \
	{ "progress", no_argument, NULL, PROG_OPT_PROGRESS }, \
	{ "no-progress", no_argument, NULL, PROG_OPT_NO_PROGRESS }, \
	{ "fake-stderr-is-tty", no_argument, NULL, PROG_OPT_FAKE_TTY }

/* Name the program (for messages), restore SIGPIPE, remember usage text and synopsis. */
void prog_init(const char *name, const char *synopsis, const char *help);

/* Handle a common option: returns 1 if it was one (exits for -h, -V, bad values), else 0. */
int prog_common_option(int opt, const char *arg, struct prog_common *c);

/* Messages: "name: ..." on stderr. die exits 1; usage_error prints the synopsis and exits 2. */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void usage_error(const char *fmt, ...);
/* Die with a library error: quietly by SIGPIPE for XF_E_PIPE, exit 2 for XF_E_USAGE, else 1. */
__attribute__((noreturn)) void die_err(const struct xf_err *err);
/*
 * Die (status 1) with an error about the input `path` ("-" is stdin): the input's name once in
 * front of the message; the reader's messages begin with it already.
 */
__attribute__((noreturn)) void die_input(const char *path, const struct xf_err *err);
/*
 * End the program as out of memory from inside a library that cannot report it (prog_mmap.c):
 * "name: out of memory: WHAT", the -o temporary removed, status 1 by _exit, since the
 * library's exit handlers may wait for a lock that its stuck caller holds.
 */
__attribute__((noreturn)) void prog_die_in_library(const char *what);
/* Start counting failed maps afresh (prog_mmap.c; prog_init calls it, which links it in). */
void prog_mmap_reset(void);
/* Print at display level `level` (1 warnings, 2 -v summaries, 3 -vv details). */
__attribute__((format(printf, 2, 3))) void note(int level, const char *fmt, ...);
int prog_verbosity(void);

/* The one operand left after the options (argv[optind]), or "-" for none; more is a usage error. */
const char *prog_single_input(int argc, char **argv);
/* Strict number parsing for options; exits 2 naming the option on junk or out of range. */
int64_t prog_parse_int(const char *opt, const char *arg, int64_t min, int64_t max);
double prog_parse_double(const char *opt, const char *arg);

/* Open an input stream; "-" is stdin, refused when it is a terminal. Dies on failure. */
struct xf_reader *prog_open_reader(const char *path);

/* The output: stdout or -o FILE via FILE.tmp; zstd per options. Dies on failure. */
struct prog_output;
struct prog_output *prog_open_output(const struct prog_common *c, bool binary);
struct xf_sink *prog_output_sink(struct prog_output *o);
/* The file descriptor and name underneath, for formats written without the sink (npz). */
int prog_output_fd(const struct prog_output *o);
const char *prog_output_name(const struct prog_output *o);
/* A stream writer on the output (programs add their history to headers with prog_add_history). */
struct xf_writer *prog_output_writer(struct prog_output *o);
/* Finish, flush, rename the temporary into place; dies on any failure. */
void prog_close_output(struct prog_output *o);

/* Record this program in a header's meta.history (argv as given to prog_set_args). */
void prog_set_args(int argc, char **argv);
void prog_add_history(struct xf_header *h);

/* Threads for OpenBLAS and our loops: --threads, else OPENBLAS_NUM_THREADS, else all cores. */
int prog_threads(const struct prog_common *c);

/* Progress on stderr; NULL-safe handle, rate-limited to ~5 updates a second. */
struct prog_progress;
struct prog_progress *prog_progress_start(const struct prog_common *c, const char *label, int64_t total);
void prog_progress_update(struct prog_progress *p, int64_t done);
void prog_progress_done(struct prog_progress *p);

#endif
