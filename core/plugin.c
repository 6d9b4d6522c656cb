#include "plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int plugin_open(struct plugin_handle *h, const char *path, const char *name, char *err, size_t err_cap)
{
    *h = (struct plugin_handle){0};
    /* dlopen searches the library path for a bare name; a plugin is a file */
    if (!strchr(path, '/')) {
        snprintf(err, err_cap, "'%s': write a path to the shared object, e.g. ./%s", path, path);
        return -1;
    }
    if (!(h->so = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        const char *why = dlerror();
        snprintf(err, err_cap, "cannot load the plugin: %s", why ? why : path);
        return -1;
    }
    const struct d2l_plugin *(*entry)(void);
    *(void **)&entry = dlsym(h->so, D2L_PLUGIN_ENTRY);
    const struct d2l_plugin *p = entry ? entry() : NULL;
    if (!entry)
        snprintf(err, err_cap, "%s has no %s(): not a d2ltrain plugin (include/d2ltrain/layer.h)", path,
                 D2L_PLUGIN_ENTRY);
    else if (!p || p->abi_version != D2L_PLUGIN_ABI)
        snprintf(err, err_cap, "%s is built for plugin ABI %d; this d2ltrain loads ABI %d (rebuild it against "
                 "include/d2ltrain/layer.h)", path, p ? p->abi_version : -1, D2L_PLUGIN_ABI);
    for (int i = 0; p && p->abi_version == D2L_PLUGIN_ABI && i < p->n_layers && !h->type; i++)
        if (p->layers[i].name && !strcmp(p->layers[i].name, name))
            h->type = &p->layers[i];
    if (h->type) {
        const struct d2l_layer_type *t = h->type;
        if (t->out_width && t->tensors && t->forward && t->backward)
            return 0;
        snprintf(err, err_cap, "%s: layer '%s' lacks one of out_width, tensors, forward, backward", path, name);
    } else if (entry && p && p->abi_version == D2L_PLUGIN_ABI) {
        size_t used = (size_t)snprintf(err, err_cap, "%s has no layer '%s'; it has", path, name);
        for (int i = 0; i < p->n_layers && used < err_cap; i++)
            used += (size_t)snprintf(err + used, err_cap - used, "%s '%s'", i ? "," : "",
                                     p->layers[i].name ? p->layers[i].name : "?");
    }
    plugin_close(h);
    return -1;
}

void plugin_settings(struct d2l_settings *out, const struct plugin_spec *p)
{
    out->n = p->n_settings;
    for (int k = 0; k < p->n_settings; k++) {
        out->keys[k] = p->keys[k];
        out->values[k] = p->values[k];
    }
}

int plugin_out_width(const struct plugin_spec *p, int in_width, char *err, size_t err_cap)
{
    struct plugin_handle h;
    if (plugin_open(&h, p->path, p->name, err, err_cap))
        return -1;
    struct d2l_settings settings;
    plugin_settings(&settings, p);
    int out = h.type->out_width(&settings, in_width, err, err_cap);
    plugin_close(&h);
    return out < 1 ? -1 : out;
}

void plugin_close(struct plugin_handle *h)
{
    if (h->so)
        dlclose(h->so);
    *h = (struct plugin_handle){0};
}
