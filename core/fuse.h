/*
** Rank fusion (fuse.c): one ranking out of a vector search's hits (closest
** first) and a text search's (best first), by reciprocal rank fusion or a
** weighted sum of scaled scores (see omen_fusion in omen.h).
*/
#ifndef OMEN_FUSE_H
#define OMEN_FUSE_H

#include <stddef.h>
#include <stdint.h>

#include "omen.h"
#include "search.h"
#include "text.h"

typedef struct omen__fused {
  uint32_t slot;
  float score;
  float distance;   /* NAN where the vector half did not rank it */
} omen__fused;

/* Fuse nv vector hits and nt text hits into out (room for nv + nt), best
** first, each slot once; *n receives the count. OMEN_NOMEM or OMEN_OK. */
int omen__fuse(const omen__mem *m, const omen_search_opts *o, const omen__cand *vec,
               size_t nv, const omen__text_hit *text, size_t nt, omen__fused *out,
               size_t *n);

#endif
