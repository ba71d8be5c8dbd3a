/*
** Writes (write.c): upserts and deletes on a collection, as the public calls
** make them and as recovery applies them from the log. The public calls
** refuse on a read-only database, log what they do and, once done, let a
** checkpoint fold the log in; recovery calls the functions below with
** log = 0, so nothing it applies is logged again.
*/
#ifndef OMEN_WRITE_H
#define OMEN_WRITE_H

#include "omen_int.h"

/* Store n records (the last of a repeated id wins); with log set, append
** them to the log before anything changes in memory. A failure changes
** nothing and leaves a message. */
int omen__write_upsert(omen_coll *c, size_t n, const omen_str *ids, const float *vecs,
                       const omen_meta *metas, unsigned threads, int log);
/* Delete the record with this id (OMEN_NOTFOUND if there is none). */
int omen__write_delete(omen_coll *c, const char *id, size_t len, int log);

/* Give c the text index t, indexing every record (OMEN_EXISTS if c has
** one); t is c's once this succeeds. */
int omen__write_text_index(omen_coll *c, omen__text *t, int log);

#endif
