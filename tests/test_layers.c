/* The folders' one direction (README, Layout): data/ is below core/. A file
 * of data/ includes data/'s own headers and, of core/, only the base
 * headers below, which include nothing of the project but each other (so
 * nothing of core/ or data/ comes in through them). */
#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char *const base_headers[] = {"error.h", "open_regular.h", "dirs.h", "suggest.h", "philox.h"};
enum { N_BASE = sizeof base_headers / sizeof base_headers[0] };

static bool is_base_header(const char *name)
{
    for (int i = 0; i < N_BASE; i++)
        if (!strcmp(name, base_headers[i]))
            return true;
    return false;
}

/* Whether a file of data/ (from_data) or a base file of core/ may include
 * "target". */
static bool include_allowed(bool from_data, const char *target)
{
    if (from_data && !strncmp(target, "../core/", 8))
        return is_base_header(target + 8);
    if (from_data)
        return !strchr(target, '/');
    return is_base_header(target);
}

/* The first `#include "..."` of text that is not allowed, copied to bad;
 * false when every one is. */
static bool first_bad_include(bool from_data, const char *text, char *bad, size_t bad_len)
{
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line + strspn(line, " \t");
        if (*p++ != '#')
            continue;
        p += strspn(p, " \t");
        if (strncmp(p, "include", 7))
            continue;
        p += 7;
        p += strspn(p, " \t");
        if (*p++ != '"')
            continue;
        size_t len = strcspn(p, "\"\n");
        snprintf(bad, bad_len, "%.*s", (int)len, p);
        if (!include_allowed(from_data, bad))
            return true;
    }
    return false;
}

static void assert_file_layered(bool from_data, const char *path)
{
    char *text = test_read_text(path), bad[256];
    bool found = first_bad_include(from_data, text, bad, sizeof bad);
    free(text);
    ck_assert_msg(!found, "%s includes \"%s\": data/ is below core/ and may include of core/ only %s", path, bad,
                  "error.h, open_regular.h, dirs.h, suggest.h and philox.h (README, Layout)");
}

static void enter_root(void)
{
    const char *root = getenv("D2L_ROOT");
    if (root && *root)
        ck_assert_int_eq(chdir(root), 0);
}

START_TEST(data_includes_only_base_headers_of_core)
{
    enter_root();
    DIR *dir = opendir("data");
    ck_assert_msg(dir != NULL, "no data/ (run from the repository root or set D2L_ROOT)");
    int checked = 0;
    for (struct dirent *d; (d = readdir(dir));) {
        size_t len = strlen(d->d_name);
        if (len < 3 || (strcmp(d->d_name + len - 2, ".c") && strcmp(d->d_name + len - 2, ".h")))
            continue;
        char path[512];
        snprintf(path, sizeof path, "data/%s", d->d_name);
        assert_file_layered(true, path);
        checked++;
    }
    closedir(dir);
    ck_assert_int_ge(checked, 20);
}
END_TEST

START_TEST(base_headers_include_only_each_other)
{
    enter_root();
    for (int i = 0; i < N_BASE; i++) {
        char path[256];
        snprintf(path, sizeof path, "core/%s", base_headers[i]);
        assert_file_layered(false, path);
        path[strlen(path) - 1] = 'c';
        if (access(path, F_OK) == 0)
            assert_file_layered(false, path);
    }
}
END_TEST

/* The check itself finds what breaks the layering. */
START_TEST(bad_includes_are_found)
{
    char bad[256];
    ck_assert(first_bad_include(true, "#include <stdio.h>\n#include \"csv.h\"\n#include \"../core/spec.h\"\n", bad,
                                sizeof bad));
    ck_assert_str_eq(bad, "../core/spec.h");
    ck_assert(first_bad_include(true, "  #  include \"../gpu/cuda_backend.h\"\n", bad, sizeof bad));
    ck_assert(first_bad_include(false, "#include \"error.h\"\n#include \"../data/dataset.h\"\n", bad, sizeof bad));
    ck_assert_str_eq(bad, "../data/dataset.h");
    ck_assert(first_bad_include(false, "#include \"model.h\"\n", bad, sizeof bad));
    ck_assert(!first_bad_include(true, "#include \"../core/error.h\"\n#include \"idx.h\"\n", bad, sizeof bad));
    ck_assert(!first_bad_include(false, "#include <stdio.h>\n#include \"error.h\"\n", bad, sizeof bad));
}
END_TEST

Suite *suite_layers(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, data_includes_only_base_headers_of_core);
    tcase_add_test(tc, base_headers_include_only_each_other);
    tcase_add_test(tc, bad_includes_are_found);
    suite_add_tcase(s, tc);
    return s;
}
