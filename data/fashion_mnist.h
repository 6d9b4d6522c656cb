/* Fashion-MNIST from its four IDX files (gzip or raw) into a data_split:
 * X uint8 [n, 784] scaled by 1/255 (as torchvision's ToTensor), y the class
 * index as float, 10 classes named as d2l's get_fashion_mnist_labels. */
#ifndef D2L_FASHION_MNIST_H
#define D2L_FASHION_MNIST_H

#include "dataset.h"

#define FASHION_MNIST_CLASSES 10
#define FASHION_MNIST_SIDE 28

extern const char *const fashion_mnist_labels[FASHION_MNIST_CLASSES];

/* On error returns EXIT_DATA naming the file (and for a bad label its index
 * and value) and leaves *out zeroed. */
int fashion_mnist_load(const char *train_images, const char *train_labels,
                       const char *test_images, const char *test_labels, struct data_split *out,
                       struct err *e);

#endif
