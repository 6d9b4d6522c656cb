#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct args args_start(const struct arg_option *options, int argc, char **argv)
{
    return (struct args){.options = options, .argc = argc, .argv = argv, .next = 1};
}

/* The option arg names: `name`, `name=...` or the alias; *attached is the
 * value after '=' or NULL. */
static const struct arg_option *find_option(const struct arg_option *options, const char *arg,
                                            const char **attached)
{
    for (const struct arg_option *o = options; o->name; o++) {
        size_t len = strlen(o->name);
        if (!strncmp(arg, o->name, len) && (arg[len] == '\0' || arg[len] == '=')) {
            *attached = arg[len] == '=' ? arg + len + 1 : NULL;
            return o;
        }
        if (o->alias && !strcmp(arg, o->alias)) {
            *attached = NULL;
            return o;
        }
    }
    return NULL;
}

int args_next(struct args *a, const char **value, struct err *e)
{
    *value = NULL;
    if (a->next >= a->argc)
        return ARG_DONE;
    const char *arg = a->argv[a->next++];
    if (!a->options_ended && !strcmp(arg, "--")) {
        a->options_ended = true;
        return args_next(a, value, e);
    }
    /* "-" alone is an operand, as it is for most tools. */
    if (a->options_ended || arg[0] != '-' || !arg[1]) {
        *value = arg;
        return ARG_OPERAND;
    }
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
        return ARG_HELP;
    const char *attached;
    const struct arg_option *o = find_option(a->options, arg, &attached);
    if (!o) {
        err_set(e, EXIT_USAGE, "unknown option '%s' (see --help)", arg);
        return ARG_ERROR;
    }
    if (!o->has_value && attached) {
        err_set(e, EXIT_USAGE, "%s takes no value, got '%s'", o->name, attached);
        return ARG_ERROR;
    }
    if (!o->has_value)
        return o->id;
    /* An empty value is refused: `--out ""` would mean the current directory. */
    const char *v = attached ? attached : a->next < a->argc ? a->argv[a->next++] : NULL;
    if (!v)
        err_set(e, EXIT_USAGE, "%s needs a value", o->name);
    else if (!*v)
        err_set(e, EXIT_USAGE, "%s needs a value, got an empty one", o->name);
    if (e->code)
        return ARG_ERROR;
    *value = v;
    return o->id;
}

int args_whole_number(const char *option, const char *value, long long min, long long max, long long *out,
                      struct err *e)
{
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    bool digits_only = (value[0] == '-' || isdigit((unsigned char)value[0])) && !*end; /* not " 3" or "+3" */
    if (!errno && end != value && digits_only && n >= min && n <= max) {
        *out = n;
        return 0;
    }
    if (max == LLONG_MAX)
        return err_set(e, EXIT_USAGE, "%s '%s': expected a whole number, at least %lld", option, value, min);
    return err_set(e, EXIT_USAGE, "%s '%s': expected a whole number from %lld to %lld", option, value, min, max);
}
