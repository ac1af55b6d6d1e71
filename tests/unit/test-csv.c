/*
 * Unit tests for lib/csv.c: exact cells for small inputs fed 1, 2, 3, 7 bytes and whole chunks
 * at a time (so chunk boundaries fall inside quotes, CRLF pairs and the BOM), delimiter
 * detection, every error with its line number, the limits, and strict number parsing.
 */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>

#include "csv.h"
#include "tap.h"

/* A read callback over memory that hands out at most `step` bytes per call. */
struct mem_src {
	const char *data;
	size_t len, pos, step;
	size_t fail_at;        /* report a read error once pos reaches this (0: never) */
};

static long mem_read(void *ctx, void *buf, size_t n, struct xf_err *err)
{
	struct mem_src *m = ctx;
	size_t k = m->len - m->pos;

	if (m->fail_at && m->pos >= m->fail_at)
		return xf_err_set(err, XF_E_IO, "mem: injected read error");
	if (k > n)
		k = n;
	if (k > m->step)
		k = m->step;
	if (m->fail_at && k > m->fail_at - m->pos)
		k = m->fail_at - m->pos;
	memcpy(buf, m->data + m->pos, k);
	m->pos += k;
	return (long)k;
}

static const size_t steps[] = { 1, 2, 3, 7, 1 << 20 };
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

/*
 * Read all of input (len bytes) and render it as "[cell][cell]@line\n" per row, or, on an
 * error, the rendering so far followed by "ERR:" and the message. Returns out.
 */
static char *render(const char *input, size_t len, size_t step, char delim, char *out, size_t size)
{
	struct mem_src m = { input, len, 0, step, 0 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_csv *r;
	struct xf_csv_row row;
	size_t used = 0;
	int rc;

	out[0] = '\0';
	if (xf_csv_open(mem_read, &m, delim, "t.csv", &r, &err) < 0) {
		snprintf(out, size, "OPEN:%s", err.msg);
		return out;
	}
	while ((rc = xf_csv_next(r, &row, &err)) > 0) {
		for (int64_t i = 0; i < row.n; i++) {
			if (strlen(row.cells[i]) != row.lens[i])
				snprintf(out + used, size - used, "(bad len)");
			used += strlen(out + used);
			snprintf(out + used, size - used, "[%s]", row.cells[i]);
			used += strlen(out + used);
		}
		snprintf(out + used, size - used, "@%lld\n", (long long)xf_csv_line(r));
		used += strlen(out + used);
	}
	if (rc < 0)
		snprintf(out + used, size - used, "ERR:%s", err.msg);
	else if (xf_csv_next(r, &row, &err) != 0)
		snprintf(out + used, size - used, "(EOF not sticky)");
	xf_csv_close(r);
	return out;
}

/* Check one input against its expected rendering at every step size. */
static void check_len(const char *name, const char *input, size_t len, char delim, const char *want)
{
	char got[4096];

	for (size_t i = 0; i < N_STEPS; i++) {
		render(input, len, steps[i], delim, got, sizeof(got));
		if (!ok(!strcmp(got, want), "%s (%zu-byte reads)", name, steps[i]))
			printf("#   got  '%s'\n#   want '%s'\n", got, want);
	}
}

static void check(const char *name, const char *input, char delim, const char *want)
{
	check_len(name, input, strlen(input), delim, want);
}

static void test_basic_cells(void)
{
	check("plain rows", "a,b,c\n1,2,3\n", ',', "[a][b][c]@1\n[1][2][3]@2\n");
	check("last line without newline", "a,b\n1,2", ',', "[a][b]@1\n[1][2]@2\n");
	check("CRLF line ends", "a,b\r\n1,2\r\n", ',', "[a][b]@1\n[1][2]@2\n");
	check("lone CR line ends", "a\rb\r", ',', "[a]@1\n[b]@2\n");
	check("mixed line ends", "a\r\nb\nc\rd", ',', "[a]@1\n[b]@2\n[c]@3\n[d]@4\n");
	check("spaces are data", " a , b \n", ',', "[ a ][ b ]@1\n");
	check("empty cells", ",\n,,x\n\"\"\n", ',', "[][]@1\n[][][x]@2\n[]@3\n");
	check("trailing delimiter at EOF", "a,", ',', "[a][]@1\n");
	check("quoted empty at EOF", "\"\"", ',', "[]@1\n");
	check("ragged rows keep their counts", "a,b,c\nd\ne,f\n", ',', "[a][b][c]@1\n[d]@2\n[e][f]@3\n");
	check("UTF-8 text passes through", "caf\xc3\xa9,\xe2\x82\xac\n", ',', "[caf\xc3\xa9][\xe2\x82\xac]@1\n");
}

static void test_quotes(void)
{
	check("quoted delimiter and escaped quote", "\"a,b\",\"c\"\"d\"\n", ',', "[a,b][c\"d]@1\n");
	check("only an escaped quote", "\"\"\"\"\n", ',', "[\"]@1\n");
	check("escaped quote then delimiter", "\"a\"\"\",b", ',', "[a\"][b]@1\n");
	check("LF inside quotes counts lines", "\"x\ny\",z\n\"p\nq\nr\",s\nt\n", ',',
	      "[x\ny][z]@1\n[p\nq\nr][s]@3\n[t]@6\n");
	check("CRLF inside quotes is kept", "\"p\r\nq\",r\r\nu\r\n", ',', "[p\r\nq][r]@1\n[u]@3\n");
	check("quoted field then CRLF", "\"a\"\r\n\"b\"\r\n", ',', "[a]@1\n[b]@2\n");
	check("quoted field then CR at EOF", "\"a\"\r", ',', "[a]@1\n");
	check("quote-only line is one empty cell", "\"\"\n\n", ',', "[]@1\n");
}

static void test_bom_and_blank_lines(void)
{
	check("BOM stripped", "\xEF\xBB\xBFid,y\n1,2\n", ',', "[id][y]@1\n[1][2]@2\n");
	check("BOM then quoted field", "\xEF\xBB\xBF\"a\",b\n", ',', "[a][b]@1\n");
	check("BOM only", "\xEF\xBB\xBF", ',', "");
	check("BOM prefix only is data", "\xEF\xBB", ',', "[\xEF\xBB]@1\n");
	check("BOM later is data", "a\n\xEF\xBB\xBF\n", ',', "[a]@1\n[\xEF\xBB\xBF]@2\n");
	check("empty input", "", ',', "");
	check("only line breaks", "\n\r\n\r\n", ',', "");
	check("blank lines skipped, lines still counted", "\n\na\n\r\n\nb\n\n", ',', "[a]@3\n[b]@6\n");
	check("CR CR LF is two line ends", "a\r\r\nb\n", ',', "[a]@1\n[b]@3\n");
}

static void test_delimiters(void)
{
	struct mem_src m = { "a\tb\n", 4, 0, 1, 0 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_csv *r;
	char bad[] = { '"', '\n', '\r' };

	check("TSV detected", "a\tb\n1\t2\n", 0, "[a][b]@1\n[1][2]@2\n");
	check("commas in TSV are data", "a,b\tc\n", 0, "[a,b][c]@1\n");
	check("tab inside quotes is not detection", "\"x\ty\",z\n1,\t\n", 0, "[x\ty][z]@1\n[1][\t]@2\n");
	check("tab on the second line is not detection", "a,b\nc\td\n", 0, "[a][b]@1\n[c\td]@2\n");
	check("detection skips blank lines", "\r\n\na\tb\n", 0, "[a][b]@3\n");
	check("detection after a BOM", "\xEF\xBB\xBF" "a\tb", 0, "[a][b]@1\n");
	check("detection past a quoted line break", "\"a\nb\"\tc\n", 0, "[a\nb][c]@1\n");
	check("no tab means comma", "a;b,c\n", 0, "[a;b][c]@1\n");
	check("empty input detects", "", 0, "");
	check("explicit semicolon", "a;\"b;c\"\n", ';', "[a][b;c]@1\n");
	check("explicit comma ignores tabs", "a\tb,c\n", ',', "[a\tb][c]@1\n");
	check("explicit tab", "a,b\tc\n", '\t', "[a,b][c]@1\n");

	ok(xf_csv_open(mem_read, &m, 0, "t.tsv", &r, &err) == 0 && xf_csv_delim(r) == '\t',
	   "xf_csv_delim reports the detected tab");
	xf_csv_close(r);
	for (size_t i = 0; i < sizeof(bad); i++) {
		err.code = XF_E_OK;
		ok(xf_csv_open(mem_read, &m, bad[i], "t.csv", &r, &err) < 0 && err.code == XF_E_USAGE,
		   "delimiter %d refused", bad[i]);
	}
}

/* A long first line makes detection read ahead far beyond one chunk. */
static void test_long_first_line(void)
{
	size_t n = 3 * XF_CSV_CHUNK;
	char *input = malloc(n + 16), got[64];
	struct mem_src m;
	struct xf_err err = XF_ERR_INIT;
	struct xf_csv *r;
	struct xf_csv_row row;

	memset(input, 'x', n);
	memcpy(input + n, "\ty\nz\tw\n", 8);
	for (size_t i = 0; i < N_STEPS; i++) {
		m = (struct mem_src){ input, n + 7, 0, steps[i] == 1 ? 4096 : steps[i], 0 };
		got[0] = '\0';
		if (xf_csv_open(mem_read, &m, 0, "t.csv", &r, &err) == 0) {
			int a = xf_csv_next(r, &row, &err) == 1 && row.n == 2 && row.lens[0] == n &&
				!strcmp(row.cells[1], "y");
			int b = xf_csv_next(r, &row, &err) == 1 && row.n == 2 && !strcmp(row.cells[0], "z");
			int c = xf_csv_next(r, &row, &err) == 0;

			snprintf(got, sizeof(got), "%d%d%d", a, b, c);
			xf_csv_close(r);
		}
		is_str(got, "111", "192 KiB first line, TSV detected");
	}
	free(input);
}

static void check_error(const char *name, const char *input, size_t len, const char *want_msg)
{
	char got[4096];

	for (size_t i = 0; i < N_STEPS; i++) {
		const char *e;

		render(input, len, steps[i], ',', got, sizeof(got));
		e = strstr(got, "ERR:");
		if (!ok(e && !strcmp(e + 4, want_msg), "%s (%zu-byte reads)", name, steps[i]))
			printf("#   got  '%s'\n#   want 'ERR:%s'\n", got, want_msg);
	}
}

#define CHECK_ERROR(name, literal, msg) check_error(name, literal, sizeof(literal) - 1, msg)

static void test_errors(void)
{
	CHECK_ERROR("unterminated quote", "a\nb,\"c\nd\n", "t.csv: line 2: unterminated quoted field");
	CHECK_ERROR("unterminated quote after blank lines", "a\n\n\n\"x\"\"\n",
		    "t.csv: line 4: unterminated quoted field");
	CHECK_ERROR("stray quote in unquoted field", "a,b\r\nc,d\"e\n",
		    "t.csv: line 2: quote inside an unquoted field (quote the whole field and double the quote)");
	CHECK_ERROR("text after closing quote", "\"a\nb\"c\n",
		    "t.csv: line 2: unexpected text after a closing quote (quotes inside a quoted field are doubled)");
	CHECK_ERROR("space after closing quote", "x\n\"a\" ,b\n",
		    "t.csv: line 2: unexpected text after a closing quote (quotes inside a quoted field are doubled)");
	CHECK_ERROR("NUL in unquoted field", "a\nb\0c\n", "t.csv: line 2: NUL byte in input (binary file?)");
	CHECK_ERROR("NUL in quoted field", "a\n\"b\n\0\"\n", "t.csv: line 3: NUL byte in input (binary file?)");
	CHECK_ERROR("NUL after closing quote", "\"b\"\0\n", "t.csv: line 1: NUL byte in input (binary file?)");
	CHECK_ERROR("NUL at row start", "a\n\0", "t.csv: line 2: NUL byte in input (binary file?)");
}

static void test_error_is_sticky_and_rows_before_it_arrive(void)
{
	char got[256];

	const char *want = "[ok][1]@1\nERR:t.csv: line 2: quote inside";

	render("ok,1\nbad\"\n", 10, 1, ',', got, sizeof(got));
	ok(!strncmp(got, want, strlen(want)), "rows before an error are returned");
}

static void test_read_errors(void)
{
	struct mem_src m = { "a,b\nc,d\n", 8, 0, 1, 5 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_csv *r;
	struct xf_csv_row row;
	int rc;

	ok(xf_csv_open(mem_read, &m, 0, "t.csv", &r, &err) == 0, "open before the injected error");
	rc = xf_csv_next(r, &row, &err);
	ok(rc == 1 && row.n == 2, "first row read");
	rc = xf_csv_next(r, &row, &err);
	ok(rc == -1 && err.code == XF_E_IO, "read error reported");
	is_str(err.msg, "mem: injected read error", "callback message kept");
	ok(xf_csv_next(r, &row, &err) == -1, "reader stays failed");
	xf_csv_close(r);

	m = (struct mem_src){ "a,b\nc,d\n", 8, 0, 1, 2 };
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_csv_open(mem_read, &m, 0, "t.csv", &r, &err) < 0 && err.code == XF_E_IO,
	   "read error while open peeks at the input fails open");
}

/* Rows of the same shape reuse the same arrays: no allocation per row once warm. */
static void test_buffers_reused(void)
{
	struct mem_src m = { "a,b\nc,d\ne,f\n", 12, 0, 2, 0 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_csv *r;
	struct xf_csv_row row;
	char **cells;
	char *text;

	if (xf_csv_open(mem_read, &m, ',', "t.csv", &r, &err) < 0)
		return;
	xf_csv_next(r, &row, &err);
	cells = row.cells;
	text = row.cells[0];
	xf_csv_next(r, &row, &err);
	ok(row.cells == cells && row.cells[0] == text && !strcmp(text, "c"), "second row reuses buffers");
	xf_csv_close(r);
}

/* An endless source: `row` bytes repeated forever (never EOF). */
struct endless {
	const char *row;
	size_t len, off;
};

static long endless_read(void *ctx, void *buf, size_t n, struct xf_err *err)
{
	struct endless *e = ctx;
	char *out = buf;

	(void)err;
	for (size_t i = 0; i < n; i++) {
		out[i] = e->row[e->off];
		e->off = (e->off + 1) % e->len;
	}
	return (long)n;
}

static void check_limit(const char *pattern, const char *name, const char *want)
{
	struct endless e = { pattern, strlen(pattern), 0 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_csv *r;
	struct xf_csv_row row;

	if (xf_csv_open(endless_read, &e, ',', "big.csv", &r, &err) < 0)
		return;
	ok(xf_csv_next(r, &row, &err) == -1 && err.code == XF_E_LIMIT, "%s refused", name);
	is_str(err.msg, want, name);
	xf_csv_close(r);
}

static void test_limits(void)
{
	size_t n = XF_CSV_MAX_CELLS;
	char *input = malloc(n + 1);
	struct mem_src m;
	struct xf_err err = XF_ERR_INIT;
	struct xf_csv *r;
	struct xf_csv_row row;
	char wide[129];

	memset(wide, 'x', 127);
	memcpy(wide + 127, ",", 2);   /* 128 bytes a cell: 64 MiB comes before 1000000 cells */
	check_limit("a", "endless field", "big.csv: line 1: field longer than 64 MiB");
	check_limit(wide, "endless row", "big.csv: line 1: row longer than 64 MiB");
	check_limit(",", "endless row of empty cells", "big.csv: line 1: more than 1000000 cells in a row");

	/* exactly the limit: n-1 commas make n cells */
	memset(input, ',', n - 1);
	input[n - 1] = '\n';
	m = (struct mem_src){ input, n, 0, 1 << 16, 0 };
	if (xf_csv_open(mem_read, &m, 0, "t.csv", &r, &err) == 0) {
		ok(xf_csv_next(r, &row, &err) == 1 && row.n == XF_CSV_MAX_CELLS, "1000000 cells accepted");
		xf_csv_close(r);
	}
	memset(input, ',', n);
	input[n] = '\n';
	m = (struct mem_src){ input, n + 1, 0, 1 << 16, 0 };
	if (xf_csv_open(mem_read, &m, 0, "t.csv", &r, &err) == 0) {
		ok(xf_csv_next(r, &row, &err) == -1 && err.code == XF_E_LIMIT, "1000001 cells refused");
		xf_csv_close(r);
	}
	free(input);
}

static void test_parse_double(void)
{
	static const struct { const char *s; double want; } good[] = {
		{ " 1.5 ", 1.5 }, { "1e3", 1000 }, { "-2.5E-3", -0.0025 }, { "+7", 7 }, { ".5", 0.5 },
		{ "5.", 5 }, { "\t42\t", 42 }, { "0.1", 0.1 }, { "123456789012345678901234", 1.2345678901234568e23 },
		{ "1e-400", 0 }, { "1.7976931348623157e308", 1.7976931348623157e308 },
		{ "2.2250738585072014e-308", 2.2250738585072014e-308 }, { "007", 7 }, { "0e999999999", 0 },
		{ "-inf", -INFINITY }, { "INF", INFINITY }, { "Infinity", INFINITY }, { "+inf", INFINITY },
	};
	static const char *bad[] = {
		"", " ", "0x10", "1,5", "abc", "1.5x", "1e", "1e+", ".", "-", "+-1", "1 2", "in", "nanx",
		"infinit", "nan(1)", "1e999", "-1e400", "--1", "1..2", "e5", "1\n",
	};
	double v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -12345;
		ok(xf_parse_double(good[i].s, &v) == 0 && v == good[i].want, "double '%s' parses", good[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -12345;
		ok(xf_parse_double(bad[i], &v) == -1 && v == -12345, "double '%s' refused, out untouched",
		   bad[i]);
	}
	ok(xf_parse_double("nan", &v) == 0 && isnan(v), "nan");
	ok(xf_parse_double(" -NaN ", &v) == 0 && isnan(v), "-NaN with spaces");
	ok(xf_parse_double("-0.0", &v) == 0 && v == 0 && signbit(v), "-0.0 keeps its sign");
	ok(xf_parse_double("9007199254740993", &v) == 0 && v == 9007199254740992.0,
	   "2^53+1 rounds to even like strtod");
	ok(xf_parse_double("0.30000000000000004", &v) == 0 && v == 0.30000000000000004, "17 digits exact");
}

/* The fast path and strtod agree on a sweep of short decimals. */
static void test_parse_double_matches_strtod(void)
{
	char buf[64];
	int bad = 0;
	double v;
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		snprintf(buf, sizeof(buf), "%llu.%llue%d", (unsigned long long)(x % 100000000),
			 (unsigned long long)((x >> 27) % 10000000000ULL), (int)((x >> 50) % 50) - 25);
		if (xf_parse_double(buf, &v) != 0 || v != strtod(buf, NULL))
			bad++;
	}
	is_int(bad, 0, "100000 random decimals match strtod");
}

/* Only where such a locale is installed: a comma decimal point must not change anything. */
static void test_parse_double_in_comma_locale(void)
{
	static const char *names[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE" };
	const char *found = NULL;
	double v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !found; i++)
		if (setlocale(LC_NUMERIC, names[i]) && !strcmp(localeconv()->decimal_point, ","))
			found = names[i];
	if (!found) {
		ok(1, "# skip no locale with a comma decimal point installed");
		setlocale(LC_NUMERIC, "C");
		return;
	}
	ok(xf_parse_double("1.5", &v) == 0 && v == 1.5, "'1.5' under %s (fast path)", found);
	ok(xf_parse_double("0.12345678901234567890", &v) == 0 && v == 0.12345678901234567890,
	   "20-digit decimal under %s (strtod path)", found);
	ok(xf_parse_double("1,5", &v) == -1, "'1,5' still refused under %s", found);
	setlocale(LC_NUMERIC, "C");
}

static void test_parse_int64(void)
{
	int64_t v;

	ok(xf_parse_int64(" 42 ", &v) == 0 && v == 42, "' 42 '");
	ok(xf_parse_int64("-17", &v) == 0 && v == -17, "'-17'");
	ok(xf_parse_int64("+5", &v) == 0 && v == 5, "'+5'");
	ok(xf_parse_int64("007", &v) == 0 && v == 7, "'007' is decimal");
	ok(xf_parse_int64("9223372036854775807", &v) == 0 && v == INT64_MAX, "INT64_MAX");
	ok(xf_parse_int64("-9223372036854775808", &v) == 0 && v == INT64_MIN, "INT64_MIN");
	v = 99;
	ok(xf_parse_int64("9223372036854775808", &v) == -1 && v == 99, "INT64_MAX+1 overflows");
	ok(xf_parse_int64("-9223372036854775809", &v) == -1, "INT64_MIN-1 overflows");
	ok(xf_parse_int64("99999999999999999999999", &v) == -1, "far overflow");
	ok(xf_parse_int64("", &v) == -1, "empty");
	ok(xf_parse_int64("  ", &v) == -1, "blanks only");
	ok(xf_parse_int64("-", &v) == -1, "sign only");
	ok(xf_parse_int64("1.0", &v) == -1, "'1.0' refused");
	ok(xf_parse_int64("1e3", &v) == -1, "'1e3' refused");
	ok(xf_parse_int64("0x10", &v) == -1, "'0x10' refused");
	ok(xf_parse_int64("1,5", &v) == -1, "'1,5' refused");
	ok(xf_parse_int64("1 2", &v) == -1, "'1 2' refused");
	ok(xf_parse_int64("12a", &v) == -1, "'12a' refused");
}

int main(void)
{
	test_basic_cells();
	test_quotes();
	test_bom_and_blank_lines();
	test_delimiters();
	test_long_first_line();
	test_errors();
	test_error_is_sticky_and_rows_before_it_arrive();
	test_read_errors();
	test_buffers_reused();
	test_limits();
	test_parse_double();
	test_parse_double_matches_strtod();
	test_parse_double_in_comma_locale();
	test_parse_int64();
	return done_testing();
}
