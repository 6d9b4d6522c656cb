#include "fashion_mnist.h"

#include <stdlib.h>
#include <string.h>

#include "idx.h"

const char *const fashion_mnist_labels[FASHION_MNIST_CLASSES] = {
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot",
};

/* One split: images and labels that must agree in count and range. */
static int load_split(const char *images_path, const char *labels_path, struct dataset *ds,
                      struct err *e)
{
    uint8_t *pixels = NULL, *labels = NULL;
    size_t n, rows, cols, n_labels;
    if (idx_read_images(images_path, &pixels, &n, &rows, &cols, e))
        return e->code;
    if (rows != FASHION_MNIST_SIDE || cols != FASHION_MNIST_SIDE) {
        free(pixels);
        return err_set(e, EXIT_DATA, "%s: images are %zux%zu, expected %dx%d", images_path, rows,
                       cols, FASHION_MNIST_SIDE, FASHION_MNIST_SIDE);
    }
    if (idx_read_labels(labels_path, &labels, &n_labels, e)) {
        free(pixels);
        return e->code;
    }
    if (n_labels != n) {
        err_set(e, EXIT_DATA, "%s has %zu images but %s has %zu labels", images_path, n,
                labels_path, n_labels);
        goto fail;
    }
    float *y = malloc(n * sizeof *y);
    if (!y) {
        err_set(e, EXIT_DATA, "%s: out of memory for %zu labels", labels_path, n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] >= FASHION_MNIST_CLASSES) {
            free(y);
            err_set(e, EXIT_DATA, "%s: label %zu is %u, expected 0..%d", labels_path, i,
                    labels[i], FASHION_MNIST_CLASSES - 1);
            goto fail;
        }
        y[i] = labels[i];
    }
    free(labels);
    *ds = (struct dataset){
        .n = n,
        .d = rows * cols,
        .x_type = X_U8,
        .x = pixels,
        .x_scale = 1.0f / 255.0f,
        .y = y,
        .y_width = 1,
        .n_classes = FASHION_MNIST_CLASSES,
        .class_names = fashion_mnist_labels,
    };
    return 0;

fail:
    free(pixels);
    free(labels);
    return e->code;
}

int fashion_mnist_load(const char *train_images, const char *train_labels,
                       const char *test_images, const char *test_labels, struct data_split *out,
                       struct err *e)
{
    memset(out, 0, sizeof *out);
    if (load_split(train_images, train_labels, &out->train, e) ||
        load_split(test_images, test_labels, &out->test, e)) {
        data_split_free(out);
        return e->code;
    }
    return 0;
}
