/* CSV reader: quoting, line endings, blank and missing cells, and the
 * errors for ragged rows, unterminated quotes and empty files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../data/csv.h"
#include "tmpdir.h"

/* Writes `len` bytes of text to a fresh file in the temp dir. */
static const char *write_csv(const char *text, size_t len)
{
    static int next;
    char name[32];
    snprintf(name, sizeof name, "f%d.csv", next++);
    return tmp_write(name, text, len);
}

static void read_ok(const char *text, struct csv_table *t)
{
    struct err e = {0};
    ck_assert_msg(csv_read(write_csv(text, strlen(text)), t, &e) == 0, "%s", e.msg);
}

static void read_fails(const char *text, size_t len, const char *needle)
{
    struct csv_table t;
    struct err e = {0};
    const char *path = write_csv(text, len);
    ck_assert_int_eq(csv_read(path, &t, &e), EXIT_DATA);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, needle), "'%s' lacks '%s'", e.msg,
                  needle);
    ck_assert_ptr_null(t.cells);
    csv_free(&t);
}

START_TEST(test_quoting)
{
    tmp_dir_make("csv");
    struct csv_table t;
    read_ok("name,text,n\n"
            "a,\"x, y\",1\n"
            "\"b\",\"say \"\"hi\"\"\",2\n"
            "c,\"two\nlines\",3\n"
            "d,\"\",\n",
            &t);
    ck_assert_int_eq(t.n_cols, 3);
    ck_assert_uint_eq(t.n_rows, 4);
    ck_assert_str_eq(t.header[1], "text");
    ck_assert_str_eq(csv_cell(&t, 0, 1), "x, y");
    ck_assert_str_eq(csv_cell(&t, 1, 0), "b");
    ck_assert_str_eq(csv_cell(&t, 1, 1), "say \"hi\"");
    ck_assert_str_eq(csv_cell(&t, 2, 1), "two\nlines");
    ck_assert_str_eq(csv_cell(&t, 2, 2), "3");
    ck_assert_str_eq(csv_cell(&t, 3, 1), "");
    ck_assert_str_eq(csv_cell(&t, 3, 2), "");
    /* the row after the quoted newline starts on line 6 */
    ck_assert_uint_eq(t.lines[0], 2);
    ck_assert_uint_eq(t.lines[3], 6);
    csv_free(&t);
    ck_assert_ptr_null(t.cells);
    tmp_dir_remove();
}
END_TEST

START_TEST(test_line_endings)
{
    tmp_dir_make("csv");
    struct csv_table t;
    /* CRLF, a blank line, NA kept as text, no final newline */
    read_ok("a,b\r\n1,NA\r\n\r\n,\"q\r\nr\"\r\n3,4", &t);
    ck_assert_uint_eq(t.n_rows, 3);
    ck_assert_str_eq(t.header[1], "b");
    ck_assert_str_eq(csv_cell(&t, 0, 1), "NA");
    ck_assert_str_eq(csv_cell(&t, 1, 0), "");
    ck_assert_str_eq(csv_cell(&t, 1, 1), "q\r\nr");
    ck_assert_str_eq(csv_cell(&t, 2, 0), "3");
    ck_assert_str_eq(csv_cell(&t, 2, 1), "4");
    ck_assert_uint_eq(t.lines[2], 6);
    csv_free(&t);

    /* a UTF-8 BOM is not part of the first column's name */
    read_ok("\xEF\xBB\xBFId,x\n1,2\n", &t);
    ck_assert_str_eq(t.header[0], "Id");
    csv_free(&t);
    tmp_dir_remove();
}
END_TEST

START_TEST(test_header_only)
{
    tmp_dir_make("csv");
    struct csv_table t;
    read_ok("a,b,c\n", &t);
    ck_assert_int_eq(t.n_cols, 3);
    ck_assert_uint_eq(t.n_rows, 0);
    ck_assert_str_eq(t.header[2], "c");
    csv_free(&t);
    read_ok("only", &t);
    ck_assert_int_eq(t.n_cols, 1);
    ck_assert_uint_eq(t.n_rows, 0);
    csv_free(&t);
    tmp_dir_remove();
}
END_TEST

START_TEST(test_errors)
{
    tmp_dir_make("csv");
    read_fails("a,b\n1,2\n3\n", 10, ":3: expected 2 fields, got 1");
    read_fails("a,b\n1,2\n3,4,5\n", 14, ":3: expected 2 fields, got 3");
    read_fails("a,b\n1,\"open\n2,3\n", 16, ":2:3: unterminated quoted field");
    read_fails("a,b\n\"x\"y,2\n", 11, ":2:4: unexpected 'y' after a closing quote");
    read_fails("a,b\n1,\0\n", 8, ":2:3: NUL byte");
    read_fails("", 0, ": empty (no header row)");
    read_fails("\n\r\n", 3, ": empty (no header row)");
    struct csv_table t;
    struct err e = {0};
    ck_assert_int_eq(csv_read("/nonexistent/x.csv", &t, &e), EXIT_DATA);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/x.csv: cannot open"));
    tmp_dir_remove();
}
END_TEST

/* Out of memory is a runtime failure (exit 1, as README says), not bad
 * data: a child process whose address space may grow by only 32 MiB reads a
 * 64 MiB file (sparse, so nothing is written). AddressSanitizer reserves
 * terabytes of address space and aborts on a failed allocation, so the
 * sanitizer pass skips this; the plain pass runs it. */
START_TEST(test_out_of_memory_is_a_runtime_error)
{
#ifndef __SANITIZE_ADDRESS__
    tmp_dir_make("csv");
    const char *path = tmp_write("big.csv", "a,b\n", 4);
    ck_assert_int_eq(truncate(path, 64 << 20), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        unsigned long pages = 0;
        FILE *statm = fopen("/proc/self/statm", "r");
        if (!statm || fscanf(statm, "%lu", &pages) != 1)
            _exit(2);
        fclose(statm);
        rlim_t limit = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (32 << 20);
        struct rlimit r = {limit, limit};
        if (setrlimit(RLIMIT_AS, &r))
            _exit(3);
        struct csv_table t;
        struct err e = {0};
        int rc = csv_read(path, &t, &e);
        /* the exit status says what happened: 0 is the expected error */
        _exit(rc == EXIT_RUNTIME && strstr(e.msg, path) && strstr(e.msg, "out of memory for") ? 0 : 10 + rc);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child exited %d (10 + csv_read's return; 2, 3: set-up failed; -1: killed)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    tmp_dir_remove();
#endif
}
END_TEST

Suite *suite_csv(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, test_quoting);
    tcase_add_test(tc, test_line_endings);
    tcase_add_test(tc, test_header_only);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_out_of_memory_is_a_runtime_error);
    suite_add_tcase(s, tc);
    return s;
}
