/* Hand-written SVG: the one XML escape every string goes through, text
 * widths measured conservatively (so that labels are placed inside the
 * canvas whatever sans-serif font the viewer has), and a file written as a
 * whole or not at all. */
#ifndef D2L_SVG_H
#define D2L_SVG_H

#include <stdio.h>

#include "error.h"

/* s as XML character data or attribute value: & < > " ' escaped; control
 * characters (not allowed in XML 1.0) and bytes that are not UTF-8 written
 * as U+FFFD. */
void svg_escaped(FILE *f, const char *s);

/* An upper bound of the width in pixels of s (UTF-8) at font_size in a
 * sans-serif font (DejaVu's widest lowercase and digits are 0.64 em, its
 * capitals 0.79): W, M, m, w, @ and each non-ASCII character count 1 em,
 * capitals and % 0.8, the rest 0.65. */
double svg_text_width(const char *s, double font_size);

/* <text x y [anchor] [extra attributes]>escaped s</text>; anchor "start",
 * "middle" or "end"; extra NULL or raw attributes (never user text). */
void svg_text(FILE *f, double x, double y, const char *anchor, const char *extra, const char *s);

void svg_begin(FILE *f, double width, double height);
void svg_end(FILE *f);

/* -o FILE: written to a fresh temporary beside FILE (O_EXCL, so never
 * through a planted link), fsynced and renamed over FILE; a failure leaves
 * FILE as it was. */
struct svg_file {
    FILE *f;
    char path[4096], tmp[4096 + 32];
};
int svg_file_open(struct svg_file *s, const char *path, struct err *e);
int svg_file_commit(struct svg_file *s, struct err *e);
void svg_file_abort(struct svg_file *s);

#endif
