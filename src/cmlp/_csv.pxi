# Bridge for the MNIST CSV parser (csrc/csv.c); included by _core.pyx.
#
# csv_parse_chunk checks its buffers, runs the C parser without the GIL and turns
# a negative C status into a ValueError naming the source, line and column.
# The chunking, threads and gzip live in cmlp/datasets.py.
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport uint8_t, int64_t

cdef extern from "cmlp_csv.h" nogil:
    enum:
        CSV_OK
        CSV_FULL
        CSV_ERR_FEW_COLUMNS
        CSV_ERR_MANY_COLUMNS
        CSV_ERR_NOT_INTEGER
        CSV_ERR_EMPTY_FIELD
        CSV_ERR_LABEL_RANGE
        CSV_ERR_PIXEL_RANGE
        CSV_ERR_HEADER
        CSV_ERR_BAD_ARGS

    ctypedef struct csv_cursor:
        ptrdiff_t rows
        ptrdiff_t line
        ptrdiff_t consumed
        ptrdiff_t err_line
        ptrdiff_t err_col
        ptrdiff_t err_offset
        ptrdiff_t err_count

    int csv_parse_mnist_u8(uint8_t *X, int64_t *labels, csv_cursor *cur,
                           const char *buf, ptrdiff_t len,
                           ptrdiff_t cap_rows, ptrdiff_t n_pixels)


CSV_STATUS_OK = CSV_OK
CSV_STATUS_FULL = CSV_FULL


cdef bytes _raw_field(const unsigned char[::1] buf, Py_ssize_t offset):
    """The bytes of the field at buf[offset], up to ',' or '\\n' (a '\\r' included), at most
    64 of them."""
    cdef Py_ssize_t stop = offset
    cdef Py_ssize_t n = buf.shape[0]
    while stop < n and stop < offset + 64 and buf[stop] != b',' and buf[stop] != b'\n':
        stop += 1
    return bytes(buf[offset:stop])


cdef str _csv_field_text(const unsigned char[::1] buf, Py_ssize_t offset):
    """The field starting at ``buf[offset]``, up to ',' or the line's end, as a repr (its
    first 24 bytes, then '...')."""
    field = _raw_field(buf, offset).split(b"\r", 1)[0]
    text = field[:24].decode("latin-1")
    return repr(text + "..." if len(field) > 24 else text)


cdef object _csv_error(int status, csv_cursor *cur, const unsigned char[::1] buf,
                       str source, Py_ssize_t n_pixels):
    """The ValueError for a negative status of csv_parse_mnist_u8."""
    cdef Py_ssize_t col = cur.err_col
    n_cols = n_pixels + 1
    where = f"{source}, line {cur.err_line}"
    if col == 1:
        what = "column 1 (the label)"
    else:
        what = f"column {col} (pixel {col - 1} of {n_pixels})"
    if status != CSV_ERR_BAD_ARGS and 0 <= cur.err_offset < buf.shape[0] and \
            _binary(buf[cur.err_offset:cur.err_offset + 64]):
        msg = (f"{where}: not a text CSV file (binary data, such as a zip, bz2, xz or zstd "
               f"archive or a .npz file); only plain or gzip-compressed CSV files are read")
    elif status == CSV_ERR_FEW_COLUMNS or status == CSV_ERR_MANY_COLUMNS:
        msg = (f"{where}: expected {n_cols} comma-separated columns (label + {n_pixels} pixels), "
               f"found {cur.err_count}")
    elif status == CSV_ERR_HEADER:
        msg = (f"{where}: looks like a header row (first field {_csv_field_text(buf, cur.err_offset)}); "
               f"the MNIST CSV format has no header: remove the first line")
    elif status == CSV_ERR_EMPTY_FIELD:
        msg = f"{where}, {what}: empty field; expected an integer"
    elif status == CSV_ERR_LABEL_RANGE:
        msg = (f"{where}, {what}: label {_csv_field_text(buf, cur.err_offset)} is outside 0-9")
    elif status == CSV_ERR_PIXEL_RANGE and _in_range_digits(buf, cur.err_offset):
        msg = (f"{where}, {what}: pixel value {_csv_field_text(buf, cur.err_offset)} has "
               f"more than 3 digits; write pixels 0-255 without leading zeros")
    elif status == CSV_ERR_PIXEL_RANGE:
        msg = (f"{where}, {what}: pixel value {_csv_field_text(buf, cur.err_offset)} "
               f"is outside 0-255")
    elif status == CSV_ERR_NOT_INTEGER and _stray_cr(buf, cur.err_offset):
        msg = (f"{where}, {what}: a carriage return ('\\r') inside the line, after "
               f"{_csv_field_text(buf, cur.err_offset)}; lines must end in '\\n' or "
               f"'\\r\\n' (a file with old Mac line endings, '\\r' alone, needs converting)")
    elif status == CSV_ERR_NOT_INTEGER:
        msg = (f"{where}, {what}: {_csv_field_text(buf, cur.err_offset)} is not a "
               f"non-negative decimal integer")
    else:
        msg = f"{source}: internal error in the CSV parser (status {status})"
    return ValueError(msg)


def _in_range_digits(buf, offset):
    """True for a field of digits only whose value is 0-255 (leading zeros made it long)."""
    field = _raw_field(buf, offset).rstrip(b"\r")
    return field.isdigit() and int(field) <= 255


def _stray_cr(buf, offset):
    """True if the field holds a '\\r' that does not end the line ('\\r\\n' is fine)."""
    field = _raw_field(buf, offset)
    i = field.find(b"\r")
    return i >= 0 and (i < len(field) - 1 or offset + len(field) >= buf.shape[0]
                       or buf[offset + len(field)] != 10)


def _binary(head):
    """True if bytes head look like binary data, not text: a NUL or another control byte
    (tab, newline and carriage return aside), or a known archive's magic number."""
    head = bytes(head)
    if head.startswith((b"PK\x03\x04", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")):
        return True
    return any(c < 32 and c not in (9, 10, 13) for c in head)


def csv_parse_chunk(uint8_t[:, ::1] X not None, int64_t[::1] labels not None,
                    const unsigned char[::1] buf not None, Py_ssize_t rows, Py_ssize_t line,
                    str source="<buffer>"):
    """Parse the whole lines of one text chunk into rows ``rows, rows+1, ...``.

    Parameters
    ----------
    X : ndarray of shape (R, P), uint8, C-contiguous, writeable
        Pixel output; R is the capacity in rows, P the number of pixels per row.
    labels : ndarray of shape (R,), int64, C-contiguous, writeable
        Label output.
    buf : bytes-like of shape (L,)
        Text; only bytes up to and including its last ``b"\\n"`` are read.
    rows : int
        Rows already written (the next row index), ``0 <= rows <= R``.
    line : int
        1-based line number of the first line of ``buf`` (for messages).
    source : str
        Name used in error messages (the file name).

    Returns
    -------
    status : int
        ``CSV_STATUS_OK`` (all whole lines parsed) or ``CSV_STATUS_FULL`` (R rows
        written; ``buf[consumed:]`` not parsed).
    rows, line, consumed : int
        Rows written so far, line number of the next line, bytes of ``buf`` parsed.

    Raises
    ------
    ValueError
        Malformed text: names the source, line, column and what is wrong.
    """
    cdef csv_cursor cur
    cdef int status
    cdef Py_ssize_t cap = X.shape[0]
    cdef Py_ssize_t n_pixels = X.shape[1]
    cdef Py_ssize_t n = buf.shape[0]
    cdef uint8_t *xp = NULL
    cdef int64_t *lp = NULL
    cdef const char *bp = NULL
    if labels.shape[0] != cap:
        raise ValueError(f"labels has {labels.shape[0]} rows but X has {cap}")
    if n_pixels < 1:
        raise ValueError("X must have at least one column")
    if rows < 0 or rows > cap:
        raise ValueError(f"rows must be in 0..{cap}, got {rows}")
    if line < 1:
        raise ValueError(f"line must be >= 1, got {line}")
    if n == 0:
        return CSV_OK, rows, line, 0
    if cap > 0:
        xp = &X[0, 0]
        lp = &labels[0]
    bp = <const char *> &buf[0]
    cur.rows = rows
    cur.line = line
    with nogil:
        status = csv_parse_mnist_u8(xp, lp, &cur, bp, n, cap, n_pixels)
    if status < 0:
        raise _csv_error(status, &cur, buf, source, n_pixels)
    return status, cur.rows, cur.line, cur.consumed
