#include "fashion_mnist.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"

const char *const fashion_mnist_labels[FASHION_MNIST_CLASSES] = {
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot",
};

/* One IDX file to read, possibly on its own thread. */
struct idx_job {
    const char *path;
    bool images;
    uint8_t *data;
    size_t n, rows, cols;
    enum raw_cache_use use;
    struct err e;
};

static void *idx_job_run(void *arg)
{
    struct idx_job *j = arg;
    if (j->images)
        idx_read_images(j->path, &j->data, &j->n, &j->rows, &j->cols, &j->use, &j->e);
    else
        idx_read_labels(j->path, &j->data, &j->n, &j->use, &j->e);
    return NULL;
}

/* One split from its images and labels, which must agree in count and
 * range; takes the jobs' data either way. */
static int make_split(struct idx_job *images, struct idx_job *labels, struct dataset *ds, struct err *e)
{
    if (images->rows != FASHION_MNIST_SIDE || images->cols != FASHION_MNIST_SIDE) {
        err_set(e, EXIT_DATA, "%s: images are %zux%zu, expected %dx%d", images->path, images->rows,
                images->cols, FASHION_MNIST_SIDE, FASHION_MNIST_SIDE);
        return e->code;
    }
    size_t n = images->n;
    if (labels->n != n) {
        err_set(e, EXIT_DATA, "%s has %zu images but %s has %zu labels", images->path, n, labels->path,
                labels->n);
        return e->code;
    }
    float *y = malloc(n * sizeof *y);
    if (!y)
        return err_set(e, EXIT_RUNTIME, "%s: out of memory for %zu labels", labels->path, n);
    for (size_t i = 0; i < n; i++) {
        if (labels->data[i] >= FASHION_MNIST_CLASSES) {
            free(y);
            return err_set(e, EXIT_DATA, "%s: label %zu is %u, expected 0..%d", labels->path, i,
                           labels->data[i], FASHION_MNIST_CLASSES - 1);
        }
        y[i] = labels->data[i];
    }
    *ds = (struct dataset){
        .n = n,
        .d = images->rows * images->cols,
        .x_type = X_U8,
        .x = images->data,
        .x_scale = 1.0f / 255.0f,
        .y = y,
        .y_width = 1,
        .n_classes = FASHION_MNIST_CLASSES,
        .class_names = fashion_mnist_labels,
    };
    images->data = NULL; /* the dataset owns the pixels now */
    return 0;
}

int fashion_mnist_load(const char *train_images, const char *train_labels,
                       const char *test_images, const char *test_labels, struct data_split *out,
                       struct err *e)
{
    memset(out, 0, sizeof *out);
    struct idx_job jobs[4] = {
        {.path = train_images, .images = true},
        {.path = train_labels},
        {.path = test_images, .images = true},
        {.path = test_labels},
    };
    /* Inflating is most of the time and the files are independent: one
     * thread each, the largest on this one; inline when a thread fails. */
    pthread_t threads[4];
    bool started[4] = {false};
    for (int i = 1; i < 4; i++)
        started[i] = !pthread_create(&threads[i], NULL, idx_job_run, &jobs[i]);
    for (int i = 0; i < 4; i++)
        if (!started[i])
            idx_job_run(&jobs[i]);
    for (int i = 1; i < 4; i++)
        if (started[i])
            pthread_join(threads[i], NULL);

    for (int i = 0; i < 4 && !e->code; i++) /* the first failure in file order */
        if (jobs[i].e.code)
            *e = jobs[i].e;
    for (int i = 0; i < 4; i++)
        out->raw_cache_uses[jobs[i].use]++;
    if (!e->code && !make_split(&jobs[0], &jobs[1], &out->train, e))
        make_split(&jobs[2], &jobs[3], &out->test, e);
    for (int i = 0; i < 4; i++)
        free(jobs[i].data);
    if (e->code)
        data_split_free(out);
    return e->code;
}
