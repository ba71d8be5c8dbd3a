/*
** Porter stemmer: the stem of an English word, computed exactly as SQLite
** FTS5's "porter" tokenizer computes it, so full-text terms agree with
** FTS5's.
*/
#ifndef OMEN_PORTER_H
#define OMEN_PORTER_H

#include <stddef.h>

/* The longest token that is stemmed: longer tokens, and those shorter than
** 3 bytes, are left as they are (FTS5_PORTER_MAX_TOKEN in FTS5). */
#define OMEN__PORTER_MAX 64

/* Stem the n-byte token w in place and return the stem's length, which is
** never more than n. w is lower case, as the unicode61 tokenizer leaves
** it; it may hold digits and non-ASCII UTF-8, whose bytes count as
** consonants. Any bytes are safe; the result is then whatever FTS5 would
** make of them. */
size_t omen__porter_stem(char *w, size_t n);

#endif
