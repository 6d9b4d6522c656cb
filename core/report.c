#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const struct report_field report_metrics[REPORT_METRICS] = {
    {"loss", offsetof(struct epoch_report, loss)},
    {"train_acc", offsetof(struct epoch_report, train_acc)},
    {"test_loss", offsetof(struct epoch_report, test_loss)},
    {"test_acc", offsetof(struct epoch_report, test_acc)},
    {"train_log_rmse", offsetof(struct epoch_report, train_log_rmse)},
    {"valid_log_rmse", offsetof(struct epoch_report, test_log_rmse)},
};

int report_metrics_of(const struct epoch_report *r, struct report_metric out[REPORT_METRICS])
{
    int n = 0;
    for (int i = 0; i < REPORT_METRICS; i++) {
        double v = *(const double *)((const char *)r + report_metrics[i].offset);
        if (!isnan(v))
            out[n++] = (struct report_metric){report_metrics[i].name, v};
    }
    return n;
}

void report_metric(FILE *f, double value, int decimals)
{
    if (value != 0 && fabs(value) < 1e-3) /* 2.9e-6 is not 0.000003 */
        fprintf(f, "%.4g", value);
    else
        fprintf(f, "%.*f", decimals, value);
}

void report_seconds(FILE *f, double seconds)
{
    int decimals = 4;
    if (seconds > 0 && seconds < 1e-3)
        decimals = 1 - (int)floor(log10(seconds));
    fprintf(f, "%.*fs", decimals < 4 ? 4 : decimals > 9 ? 9 : decimals, seconds);
}

int report_epoch_line(FILE *f, const struct epoch_report *r, const char *prefix)
{
    struct report_metric m[REPORT_METRICS];
    int n = report_metrics_of(r, m);
    bool regression = isnan(r->train_acc);
    int status = 0;
    fprintf(f, "%sepoch %d/%d", prefix, r->epoch, r->epochs);
    for (int i = 0; i < n; i++) {
        fprintf(f, " %s ", m[i].name);
        report_metric(f, m[i].value, regression ? 6 : 4);
        status |= isfinite(m[i].value) ? 0 : -1;
    }
    fprintf(f, " time ");
    report_seconds(f, r->seconds);
    fprintf(f, "\n");
    fflush(f);
    return status;
}

int report_fold_line(FILE *f, int fold, int k, const char *metric, double train, double valid, double seconds)
{
    fprintf(f, "fold %d/%d train_%s %.6f valid_%s %.6f time ", fold, k, metric, train, metric, valid);
    report_seconds(f, seconds);
    fprintf(f, "\n");
    return isfinite(train) && isfinite(valid) ? 0 : -1;
}

int report_folds_average(FILE *f, int finished, int k, const char *metric, double train_sum, double valid_sum)
{
    fprintf(f, "%d-fold validation", k);
    if (finished < k)
        fprintf(f, " (%d of %d folds finished)", finished, k);
    fprintf(f, ": avg train_%s %.6f, avg valid_%s %.6f\n", metric, train_sum / finished, metric,
            valid_sum / finished);
    return isfinite(train_sum) && isfinite(valid_sum) ? 0 : -1;
}

int report_epoch_json(FILE *f, const struct epoch_report *r, int fold)
{
    struct report_metric m[REPORT_METRICS];
    int n = report_metrics_of(r, m);
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

int report_epoch_from_json(struct epoch_report *r, const char *text, size_t len)
{
    struct epoch_report read = {.loss = NAN, .train_acc = NAN, .test_loss = NAN, .test_acc = NAN,
                                .train_log_rmse = NAN, .test_log_rmse = NAN, .penalty = NAN};
    json_t *o = json_loadb(text, len, 0, NULL), *epoch = json_object_get(o, "epoch");
    int status = json_is_object(o) && json_is_integer(epoch) && !json_object_get(o, "fold") ? 0 : -1;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int i = 0;
        while (i < REPORT_METRICS && strcmp(key, report_metrics[i].name))
            i++;
        if (i < REPORT_METRICS && json_is_number(v))
            *(double *)((char *)&read + report_metrics[i].offset) = json_number_value(v);
        else if (!strcmp(key, "time_s") && json_is_number(v))
            read.seconds = json_number_value(v);
        else if (strcmp(key, "epoch"))
            status = -1;
    }
    if (!status) {
        read.epoch = (int)json_integer_value(epoch);
        *r = read;
    }
    json_decref(o);
    return status;
}
