#include "tmpdir.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp_dir[64];

void tmp_dir_make(const char *tag)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/d2l-%s-XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

void tmp_dir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A ring of buffers: a call's path stays valid for the next
 * TMP_PATHS_LIVE - 1 calls, enough for any one expression (a ring of 4
 * once dropped a file from a five-path command line without a word). */
enum { TMP_PATHS_LIVE = 16 };

const char *tmp_path(const char *name)
{
    static char path[TMP_PATHS_LIVE][256];
    static int next;
    char *p = path[next++ % TMP_PATHS_LIVE];
    int n = snprintf(p, sizeof path[0], "%s/%s", tmp_dir, name);
    ck_assert_msg(n > 0 && (size_t)n < sizeof path[0], "tmp_path: %s/%s does not fit", tmp_dir, name);
    return p;
}

const char *tmp_write(const char *name, const void *data, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}
