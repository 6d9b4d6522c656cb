/* Line charts against the epoch, as d2l's Animator draws them: integer
 * epoch ticks, a grid, a linear or log y axis, axis labels, a legend beside
 * the plot (never over the lines); one or more panels side by side. */
#ifndef D2L_CHART_H
#define D2L_CHART_H

#include <stdbool.h>
#include <stdio.h>

enum chart_dash { CHART_SOLID, CHART_DASHED, CHART_DOTTED, CHART_DASH_DOT, CHART_LONG_DASH, CHART_DASH_DOT_DOT,
                  CHART_DASHES };

/* Shapes repeated along a line: what tells lines of one colour apart
 * when there are more lines than colours. */
enum chart_marker { CHART_NO_MARKER, CHART_CIRCLE, CHART_SQUARE, CHART_TRIANGLE, CHART_DIAMOND, CHART_CROSS,
                    CHART_TRIANGLE_DOWN, CHART_MARKERS };

enum { CHART_COLORS = 10, CHART_KEY_COLOR = -1 /* dark grey: a legend key's line style, no run's colour */ };

struct chart_look {
    int color; /* index into the palette of CHART_COLORS (taken modulo), or CHART_KEY_COLOR */
    enum chart_dash dash;
    enum chart_marker marker;
};

struct chart_series {
    const double *y;  /* y[i] at epoch i + 1; a non-finite value (or <= 0 on a log axis) breaks the line */
    const double *lo, *hi; /* NULL, or a band from lo[i] to hi[i] in the line's colour (mean ± std) */
    int n;
    struct chart_look look;
};

struct chart_legend_entry {
    const char *name; /* NULL: an empty line between groups of entries */
    struct chart_look look;
};

struct chart_panel {
    const char *ylabel;
    bool log_y;
    const struct chart_series *series;
    int n_series;
    const struct chart_legend_entry *legend; /* beside the panel */
    int n_legend;
};

/* The whole SVG document; every string escaped. */
void chart_write_svg(FILE *f, const char *title, const struct chart_panel *panels, int n_panels);

#endif
