/* Custom layers from shared objects (include/d2ltrain/layer.h): opening
 * one and finding a layer type in it, every failure a message. */
#ifndef D2L_PLUGIN_H
#define D2L_PLUGIN_H

#include <stddef.h>

#include "../include/d2ltrain/layer.h"

struct plugin_handle {
    void *so; /* dlopen's handle */
    const struct d2l_layer_type *type;
};

/* Opens path and finds the layer type `name`; on failure writes one line
 * into err (the missing file, another ABI version, a missing symbol, an
 * unknown name with the names there are) and returns -1. */
int plugin_open(struct plugin_handle *h, const char *path, const char *name, char *err, size_t err_cap);
void plugin_close(struct plugin_handle *h);

#endif
