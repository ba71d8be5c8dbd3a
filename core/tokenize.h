/*
** Tokenizers of the full-text index: text to a sequence of terms, exactly
** as SQLite FTS5's "unicode61" (optionally under "porter") and "trigram"
** tokenizers make them, so that results can be compared with FTS5.
*/
#ifndef OMEN_TOKENIZE_H
#define OMEN_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#define OMEN__MAX_TERM 255 /* bytes in a term: longer tokens are cut at a character boundary */

typedef enum omen__tok_kind { OMEN__TOK_UNICODE61 = 1, OMEN__TOK_TRIGRAM = 2 } omen__tok_kind;

typedef struct omen__tokenizer {
  omen__tok_kind kind;
  uint8_t diacritics;     /* 0 keep, 1 and 2 as FTS5's remove_diacritics, 3 also Greek and Cyrillic */
  uint8_t porter;         /* unicode61: stem each term with omen__porter_stem (porter.h) */
  uint8_t case_sensitive; /* trigram: do not fold case */
} omen__tokenizer;

/* fn is called for each term in order; pos counts the tokens from 0. A
** nonzero return stops the walk and is returned. */
typedef int (*omen__term_fn)(void *ud, const char *term, size_t len, uint32_t pos);

/* Walk the terms of text[0..len) (any bytes: invalid UTF-8 is read as FTS5
** reads it; nothing at or past text + len is read). Terms live in a buffer
** on the stack, valid during the call of fn only. No allocation and no
** shared state: any number of threads may tokenize at once.
**
** unicode61: a token is a maximal run of token characters (omen__uni_is_token),
** which may also hold the combining marks of omen__uni_is_joiner but not
** begin with one; every other code point separates. Each character is
** folded (omen__uni_fold with t->diacritics) and the term is cut to
** OMEN__MAX_TERM bytes, then stemmed when t->porter.
**
** trigram: every 3 consecutive characters form a term, separators and all
** (FTS5 3.40); a text of fewer than 3 characters has no terms, and a NUL
** character ends the text. Characters are case-folded unless
** t->case_sensitive; with folding, diacritics 1 and 2 both remove all
** Latin diacritics (as later FTS5's trigram remove_diacritics does), 3 also
** Greek and Cyrillic ones, and a combining mark that removal drops is no
** character. */
int omen__tokenize(const omen__tokenizer *t, const char *text, size_t len, omen__term_fn fn,
                   void *ud);

#endif
