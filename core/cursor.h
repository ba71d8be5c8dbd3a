/*
** Cursor: reads bytes that came from disk, never past their end. Once a
** read would overrun, the cursor is bad and every later read yields
** nothing, so a parser checks `bad` once at the end.
*/
#ifndef OMEN_CURSOR_H
#define OMEN_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct omen__cursor {
  const unsigned char *p, *end;
  int bad;
} omen__cursor;

static inline const unsigned char *omen__take(omen__cursor *c, size_t n)
{
  if (c->bad || (size_t)(c->end - c->p) < n) {
    c->bad = 1;
    return NULL;
  }
  const unsigned char *p = c->p;
  c->p += n;
  return p;
}

static inline uint32_t omen__take_u32(omen__cursor *c)
{
  const unsigned char *p = omen__take(c, 4);
  uint32_t v = 0;
  if (p) memcpy(&v, p, 4);
  return v;
}

static inline uint64_t omen__take_u64(omen__cursor *c)
{
  const unsigned char *p = omen__take(c, 8);
  uint64_t v = 0;
  if (p) memcpy(&v, p, 8);
  return v;
}

#endif
