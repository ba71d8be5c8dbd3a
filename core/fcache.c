/*
** The filter-bitmap cache: per collection, the bitmaps of the matching live
** slots of its last few filters (OMEN__FCACHE), so a filter used again is
** answered from its bitmap instead of testing every record. An entry is
** valid while the collection's version (bumped by every write) is the one it
** was built for; searches share an entry through a reference count.
**
** Calls: mem. Takes the collection's fcache_mu, never its lock.
*/
#include "port.h"

#include <string.h>

#include "fcache.h"
#include "filter.h"

/* -- The bitmap cache ------------------------------------------------------------ */

static int same_filter(const omen__fbits *e, const omen_filter *f)
{
  return e->hash == f->hash && e->sig_len == f->sig_len &&
         !memcmp(e->sig, f->sig, f->sig_len);
}

omen__fbits *omen__fcache_get(omen_coll *c, const omen_filter *f, int *seen)
{
  omen__fbits *hit = NULL;
  *seen = 0;
  pthread_mutex_lock(&c->fcache_mu);
  for (int i = 0; i < OMEN__FCACHE; i++) {
    omen__fbits *e = &c->fcache[i];
    if (!e->hash || !same_filter(e, f)) continue;
    *seen = 1;
    e->stamp = ++c->fcache_clock;
    if (e->bits && e->version == c->version) {
      e->refs++;
      hit = e;
    }
    break;
  }
  pthread_mutex_unlock(&c->fcache_mu);
  return hit;
}

static void drop_bits(omen_coll *c, omen__fbits *e)
{
  omen__free(&c->db->mem, e->bits, e->words * sizeof(uint64_t));
  e->bits = NULL;
  e->words = 0;
}

static void drop_entry(omen_coll *c, omen__fbits *e)
{
  drop_bits(c, e);
  omen__free(&c->db->mem, e->sig, e->sig_len);
  memset(e, 0, sizeof *e);
}

/* The entry of f, else the one to give f: unused, empty or oldest. */
static omen__fbits *slot_for(omen_coll *c, const omen_filter *f)
{
  omen__fbits *victim = NULL;
  for (int i = 0; i < OMEN__FCACHE; i++) {
    omen__fbits *e = &c->fcache[i];
    if (e->hash && same_filter(e, f)) return e;
    if (e->refs) continue;
    if (!victim || !e->hash || (victim->hash && e->stamp < victim->stamp)) victim = e;
  }
  return victim;
}

omen__fbits *omen__fcache_put(omen_coll *c, const omen_filter *f, uint64_t *bits,
                              size_t words, uint64_t count)
{
  pthread_mutex_lock(&c->fcache_mu);
  omen__fbits *e = slot_for(c, f);
  if (e && e->hash && !same_filter(e, f)) drop_entry(c, e);
  if (e && !e->hash) {
    e->sig = omen__malloc(&c->db->mem, f->sig_len);
    if (e->sig) {
      memcpy(e->sig, f->sig, f->sig_len);
      e->sig_len = f->sig_len;
      e->hash = f->hash;
    } else {
      e = NULL;
    }
  }
  if (e) e->stamp = ++c->fcache_clock;
  if (e && bits && !e->refs) { /* in use means current: keep those bits */
    drop_bits(c, e);
    e->bits = bits;
    e->words = words;
    e->count = count;
    e->version = c->version;
    e->refs = 1;
  } else {
    e = NULL;
  }
  pthread_mutex_unlock(&c->fcache_mu);
  return e;
}

void omen__fcache_release(omen_coll *c, omen__fbits *e)
{
  if (!e) return;
  pthread_mutex_lock(&c->fcache_mu);
  e->refs--;
  pthread_mutex_unlock(&c->fcache_mu);
}

void omen__fcache_clear(omen_coll *c)
{
  for (int i = 0; i < OMEN__FCACHE; i++) drop_entry(c, &c->fcache[i]);
}
