/* Memory for buffers of many megabytes (a dataset's file, its pixels, the
 * CPU backend's copy of them), asked to sit on the kernel's 2 MiB pages:
 * touching 47 MB for the first time costs ~0.15 s of CPU in 4 KiB page
 * faults on the VM of docs/BENCH.md, ~0.005 s in 2 MiB ones, and the batch
 * gather's scattered rows miss the TLB less. Where the kernel has no such
 * pages (transparent huge pages off) the advice is ignored. Freed with
 * free(); realloc keeps the bytes, not necessarily the page size. */
#ifndef D2L_BIG_ALLOC_H
#define D2L_BIG_ALLOC_H

#include <stddef.h>

/* Like malloc(bytes). */
void *big_alloc(size_t bytes);

#endif
