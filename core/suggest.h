/* "Did you mean": the nearest of a list of names to a misspelt word. */
#ifndef D2L_SUGGEST_H
#define D2L_SUGGEST_H

/* The name in the NULL-terminated list nearest to word, if near enough to
 * be the word meant; NULL otherwise. */
const char *suggest(const char *word, const char *const *names);

#endif
