#include "input_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char paths[4][64];

static void remove_files(void)
{
    for (int i = 0; i < 4; i++)
        if (paths[i][0])
            unlink(paths[i]);
}

const char *fuzz_input_file(int slot, const uint8_t *data, size_t size)
{
    static int fds[4] = {-1, -1, -1, -1};
    if (slot < 0 || slot > 3)
        abort();
    if (fds[slot] < 0) {
        const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(paths[slot], sizeof paths[slot], "%.40s/d2lfuzz-XXXXXX", dir);
        if ((fds[slot] = mkstemp(paths[slot])) < 0) {
            perror(paths[slot]);
            abort();
        }
        atexit(remove_files);
    }
    if (ftruncate(fds[slot], 0) || (size && pwrite(fds[slot], data, size, 0) != (ssize_t)size)) {
        perror("fuzz_file");
        abort();
    }
    return paths[slot];
}
