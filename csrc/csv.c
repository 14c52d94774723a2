/* csv.c - the notes' MNIST CSV format into uint8 pixels and int64 labels.
 *
 * Most of MNIST's 47 million fields are "0," (81% of pixels are zero), so the
 * loop below is shaped for one- to three-digit fields followed by ','.  Bounds:
 * the caller's chunk ends at its last '\n' (we find it first), and every read of
 * p[k] happens only after p[0..k-1] were digits, so a '\n' always stops the scan
 * before the end of the chunk: no read past the text, no sentinel needed.
 */
#include "cmlp_csv.h"

#include <string.h>

/* Saturation for values read: any value above this is out of range anyway, and
 * keeping it small means "0000000000000000000001" cannot overflow. */
#define CSV_VALUE_CAP 100000u

#define CSV_IS_DIGIT(c) ((unsigned)((unsigned char)(c) - '0') <= 9u)

/* Read the decimal digits at p; *value gets them (saturated at CSV_VALUE_CAP).
 * Returns the first byte after the digits (== p when there are none). */
static const char *csv_read_digits(const char *p, unsigned *value)
{
    unsigned v = 0, d;
    while ((d = (unsigned)((unsigned char)*p - '0')) <= 9u) {
        v = v * 10u + d;
        if (v > CSV_VALUE_CAP) v = CSV_VALUE_CAP;
        p++;
    }
    *value = v;
    return p;
}

/* 1 when c ends a line's content: '\n', or '\r' directly before '\n'. */
static int csv_at_eol(const char *p)
{
    return p[0] == '\n' || (p[0] == '\r' && p[1] == '\n');
}

/* Count the fields of the line that starts at line_start (bounded by its '\n'). */
static ptrdiff_t csv_count_fields(const char *line_start)
{
    ptrdiff_t n = 1;
    const char *p = line_start;
    while (*p != '\n') {
        if (*p == ',') n++;
        p++;
    }
    return n;
}

/* Classify a field that did not parse as a plain in-range integer and fill the
 * error fields.  p points at the field's first byte; col is 1-based. */
static int csv_field_error(csv_cursor *cur, const char *buf, const char *line_start,
                           const char *p, ptrdiff_t line, ptrdiff_t col, int is_first_row)
{
    unsigned v;
    const char *q;
    cur->err_line = line;
    cur->err_col = col;
    cur->err_offset = (ptrdiff_t)(p - buf);
    cur->err_count = 0;
    if (*p == ',' || csv_at_eol(p)) {
        /* an empty field at the end of a line is a line that ends with ',' */
        return CSV_ERR_EMPTY_FIELD;
    }
    if (*p == '-' && CSV_IS_DIGIT(p[1])) {
        q = csv_read_digits(p + 1, &v);
        if (*q == ',' || csv_at_eol(q))
            return col == 1 ? CSV_ERR_LABEL_RANGE : CSV_ERR_PIXEL_RANGE;
        return CSV_ERR_NOT_INTEGER;
    }
    q = csv_read_digits(p, &v);
    if (q != p && (*q == ',' || csv_at_eol(q)))
        return col == 1 ? CSV_ERR_LABEL_RANGE : CSV_ERR_PIXEL_RANGE;
    if (is_first_row) {
        /* a letter anywhere in the first line's bad field: most likely column names */
        for (q = p; *q != ',' && *q != '\n'; q++) {
            unsigned char c = (unsigned char)*q;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
                cur->err_offset = (ptrdiff_t)(line_start - buf);
                return CSV_ERR_HEADER;
            }
        }
    }
    return CSV_ERR_NOT_INTEGER;
}

int csv_parse_mnist_u8(uint8_t *X, int64_t *labels, csv_cursor *cur,
                       const char *buf, ptrdiff_t len,
                       ptrdiff_t cap_rows, ptrdiff_t n_pixels)
{
    const char *p = buf, *end, *line_start = buf;
    ptrdiff_t rows = cur->rows, line = cur->line, last, j = 0;
    int status = CSV_OK;
    uint64_t zeros4;

    memcpy(&zeros4, "0,0,0,0,", 8);
    cur->consumed = 0;
    cur->err_line = 0;
    cur->err_col = 0;
    cur->err_offset = 0;
    cur->err_count = 0;
    if (len < 0 || n_pixels < 1 || cap_rows < 0 || rows < 0 || rows > cap_rows)
        return CSV_ERR_BAD_ARGS;

    /* Only whole lines: stop after the last '\n'. */
    last = len - 1;
    while (last >= 0 && buf[last] != '\n') last--;
    if (last < 0) return CSV_OK;
    end = buf + last + 1;

    while (p < end) {
        uint8_t *x;
        unsigned v;
        const char *q;

        line_start = p;
        /* Empty line ("\n" or "\r\n"): skipped, still counted. */
        if (csv_at_eol(p)) {
            p += (*p == '\r') ? 2 : 1;
            line++;
            continue;
        }
        if (rows >= cap_rows) {
            status = CSV_FULL;
            break;
        }

        /* Label: the column before the pixels, 0-9. */
        q = csv_read_digits(p, &v);
        if (q == p || v > 9u || (*q != ',' && !csv_at_eol(q))) {
            j = -1;
            goto field_fail;
        }
        if (*q != ',') {
            status = CSV_ERR_FEW_COLUMNS;
            goto count_fail;
        }
        labels[rows] = (int64_t)v;
        p = q + 1;

        /* Pixels: P fields, ',' between them, end of line after the last. */
        x = X + rows * n_pixels;
        for (j = 0; j < n_pixels; j++) {
            /* Runs of zeros, four fields at a time: "0,0,0,0," is one 8-byte
             * compare.  Stops before the last pixel, which must end the line. */
            while (j + 4 < n_pixels && end - p >= 8) {
                uint64_t w;
                memcpy(&w, p, 8);
                if (w != zeros4) break;
                memset(x + j, 0, 4);
                p += 8;
                j += 4;
            }
            /* the common case, "d," (a zero, mostly) */
            v = (unsigned)((unsigned char)p[0] - '0');
            if (v <= 9u && p[1] == ',') {
                x[j] = (uint8_t)v;
                p += 2;
                continue;
            }
            if (v <= 9u && end - p >= 4) {
                /* one to three digits without branching on how many:
                 * p[1], p[2] and p[3] are inside the chunk */
                unsigned d1 = (unsigned)((unsigned char)p[1] - '0');
                unsigned d2 = (unsigned)((unsigned char)p[2] - '0');
                unsigned ok1 = d1 <= 9u, ok2 = ok1 & (d2 <= 9u);
                unsigned v2 = v * 10u + d1, v3 = v2 * 10u + d2;
                v = ok2 ? v3 : (ok1 ? v2 : v);
                q = p + 1 + ok1 + ok2;
                if (v > 255u || CSV_IS_DIGIT(*q) || (*q != ',' && !csv_at_eol(q)))
                    goto field_fail;
            } else {
                q = csv_read_digits(p, &v);
                if (q == p || v > 255u || (*q != ',' && !csv_at_eol(q)))
                    goto field_fail;
            }
            x[j] = (uint8_t)v;
            p = q;
            if (*p == ',') {
                p++;
                continue;
            }
            if (j != n_pixels - 1) {
                status = CSV_ERR_FEW_COLUMNS;
                goto count_fail;
            }
            break;
        }
        if (j == n_pixels) {
            /* the last pixel was followed by ',': more fields than 1 + P */
            status = CSV_ERR_MANY_COLUMNS;
            goto count_fail;
        }
        rows++;
        line++;
        p += (*p == '\r') ? 2 : 1;
    }
    cur->rows = rows;
    cur->line = line;
    cur->consumed = (ptrdiff_t)(p - buf);
    return status;

field_fail:
    /* j = -1 for the label, else the pixel index */
    status = csv_field_error(cur, buf, line_start, p, line, j + 2, rows == 0);
    goto done_fail;
count_fail:
    cur->err_line = line;
    cur->err_count = csv_count_fields(line_start);
    cur->err_offset = (ptrdiff_t)(line_start - buf);
    cur->err_col = status == CSV_ERR_FEW_COLUMNS ? cur->err_count + 1 : n_pixels + 2;
done_fail:
    /* rows, line and consumed stay at the start of the bad line */
    cur->rows = rows;
    cur->line = line;
    cur->consumed = (ptrdiff_t)(line_start - buf);
    return status;
}
