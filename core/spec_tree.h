/* Internal to the spec loader (core/spec*.c): the YAML document as a small
 * tree, built from libyaml's events (core/spec_yaml.c), edited by --set
 * (core/spec_set.c) and then validated into struct spec (core/spec.c). */
#ifndef D2L_SPEC_TREE_H
#define D2L_SPEC_TREE_H

#include <stddef.h>

#include "error.h"

#define YTREE_MAX_DEPTH 32
#define YTREE_MAX_NODES 10000
#define YTREE_MAX_BYTES (1 << 20)

/* Where a node stood: 1-based line and column in the file, or, for a node
 * that came from a --set override, that override's text (line 0). */
struct ypos {
    int line, col;
    const char *origin;
};

enum ytype { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
    enum ytype type;
    struct ypos at;
    char *text;           /* scalar */
    struct ynode **items; /* map values or sequence items */
    char **keys;          /* map keys, parallel to items */
    struct ypos *key_at;  /* map: where each key stood */
    int n, cap;
};

/* Parses one YAML document. An empty document gives *root = NULL. Nodes get
 * file positions, or line 0 and `origin` when origin is not NULL. Errors are
 * prefixed "file:line:col" or "--set origin". */
int ytree_parse(struct ynode **root, const char *text, size_t len, const char *file,
                const char *origin, struct err *e);
struct ynode *ytree_new(enum ytype type, struct ypos at);
/* Appends a key (copied) and its value (owned from now on, freed on
 * failure). Returns 0, or -1 when out of memory. */
int ytree_map_add(struct ynode *map, const char *key, struct ypos key_at, struct ynode *value);
void ytree_free(struct ynode *node);

/* Writes "file:line:col" or "--set origin" into buf. */
void ypos_format(char *buf, size_t cap, const char *file, struct ypos at);

/* Applies "a.b.c=value" overrides to the tree (see core/spec_set.c). */
int spec_apply_sets(struct ynode *root, const char *file, const char *const *sets, int n_sets,
                    struct err *e);

#endif
