/* cmlp_csv.h - parser for the notes' MNIST CSV format (csrc/csv.c).
 *
 * The format: no header; one image per line, "label,p1,...,pP" with the label an
 * integer 0-9 and P pixels, integers 0-255 (P = 784 for MNIST).  Lines end in
 * "\n" or "\r\n"; empty lines are skipped (and counted for line numbers).
 *
 * Plain C99: no allocation, no I/O, no Python API.  The caller owns every buffer,
 * feeds the text in chunks of whole lines and turns a negative status into an
 * exception (src/cmlp/_csv.pxi).
 *
 * Letters used for shapes:  R = cap_rows (rows the output can hold),
 *                           P = n_pixels (columns after the label).
 */
#ifndef CMLP_CSV_H
#define CMLP_CSV_H

#include <stddef.h>
#include <stdint.h>

/* Status codes returned by csv_parse_mnist_u8.  >= 0: no error. */
#define CSV_OK                0   /* every whole line of buf was parsed */
#define CSV_FULL              1   /* cap_rows rows written; buf[cur->consumed:] not parsed */
#define CSV_ERR_FEW_COLUMNS  -1   /* line ends before column 1 + P; err_count = fields found */
#define CSV_ERR_MANY_COLUMNS -2   /* more than 1 + P fields; err_count = fields found */
#define CSV_ERR_NOT_INTEGER  -3   /* a field that is not a plain decimal integer */
#define CSV_ERR_EMPTY_FIELD  -4   /* ",," or a line starting or ending with ',' */
#define CSV_ERR_LABEL_RANGE  -5   /* label is an integer outside 0-9 */
#define CSV_ERR_PIXEL_RANGE  -6   /* pixel is an integer outside 0-255 */
#define CSV_ERR_HEADER       -7   /* first data line has a letter where a number belongs */
#define CSV_ERR_BAD_ARGS     -8   /* negative sizes, or rows > cap_rows on entry */

/* Where the parse stands between chunks, and where it stopped on error. */
typedef struct {
    ptrdiff_t rows;       /* in/out: rows written so far (next row index) */
    ptrdiff_t line;       /* in/out: 1-based number of the first line in buf */
    ptrdiff_t consumed;   /* out: bytes of buf parsed (always whole lines) */
    ptrdiff_t err_line;   /* out on error: 1-based line number */
    ptrdiff_t err_col;    /* out on error: 1-based column (1 = label, 2 = first pixel) */
    ptrdiff_t err_offset; /* out on error: offset in buf where the bad field (or line) starts */
    ptrdiff_t err_count;  /* out on column-count error: number of fields on the line */
} csv_cursor;

/* Parse the whole lines of buf into rows cur->rows, cur->rows+1, ... of X/labels.
 * X (R, P) uint8, row-major, C-contiguous; labels (R) int64; rows written are
 * overwritten, others untouched.  buf (len) is text; only bytes up to and including
 * its last '\n' are read, so a final line without newline must be passed with one
 * appended.  Stops early with CSV_FULL when cap_rows rows are written (the next
 * line is not read).  On return cur->rows, cur->line and cur->consumed describe
 * the lines fully parsed; on error the err_* fields say where. */
int csv_parse_mnist_u8(uint8_t *X, int64_t *labels, csv_cursor *cur,
                       const char *buf, ptrdiff_t len,
                       ptrdiff_t cap_rows, ptrdiff_t n_pixels);

#endif /* CMLP_CSV_H */
