/*
 * csv: streaming RFC 4180 reader and strict number parsing; the contract is in csv.h.
 * The parser is a small state machine fed one input chunk at a time, so a chunk boundary
 * may fall anywhere (inside quotes, between CR and LF, inside the BOM). Cells of the current
 * row are copied, NUL-terminated, into one text buffer that is reused from row to row.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

enum state {
	S_ROW_START,    /* between rows: blank lines are skipped here */
	S_FIELD_START,  /* at the first byte of a field (row already begun) */
	S_UNQUOTED,     /* inside an unquoted field */
	S_QUOTED,       /* inside a quoted field */
	S_QUOTE_END,    /* just after a '"' inside a quoted field: "" or the closing quote */
	S_EOF,          /* input exhausted, last row returned */
	S_FAILED,       /* an error was reported; the reader stays failed */
};

/* What a byte means to an unquoted field (the table is built per reader for its delimiter). */
enum byte_class { C_TEXT = 0, C_DELIM, C_LF, C_CR, C_QUOTE, C_NUL };

/* Step results: keep parsing, a row is complete, or an error was filled. */
enum { STEP_GO = 0, STEP_ROW = 1, STEP_ERR = -1 };

struct xf_csv {
	xf_read_fn read;              /* input callback and its context, owned by the caller */
	void *ctx;
	char *source;                 /* name for messages, owned copy */
	char delim;                   /* field separator */
	unsigned char cls[256];       /* enum byte_class for unquoted text */
	unsigned char qstop[256];     /* nonzero for bytes that stop a quoted run: '"', LF, NUL */

	unsigned char *in;            /* input; [pos, len) not parsed yet; in[len] is a NUL sentinel */
	size_t pos, len, cap;
	bool at_eof;                  /* the callback returned 0; never called again */

	enum state state;
	bool skip_lf;                 /* a CR just ended a line: a following LF belongs to it */
	int64_t line;                 /* 1-based line of the next unparsed byte */
	int64_t row_line;             /* line where the current (or last) row started */
	int64_t field_line;           /* line where the current quoted field opened */

	char *text;                   /* the row's cells, each NUL-terminated, back to back */
	size_t text_len, text_cap;
	size_t field_start;           /* offset in text of the field being read */

	size_t *starts;               /* starts[i]: offset of cell i in text */
	char **cells;                 /* filled from starts when a row is handed out */
	size_t *lens;
	int64_t n_cells, cells_cap;
};

static const unsigned char utf8_bom[3] = { 0xef, 0xbb, 0xbf };

/*
 * Append the callback's next bytes after [pos, len), growing or compacting the buffer when
 * it is full, and put the sentinel back after them. Returns 1 if bytes arrived, 0 at end
 * of input, -1 on error.
 */
static int read_more(struct xf_csv *r, struct xf_err *err)
{
	struct xf_err rerr = XF_ERR_INIT;
	size_t room;
	long n;

	if (r->at_eof)
		return 0;
	if (r->pos == r->len)
		r->pos = r->len = 0;
	if (r->len == r->cap && r->pos > 0) {
		memmove(r->in, r->in + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len == r->cap) {
		unsigned char *bigger = realloc(r->in, r->cap * 2 + 1);

		if (!bigger)
			return xf_err_nomem(err, r->cap * 2);
		r->in = bigger;
		r->cap *= 2;
	}
	room = r->cap - r->len;
	n = r->read(r->ctx, r->in + r->len, room, &rerr);
	if (n < 0) {
		if (rerr.code == XF_E_OK)
			xf_err_set(&rerr, XF_E_IO, "%s: read error", r->source);
		if (err)
			*err = rerr;
		return -1;
	}
	if ((size_t)n > room)
		return xf_err_set(err, XF_E_IO, "%s: read callback returned %ld bytes for %zu", r->source,
				  n, room);
	if (n == 0)
		r->at_eof = true;
	r->len += (size_t)n;
	r->in[r->len] = '\0';
	return n > 0;
}

static void build_tables(struct xf_csv *r)
{
	memset(r->cls, C_TEXT, sizeof(r->cls));
	r->cls[(unsigned char)r->delim] = C_DELIM;
	r->cls['\n'] = C_LF;
	r->cls['\r'] = C_CR;
	r->cls['"'] = C_QUOTE;
	r->cls[0] = C_NUL;
	memset(r->qstop, 0, sizeof(r->qstop));
	r->qstop['"'] = r->qstop['\n'] = r->qstop[0] = 1;
}

/* A BOM may arrive split over several reads, so gather three bytes before deciding. */
static int skip_bom(struct xf_csv *r, struct xf_err *err)
{
	while (r->len < sizeof(utf8_bom)) {
		int rc = read_more(r, err);

		if (rc <= 0)
			return rc;
	}
	if (!memcmp(r->in, utf8_bom, sizeof(utf8_bom)))
		r->pos = sizeof(utf8_bom);
	return 0;
}

/*
 * Look ahead through the first non-blank line (reading more input as needed, at most one
 * row's worth) for a tab outside quotes. Returns the delimiter, or -1 on a read error.
 */
static int detect_delim(struct xf_csv *r, struct xf_err *err)
{
	size_t k = 0;           /* offset from pos of the next byte to look at */
	bool in_quotes = false, started = false;

	for (;;) {
		for (; r->pos + k < r->len; k++) {
			unsigned char c = r->in[r->pos + k];

			if (c == '"')
				in_quotes = !in_quotes;
			else if (in_quotes)
				continue;
			else if (c == '\t')
				return '\t';
			else if ((c == '\n' || c == '\r') && started)
				return ',';
			started = started || (c != '\n' && c != '\r');
		}
		if (k > XF_CSV_MAX_ROW_BYTES)
			return ',';   /* the parser will report the over-long row */
		switch (read_more(r, err)) {
		case -1: return -1;
		case 0: return ',';
		}
	}
}

int xf_csv_open(xf_read_fn read, void *ctx, char delim, const char *source, struct xf_csv **out,
		struct xf_err *err)
{
	struct xf_csv *r;
	size_t name_size;
	int detected;

	source = source ? source : "<input>";
	if (delim == '"' || delim == '\n' || delim == '\r')
		return xf_err_set(err, XF_E_USAGE, "%s: a quote or line break cannot be the delimiter",
				  source);
	r = calloc(1, sizeof(*r));
	if (!r)
		return xf_err_nomem(err, sizeof(*r));
	r->read = read;
	r->ctx = ctx;
	r->line = 1;
	name_size = strlen(source) + 1;
	if ((r->source = malloc(name_size)))
		memcpy(r->source, source, name_size);
	r->cap = XF_CSV_CHUNK;
	r->in = malloc(r->cap + 1);
	if (!r->source || !r->in) {
		xf_csv_close(r);
		return xf_err_nomem(err, XF_CSV_CHUNK);
	}
	r->in[0] = '\0';
	detected = delim;
	if (skip_bom(r, err) < 0 || (!delim && (detected = detect_delim(r, err)) < 0)) {
		xf_csv_close(r);
		return -1;
	}
	r->delim = (char)detected;
	build_tables(r);
	*out = r;
	return 0;
}

void xf_csv_close(struct xf_csv *r)
{
	if (!r)
		return;
	free(r->source);
	free(r->in);
	free(r->text);
	free(r->starts);
	free(r->cells);
	free(r->lens);
	free(r);
}

int64_t xf_csv_line(const struct xf_csv *r)
{
	return r->row_line;
}

char xf_csv_delim(const struct xf_csv *r)
{
	return r->delim;
}

static int fail(struct xf_csv *r, struct xf_err *err, int code, int64_t line, const char *what)
{
	r->state = S_FAILED;
	return xf_err_set(err, code, "%s: line %lld: %s", r->source, (long long)line, what);
}

static int row_too_long(struct xf_csv *r, struct xf_err *err)
{
	return fail(r, err, XF_E_LIMIT, r->row_line,
		    r->field_start == 0 ? "field longer than 64 MiB" : "row longer than 64 MiB");
}

/*
 * Capacity for n more bytes of the row. The row limit is the callers' to check: the hot loop
 * reserves a whole input buffer ahead, so capacity may pass the limit by one buffer.
 */
static int grow_text(struct xf_csv *r, size_t n, struct xf_err *err)
{
	size_t need = r->text_len + n, cap;
	char *bigger;

	if (need <= r->text_cap)
		return 0;
	cap = r->text_cap ? r->text_cap * 2 : 4096;
	if (cap > XF_CSV_MAX_ROW_BYTES)
		cap = XF_CSV_MAX_ROW_BYTES;
	if (cap < need)
		cap = need;
	bigger = realloc(r->text, cap);
	if (!bigger)
		return xf_err_nomem(err, cap);
	r->text = bigger;
	r->text_cap = cap;
	return 0;
}

static int append(struct xf_csv *r, const void *bytes, size_t n, struct xf_err *err)
{
	if (n == 0)
		return 0;   /* text may still be NULL, and memcpy(NULL, ..., 0) is undefined */
	if (r->text_len + n > XF_CSV_MAX_ROW_BYTES)
		return row_too_long(r, err);
	if (grow_text(r, n, err) < 0)
		return -1;
	memcpy(r->text + r->text_len, bytes, n);
	r->text_len += n;
	return 0;
}

/* Grow the three per-cell arrays together; each realloc that succeeds is kept. */
static int grow_cells(struct xf_csv *r, struct xf_err *err)
{
	int64_t cap = r->cells_cap ? r->cells_cap * 2 : 64;
	void *p;

	if (r->cells_cap == XF_CSV_MAX_CELLS)
		return fail(r, err, XF_E_LIMIT, r->row_line, "more than 1000000 cells in a row");
	if (cap > XF_CSV_MAX_CELLS)
		cap = XF_CSV_MAX_CELLS;
	if (!(p = realloc(r->starts, (size_t)cap * sizeof(*r->starts))))
		return xf_err_nomem(err, (size_t)cap * sizeof(*r->starts));
	r->starts = p;
	if (!(p = realloc(r->cells, (size_t)cap * sizeof(*r->cells))))
		return xf_err_nomem(err, (size_t)cap * sizeof(*r->cells));
	r->cells = p;
	if (!(p = realloc(r->lens, (size_t)cap * sizeof(*r->lens))))
		return xf_err_nomem(err, (size_t)cap * sizeof(*r->lens));
	r->lens = p;
	r->cells_cap = cap;
	return 0;
}

/* Record the cell that starts at field_start, whose NUL is already in text. */
static int push_cell(struct xf_csv *r, size_t text_len, struct xf_err *err)
{
	if (r->n_cells == r->cells_cap && grow_cells(r, err) < 0)
		return -1;
	r->starts[r->n_cells++] = r->field_start;
	r->field_start = text_len;
	return 0;
}

static int end_field(struct xf_csv *r, struct xf_err *err)
{
	if (append(r, "", 1, err) < 0)
		return -1;
	return push_cell(r, r->text_len, err);
}

static void begin_row(struct xf_csv *r)
{
	r->row_line = r->line;
	r->n_cells = 0;
	r->text_len = 0;
	r->field_start = 0;
	r->state = S_FIELD_START;
}

/* Consume the byte c (a delimiter or a line end) that closes a field. */
static int close_field(struct xf_csv *r, unsigned char c, struct xf_err *err)
{
	r->pos++;
	if (end_field(r, err) < 0)
		return STEP_ERR;
	if (c == (unsigned char)r->delim) {
		r->state = S_FIELD_START;
		return STEP_GO;
	}
	r->line++;
	r->skip_lf = c == '\r';
	r->state = S_ROW_START;
	return STEP_ROW;
}

static int step_row_start(struct xf_csv *r)
{
	unsigned char c = r->in[r->pos];
	bool lf_of_crlf = r->skip_lf && c == '\n';

	r->skip_lf = false;
	if (lf_of_crlf) {
		r->pos++;
	} else if (c == '\n' || c == '\r') {
		r->pos++;
		r->line++;
		r->skip_lf = c == '\r';
	} else {
		begin_row(r);
	}
	return STEP_GO;
}

static int step_field_start(struct xf_csv *r)
{
	if (r->in[r->pos] == '"') {
		r->pos++;
		r->field_line = r->line;
		r->state = S_QUOTED;
	} else {
		r->state = S_UNQUOTED;
	}
	return STEP_GO;
}

static int bad_byte(struct xf_csv *r, unsigned char c, struct xf_err *err)
{
	if (c == 0)
		return fail(r, err, XF_E_FORMAT, r->line, "NUL byte in input (binary file?)");
	if (r->state == S_QUOTE_END)
		return fail(r, err, XF_E_FORMAT, r->line,
			    "unexpected text after a closing quote (quotes inside a quoted field are doubled)");
	return fail(r, err, XF_E_FORMAT, r->line,
		    "quote inside an unquoted field (quote the whole field and double the quote)");
}

/*
 * The hot loop: copy unquoted fields byte by byte up to a quote, a line end or the end of
 * the buffer. Room for all the buffered input is reserved first (each input byte makes at
 * most one byte of text: a delimiter or line end becomes the NUL), and the NUL sentinel at
 * in[len] stops every run without a bounds test in the inner loop.
 */
static int step_unquoted(struct xf_csv *r, struct xf_err *err)
{
	const unsigned char *p = r->in + r->pos, *end = r->in + r->len, *cls = r->cls;
	int rc = STEP_GO;
	unsigned char c;
	char *dst;

	if (grow_text(r, (size_t)(end - p), err) < 0)
		return STEP_ERR;
	dst = r->text + r->text_len;
	for (;;) {
		while (cls[c = *p] == C_TEXT) {
			*dst++ = (char)c;
			p++;
		}
		if (p == end)
			break;
		if (cls[c] == C_QUOTE || cls[c] == C_NUL) {
			rc = bad_byte(r, c, err);
			break;
		}
		*dst++ = '\0';
		p++;
		if (push_cell(r, (size_t)(dst - r->text), err) < 0) {
			rc = STEP_ERR;
			break;
		}
		if (cls[c] != C_DELIM) {
			r->line++;
			r->skip_lf = c == '\r';
			r->state = S_ROW_START;
			rc = STEP_ROW;
			break;
		}
		if (p == end || *p == '"') {
			r->state = S_FIELD_START;
			break;
		}
	}
	r->pos = (size_t)(p - r->in);
	r->text_len = (size_t)(dst - r->text);
	if (rc != STEP_ERR && r->text_len > XF_CSV_MAX_ROW_BYTES)
		return row_too_long(r, err);
	return rc;
}

/* Inside quotes only '"', LF (counted) and NUL matter; runs are copied with memcpy. */
static int step_quoted(struct xf_csv *r, struct xf_err *err)
{
	const unsigned char *start = r->in + r->pos, *p = start, *end = r->in + r->len;
	bool newline = false;

	while (!r->qstop[*p])
		p++;
	if (p < end && *p == '\n') {
		newline = true;   /* a line break inside quotes is data; only the count changes */
		r->line++;
		p++;
	}
	if (append(r, start, (size_t)(p - start), err) < 0)
		return STEP_ERR;
	r->pos = (size_t)(p - r->in);
	if (p == end || newline)
		return STEP_GO;
	if (*p == 0)
		return bad_byte(r, 0, err);
	r->pos++;
	r->state = S_QUOTE_END;
	return STEP_GO;
}

static int step_quote_end(struct xf_csv *r, struct xf_err *err)
{
	unsigned char c = r->in[r->pos];

	switch (r->cls[c]) {
	case C_QUOTE:
		r->pos++;
		r->state = S_QUOTED;
		return append(r, "\"", 1, err) < 0 ? STEP_ERR : STEP_GO;
	case C_DELIM:
	case C_LF:
	case C_CR:
		return close_field(r, c, err);
	default:
		return bad_byte(r, c, err);
	}
}

/* Parse buffered input until a row completes, an error occurs, or the buffer runs out (GO). */
static int parse_buffer(struct xf_csv *r, struct xf_err *err)
{
	int rc = STEP_GO;

	while (rc == STEP_GO && r->pos < r->len) {
		switch (r->state) {
		case S_ROW_START: rc = step_row_start(r); break;
		case S_FIELD_START: rc = step_field_start(r); break;
		case S_UNQUOTED: rc = step_unquoted(r, err); break;
		case S_QUOTED: rc = step_quoted(r, err); break;
		case S_QUOTE_END: rc = step_quote_end(r, err); break;
		default: return STEP_ERR;   /* unreachable: next() handles the final states */
		}
	}
	return rc;
}

/* End of input: a row in progress ends with it, except inside an open quoted field. */
static int finish_at_eof(struct xf_csv *r, struct xf_err *err)
{
	switch (r->state) {
	case S_ROW_START:
		r->state = S_EOF;
		return 0;
	case S_QUOTED:
		return fail(r, err, XF_E_FORMAT, r->field_line, "unterminated quoted field");
	default:
		if (end_field(r, err) < 0)
			return -1;
		r->state = S_ROW_START;
		return STEP_ROW;
	}
}

static void hand_out_row(struct xf_csv *r, struct xf_csv_row *row)
{
	for (int64_t i = 0; i < r->n_cells; i++) {
		size_t next = i + 1 < r->n_cells ? r->starts[i + 1] : r->text_len;

		r->cells[i] = r->text + r->starts[i];
		r->lens[i] = next - 1 - r->starts[i];
	}
	row->n = r->n_cells;
	row->cells = r->cells;
	row->lens = r->lens;
}

int xf_csv_next(struct xf_csv *r, struct xf_csv_row *row, struct xf_err *err)
{
	int rc;

	if (r->state == S_EOF)
		return 0;
	if (r->state == S_FAILED)
		return xf_err_set(err, XF_E_USAGE, "%s: reader used after an error", r->source);
	for (;;) {
		rc = parse_buffer(r, err);
		if (rc == STEP_GO) {
			rc = read_more(r, err);
			if (rc > 0)
				continue;
			rc = rc < 0 ? -1 : finish_at_eof(r, err);
		}
		if (rc < 0) {
			r->state = S_FAILED;
			return -1;
		}
		if (rc == 0)
			return 0;
		hand_out_row(r, row);
		return 1;
	}
}

/* ---- numbers ---- */

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* ASCII case-insensitive prefix match, independent of the locale. */
static bool match_word(const char *p, const char *word)
{
	for (; *word; p++, word++)
		if ((*p | 0x20) != *word)
			return false;
	return true;
}

/* "nan", "inf" or "infinity" followed only by blanks; *out gets the signed value. */
static int parse_special(const char *p, bool neg, double *out)
{
	static const struct { const char *word; double value; } specials[] = {
		{ "nan", NAN }, { "infinity", INFINITY }, { "inf", INFINITY },
	};
	double v;

	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		size_t n = strlen(specials[i].word);

		if (match_word(p, specials[i].word) && !*skip_blanks(p + n)) {
			v = specials[i].value;
			*out = neg ? -v : v;
			return 0;
		}
	}
	return -1;
}

/* The decimal syntax checked ahead of conversion, with what the fast path needs. */
struct decimal {
	const char *begin, *end;   /* the number, sign included, without blanks */
	uint64_t mantissa;         /* the significant digits, if n_digits <= 19 */
	int n_digits;              /* digits counted in mantissa (leading zeros excluded) */
	int64_t exp10;             /* value = mantissa * 10^exp10, when exact */
	bool neg, has_dot;
};

/* Locals, not d's fields, in the loop: stores through d could alias the char being read. */
static const char *scan_digits(const char *p, struct decimal *d, bool fraction)
{
	uint64_t m = d->mantissa;
	int n = d->n_digits;
	int64_t e = d->exp10;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (n >= 19) {
			n = 20;   /* too many digits for the fast path: strtod decides */
			continue;
		}
		m = m * 10 + (uint64_t)(*p - '0');
		n += m != 0;   /* leading zeros are not significant digits */
		e -= fraction;
	}
	d->mantissa = m;
	d->n_digits = n;
	d->exp10 = e;
	return p;
}

/* Returns the end of the exponent, or NULL when 'e' is not followed by digits. */
static const char *scan_exponent(const char *p, struct decimal *d)
{
	int64_t e = 0;
	int sign = 1;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++)
		if (e < 100000)
			e = e * 10 + (*p - '0');
	d->exp10 += sign * e;
	return p;
}

/* Check the syntax of a finite decimal starting at p (after blanks); fills d. */
static int scan_decimal(const char *p, struct decimal *d)
{
	const char *q;
	bool int_digits;

	memset(d, 0, sizeof(*d));
	d->begin = p;
	d->neg = *p == '-';
	if (*p == '+' || *p == '-')
		p++;
	q = scan_digits(p, d, false);
	int_digits = q > p;
	if (*q == '.') {
		d->has_dot = true;
		p = q + 1;
		q = scan_digits(p, d, true);
		if (!int_digits && q == p)
			return -1;
	} else if (!int_digits) {
		return -1;
	}
	if (*q == 'e' || *q == 'E')
		if (!(q = scan_exponent(q + 1, d)))
			return -1;
	d->end = q;
	return *skip_blanks(q) ? -1 : 0;
}

/*
 * Clinger's fast path: a mantissa of at most 2^53 times an exact power of ten (|e| <= 22) is
 * correctly rounded by a single multiply or divide, so most data cells skip strtod.
 */
static bool fast_decimal(const struct decimal *d, double *out)
{
	static const double pow10[23] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	double v;

#if FLT_EVAL_METHOD != 0
	return false;   /* extended precision intermediates would round twice */
#endif
	if (d->n_digits > 19 || d->mantissa > (UINT64_C(1) << 53) || d->exp10 < -22 || d->exp10 > 22)
		return false;
	v = (double)d->mantissa;
	v = d->exp10 < 0 ? v / pow10[-d->exp10] : v * pow10[d->exp10];
	*out = d->neg ? -v : v;
	return true;
}

static int strtod_whole(const char *s, size_t n, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end != s + n || isinf(v))
		return -1;   /* isinf: the literals were handled earlier, so this is overflow */
	*out = v;
	return 0;
}

/*
 * strtod reads the locale's decimal point; when that is not '.', convert a copy with the
 * point swapped in. Our own syntax check has already run, so strtod must take it all.
 * (localeconv is only reached on this rare path.)
 */
static int slow_decimal(const struct decimal *d, double *out)
{
	size_t n = (size_t)(d->end - d->begin), head, plen;
	const char *point, *dot;
	char small[128], *copy = small;
	int rc;

	if (!d->has_dot || !strcmp((point = localeconv()->decimal_point), "."))
		return strtod_whole(d->begin, n, out);
	plen = strlen(point);
	if (n + plen > sizeof(small) && !(copy = malloc(n + plen)))
		return -1;
	dot = memchr(d->begin, '.', n);
	head = (size_t)(dot - d->begin);
	memcpy(copy, d->begin, head);
	memcpy(copy + head, point, plen);
	memcpy(copy + head + plen, dot + 1, n - head - 1);
	copy[n - 1 + plen] = '\0';
	rc = strtod_whole(copy, n - 1 + plen, out);
	if (copy != small)
		free(copy);
	return rc;
}

int xf_parse_double(const char *s, double *out)
{
	struct decimal d;
	const char *p = skip_blanks(s);
	bool neg = *p == '-';
	const char *body = p + (*p == '-' || *p == '+');

	if ((*body | 0x20) == 'n' || (*body | 0x20) == 'i')
		return parse_special(body, neg, out);
	if (scan_decimal(p, &d) < 0)
		return -1;
	if (fast_decimal(&d, out))
		return 0;
	return slow_decimal(&d, out);
}

int xf_parse_int64(const char *s, int64_t *out)
{
	const char *p = skip_blanks(s);
	bool neg = *p == '-';
	uint64_t v = 0, limit;

	if (*p == '+' || *p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (v > (limit - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (*skip_blanks(p))
		return -1;
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}
