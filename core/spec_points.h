/* sweep --points FILE.yaml: a YAML list of mappings, each one point's
 * overrides {key.path: value, ...}, read into --set texts "key.path=value"
 * (the value written back as flow YAML), so a point's value gets exactly
 * the checks of a --set. And sweep --grid KEY=V1,V2,...: its values. */
#ifndef D2L_SPEC_POINTS_H
#define D2L_SPEC_POINTS_H

#include <stddef.h>

#include "error.h"

struct spec_point {
    char **sets; /* "key.path=value", malloc'd */
    int n_sets;
    int line, col; /* where the point's mapping stands in the file */
};

/* Reads the file; errors name file:line:col (exit 2). *points is freed
 * with spec_points_free. */
int spec_points_load(const char *path, struct spec_point **points, int *n_points, struct err *e);
void spec_points_free(struct spec_point *points, int n_points);

/* One value of a --grid: text[start, start + len). */
struct grid_value {
    size_t start, len;
};

/* Splits a --grid's values text at the commas outside brackets, braces and
 * quotes (an unclosed one is left to the --set's YAML error). *values is
 * malloc'd, *n >= 1; errors (an empty value, a bracket closed that was not
 * opened) name the --grid text `grid` (exit 2). */
int spec_grid_split(const char *text, const char *grid, struct grid_value **values, int *n, struct err *e);

#endif
