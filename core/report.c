#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

int report_metrics(const struct epoch_report *r, struct report_metric out[REPORT_METRICS])
{
    struct report_metric all[REPORT_METRICS] = {{"loss", r->loss},
                           {"train_acc", r->train_acc},
                           {"test_loss", r->test_loss},
                           {"test_acc", r->test_acc},
                           {"train_log_rmse", r->train_log_rmse},
                           {"valid_log_rmse", r->test_log_rmse}};
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!isnan(all[i].value))
            out[n++] = all[i];
    return n;
}

void report_metric(FILE *f, double value, int decimals)
{
    if (value != 0 && fabs(value) < 1e-3) /* 2.9e-6 is not 0.000003 */
        fprintf(f, "%.4g", value);
    else
        fprintf(f, "%.*f", decimals, value);
}

int report_epoch_line(FILE *f, const struct epoch_report *r, const char *prefix)
{
    struct report_metric m[REPORT_METRICS];
    int n = report_metrics(r, m);
    bool regression = isnan(r->train_acc);
    int status = 0;
    fprintf(f, "%sepoch %d/%d", prefix, r->epoch, r->epochs);
    for (int i = 0; i < n; i++) {
        fprintf(f, " %s ", m[i].name);
        report_metric(f, m[i].value, regression ? 6 : 4);
        status |= isfinite(m[i].value) ? 0 : -1;
    }
    fprintf(f, " time %.4fs\n", r->seconds); /* tenths of a ms: a GPU epoch takes ~15 ms */
    fflush(f);
    return status;
}

int report_fold_line(FILE *f, int fold, int k, const char *metric, double train, double valid, double seconds)
{
    fprintf(f, "fold %d/%d train_%s %.6f valid_%s %.6f time %.4fs\n", fold, k, metric, train, metric, valid,
            seconds);
    return isfinite(train) && isfinite(valid) ? 0 : -1;
}

int report_folds_average(FILE *f, int k, const char *metric, double train_sum, double valid_sum)
{
    fprintf(f, "%d-fold validation: avg train_%s %.6f, avg valid_%s %.6f\n", k, metric, train_sum / k, metric,
            valid_sum / k);
    return isfinite(train_sum) && isfinite(valid_sum) ? 0 : -1;
}

int report_epoch_json(FILE *f, const struct epoch_report *r, int fold)
{
    struct report_metric m[REPORT_METRICS];
    int n = report_metrics(r, m);
    json_t *o = json_object();
    int bad = !o;
    if (!bad && fold >= 0)
        bad |= json_object_set_new(o, "fold", json_integer(fold));
    bad |= json_object_set_new(o, "epoch", json_integer(r->epoch));
    for (int i = 0; i < n && !bad; i++)
        bad |= json_object_set_new(o, m[i].name, json_real(m[i].value));
    bad |= json_object_set_new(o, "time_s", json_real(r->seconds));
    if (bad) {
        json_decref(o);
        return -1;
    }
    return report_json_line(f, o);
}

int report_json_line(FILE *f, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return -1;
    fprintf(f, "%s\n", text);
    free(text);
    return 0;
}
