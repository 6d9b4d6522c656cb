/* What a trained model says about the test set: the first few labels, the
 * Kaggle submission, a predictions table. Shared by run and predict. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/outfile.h"
#include "../core/terms.h"
#include "../core/train.h"
#include "cmd.h"

enum { SHOWN_PREDICTIONS = 6 };

static bool has_named_labels(const struct dataset *test)
{
    return test->class_names && test->y && test->n > 0;
}

void print_predicted_labels(const struct dataset *test, const float *out, int width)
{
    if (!has_named_labels(test))
        return;
    size_t shown = test->n < SHOWN_PREDICTIONS ? test->n : SHOWN_PREDICTIONS;
    printf("predictions (true -> predicted):");
    for (size_t i = 0; i < shown; i++)
        printf("%s %s -> %s", i ? "," : "", test->class_names[(int)test->y[i]],
               test->class_names[argmax_row(out + i * width, width)]);
    printf("\n");
}

int print_first_predictions(const struct experiment *x, struct model *m, struct err *e)
{
    const struct dataset *test = &x->data.test;
    if (!has_named_labels(test))
        return 0;
    struct dataset head = *test; /* the model runs on the shown rows only */
    head.n = test->n < SHOWN_PREDICTIONS ? test->n : SHOWN_PREDICTIONS;
    float *out = predict_test_set(m, &head, e);
    if (!out)
        return e->code;
    print_predicted_labels(test, out, m->out_width);
    free(out);
    return 0;
}

float *predict_test_set(struct model *m, const struct dataset *test, struct err *e)
{
    float *out = malloc(test->n * (size_t)m->out_width * sizeof *out + 1);
    if (!out) {
        err_set(e, EXIT_RUNTIME, "out of memory: %zu predictions", test->n);
        return NULL;
    }
    if (model_predict(m, test, out, e)) {
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < test->n * (size_t)m->out_width; i++)
        if (!isfinite(out[i])) { /* never printed or written as a result */
            err_set(e, EXIT_RUNTIME, "test row %zu: the model's output is %g (it overflowed float32)",
                    i / (size_t)m->out_width + 1, out[i]);
            free(out);
            return NULL;
        }
    return out;
}

int write_submission(const struct outset *set, const struct dataset *test, const float *out, int width,
                     struct err *e)
{
    struct outfile o;
    if (outfile_open(&o, set, "submission.csv", e))
        return e->code;
    fprintf(o.f, "Id,SalePrice\n");
    for (size_t i = 0; i < test->n; i++)
        fprintf(o.f, "%d,%.6g\n", test->ids ? test->ids[i] : (int)i, out[i * width]);
    return outfile_close(&o, e);
}

/* The predicted class or value. */
static double predicted(const float *z, int width, bool classify)
{
    return classify ? argmax_row(z, width) : z[0];
}

int write_predictions_csv(const struct outset *set, const struct dataset *test, const float *out, int width,
                          struct err *e)
{
    bool classify = test->n_classes > 0;
    struct outfile o;
    if (outfile_open(&o, set, "predictions.csv", e))
        return e->code;
    fprintf(o.f, "row,predicted,true\n");
    for (size_t i = 0; i < test->n; i++)
        fprintf(o.f, "%zu,%.9g,%.9g\n", i, predicted(out + i * width, width, classify), test->y[i * test->y_width]);
    return outfile_close(&o, e);
}

void print_test_metric(const struct dataset *test, const float *out, int width)
{
    if (!test->y) {
        printf("%zu predictions (the test set has no labels)\n", test->n);
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < test->n; i++) {
        double p = predicted(out + i * width, width, test->n_classes > 0), y = test->y[i * test->y_width];
        sum += test->n_classes > 0 ? p == y : (p - y) * (p - y);
    }
    if (test->n_classes > 0)
        printf("test_acc %.4f (%zu examples)\n", sum / (double)test->n, test->n);
    else
        printf("test_rmse %.6f (%zu examples)\n", sqrt(sum / (double)test->n), test->n);
}
