/* A CSV file read whole into strings (RFC 4180 with the usual leniency):
 * the first record is the header; fields may be quoted ("a, b", doubled ""
 * for a quote, newlines inside quotes); records end with LF or CRLF, the
 * last one optionally; blank lines are skipped and a UTF-8 BOM is dropped,
 * as pandas does. A quote inside an unquoted field is kept as a character. */
#ifndef D2L_CSV_H
#define D2L_CSV_H

#include <stddef.h>

#include "../core/error.h"

struct csv_table {
    int n_cols;
    size_t n_rows;   /* data rows, header excluded; 0 is valid */
    char **header;   /* n_cols names */
    char **cells;    /* n_rows * n_cols, row-major */
    size_t *lines;   /* the file line each data row starts on (1-based), for messages */
    char *text;      /* storage behind header and cells */
};

/* Reads PATH. Errors (EXIT_DATA) name the file and line, and the column
 * where one is known: "FILE:LINE: expected N fields, got M",
 * "FILE:LINE:COL: unterminated quoted field", "FILE: empty (no header row)";
 * out of memory is EXIT_RUNTIME, "FILE: out of memory ...".
 * On error *t is left empty (csv_free is safe). */
int csv_read(const char *path, struct csv_table *t, struct err *e);

void csv_free(struct csv_table *t);

/* The cell at (row, col), row-major. */
static inline const char *csv_cell(const struct csv_table *t, size_t row, int col)
{
    return t->cells[row * (size_t)t->n_cols + (size_t)col];
}

#endif
