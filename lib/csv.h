/*
 * csv: a streaming CSV/TSV reader (RFC 4180) for xfer-pack, plus strict, locale-independent
 * number parsing for its cells. Input arrives through a read callback in chunks; memory is
 * bounded by the longest row. Whether rows have the same number of cells is the caller's call.
 *
 *	struct xf_csv *r;
 *	struct xf_csv_row row;
 *	int rc;
 *	if (xf_csv_open(xf_source_read_fn, src, 0, "data.csv", &r, &err) < 0) return -1;
 *	while ((rc = xf_csv_next(r, &row, &err)) > 0)
 *		use(row.n, row.cells);     (cells are valid until the next call)
 *	xf_csv_close(r);
 *	if (rc < 0) return -1;         (err.msg: "data.csv: line 7: unterminated quoted field")
 */
#ifndef XF_CSV_H
#define XF_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifndef XF_READ_FN_DEFINED
#define XF_READ_FN_DEFINED
/* Read up to n bytes: returns the count (short reads allowed), 0 at end of input, -1 on error. */
typedef long (*xf_read_fn)(void *ctx, void *buf, size_t n, struct xf_err *err);
#endif

#define XF_CSV_CHUNK (64 * 1024)             /* bytes asked of the read callback at a time */
#define XF_CSV_MAX_ROW_BYTES (64 << 20)      /* a row's cell bytes plus one NUL per cell */
#define XF_CSV_MAX_CELLS 1000000             /* cells in one row */

struct xf_csv;

/*
 * One row, owned by the reader and valid until the next xf_csv_next or xf_csv_close.
 * The caller may modify the bytes of cells in place, never the arrays themselves.
 */
struct xf_csv_row {
	int64_t n;             /* number of cells, at least 1 ("" on a line is one empty cell) */
	char **cells;          /* cells[i]: NUL-terminated text, quotes removed, "" unescaped */
	const size_t *lens;    /* lens[i] == strlen(cells[i]) (a cell never holds a NUL) */
};

/*
 * Open a reader over `read(ctx, ...)`, which stays owned by the caller and must outlive the
 * reader. delim is the field separator, or 0 to detect it from the first non-blank line: tab
 * if that line has a tab outside quotes, otherwise comma. '"', '\r', '\n' are refused
 * (XF_E_USAGE). source names the input in messages ("data.csv", "<stdin>"); it is copied.
 * Open reads the start of the input (the BOM and, when detecting, the first line), so read
 * errors can surface here. Returns 0 and sets *out, or -1 with err filled.
 */
int xf_csv_open(xf_read_fn read, void *ctx, char delim, const char *source, struct xf_csv **out,
		struct xf_err *err);

/*
 * Read the next row into *row. Returns 1 for a row, 0 at a clean end of input, -1 on error
 * (err filled: XF_E_FORMAT for malformed input, XF_E_LIMIT beyond the limits above,
 * XF_E_NOMEM, or whatever the read callback reported). Messages read
 * "<source>: line N: <problem>". After -1 the reader stays failed; after 0 it stays at end.
 *
 * Accepted: quoted fields with "" escapes, delimiters and line breaks inside quotes (kept
 * verbatim, CRLF included), LF, CRLF or lone CR line ends, a UTF-8 BOM at the very start
 * (dropped), a last line without a line end, a trailing delimiter (one more empty cell).
 * Lines that are entirely empty are skipped. Refused: a quote inside an unquoted field or
 * text after a closing quote, a quoted field still open at end of input, any NUL byte.
 * Buffers are reused, so rows do not allocate once the longest row has been seen.
 */
int xf_csv_next(struct xf_csv *r, struct xf_csv_row *row, struct xf_err *err);

/* 1-based line where the last row returned (or the row that failed) started; 0 before any. */
int64_t xf_csv_line(const struct xf_csv *r);

/* The delimiter in use (the detected one when open was given 0). */
char xf_csv_delim(const struct xf_csv *r);

/* Free the reader and its buffers (not the callback's ctx). NULL is a no-op. */
void xf_csv_close(struct xf_csv *r);

/*
 * Parse a whole string as a double: optional spaces/tabs around [+-] digits with an optional
 * '.' fraction and [eE][+-]digits exponent, or [+-] "nan", "inf", "infinity" (any case).
 * Always '.' as decimal point, whatever the locale. Rejected (returns -1, *out untouched):
 * empty, junk, "1,5", hexadecimal ("0x10") and nan(...) forms, and finite values too large
 * for a double ("1e999"). Values below the smallest subnormal round to 0, as strtod does.
 * Returns 0 on success.
 */
int xf_parse_double(const char *s, double *out);

/*
 * Parse a whole string as a decimal int64: optional spaces/tabs around [+-] digits (leading
 * zeros are decimal, not octal). Returns 0, or -1 for empty, junk, "1.0", "1e3", "0x10" or a
 * value outside [INT64_MIN, INT64_MAX] (*out untouched).
 */
int xf_parse_int64(const char *s, int64_t *out);

#endif
