#include "svg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"

/* The length of the valid UTF-8 character at s, 0 when the bytes there are
 * not one XML can hold (a stray continuation byte, a cut or overlong
 * sequence, a surrogate, U+FFFE, U+FFFF, beyond U+10FFFF). */
static int utf8_length(const unsigned char *s)
{
    int len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                          : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90) || (s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)) /* U+FFFE, U+FFFF */
        return 0;
    return len;
}

void svg_escaped(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = utf8_length(p);
        switch (len ? *p : 0) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\t': case '\n': case '\r': fputc(' ', f); break;
        default:
            if (len == 0 || *p < 0x20 || *p == 0x7f) /* not allowed in XML 1.0, or not UTF-8 */
                fputs("\xef\xbf\xbd", f);
            else
                fwrite(p, 1, (size_t)len, f);
        }
        p += len ? len : 1;
    }
}

double svg_text_width(const char *s, double font_size)
{
    double em = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = utf8_length(p);
        if (len != 1 || strchr("WMmw@", *p))
            em += 1.0; /* U+FFFD for bytes that are not UTF-8 */
        else if ((*p >= 'A' && *p <= 'Z') || *p == '%')
            em += 0.8;
        else
            em += 0.65;
        p += len ? len : 1;
    }
    return em * font_size;
}

void svg_text(FILE *f, double x, double y, const char *anchor, const char *extra, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
    if (anchor && strcmp(anchor, "start"))
        fprintf(f, " text-anchor=\"%s\"", anchor);
    if (extra)
        fprintf(f, " %s", extra);
    fputc('>', f);
    svg_escaped(f, s);
    fputs("</text>\n", f);
}

void svg_begin(FILE *f, double width, double height)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
}

void svg_end(FILE *f)
{
    fputs("</svg>\n", f);
}

int svg_file_open(struct svg_file *s, const char *path, struct err *e)
{
    memset(s, 0, sizeof *s);
    if (snprintf(s->path, sizeof s->path, "%s", path) >= (int)sizeof s->path)
        return err_set(e, EXIT_USAGE, "%.200s...: path too long", path);
    snprintf(s->tmp, sizeof s->tmp, "%s.d2ltrain-XXXXXX", path);
    int fd = mkstemp(s->tmp); /* O_CREAT | O_EXCL: never opens a planted link */
    if (fd < 0) {
        s->tmp[0] = '\0';
        return err_set(e, EXIT_RUNTIME, "cannot create a file beside %s: %s", path, strerror(errno));
    }
    if (!(s->f = fdopen(fd, "w"))) {
        close(fd);
        svg_file_abort(s);
        return err_set(e, EXIT_RUNTIME, "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

int svg_file_commit(struct svg_file *s, struct err *e)
{
    mode_t mask = umask(022); /* mkstemp made it 0600; a plot is for everyone the umask allows */
    umask(mask);
    bool bad = fflush(s->f) || ferror(s->f) || fsync(fileno(s->f)) || fchmod(fileno(s->f), 0666 & ~mask);
    int saved = errno;
    bad |= fclose(s->f) != 0;
    s->f = NULL;
    if (bad || rename(s->tmp, s->path)) {
        err_set(e, EXIT_RUNTIME, "cannot write %s: %s", s->path, strerror(bad ? saved : errno));
        svg_file_abort(s);
        return e->code;
    }
    s->tmp[0] = '\0';
    char dir[sizeof s->path];
    snprintf(dir, sizeof dir, "%s", s->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = '\0';
    return sync_dir(slash ? dir : ".", EXIT_RUNTIME, e);
}

void svg_file_abort(struct svg_file *s)
{
    if (s->f)
        fclose(s->f);
    s->f = NULL;
    if (s->tmp[0])
        unlink(s->tmp);
    s->tmp[0] = '\0';
}
