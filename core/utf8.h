/*
** UTF-8: checking that bytes are well-formed text (names are UTF-8).
*/
#ifndef OMEN_UTF8_H
#define OMEN_UTF8_H

#include <stddef.h>

/* Whether s[0..n) is well-formed UTF-8: no overlong forms, no surrogates,
** nothing above U+10FFFF. */
int omen__utf8_valid(const char *s, size_t n);

#endif
