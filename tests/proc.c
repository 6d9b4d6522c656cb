#include "proc.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *repo_root(void)
{
    const char *root = getenv("D2L_ROOT");
    return root && *root ? root : ".";
}

struct buffer {
    char *data;
    size_t len, cap;
};

static void buffer_add(struct buffer *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data)
            abort();
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

struct proc_result run_shell(const char *command)
{
    struct proc_result r = {.status = -1};
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) || pipe(err_pipe))
        return r;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]);
        close(err_pipe[0]);
        if (chdir(repo_root()) == 0)
            execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    struct buffer bufs[2] = {{0}, {0}};
    buffer_add(&bufs[0], "", 0);
    buffer_add(&bufs[1], "", 0);
    struct pollfd fds[2] = {{.fd = out_pipe[0], .events = POLLIN}, {.fd = err_pipe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0 && poll(fds, 2, -1) > 0) {
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            char chunk[4096];
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                buffer_add(&bufs[i], chunk, (size_t)n);
            } else {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = bufs[0].data;
    r.err = bufs[1].data;
    return r;
}

struct proc_result run_d2ltrain(const char *args)
{
    const char *bin = getenv("D2LTRAIN");
    char *command;
    if (asprintf(&command, "'%s' %s", bin && *bin ? bin : "./d2ltrain", args) < 0)
        abort();
    struct proc_result r = run_shell(command);
    free(command);
    return r;
}

void proc_result_free(struct proc_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

char *epoch_lines_without_time(const char *out)
{
    char *copy = strdup(out), *result = calloc(1, strlen(out) + 1);
    if (!copy || !result)
        abort();
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "epoch ", 6))
            continue;
        char *time = strstr(line, " time ");
        if (time)
            *time = '\0';
        strcat(result, line);
        strcat(result, "\n");
    }
    free(copy);
    return result;
}
