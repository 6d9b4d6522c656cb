/* Line charts against the epoch, as d2l's Animator draws them: integer
 * epoch ticks, a grid, a linear or log y axis, axis labels, a legend beside
 * the plot (never over the lines); one or more panels side by side. */
#ifndef D2L_CHART_H
#define D2L_CHART_H

#include <stdbool.h>
#include <stdio.h>

struct chart_series {
    const char *name; /* in the legend */
    const double *y;  /* y[i] at epoch i + 1; a non-finite value (or <= 0 on a log axis) breaks the line */
    int n;
    int color;        /* index into the palette */
    bool dashed;
};

struct chart_panel {
    const char *ylabel;
    bool log_y;
    const struct chart_series *series;
    int n_series;
};

/* The whole SVG document; every string escaped. */
void chart_write_svg(FILE *f, const char *title, const struct chart_panel *panels, int n_panels);

#endif
