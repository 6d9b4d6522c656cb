#include "chart.h"

#include <math.h>
#include <stdio.h>

#include "svg.h"

enum { PLOT_W = 360, PLOT_H = 240, FONT = 12, TITLE_FONT = 14, MAX_TICKS = 16, LINE = 18 };

/* matplotlib's tab10, which d2l's plots use */
static const char *const palette[CHART_COLORS] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static const char *color_of(struct chart_look look)
{
    return look.color == CHART_KEY_COLOR ? "#555" : palette[look.color % CHART_COLORS];
}

/* stroke-dasharray, scaled for lines 2 px wide */
static const char *dasharray(enum chart_dash dash)
{
    switch (dash) {
    case CHART_SOLID:
    case CHART_DASHES:
        return NULL;
    case CHART_DASHED:
        return "6 3";
    case CHART_DOTTED:
        return "2 3";
    case CHART_DASH_DOT:
        return "8 3 2 3";
    case CHART_LONG_DASH:
        return "14 4";
    case CHART_DASH_DOT_DOT:
        return "8 3 2 3 2 3";
    }
    return NULL;
}

/* stroke, width and dash of a line drawn in `look` */
static void stroke(FILE *f, struct chart_look look)
{
    const char *dash = dasharray(look.dash);
    fprintf(f, " stroke=\"%s\" stroke-width=\"2\"", color_of(look));
    if (dash)
        fprintf(f, " stroke-dasharray=\"%s\"", dash);
}

static void draw_marker(FILE *f, struct chart_look look, double x, double y)
{
    const char *color = color_of(look);
    switch (look.marker) {
    case CHART_NO_MARKER:
    case CHART_MARKERS:
        return;
    case CHART_CIRCLE:
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x, y, color);
        return;
    case CHART_SQUARE:
        fprintf(f, "<path d=\"M%.1f %.1f h6.4 v6.4 h-6.4 Z\" fill=\"%s\"/>\n", x - 3.2, y - 3.2, color);
        return;
    case CHART_TRIANGLE:
        fprintf(f, "<path d=\"M%.1f %.1f l4 7 h-8 Z\" fill=\"%s\"/>\n", x, y - 4.5, color);
        return;
    case CHART_DIAMOND:
        fprintf(f, "<path d=\"M%.1f %.1f l4.5 4.5 l-4.5 4.5 l-4.5 -4.5 Z\" fill=\"%s\"/>\n", x, y - 4.5, color);
        return;
    case CHART_CROSS:
        fprintf(f, "<path d=\"M%.1f %.1f l7 7 m0 -7 l-7 7\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                x - 3.5, y - 3.5, color);
        return;
    case CHART_TRIANGLE_DOWN:
        fprintf(f, "<path d=\"M%.1f %.1f l4 -7 h-8 Z\" fill=\"%s\"/>\n", x, y + 4.5, color);
        return;
    }
}

/* A y axis: value v sits at (t(v) - lo) / (hi - lo) of the height, t the
 * identity or log10. */
struct axis {
    bool log;
    double lo, hi;
    int n_ticks;
    double ticks[MAX_TICKS]; /* values */
    char labels[MAX_TICKS][24];
    double label_width;
};

static bool usable(double v, bool log)
{
    return isfinite(v) && (!log || v > 0);
}

static double transform(const struct axis *a, double v)
{
    return a->log ? log10(v) : v;
}

/* 1, 2 or 5 times a power of ten, at least x. */
static double nice_step(double x)
{
    double p = pow(10, floor(log10(x)));
    return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
}

static void add_tick(struct axis *a, double v, const char *label)
{
    if (a->n_ticks == MAX_TICKS)
        return;
    snprintf(a->labels[a->n_ticks], sizeof a->labels[0], "%s", label);
    a->ticks[a->n_ticks++] = v;
}

static void linear_axis(struct axis *a, double min, double max)
{
    if (max - min < 1e-12 * fmax(fabs(max), 1)) { /* a flat line: give it room */
        double pad = min == 0 ? 1 : fabs(min) * 0.1;
        min -= pad, max += pad;
    }
    double step = nice_step((max - min) / 5);
    a->lo = floor(min / step) * step;
    a->hi = ceil(max / step) * step;
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    bool huge = fmax(fabs(a->lo), fabs(a->hi)) >= 1e6;
    for (double v = a->lo; v <= a->hi + step / 2; v += step) {
        char label[24];
        v = fabs(v) < step * 1e-9 ? 0 : v;
        snprintf(label, sizeof label, huge ? "%.*g" : "%.*f", huge ? 3 : decimals, v);
        add_tick(a, v, label);
    }
}

/* m times 10^k as 0.002, 50 or 2e-5, 5e10 */
static void add_log_tick(struct axis *a, int m, int k)
{
    char label[24];
    if (k <= -4 || k >= 5)
        snprintf(label, sizeof label, "%de%d", m, k);
    else
        snprintf(label, sizeof label, "%g", m * pow(10, k));
    add_tick(a, m * pow(10, k), label);
}

static void log_axis(struct axis *a, double min, double max)
{
    a->lo = floor(log10(min));
    a->hi = ceil(log10(max));
    if (a->hi <= a->lo)
        a->hi = a->lo + 1;
    int every = (int)ceil((a->hi - a->lo) / 6);
    for (int k = (int)a->lo; k <= (int)a->hi; k += every) {
        add_log_tick(a, 1, k);
        for (int m = 2; a->hi - a->lo <= 2 && m <= 5 && k < (int)a->hi; m += 3) /* narrow: 2 and 5 too */
            add_log_tick(a, m, k);
    }
}

static void make_axis(struct axis *a, const struct chart_panel *p)
{
    *a = (struct axis){.log = p->log_y};
    double min = INFINITY, max = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        const struct chart_series *se = &p->series[s];
        for (int i = 0; i < se->n; i++) {
            double v[3] = {se->y[i], se->lo ? se->lo[i] : NAN, se->hi ? se->hi[i] : NAN};
            for (int k = 0; k < 3; k++)
                if (usable(v[k], a->log)) {
                    min = fmin(min, v[k]);
                    max = fmax(max, v[k]);
                }
        }
    }
    if (min > max) /* nothing to draw */
        min = a->log ? 0.1 : 0, max = 1;
    if (a->log)
        log_axis(a, min, max);
    else
        linear_axis(a, min, max);
    for (int t = 0; t < a->n_ticks; t++)
        a->label_width = fmax(a->label_width, svg_text_width(a->labels[t], FONT));
}

static double legend_width(const struct chart_panel *p)
{
    double w = 0;
    for (int k = 0; k < p->n_legend; k++)
        if (p->legend[k].name)
            w = fmax(w, svg_text_width(p->legend[k].name, FONT));
    return 8 + 24 + 6 + w + 8;
}

/* Left margin: the rotated y label, then the tick labels. */
static double left_margin(const struct axis *a)
{
    return 8 + FONT + 2 + 8 + a->label_width + 6;
}

static double panel_width(const struct chart_panel *p, const struct axis *a)
{
    return left_margin(a) + PLOT_W + 14 + legend_width(p);
}

static int epoch_count(const struct chart_panel *panels, int n_panels)
{
    int n = 0;
    for (int p = 0; p < n_panels; p++)
        for (int s = 0; s < panels[p].n_series; s++)
            n = panels[p].series[s].n > n ? panels[p].series[s].n : n;
    return n;
}

struct frame {
    double x0, y0; /* the plot area's top left */
    double x_lo, x_hi;
    int marker_every; /* markers at epochs 1, 1 + every, ... */
};

static double px(const struct frame *fr, double epoch)
{
    return fr->x0 + PLOT_W * (epoch - fr->x_lo) / (fr->x_hi - fr->x_lo);
}

static double py(const struct frame *fr, const struct axis *a, double v)
{
    return fr->y0 + PLOT_H * (1 - (transform(a, v) - a->lo) / (a->hi - a->lo));
}

static void draw_x_axis(FILE *f, const struct frame *fr, int epochs)
{
    int step = 1;
    while (epochs / step > 10)
        step = (int)nice_step(step + 1);
    char label[16];
    for (int e = step > 1 ? step : 1; e <= epochs; e += step) { /* 1, 2, 3... or 5, 10, 15... */
        double x = px(fr, e);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", x, fr->y0, x,
                fr->y0 + PLOT_H);
        snprintf(label, sizeof label, "%d", e);
        svg_text(f, x, fr->y0 + PLOT_H + 16, "middle", NULL, label);
    }
    svg_text(f, fr->x0 + PLOT_W / 2.0, fr->y0 + PLOT_H + 36, "middle", NULL, "epoch");
}

static void draw_y_axis(FILE *f, const struct frame *fr, const struct axis *a, double panel_x, const char *ylabel)
{
    for (int t = 0; t < a->n_ticks; t++) {
        double y = py(fr, a, a->ticks[t]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", fr->x0, y,
                fr->x0 + PLOT_W, y);
        svg_text(f, fr->x0 - 6, y + 4, "end", NULL, a->labels[t]);
    }
    double x = panel_x + 8 + FONT, y = fr->y0 + PLOT_H / 2.0;
    char rotate[64];
    snprintf(rotate, sizeof rotate, "transform=\"rotate(-90 %.1f %.1f)\"", x, y);
    svg_text(f, x, y, "middle", rotate, ylabel);
}

/* A band's edge on the axis: on a log axis an edge <= 0 (mean - std of a
 * loss near 0) sits at the axis' bottom. */
static double band_y(const struct frame *fr, const struct axis *a, double v)
{
    return py(fr, a, a->log && v <= 0 ? pow(10, a->lo) : v);
}

static bool band_usable(const struct chart_series *s, const struct axis *a, int i)
{
    return isfinite(s->lo[i]) && usable(s->hi[i], a->log);
}

/* Each stretch of epochs with a spread known, as one filled polygon: along
 * the top edge, back along the bottom one. */
static void draw_band(FILE *f, const struct frame *fr, const struct axis *a, const struct chart_series *s)
{
    for (int start = 0; s->lo && s->hi && start < s->n;) {
        int end = start;
        while (end < s->n && band_usable(s, a, end))
            end++;
        if (end - start >= 2) {
            fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.2\" stroke=\"none\" d=\"", color_of(s->look));
            for (int i = start; i < end; i++)
                fprintf(f, "%c%.1f %.1f ", i == start ? 'M' : 'L', px(fr, i + 1), band_y(fr, a, s->hi[i]));
            for (int i = end - 1; i >= start; i--)
                fprintf(f, "L%.1f %.1f ", px(fr, i + 1), band_y(fr, a, s->lo[i]));
            fprintf(f, "Z\"/>\n");
        }
        start = end > start ? end : start + 1;
    }
}

static void draw_series(FILE *f, const struct frame *fr, const struct axis *a, const struct chart_series *s)
{
    fprintf(f, "<path fill=\"none\"");
    stroke(f, s->look);
    fprintf(f, " d=\"");
    for (int i = 0; i < s->n; i++)
        if (usable(s->y[i], a->log))
            fprintf(f, "%c%.1f %.1f ", i > 0 && usable(s->y[i - 1], a->log) ? 'L' : 'M', px(fr, i + 1),
                    py(fr, a, s->y[i]));
    fprintf(f, "\"/>\n");
    for (int i = 0; i < s->n; i++) /* a point with no neighbour would not show as a line */
        if (usable(s->y[i], a->log) && (i == 0 || !usable(s->y[i - 1], a->log)) &&
            (i == s->n - 1 || !usable(s->y[i + 1], a->log)))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(fr, i + 1), py(fr, a, s->y[i]),
                    color_of(s->look));
    for (int i = 0; i < s->n; i += fr->marker_every)
        if (usable(s->y[i], a->log))
            draw_marker(f, s->look, px(fr, i + 1), py(fr, a, s->y[i]));
}

static double legend_height(const struct chart_panel *p)
{
    return LINE * p->n_legend + 8;
}

static void draw_legend(FILE *f, const struct chart_panel *p, double x, double y)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"white\" stroke=\"#ccc\" rx=\"3\"/>\n",
            x, y, legend_width(p), legend_height(p));
    for (int k = 0; k < p->n_legend; k++) {
        const struct chart_legend_entry *en = &p->legend[k];
        double ly = y + 4 + LINE * k + LINE / 2.0;
        if (!en->name)
            continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x + 8, ly, x + 32, ly);
        stroke(f, en->look);
        fprintf(f, "/>\n");
        draw_marker(f, en->look, x + 20, ly);
        svg_text(f, x + 38, ly + 4, "start", NULL, en->name);
    }
}

void chart_write_svg(FILE *f, const char *title, const struct chart_panel *panels, int n_panels)
{
    struct axis axes[n_panels > 0 ? n_panels : 1];
    double width = 8, legend_h = 0;
    for (int p = 0; p < n_panels; p++) {
        make_axis(&axes[p], &panels[p]);
        width += panel_width(&panels[p], &axes[p]);
        legend_h = fmax(legend_h, legend_height(&panels[p]));
    }
    bool titled = title && *title;
    if (titled)
        width = fmax(width, 16 + svg_text_width(title, TITLE_FONT));
    double top = titled ? 36 : 14, height = top + fmax(PLOT_H, legend_h) + 50;
    svg_begin(f, ceil(width), ceil(height));
    if (titled)
        svg_text(f, 8, 22, "start", "font-size=\"14\"", title);
    int epochs = epoch_count(panels, n_panels);
    double panel_x = 0;
    for (int p = 0; p < n_panels; p++) {
        const struct axis *a = &axes[p];
        struct frame fr = {.x0 = panel_x + left_margin(a), .y0 = top, .x_lo = epochs > 1 ? 1 : 0.5,
                           .x_hi = epochs > 1 ? epochs : 1.5, .marker_every = epochs > 8 ? (epochs + 7) / 8 : 1};
        draw_x_axis(f, &fr, epochs);
        draw_y_axis(f, &fr, a, panel_x, panels[p].ylabel);
        for (int s = 0; s < panels[p].n_series; s++) /* the bands first: no band covers a line */
            draw_band(f, &fr, a, &panels[p].series[s]);
        for (int s = 0; s < panels[p].n_series; s++)
            draw_series(f, &fr, a, &panels[p].series[s]);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", fr.x0,
                fr.y0, PLOT_W, PLOT_H);
        draw_legend(f, &panels[p], fr.x0 + PLOT_W + 14, top);
        panel_x += panel_width(&panels[p], a);
    }
    svg_end(f);
}
