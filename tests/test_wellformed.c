/* What d2ltrain writes is well-formed for any input: the effective spec
 * (config.yaml) reads back to the same struct for names of random Unicode,
 * and curves.svg is well-formed XML whatever the spec's name holds. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/spec.h"
#include "proc.h"
#include "spec_same.h"
#include "testutil.h"

/* Characters YAML or XML treat specially, then any scalar value. */
static uint32_t random_code_point(uint64_t *rng)
{
    static const uint32_t special[] = {0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9f, 0xa0,
                                       0x2028, 0x2029, 0xfeff, 0xfffd, '"', '\\', '\'', '&', '<', '>', ':',
                                       '#', ' ', '-', '{', '[', '*', '!', '%', '@', '`', 0x10ffff, 0x1f600};
    uint64_t r = test_rand_u64(rng);
    if (r % 2)
        return special[(r >> 8) % (sizeof special / sizeof special[0])];
    uint32_t c = (uint32_t)((r >> 8) % (r % 4 == 0 ? 0x110000 : 0x800));
    return c == 0 || (c >= 0xd800 && c <= 0xdfff) ? 'x' : c;
}

/* n random code points as YAML \U escapes, so the first load always reads. */
static void random_escaped(char *out, uint64_t *rng, int n)
{
    for (int i = 0; i < n; i++)
        out += sprintf(out, "\\U%08x", (unsigned)random_code_point(rng));
}

START_TEST(effective_spec_round_trips_random_unicode)
{
    uint64_t rng = 20261202;
    for (int iter = 0; iter < 3000; iter++) {
        char name[400], label[400], id[400], yaml[2048];
        random_escaped(name, &rng, 1 + iter % 30);
        random_escaped(label, &rng, 1 + iter % 7);
        random_escaped(id, &rng, 1 + iter % 5);
        snprintf(yaml, sizeof yaml,
                 "name: \"%s\"\n"
                 "data:\n  dataset: prices\n  url: https://example.org/train.csv\n"
                 "  sha1: 585e9cc93e70b39160e7921475f9bcd7d31219ce\n"
                 "  preprocess: {label: \"%s\", id_column: \"%s\"}\n"
                 "model:\n  - linear: {out: 1}\nloss: mse\noptimizer:\n  sgd: {lr: 0.1}\ntrain: {epochs: 1}\n",
                 name, label, id);
        struct spec loaded, reloaded;
        struct err e = {0};
        ck_assert_msg(spec_load_string(&loaded, "random.yaml", yaml, strlen(yaml), NULL, 0, &e) == 0, "%s\n%s",
                      e.msg, yaml);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        ck_assert_int_eq(spec_write(&loaded, f), 0);
        fclose(f);
        ck_assert_msg(spec_load_string(&reloaded, "config.yaml", text, len, NULL, 0, &e) == 0,
                      "the written spec does not load: %s\n%s", e.msg, text);
        size_t at = spec_difference(&loaded, &reloaded);
        ck_assert_msg(at == 0, "byte %zu of struct spec differs after the round trip of\n%s", at - 1, text);
        free(text);
    }
}
END_TEST

/* A name with markup is shown as text in curves.svg, never as markup, and
 * survives config.yaml (U+0085 is a line break to YAML). */
START_TEST(hostile_name_stays_text)
{
    char dir[] = "/tmp/d2l-wellformed-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "run configs/linreg.yaml --set 'name=\"a&b<c </text><script>alert(1)</script> \\x01\\N\"' --out %s",
             dir);
    struct proc_result r = run_d2ltrain(cmd);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    proc_result_free(&r);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, xml.etree.ElementTree as T\n"
             "root = T.parse(sys.argv[1]).getroot()\n"
             "assert not [e for e in root.iter() if e.tag.endswith(\"script\")], \"a live script\"\n"
             "print(root.find(\"{http://www.w3.org/2000/svg}text\").text)' %s/curves.svg",
             dir);
    r = run_shell(cmd);
    ck_assert_msg(r.status == 0, "curves.svg is not well-formed: %s", r.err);
    ck_assert_str_eq(r.out, "a&b<c </text><script>alert(1)</script> \xef\xbf\xbd\xc2\x85\n");
    proc_result_free(&r);

    char path[256];
    struct spec s;
    struct err e = {0};
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    ck_assert_msg(spec_load(&s, path, NULL, 0, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(s.name, "a&b<c </text><script>alert(1)</script> \x01\xc2\x85");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    r = run_shell(cmd);
    proc_result_free(&r);
}
END_TEST

Suite *suite_wellformed(void)
{
    Suite *s = suite_create("wellformed");
    TCase *tc = tcase_create("wellformed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, effective_spec_round_trips_random_unicode);
    tcase_add_test(tc, hostile_name_stays_text);
    suite_add_tcase(s, tc);
    return s;
}
