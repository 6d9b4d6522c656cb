/* Whether two loaded specs describe the same experiment: every field equal
 * except where the keys stood (marks) and the file's path. The effective
 * spec's round trip (load -> spec_write -> load) must give the same struct;
 * the tests and the spec fuzzer (fuzz/fuzz_spec.c) check it with this. */
#ifndef D2L_SPEC_SAME_H
#define D2L_SPEC_SAME_H

#include <stddef.h>

#include "../core/spec.h"

/* 0 when the same; else the byte offset + 1 of the first difference in
 * struct spec (for the message). */
size_t spec_difference(const struct spec *a, const struct spec *b);

#endif
