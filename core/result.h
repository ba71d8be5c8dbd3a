/*
** Results (result.c): the reusable buffer hits are copied into, so that
** they outlive the collection lock, and the copying of a collection's
** records into hits.
*/
#ifndef OMEN_RESULT_H
#define OMEN_RESULT_H

#include "omen_int.h"

void omen__result_reset(omen_result *r);
/* size bytes aligned to align, kept until the next reset; NULL without
** memory. */
void *omen__result_alloc(omen_result *r, size_t size, size_t align);
/* A new zeroed hit at the end; NULL without memory. */
omen_hit *omen__result_push(omen_result *r);

/* Add the record in slot as a hit at distance d, with its vector and its
** metadata as `with` asks (c's lock held): OMEN_NOMEM, or OMEN_CORRUPT when
** its metadata does not decode. */
int omen__result_add_hit(omen_result *r, const omen_coll *c, uint32_t slot, float d,
                         unsigned with);

#endif
