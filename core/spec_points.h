/* sweep --points FILE.yaml: a YAML list of mappings, each one point's
 * overrides {key.path: value, ...}, read into --set texts "key.path=value"
 * (the value written back as flow YAML), so a point's value gets exactly
 * the checks of a --set. */
#ifndef D2L_SPEC_POINTS_H
#define D2L_SPEC_POINTS_H

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

#endif
