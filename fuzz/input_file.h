/* The readers under fuzz take a path, so each input is written to one
 * temporary file, rewritten for every input. */
#ifndef D2L_FUZZ_INPUT_FILE_H
#define D2L_FUZZ_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>

/* The path of a file now holding exactly data[0, size); the same path for
 * every call with the same slot (0..3). Aborts when it cannot write. */
const char *fuzz_input_file(int slot, const uint8_t *data, size_t size);

#endif
