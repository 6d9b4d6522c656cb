#include "csv.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read_all.h"

/* Parser state: the input, the unquoted output, where we are (for
 * messages), and the growing lists of field starts and record lines. */
struct csv_parser {
    const char *path;
    const char *in;
    size_t len, i;
    size_t line, line_start; /* 1-based line and the offset where it starts */
    char *out;
    size_t o;
    char **fields;
    size_t n_fields, cap_fields;
    size_t *lines;
    size_t n_records, cap_records;
};

static size_t column_at(const struct csv_parser *ps, size_t i)
{
    return i - ps->line_start + 1;
}

static void newline_at(struct csv_parser *ps, size_t i)
{
    ps->line++;
    ps->line_start = i + 1;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 1024;
    void *bigger = cap2 <= SIZE_MAX / elem ? realloc(*arr, cap2 * elem) : NULL;
    if (!bigger)
        return -1;
    *arr = bigger;
    *cap = cap2;
    return 0;
}

/* Parses one field at ps->i into the output; stops at the separator or end
 * of record without consuming it. */
static int parse_field(struct csv_parser *ps, struct err *e)
{
    if (grow((void **)&ps->fields, &ps->cap_fields, ps->n_fields + 1, sizeof *ps->fields))
        return err_set(e, EXIT_RUNTIME, "%s: out of memory", ps->path);
    ps->fields[ps->n_fields++] = ps->out + ps->o;
    const char *in = ps->in;
    if (ps->i < ps->len && in[ps->i] == '"') {
        size_t open_line = ps->line, open_col = column_at(ps, ps->i);
        ps->i++;
        for (;;) {
            if (ps->i >= ps->len)
                return err_set(e, EXIT_DATA, "%s:%zu:%zu: unterminated quoted field", ps->path,
                               open_line, open_col);
            char c = in[ps->i];
            if (c == '"') {
                if (ps->i + 1 < ps->len && in[ps->i + 1] == '"') {
                    ps->out[ps->o++] = '"';
                    ps->i += 2;
                    continue;
                }
                ps->i++;
                break;
            }
            if (c == '\0')
                return err_set(e, EXIT_DATA, "%s:%zu:%zu: NUL byte", ps->path, ps->line,
                               column_at(ps, ps->i));
            if (c == '\n')
                newline_at(ps, ps->i);
            ps->out[ps->o++] = c;
            ps->i++;
        }
        if (ps->i < ps->len && in[ps->i] != ',' && in[ps->i] != '\n' && in[ps->i] != '\r')
            return err_set(e, EXIT_DATA, "%s:%zu:%zu: unexpected '%c' after a closing quote",
                           ps->path, ps->line, column_at(ps, ps->i), in[ps->i]);
    } else {
        for (; ps->i < ps->len; ps->i++) {
            char c = in[ps->i];
            if (c == ',' || c == '\n' || c == '\r')
                break;
            if (c == '\0')
                return err_set(e, EXIT_DATA, "%s:%zu:%zu: NUL byte", ps->path, ps->line,
                               column_at(ps, ps->i));
            ps->out[ps->o++] = c;
        }
    }
    ps->out[ps->o++] = '\0';
    return 0;
}

/* Consumes LF, CRLF or a lone CR at ps->i, if there is one. */
static int skip_newline(struct csv_parser *ps)
{
    if (ps->i >= ps->len)
        return 0;
    if (ps->in[ps->i] == '\r' && ps->i + 1 < ps->len && ps->in[ps->i + 1] == '\n')
        ps->i++;
    if (ps->in[ps->i] != '\n' && ps->in[ps->i] != '\r')
        return 0;
    newline_at(ps, ps->i);
    ps->i++;
    return 1;
}

static int parse_records(struct csv_parser *ps, int *n_cols, struct err *e)
{
    *n_cols = 0;
    while (ps->i < ps->len) {
        if (skip_newline(ps))
            continue; /* a blank line */
        size_t record_line = ps->line, first = ps->n_fields;
        for (;;) {
            if (parse_field(ps, e))
                return e->code;
            if (ps->i < ps->len && ps->in[ps->i] == ',')
                ps->i++;
            else
                break;
        }
        skip_newline(ps);
        size_t got = ps->n_fields - first;
        if (ps->n_records == 0) {
            if (got > INT_MAX)
                return err_set(e, EXIT_DATA, "%s:%zu: too many columns (%zu)", ps->path,
                               record_line, got);
            *n_cols = (int)got;
        } else if (got != (size_t)*n_cols) {
            return err_set(e, EXIT_DATA, "%s:%zu: expected %d fields, got %zu", ps->path,
                           record_line, *n_cols, got);
        }
        if (grow((void **)&ps->lines, &ps->cap_records, ps->n_records + 1, sizeof *ps->lines))
            return err_set(e, EXIT_RUNTIME, "%s: out of memory", ps->path);
        ps->lines[ps->n_records++] = record_line;
    }
    if (ps->n_records == 0)
        return err_set(e, EXIT_DATA, "%s: empty (no header row)", ps->path);
    return 0;
}

int csv_read(const char *path, struct csv_table *t, struct err *e)
{
    memset(t, 0, sizeof *t);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (read_all(path, SIZE_MAX, "CSV file", &bytes, &len, e))
        return e->code;
    char *data = (char *)bytes;
    /* Unquoting only shrinks a field and each field's terminator becomes its
     * NUL, so the output fits in the input's size plus one byte. */
    struct csv_parser ps = {.path = path, .in = data, .len = len, .line = 1, .out = malloc(len + 1)};
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        ps.i = ps.line_start = 3;
    int n_cols = 0;
    int rc = ps.out ? parse_records(&ps, &n_cols, e) : err_set(e, EXIT_RUNTIME, "%s: out of memory", path);
    free(data);
    if (rc) {
        free(ps.fields);
        free(ps.lines);
        free(ps.out);
        return rc;
    }
    t->n_cols = n_cols;
    t->n_rows = ps.n_records - 1;
    t->header = ps.fields;
    t->cells = ps.fields + n_cols;
    t->lines = ps.lines;
    memmove(t->lines, t->lines + 1, t->n_rows * sizeof *t->lines);
    t->text = ps.out;
    return 0;
}

void csv_free(struct csv_table *t)
{
    free(t->header);
    free(t->lines);
    free(t->text);
    memset(t, 0, sizeof *t);
}
