#include "curves.h"

#include <math.h>
#include <stddef.h>

enum { WIDTH = 640, HEIGHT = 400, LEFT = 60, RIGHT = 150, TOP = 40, BOTTOM = 50 };

struct series {
    const char *name, *color;
    size_t offset; /* of the double in struct epoch_report */
};

static const struct series all_series[] = {
    {"loss", "#1f77b4", offsetof(struct epoch_report, loss)},
    {"train_acc", "#ff7f0e", offsetof(struct epoch_report, train_acc)},
    {"test_loss", "#9467bd", offsetof(struct epoch_report, test_loss)},
    {"test_acc", "#2ca02c", offsetof(struct epoch_report, test_acc)},
    {"train_log_rmse", "#d62728", offsetof(struct epoch_report, train_log_rmse)},
    {"valid_log_rmse", "#8c564b", offsetof(struct epoch_report, test_log_rmse)},
};

static double value(const struct epoch_report *r, const struct series *s)
{
    return *(const double *)((const char *)r + s->offset);
}

/* Text as XML character data: markup escaped, and what XML 1.0 cannot hold
 * at all (C0 controls but tab and newlines; U+FFFE, U+FFFF) replaced by
 * U+FFFD. The text is UTF-8 (the spec loader checked it). */
static void put_xml_text(FILE *f, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '"')
            fputs("&quot;", f);
        else if (*p == '\'')
            fputs("&apos;", f);
        else if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            fputs("\xef\xbf\xbd", f);
        else if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
            fputs("\xef\xbf\xbd", f);
            p += 2;
        } else
            fputc(*p, f);
    }
}

void curves_write_svg(FILE *f, const struct epoch_report *epochs, int n, const char *title)
{
    double top = 1;
    for (int i = 0; i < n; i++)
        for (size_t s = 0; s < sizeof all_series / sizeof all_series[0]; s++)
            if (isfinite(value(&epochs[i], &all_series[s])) && value(&epochs[i], &all_series[s]) > top)
                top = value(&epochs[i], &all_series[s]);
    double plot_w = WIDTH - LEFT - RIGHT, plot_h = HEIGHT - TOP - BOTTOM;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            WIDTH, HEIGHT);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"14\">", LEFT);
    put_xml_text(f, title);
    fprintf(f, "</text>\n");
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n", LEFT, TOP,
            plot_w, plot_h);
    for (int t = 0; t <= 4; t++) { /* y ticks */
        double y = TOP + plot_h * (1 - t / 4.0);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", LEFT - 6, y + 4, top * t / 4);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">epoch (1 to %d)</text>\n", LEFT + plot_w / 2,
            HEIGHT - 15, n);
    int legend = 0;
    for (size_t s = 0; s < sizeof all_series / sizeof all_series[0]; s++) {
        const struct series *se = &all_series[s];
        if (n == 0 || !isfinite(value(&epochs[0], se)))
            continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", se->color);
        for (int i = 0; i < n; i++) {
            double v = value(&epochs[i], se);
            if (!isfinite(v))
                continue;
            double x = LEFT + (n > 1 ? plot_w * i / (n - 1) : plot_w / 2);
            fprintf(f, "%.1f,%.1f ", x, TOP + plot_h * (1 - v / top));
        }
        fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", WIDTH - RIGHT + 10, TOP + 14 + 18 * legend,
                se->color, se->name);
        legend++;
    }
    fprintf(f, "</svg>\n");
}
