/* Errors travel as a code plus one message; the command layer prints it and
 * exits with the code. Codes are the process exit statuses of DESIGN.md. */
#ifndef D2L_ERROR_H
#define D2L_ERROR_H

enum exit_code {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1, /* training/runtime failure: NaN loss, no GPU, OOM */
    EXIT_USAGE = 2,   /* bad command line or spec */
    EXIT_DATA = 3,    /* data or fetch failure */
};

struct err {
    int code;        /* 0 while nothing went wrong */
    char msg[4096];
};

/* Records the first error only (later ones are consequences) and returns
 * its code, so callers can write `return err_set(e, EXIT_DATA, ...)`. */
int err_set(struct err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
