/* The one option parser of every subcommand. A command lists its options
 * in a table and takes its arguments one at a time, with the same rules
 * everywhere: `--name value` or `--name=value` (never an empty value),
 * `--` ends the options, --help or -h asks for the usage, and an unknown
 * option is named. */
#ifndef D2L_ARGS_H
#define D2L_ARGS_H

#include <stdbool.h>

#include "../core/error.h"

struct arg_option {
    const char *name;  /* "--out"; NULL ends the table */
    const char *alias; /* "-q", or NULL */
    bool has_value;
    int id;            /* what args_next returns for it, >= 0 */
};

/* What args_next returns besides an option's id. */
enum { ARG_DONE = -1, ARG_OPERAND = -2, ARG_HELP = -3, ARG_ERROR = -4 };

/* argv[1..argc-1] of a command, read one argument at a time. */
struct args {
    const struct arg_option *options;
    int argc;
    char **argv;
    int next;           /* the index of the next argument */
    bool options_ended; /* after "--", every argument is an operand */
};

struct args args_start(const struct arg_option *options, int argc, char **argv);

/* The next argument: an option's id, with *value its value (NULL for an
 * option without one); ARG_OPERAND, with *value the argument; ARG_HELP;
 * ARG_DONE after the last; or ARG_ERROR after setting *e (exit 2, naming
 * the option). */
int args_next(struct args *a, const char **value, struct err *e);

/* value as a whole number from min to max, into *out; else exit 2 naming
 * the option and the value. */
int args_whole_number(const char *option, const char *value, long long min, long long max, long long *out,
                      struct err *e);

#endif
