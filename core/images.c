#include "images.h"

#include <math.h>

#include "svg.h"

enum { SCALE = 3, GAP = 12, FONT = 12, LINE = 15, LEVELS = 32 };

int image_side(bool bytes, size_t features)
{
    int side = (int)lround(sqrt((double)features));
    return bytes && side > 1 && (size_t)side * (size_t)side == features ? side : 0;
}

/* One image at (x, y): a black square and a rectangle per run of equal
 * grey (quantised to LEVELS) in each row. */
static void draw_image(FILE *f, double x, double y, const uint8_t *px, int side)
{
    fprintf(f, "<g transform=\"translate(%.1f %.1f) scale(%d)\" shape-rendering=\"crispEdges\">\n", x, y, SCALE);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"black\"/>\n", side, side);
    for (int r = 0; r < side; r++)
        for (int c = 0; c < side;) {
            int level = px[r * side + c] * LEVELS / 256, run = 1;
            while (c + run < side && px[r * side + c + run] * LEVELS / 256 == level)
                run++;
            if (level > 0) {
                int grey = level * 255 / (LEVELS - 1);
                fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"1\" fill=\"#%02x%02x%02x\"/>\n", c, r, run,
                        grey, grey, grey);
            }
            c += run;
        }
    fprintf(f, "</g>\n");
}

void images_write_svg(FILE *f, const char *title, const uint8_t *pixels, int n, int side,
                      const struct image_caption *captions, int cols)
{
    cols = n < cols ? (n > 0 ? n : 1) : cols;
    int rows = (n + cols - 1) / cols;
    double cell_w = side * SCALE;
    for (int i = 0; i < n; i++) {
        cell_w = fmax(cell_w, svg_text_width(captions[i].line1, FONT));
        if (captions[i].line2)
            cell_w = fmax(cell_w, svg_text_width(captions[i].line2, FONT));
    }
    cell_w += GAP;
    bool two_lines = false;
    for (int i = 0; i < n; i++)
        two_lines |= captions[i].line2 != NULL;
    double caption_h = LINE * (two_lines ? 2 : 1) + 4, cell_h = caption_h + side * SCALE + GAP;
    bool titled = title && *title;
    double top = titled ? 30 : GAP / 2.0;
    double width = fmax(cols * cell_w, titled ? 16 + svg_text_width(title, 14) : 0), height = top + rows * cell_h;
    svg_begin(f, ceil(width), ceil(height));
    if (titled)
        svg_text(f, 8, 20, "start", "font-size=\"14\"", title);
    for (int i = 0; i < n; i++) {
        double cx = (i % cols) * cell_w + cell_w / 2, y = top + (i / cols) * cell_h;
        const struct image_caption *cap = &captions[i];
        const char *red = cap->wrong ? "fill=\"#d62728\"" : NULL;
        svg_text(f, cx, y + LINE - 3, "middle", cap->line2 ? NULL : red, cap->line1);
        if (cap->line2)
            svg_text(f, cx, y + 2 * LINE - 3, "middle", red, cap->line2);
        double ix = cx - side * SCALE / 2.0, iy = y + caption_h;
        draw_image(f, ix, iy, pixels + (size_t)i * side * side, side);
        if (cap->wrong)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#d62728\" "
                       "stroke-width=\"3\"/>\n",
                    ix - 1.5, iy - 1.5, side * SCALE + 3, side * SCALE + 3);
    }
    svg_end(f);
}
