/* Custom layers from shared objects (include/d2ltrain/layer.h): opening
 * one and finding a layer type in it, every failure a message. */
#ifndef D2L_PLUGIN_H
#define D2L_PLUGIN_H

#include <stddef.h>

#include "../include/d2ltrain/layer.h"
#include "spec.h"

_Static_assert(SPEC_MAX_SETTINGS == D2L_MAX_SETTINGS, "the spec holds every setting a plugin may take");

struct plugin_handle {
    void *so; /* dlopen's handle */
    const struct d2l_layer_type *type;
};

/* Opens path and finds the layer type `name`; on failure writes one line
 * into err (the missing file, another ABI version, a missing symbol, an
 * unknown name with the names there are) and returns -1. */
int plugin_open(struct plugin_handle *h, const char *path, const char *name, char *err, size_t err_cap);
void plugin_close(struct plugin_handle *h);

/* The settings handed to the layer: the spec's params (keys point into p). */
void plugin_settings(struct d2l_settings *out, const struct plugin_spec *p);

/* The output width of the plugin layer p for in_width, or -1 after writing
 * why into err (the plugin's own message, or why it would not open). */
int plugin_out_width(const struct plugin_spec *p, int in_width, char *err, size_t err_cap);

#endif
