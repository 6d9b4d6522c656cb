/* Tabular preprocessing (d2l 4.10): the real Kaggle house files when they
 * are present, and small CSV pairs for the ordering and edge rules. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../data/csv.h"
#include "../data/tabular.h"
#include "skip.h"
#include "tmpdir.h"

static const struct preprocess_spec d2l_preprocess = {
    .id_column = "Id", .label_column = "SalePrice", .standardize = true, .dummy_na = true};

/* $D2L_ROOT/../shared/data/kaggle_house, else ../shared/data/kaggle_house. */
static int kaggle_paths(char *train, char *test, size_t size)
{
    const char *root = getenv("D2L_ROOT");
    const char *dir = "../shared/data/kaggle_house";
    char buf[1024];
    if (root) {
        snprintf(buf, sizeof buf, "%s/../shared/data/kaggle_house", root);
        dir = buf;
    }
    snprintf(train, size, "%s/kaggle_house_pred_train.csv", dir);
    snprintf(test, size, "%s/kaggle_house_pred_test.csv", dir);
    return access(train, R_OK) == 0 && access(test, R_OK) == 0;
}

static int feature_index(const struct tabular_info *info, const char *name)
{
    for (int i = 0; i < info->n_features; i++)
        if (strcmp(info->names[i], name) == 0)
            return i;
    return -1;
}

static float feature(const struct dataset *ds, const struct tabular_info *info, size_t row,
                     const char *name)
{
    int j = feature_index(info, name);
    ck_assert_msg(j >= 0, "no feature %s", name);
    return ((const float *)ds->x)[row * ds->d + (size_t)j];
}

/* Mean and sample std of a numeric column over both files' present cells,
 * straight from the CSV text. */
static void column_stats(const char *train, const char *test, const char *col, double *mean,
                         double *std)
{
    double sum = 0, sum2 = 0;
    size_t n = 0;
    for (int f = 0; f < 2; f++) {
        struct csv_table t;
        struct err e = {0};
        ck_assert_int_eq(csv_read(f ? test : train, &t, &e), 0);
        int j = 0;
        while (strcmp(t.header[j], col) != 0)
            j++;
        for (size_t i = 0; i < t.n_rows; i++) {
            const char *cell = csv_cell(&t, i, j);
            if (strcmp(cell, "NA") != 0) {
                double v = atof(cell);
                sum += v, sum2 += v * v, n++;
            }
        }
        csv_free(&t);
    }
    *mean = sum / (double)n;
    *std = sqrt((sum2 - (double)n * *mean * *mean) / (double)(n - 1));
}

START_TEST(test_kaggle_house)
{
    char train[1200], test[1200];
    ck_assert(kaggle_paths(train, test, sizeof train)); /* added only when they are there */
    struct data_split s;
    struct tabular_info info;
    struct err e = {0};
    ck_assert_msg(tabular_load_info(train, test, &d2l_preprocess, &s, &info, &e) == 0, "%s",
                  e.msg);
    /* 36 numeric columns + 251 categories + 43 _nan columns, as pandas 2 */
    ck_assert_int_eq(info.n_features, 330);
    ck_assert_int_eq(info.n_numeric, 36);
    ck_assert_uint_eq(s.train.n, 1460);
    ck_assert_uint_eq(s.test.n, 1459);
    ck_assert_uint_eq(s.train.d, 330);
    ck_assert_uint_eq(s.test.d, 330);
    ck_assert_int_eq(s.train.x_type, X_F32);
    ck_assert_int_eq(s.train.n_classes, 0);
    ck_assert_str_eq(info.names[0], "MSSubClass"); /* integer-coded, so numeric */
    ck_assert_str_eq(info.names[36], "MSZoning_C (all)");
    ck_assert_str_eq(info.names[329], "SaleCondition_nan");
    /* "None" is missing to pandas 2: no MasVnrType_None (the 331st column) */
    ck_assert_int_eq(feature_index(&info, "MasVnrType_None"), -1);
    ck_assert_int_ge(feature_index(&info, "MasVnrType_nan"), 0);

    /* LotArea: standardised with the train+test mean and sample std
     * (pandas 1.5.3 gives 10168.11408016444 and 7886.996359105552) */
    double mean, std;
    column_stats(train, test, "LotArea", &mean, &std);
    ck_assert_double_eq_tol(mean, 10168.11408016444, 1e-6);
    ck_assert_double_eq_tol(std, 7886.996359105552, 1e-6);
    /* Id 1 has LotArea 8450 */
    ck_assert_double_eq_tol(feature(&s.train, &info, 0, "LotArea"), (8450 - mean) / std, 1e-6);
    double sum = 0, sum2 = 0;
    for (int split = 0; split < 2; split++) {
        const struct dataset *ds = split ? &s.test : &s.train;
        for (size_t i = 0; i < ds->n; i++) {
            double v = feature(ds, &info, i, "LotArea");
            sum += v, sum2 += v * v;
        }
    }
    ck_assert_double_eq_tol(sum / 2919, 0.0, 1e-6);
    ck_assert_double_eq_tol(sqrt((sum2 - sum * sum / 2919) / 2918), 1.0, 1e-5);

    /* Id 1: MSZoning RL, Alley NA, MasVnrType BrkFace */
    ck_assert_float_eq(feature(&s.train, &info, 0, "MSZoning_RL"), 1.0f);
    ck_assert_float_eq(feature(&s.train, &info, 0, "MSZoning_RM"), 0.0f);
    ck_assert_float_eq(feature(&s.train, &info, 0, "Alley_nan"), 1.0f);
    ck_assert_float_eq(feature(&s.train, &info, 0, "Alley_Pave"), 0.0f);
    ck_assert_float_eq(feature(&s.train, &info, 0, "MasVnrType_BrkFace"), 1.0f);
    ck_assert_float_eq(feature(&s.train, &info, 0, "MasVnrType_nan"), 0.0f);
    /* Id 2: MasVnrType None -> the _nan dummy */
    ck_assert_float_eq(feature(&s.train, &info, 1, "MasVnrType_nan"), 1.0f);
    ck_assert_float_eq(feature(&s.train, &info, 1, "MasVnrType_BrkFace"), 0.0f);
    /* Id 9: MSZoning RM */
    ck_assert_float_eq(feature(&s.train, &info, 8, "MSZoning_RM"), 1.0f);
    /* Id 8: LotFrontage NA -> 0 after standardising; Id 1's 65 is below the mean */
    ck_assert_float_eq(feature(&s.train, &info, 7, "LotFrontage"), 0.0f);
    ck_assert_float_lt(feature(&s.train, &info, 0, "LotFrontage"), 0.0f);
    /* each row sets exactly one dummy per categorical column (43 of them) */
    for (size_t i = 0; i < s.test.n; i += 97) {
        const float *x = (const float *)s.test.x + i * s.test.d;
        double ones = 0;
        for (int j = info.n_numeric; j < info.n_features; j++)
            ones += x[j];
        ck_assert_double_eq(ones, 43.0);
    }

    ck_assert_int_eq(s.train.y_width, 1);
    ck_assert_float_eq(s.train.y[0], 208500.0f);
    ck_assert_float_eq(s.train.y[1459], 147500.0f);
    ck_assert_ptr_null(s.test.y);
    for (size_t i = 0; i < s.test.n; i++)
        ck_assert_int_eq(s.test.ids[i], 1461 + (int)i);
    ck_assert_int_eq(s.train.ids[1459], 1460);
    data_split_free(&s);
    tabular_info_free(&info);
}
END_TEST

static const char *write_csv(const char *name, const char *text)
{
    return tmp_write(name, text, strlen(text));
}

/* Two numeric columns around two categorical ones, one of them constant. */
static const char small_train[] = "Id,num,color,flat,size,y\n"
                                  "1,1,red,5,M,10\n"
                                  "2,NA,blue,5,,20\n"
                                  "3,3,red,5,S,30\n";
static const char small_test[] = "Id,num,color,flat,size\n"
                                 "7,5,green,5,L\n"
                                 "8,3,None,,M\n";

START_TEST(test_ordering)
{
    tmp_dir_make("tab");
    const char *train = write_csv("train.csv", small_train);
    const char *test = write_csv("test.csv", small_test);
    struct preprocess_spec p = {
        .id_column = "Id", .label_column = "y", .standardize = true, .dummy_na = true};
    struct data_split s;
    struct tabular_info info;
    struct err e = {0};
    ck_assert_msg(tabular_load_info(train, test, &p, &s, &info, &e) == 0, "%s", e.msg);
    const char *want[] = {"num",       "flat",   "color_blue", "color_green", "color_red",
                          "color_nan", "size_L", "size_M",     "size_S",      "size_nan"};
    ck_assert_int_eq(info.n_features, 10);
    ck_assert_int_eq(info.n_numeric, 2);
    for (int i = 0; i < 10; i++)
        ck_assert_str_eq(info.names[i], want[i]);

    /* num: 1, 3, 5, 3 present: mean 3, sample std sqrt(8/3) */
    double sd = sqrt(8.0 / 3.0);
    const float want_train[3][10] = {
        {(float)(-2 / sd), 0, 0, 0, 1, 0, 0, 1, 0, 0},
        {0, 0, 1, 0, 0, 0, 0, 0, 0, 1},
        {0, 0, 0, 0, 1, 0, 0, 0, 1, 0},
    };
    const float want_test[2][10] = {
        {(float)(2 / sd), 0, 0, 1, 0, 0, 1, 0, 0, 0},
        {0, 0, 0, 0, 0, 1, 0, 1, 0, 0},
    };
    ck_assert_mem_eq(s.train.x, want_train, sizeof want_train);
    ck_assert_mem_eq(s.test.x, want_test, sizeof want_test);
    ck_assert_float_eq(s.train.y[2], 30.0f);
    ck_assert_int_eq(s.test.ids[1], 8);
    data_split_free(&s);
    tabular_info_free(&info);

    /* train-only statistics (num 1, 3: mean 2, std sqrt 2), raw values, no
     * _nan columns, no test file */
    p.stats_from_train_only = true;
    ck_assert_int_eq(tabular_load_info(train, test, &p, &s, &info, &e), 0);
    ck_assert_float_eq_tol(((float *)s.test.x)[0], (float)(3 / sqrt(2.0)), 1e-6);
    data_split_free(&s);
    tabular_info_free(&info);
    p.standardize = false;
    p.dummy_na = false;
    ck_assert_int_eq(tabular_load_info(train, NULL, &p, &s, &info, &e), 0);
    ck_assert_int_eq(info.n_features, 6); /* num, flat, color_blue/red, size_M/S */
    ck_assert_uint_eq(s.test.n, 0);
    ck_assert_ptr_null(s.test.x);
    const float want_raw[3][6] = {{1, 5, 0, 1, 1, 0}, {0, 5, 1, 0, 0, 0}, {3, 5, 0, 1, 0, 1}};
    ck_assert_mem_eq(s.train.x, want_raw, sizeof want_raw);
    data_split_free(&s);
    tabular_info_free(&info);
    tmp_dir_remove();
}
END_TEST

static void assert_refused(const struct preprocess_spec *p, const char *train_text, const char *test_text,
                           const char *needle)
{
    const char *train = write_csv("bad_train.csv", train_text);
    const char *test = test_text ? write_csv("bad_test.csv", test_text) : NULL;
    struct data_split s;
    struct err e = {0};
    ck_assert_int_eq(tabular_load(train, test, p, &s, &e), EXIT_DATA);
    ck_assert_msg(strstr(e.msg, needle), "'%s' lacks '%s'", e.msg, needle);
    ck_assert_ptr_null(s.train.x);
    ck_assert_ptr_null(s.train.y);
}

static void assert_load_fails(const char *train_text, const char *test_text, const char *needle)
{
    struct preprocess_spec p = {.id_column = "Id", .label_column = "y", .dummy_na = true};
    assert_refused(&p, train_text, test_text, needle);
}

START_TEST(test_errors)
{
    tmp_dir_make("tab");
    assert_load_fails(small_train, "Id,num,flat,color,size\n7,5,5,red,L\n",
                      "bad_test.csv: feature column 2 is 'flat' but in");
    assert_load_fails(small_train, "Id,num,color,flat\n7,5,red,5\n",
                      "bad_test.csv has 3 feature columns but");
    assert_load_fails(small_train, "num,color,flat,size\n5,red,5,L\n", "no id column 'Id'");
    assert_load_fails("Id,num,z\n1,2,3\n", NULL, "no label column 'y'");
    assert_load_fails("Id,num,y\n1,2,3\n2,2,NA\n", NULL,
                      "bad_train.csv:3: label column 'y': 'NA' is not a number");
    assert_load_fails("Id,num,y\n1x,2,3\n", NULL, "bad_train.csv:2: id column 'Id': '1x'");
    assert_load_fails("Id,num,y\n1,2\n", NULL, "bad_train.csv:2: expected 3 fields, got 2");
    tmp_dir_remove();
}
END_TEST

/* pandas' read_csv takes inf, Infinity (any case, signed) and out-of-range
 * exponents as numbers (1e400 is inf, 1e-400 is 0) and hex as text: the
 * column's type follows. */
START_TEST(test_numbers_as_pandas)
{
    tmp_dir_make("tab");
    const char *train = write_csv("train.csv", "Id,tiny,hex,y\n1,1e-400,0x10,1\n2,2,7,2\n3,NA,1,3\n");
    struct preprocess_spec p = {.id_column = "Id", .label_column = "y", .dummy_na = false};
    struct data_split s;
    struct tabular_info info;
    struct err e = {0};
    ck_assert_msg(tabular_load_info(train, NULL, &p, &s, &info, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(info.n_numeric, 1); /* tiny; hex is categorical: 0x10, 1, 7 */
    ck_assert_str_eq(info.names[0], "tiny");
    ck_assert_int_eq(info.n_features, 4);
    ck_assert_str_eq(info.names[1], "hex_0x10");
    ck_assert_float_eq(((float *)s.train.x)[0], 0.0f);
    ck_assert_float_eq(((float *)s.train.x)[4], 2.0f);
    data_split_free(&s);
    tabular_info_free(&info);
    tmp_dir_remove();
}
END_TEST

/* What float32 training cannot use is refused, naming file, line and
 * column, instead of becoming a thousand one-hot columns, zeros or a NaN
 * loss. */
START_TEST(test_unusable_numbers)
{
    tmp_dir_make("tab");
    assert_load_fails("Id,num,y\n1,2,3\n2,inf,4\n", NULL,
                      "bad_train.csv:3: column 2 'num': 'inf' is not a finite number");
    assert_load_fails("Id,num,y\n1,2,3\n2,-Infinity,4\n", NULL,
                      "bad_train.csv:3: column 2 'num': '-Infinity' is not a finite");
    assert_load_fails("Id,num,y\n1,2,3\n", "Id,num\n5,1e400\n",
                      "bad_test.csv:2: column 2 'num': '1e400' is not a finite");
    assert_load_fails("Id,num,y\n1,1e300,3\n2,1,4\n", NULL,
                      "bad_train.csv:2: column 2 'num': '1e300' is outside float32's range");
    assert_load_fails("Id,num,y\n1,2,1e39\n", NULL,
                      "bad_train.csv:2: label column 'y': '1e39' is not a finite float32");
    assert_load_fails("Id,num,y\n1,2,3\n2,3,INF\n", NULL,
                      "bad_train.csv:3: label column 'y': 'INF' is not a finite");
    assert_load_fails("Id,num,y\n", NULL, "bad_train.csv: no data rows");
    assert_load_fails("Id,num,y\n1,2,3\n", "Id,num\n", "bad_test.csv: no data rows");
    struct preprocess_spec standardize = {.id_column = "Id", .label_column = "y", .standardize = true};
    assert_refused(&standardize, "Id,num,y\n1,1e300,3\n2,1,4\n", NULL,
                   "bad_train.csv: column 2 'num': values too large to standardize (the standard deviation");
    tmp_dir_remove();
}
END_TEST

Suite *suite_tabular(void)
{
    Suite *s = suite_create("tabular");
    TCase *tc = tcase_create("tabular");
    tcase_set_timeout(tc, 60);
    char train[1200], test[1200];
    if (kaggle_paths(train, test, sizeof train))
        tcase_add_test(tc, test_kaggle_house);
    else
        tests_skipped("tabular", 1, "the Kaggle house CSVs are not in ../shared/data/kaggle_house (set D2L_ROOT)");
    tcase_add_test(tc, test_ordering);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_numbers_as_pandas);
    tcase_add_test(tc, test_unusable_numbers);
    suite_add_tcase(s, tc);
    return s;
}
