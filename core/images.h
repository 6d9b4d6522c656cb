/* A grid of small greyscale images with a caption each (d2l's
 * show_images), as SVG: every image is its own rectangles (runs of equal
 * grey), so the file needs no image codec and scales crisply. */
#ifndef D2L_IMAGES_H
#define D2L_IMAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct image_caption {
    const char *line1, *line2; /* line2 may be NULL */
    bool wrong;                /* drawn red, the image framed in red */
};

/* n images of side x side bytes (0 black .. 255 white), row-major, one
 * after another; at most `cols` a row. */
void images_write_svg(FILE *f, const char *title, const uint8_t *pixels, int n, int side,
                      const struct image_caption *captions, int cols);

/* Whether a dataset's rows are square greyscale images: bytes, side^2
 * features; the side or 0. */
int image_side(bool bytes, size_t features);

#endif
