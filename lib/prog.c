/*
 * prog: program support for bin/ (see prog.h). It holds the process-wide state a program
 * has once: its name, display level, arguments, and the temporary output file that a
 * signal handler must be able to remove.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_atomic.h"
#include "prog.h"

static const char *prog_name = "xfer";
static const char *prog_synopsis = "";
static const char *prog_help = "";
static int display_level = 1;
static bool fake_tty;
static bool progress_on_line;             /* a progress bar is the last thing on stderr's line */
static int saved_argc;
static char **saved_argv;
static char temp_path[PATH_MAX];        /* the -o temporary, removed unless renamed */
static volatile sig_atomic_t temp_live;

struct prog_output {
	int fd;
	bool direct;                 /* -o names a device or FIFO: written in place, no temporary */
	char final[PATH_MAX];
	struct xf_sink *sink;
	struct xf_writer *writer;
};

struct prog_progress {
	const char *label;
	int64_t total;
	struct timespec last;
	bool drawn;
};

static void remove_temp(void)
{
	if (temp_live) {
		unlink(temp_path);
		temp_live = 0;
	}
}

static void on_fatal_signal(int sig)
{
	remove_temp();
	signal(sig, SIG_DFL);
	raise(sig);
}

void prog_init(const char *name, const char *synopsis, const char *help)
{
	sigset_t set;

	prog_name = name;
	prog_synopsis = synopsis;
	prog_help = help;
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
	atexit(remove_temp);
	prog_mmap_reset();
}

static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(1);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s", prog_synopsis);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog_name);
	exit(2);
}

void die_err(const struct xf_err *err)
{
	if (err->code == XF_E_PIPE) {
		remove_temp();
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	if (err->code == XF_E_USAGE)
		usage_error("%s", err->msg);
	die("%s", err->msg);
}

void prog_die_in_library(const char *what)
{
	remove_temp();
	fprintf(stderr, "%s: out of memory: %s\n", prog_name, what);
	_exit(1);
}

void die_input(const char *path, const struct xf_err *err)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	size_t len = strlen(name);

	if (!strncmp(err->msg, name, len) && err->msg[len] == ':')
		die("%s", err->msg);
	die("%s: %s", name, err->msg);
}

void note(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > display_level)
		return;
	if (progress_on_line) /* a message starts on a clean line; the bar comes back at its next update */
		fputs("\r\033[K", stderr), progress_on_line = false;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

int prog_verbosity(void)
{
	return display_level;
}

const char *prog_single_input(int argc, char **argv)
{
	if (optind < argc - 1)
		usage_error("one input at a time (got %d)", argc - optind);
	return optind < argc ? argv[optind] : "-";
}

int64_t prog_parse_int(const char *opt, const char *arg, int64_t min, int64_t max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (end == arg || *end || errno == ERANGE)
		usage_error("%s: '%s' is not an integer", opt, arg);
	if (v < min || v > max)
		usage_error("%s: %lld is out of range (%lld to %lld)", opt, v, (long long)min, (long long)max);
	return v;
}

double prog_parse_double(const char *opt, const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end || errno == ERANGE || !isfinite(v))
		usage_error("%s: '%s' is not a finite number", opt, arg);
	return v;
}

/* After --help or --version: exit 0 only if stdout took all of it. */
__attribute__((noreturn)) static void exit_after_stdout(void)
{
	if (fflush(stdout) || ferror(stdout))
		die("write error: <stdout>: %s", strerror(errno));
	exit(0);
}

static int parse_zstd_level(const char *arg)
{
	return arg ? (int)prog_parse_int("--zstd", arg, -7, 19) : 3;
}

int prog_common_option(int opt, const char *arg, struct prog_common *c)
{
	switch (opt) {
	case 'h':
		fputs(prog_help, stdout);
		exit_after_stdout();
	case 'V':
		printf("%s (xfer) %s\n", prog_name, XF_VERSION);
		exit_after_stdout();
	case 'v': display_level++; return 1;
	case 'q': display_level = 0; return 1;
	case 'o': c->output = arg; return 1;
	case 'f': c->force = true; return 1;
	case 'z': c->zstd_level = parse_zstd_level(arg); return 1;
	case 'j': c->threads = (int)prog_parse_int("--threads", arg, 1, 4096); return 1;
	case PROG_OPT_PROGRESS: c->progress = 1; return 1;
	case PROG_OPT_NO_PROGRESS: c->progress = 0; return 1;
	case PROG_OPT_FAKE_TTY: fake_tty = true; return 1;
	case '?': usage_error("invalid option");
	default: return 0;
	}
}

struct xf_reader *prog_open_reader(const char *path)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_reader *r;

	if (!strcmp(path, "-") && isatty(STDIN_FILENO))
		usage_error("refusing to read binary data from a terminal; give a file or a pipe");
	r = xf_reader_open(path, &err);
	if (!r)
		die_err(&err);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/*
 * -o PATH: a regular file is written through a temporary PATH.tmp.* and renamed into place; a
 * symbolic link is followed, so the file it points at is replaced; a device or FIFO (e.g.
 * /dev/null) is written in place, since renaming over it would replace the device.
 */
static int open_output_file(struct prog_output *o, const char *path)
{
	char resolved[PATH_MAX];
	sigset_t fatal, old;
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && realpath(path, resolved))
		path = resolved;
	snprintf(o->final, sizeof(o->final), "%s", path);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			die("cannot open '%s': %s", path, strerror(errno));
		o->direct = true;
		return fd;
	}
	if (snprintf(temp_path, sizeof(temp_path), "%s" XF_TEMP_SUFFIX, path) >= (int)sizeof(temp_path))
		die("output name too long: '%s'", path);
	/* A signal between creating the temporary and recording it would leave it behind. */
	sigemptyset(&fatal);
	sigaddset(&fatal, SIGINT);
	sigaddset(&fatal, SIGTERM);
	sigaddset(&fatal, SIGHUP);
	sigprocmask(SIG_BLOCK, &fatal, &old);
	fd = mkstemp(temp_path);
	temp_live = fd >= 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (fd < 0)
		die("cannot create '%s': %s", temp_path, strerror(errno));
	fchmod(fd, xf_new_file_mode());
	return fd;
}

struct prog_output *prog_open_output(const struct prog_common *c, bool binary)
{
	struct prog_output *o = calloc(1, sizeof(*o));
	struct xf_sink_opts opts = { c->zstd_level, prog_threads(c) };
	struct xf_err err = XF_ERR_INIT;

	if (!o)
		die("out of memory");
	if (c->output && strcmp(c->output, "-")) {
		o->fd = open_output_file(o, c->output);
		if (!opts.zstd_level && binary && ends_with(c->output, ".zst"))
			opts.zstd_level = 3;
	} else {
		o->fd = STDOUT_FILENO;
		if (binary && !c->force && isatty(STDOUT_FILENO))
			usage_error("refusing to write binary data to a terminal; use -o FILE or -f");
	}
	o->sink = xf_sink_fd(o->fd, o->final[0] ? o->final : "<stdout>", &opts, &err);
	if (!o->sink)
		die_err(&err);
	return o;
}

struct xf_sink *prog_output_sink(struct prog_output *o)
{
	return o->sink;
}

int prog_output_fd(const struct prog_output *o)
{
	return o->fd;
}

const char *prog_output_name(const struct prog_output *o)
{
	return o->final[0] ? o->final : "<stdout>";
}

struct xf_writer *prog_output_writer(struct prog_output *o)
{
	struct xf_err err = XF_ERR_INIT;

	if (!o->writer && !(o->writer = xf_writer_new(o->sink, &err)))
		die_err(&err);
	return o->writer;
}

void prog_close_output(struct prog_output *o)
{
	struct xf_err err = XF_ERR_INIT;

	xf_writer_free(o->writer);
	if (xf_sink_close(o->sink, &err) < 0)
		die_err(&err);
	if (o->fd == STDOUT_FILENO) {
		free(o);
		return;
	}
	if (!o->direct && fsync(o->fd) < 0 && errno != EINVAL)
		die("write error: '%s': %s", o->final, strerror(errno));
	if (close(o->fd) < 0)
		die("write error: '%s': %s", o->final, strerror(errno));
	if (o->direct) {
		free(o);
		return;
	}
	if (rename(temp_path, o->final) < 0)
		die("cannot rename '%s' to '%s': %s", temp_path, o->final, strerror(errno));
	temp_live = 0;
	free(o);
}

void prog_set_args(int argc, char **argv)
{
	saved_argc = argc;
	saved_argv = argv;
}

void prog_add_history(struct xf_header *h)
{
	struct xf_err err = XF_ERR_INIT;

	if (xf_header_add_history(h, prog_name, saved_argc, saved_argv, &err) < 0)
		die_err(&err);
}

int prog_threads(const struct prog_common *c)
{
	const char *env = getenv("OPENBLAS_NUM_THREADS");
	long n;

	if (c->threads > 0)
		return c->threads;
	if (env && (n = strtol(env, NULL, 10)) > 0)
		return (int)n;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static bool stderr_is_tty(void)
{
	return fake_tty || isatty(STDERR_FILENO);
}

struct prog_progress *prog_progress_start(const struct prog_common *c, const char *label, int64_t total)
{
	struct prog_progress *p;

	if (c->progress == 0 || display_level == 0 || (c->progress < 0 && !stderr_is_tty()))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p) {
		p->label = label;
		p->total = total;
	}
	return p;
}

void prog_progress_update(struct prog_progress *p, int64_t done)
{
	struct timespec now;

	if (!p)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (p->drawn && (now.tv_sec - p->last.tv_sec) * 1000 + (now.tv_nsec - p->last.tv_nsec) / 1000000 < 200)
		return;
	p->last = now;
	p->drawn = progress_on_line = true;
	if (p->total > 0)
		fprintf(stderr, "\r%s: %s %lld/%lld (%d%%)\033[K", prog_name, p->label, (long long)done,
			(long long)p->total, (int)(100.0 * done / p->total));
	else
		fprintf(stderr, "\r%s: %s %lld\033[K", prog_name, p->label, (long long)done);
}

void prog_progress_done(struct prog_progress *p)
{
	if (!p)
		return;
	if (p->drawn)
		fprintf(stderr, "\r\033[K");
	progress_on_line = false;
	free(p);
}
