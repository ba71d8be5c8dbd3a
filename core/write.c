/*
** Writes: upsert (one record or a batch) and delete (by id or by filter).
** Every write first validates its input and reserves all the memory it can
** need; only then is it logged, and only then does it change anything, so
** a failed call changes nothing. The public calls sit on top: they refuse
** on a read-only database and, once a write has returned its work, let the
** log be folded into the file (checkpoint.c). Recovery applies logged
** writes through omen__write_upsert and omen__write_delete without logging.
**
** Calls: link (graph linking, consolidation), coll (slots, checks, lock),
** storage (the file's bulk is checked before a write changes it), wal,
** checkpoint (public calls only).
*/
#include "port.h"

#include <string.h>

#include "checkpoint.h"
#include "coll.h"
#include "link.h"
#include "registry.h"
#include "storage.h"
#include "wal.h"
#include "write.h"

/* A write's lock: the collection's, with the file's bulk checked (a write
** may change any chunk). */
static int lock_for_write(omen_coll *c)
{
  int rc = omen__coll_lock(c, 1);
  if (!rc && (rc = omen__storage_check_all(c))) pthread_rwlock_unlock(&c->rw);
  return rc;
}

/* The public calls refuse on a read-only database (omen__check_writable)
** and, once a write returned, checkpoint if the log has grown large. */
static int written(omen_coll *c, int rc)
{
  if (!rc) omen__checkpoint_due(c->db);
  return rc;
}

/* The message of a write that failed in the text index: out of memory, or
** what it said (a tokenizer failed, the dictionary is full). */
static int text_failed(omen_coll *c, int rc)
{
  if (rc == OMEN_NOMEM) return omen__fail(c->db, rc, "out of memory");
  if (rc == OMEN_INVALID)
    return omen__fail(c->db, rc, "collection '%s': %s", c->name, omen__text_error());
  return rc;
}

static int same_vector(const omen_coll *c, uint32_t slot, const float *vec)
{
  return memcmp(omen__coll_vector(c, slot), vec, c->cfg.dim * sizeof(float)) == 0;
}

/* -- Upsert ----------------------------------------------------------------- */

typedef struct batch_item {
  const char *id;
  uint32_t id_len;
  uint32_t hash;
  const float *vec;
  const omen_field *fields;
  size_t n_fields;
  size_t meta_off, meta_len; /* in the batch's encoded metadata */
  uint32_t old;              /* slot holding the id before, or NO_SLOT */
  uint8_t skip;              /* a later item has the same id */
  uint8_t meta_only;         /* same vector: only the record changes */
  uint32_t text_doc;         /* its document in the batch's text part */
} batch_item;

typedef struct batch {
  omen_coll *c;
  size_t n;
  batch_item *items;
  uint8_t *meta;             /* encoded metadata of all items */
  size_t meta_cap;
  uint32_t *link;            /* slots to link into the graph */
  size_t n_link;
  unsigned threads;
  int consolidate;           /* the replaced records make consolidation due */
  omen__text_batch text;     /* the documents for the text index */
} batch;

static void batch_free(batch *b)
{
  const omen__mem *m = &b->c->db->mem;
  omen__free(m, b->items, b->n * sizeof(batch_item));
  omen__free(m, b->meta, b->meta_cap);
  omen__free(m, b->link, b->n * sizeof(uint32_t));
  omen__text_batch_free(m, &b->text);
}

/* Mark every item whose id appears again later: the later one wins. */
static int mark_duplicates(batch *b)
{
  if (b->n < 2) return OMEN_OK;
  const omen__mem *m = &b->c->db->mem;
  size_t size = 16;
  while (size < 2 * b->n) size *= 2;
  uint32_t *tab = omen__calloc(m, size * sizeof(uint32_t));
  if (!tab) return OMEN_NOMEM;
  for (size_t i = b->n; i-- > 0;) {
    batch_item *it = &b->items[i];
    size_t j = it->hash & (size - 1);
    for (; tab[j]; j = (j + 1) & (size - 1)) {
      const batch_item *o = &b->items[tab[j] - 1];
      if (o->hash == it->hash && o->id_len == it->id_len &&
          !memcmp(o->id, it->id, it->id_len)) {
        it->skip = 1;
        break;
      }
    }
    if (!it->skip) tab[j] = (uint32_t)i + 1;
  }
  omen__free(m, tab, size * sizeof(uint32_t));
  return OMEN_OK;
}

/* Check every item and size the metadata buffer; nothing is locked yet. */
static int batch_check(batch *b, const omen_str *ids, const float *vecs,
                       const omen_meta *metas)
{
  omen_coll *c = b->c;
  char pre[96], err[OMEN__ERR_LEN];
  size_t meta_total = 0;
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    const char *p = omen__item_prefix(pre, sizeof pre, i, b->n, &ids[i]);
    int rc = omen__check_id(c->db, ids[i].ptr, ids[i].len, p);
    if (rc) return rc;
    it->id = ids[i].ptr;
    it->id_len = (uint32_t)ids[i].len;
    it->hash = omen__idmap_hash(&c->ids, it->id, it->id_len);
    it->vec = vecs + i * c->cfg.dim;
    if ((rc = omen__coll_check_vector(c, it->vec, "vector", p))) return rc;
    if (metas) {
      it->fields = metas[i].fields;
      it->n_fields = metas[i].n;
    }
    size_t bound;
    if ((rc = omen__meta_check(it->fields, it->n_fields, &bound, err, sizeof err)))
      return omen__fail(c->db, rc, "%s%s", p, err);
    it->meta_off = meta_total;
    meta_total += bound;
  }
  b->meta_cap = meta_total;
  if (meta_total && !(b->meta = omen__malloc(&c->db->mem, meta_total)))
    return OMEN_NOMEM;
  return mark_duplicates(b);
}

/* Note that a slot's document leaves the text index (read from its record,
** still there). */
static int drop_text(omen_coll *c, uint32_t slot, omen__text_batch *tb)
{
  uint32_t len;
  const uint8_t *meta = omen__records_meta(&c->recs, slot, &len);
  return omen__text_drop_doc(&c->db->mem, c->text, &c->keys, slot, meta, len, tb);
}

/* Tokenize each record's text for the collection's text index (after its
** metadata is encoded), one document per item that is written. */
static int plan_text(batch *b)
{
  omen_coll *c = b->c;
  const omen__mem *m = &c->db->mem;
  int rc = OMEN_OK;
  for (size_t i = 0; i < b->n && c->text && !rc; i++) {
    batch_item *it = &b->items[i];
    if (it->skip) continue;
    if (it->old != OMEN__NO_SLOT) rc = drop_text(c, it->old, &b->text);
    it->text_doc = (uint32_t)b->text.n_docs;
    if (!rc)
      rc = omen__text_add_doc(m, c->text, &c->keys, b->meta + it->meta_off, it->meta_len,
                              &b->text);
  }
  return text_failed(c, rc);
}

/* After a write: encode the text index's tails once they have grown (a
** failure leaves them as they are, still right). */
static void after_text(omen_coll *c)
{
  if (c->text && omen__text_merge_due(c->text))
    omen__text_merge(&c->db->mem, c->text, NULL, 0, c->n_slots);
}

/* Under the lock: encode metadata, find old slots, reserve all memory. */
static int batch_plan(batch *b)
{
  omen_coll *c = b->c;
  const omen__mem *m = &c->db->mem;
  size_t need_slots = 0, replaced = 0, heap = 0;
  int rc;
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip) continue;
    rc = omen__meta_encode(m, &c->keys, it->fields, it->n_fields,
                           b->meta + it->meta_off, &it->meta_len);
    if (rc == OMEN_INVALID) {
      char pre[96];
      omen_str id = {it->id, it->id_len};
      return omen__fail(c->db, rc, "%smetadata too large or too many distinct field "
                        "names", omen__item_prefix(pre, sizeof pre, i, b->n, &id));
    }
    if (rc) return rc;
    heap += it->id_len + it->meta_len;
    it->old = omen__coll_find(c, it->id, it->id_len, it->hash);
    it->meta_only = it->old != OMEN__NO_SLOT && same_vector(c, it->old, it->vec);
    if (it->meta_only) continue;
    need_slots++;
    replaced += it->old != OMEN__NO_SLOT;
  }
  if ((rc = plan_text(b))) return rc;
  uint64_t deleted = (uint64_t)c->n_deleted + replaced;
  b->consolidate = omen__link_due(deleted, omen__coll_live(c));
  size_t reusable = c->n_free + (b->consolidate ? deleted : 0);
  size_t fresh = need_slots > reusable ? need_slots - reusable : 0;
  if (fresh > OMEN__MAX_SLOTS - c->n_slots)
    return omen__fail(c->db, OMEN_INVALID, "collection is full (%u slots)",
                      OMEN__MAX_SLOTS);
  uint32_t total = c->n_slots + (uint32_t)fresh;
  uint64_t blocks = c->graph.upper_blocks;
  for (uint32_t s = c->n_slots; s < total; s++)
    blocks += omen__graph_level_of(&c->graph, s);
  size_t block = (1 + (size_t)c->graph.m) * sizeof(uint32_t);
  if ((rc = omen__coll_reserve(c, total)) ||
      (c->text && (rc = omen__text_reserve(m, c->text, &b->text, total))) ||
      (rc = omen__idmap_reserve(m, &c->ids, need_slots)) ||
      (rc = omen__records_reserve_heap(m, &c->recs, heap, c->n_slots)) ||
      (b->consolidate && (rc = omen__link_reserve(c, deleted))) ||
      (rc = omen__buf_ensure(m, &c->graph.upper, blocks * block,
                             c->graph.upper_blocks * block, 64 * block)))
    return rc;
  b->link = omen__malloc(m, b->n * sizeof(uint32_t));
  if (!b->link) return OMEN_NOMEM;
  if (need_slots && omen__codes_due(&c->codes, b->items[0].vec, b->n,
                                    (uint64_t)omen__coll_live(c) + b->n))
    omen__coll_codes_refit(c, b->items[0].vec, b->n);
  return OMEN_OK;
}

/* Take a free slot (no link leads to it) or a new one; it is pending until
** its vector is in. */
static uint32_t take_slot(omen_coll *c)
{
  if (c->n_free) {
    uint32_t slot = ((uint32_t *)c->free_slots.p)[--c->n_free];
    omen__coll_state(c)[slot] = OMEN__SLOT_PENDING;
    return slot;
  }
  uint32_t slot = c->n_slots++;
  omen__graph_add_slot(&c->db->mem, &c->graph, slot); /* room reserved */
  omen__records_init_slot(&c->recs, slot);
  omen__coll_state(c)[slot] = OMEN__SLOT_PENDING;
  return slot;
}

/* Apply the planned changes; cannot fail. A replaced record's old slot is
** deleted like any other (its node stays a route for now); if that makes
** consolidation due, it runs before new slots are taken, so the batch may
** reuse the very slots it freed, and no link is left pointing at a slot
** whose vector changes. */
static void batch_apply(batch *b, omen__scratch *sc)
{
  omen_coll *c = b->c;
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip) continue;
    if (it->meta_only)
      omen__records_put(&c->recs, it->old, it->id, it->id_len,
                        b->meta + it->meta_off, (uint32_t)it->meta_len);
    else if (it->old != OMEN__NO_SLOT)
      omen__coll_delete_slot(c, it->old);
  }
  if (b->consolidate) omen__link_consolidate(c, sc, b->threads);
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip) continue;
    if (!it->meta_only) {
      uint32_t slot = take_slot(c);
      omen__idmap_insert(&c->ids, it->hash, slot);
      b->link[b->n_link++] = slot;
      omen__records_put(&c->recs, slot, it->id, it->id_len,
                        b->meta + it->meta_off, (uint32_t)it->meta_len);
      it->old = slot;
    }
    if (c->text) b->text.docs[it->text_doc].slot = it->old;
  }
  if (c->text) omen__text_apply(c->text, &b->text);
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip || it->meta_only) continue;
    omen__coll_write_vector(c, it->old, it->vec);
    omen__coll_state(c)[it->old] = OMEN__SLOT_LIVE;
  }
}

/* The log record of a batch: the records it will store, in order. */
static void emit_batch(omen__sink *s, const void *arg)
{
  const batch *b = arg;
  const omen_coll *c = b->c;
  uint32_t n = 0;
  for (size_t i = 0; i < b->n; i++) n += !b->items[i].skip;
  omen__sink_str(s, c->name, c->name_len);
  omen__sink_u32(s, n);
  omen__sink_u32(s, c->cfg.dim);
  for (size_t i = 0; i < b->n; i++) {
    const batch_item *it = &b->items[i];
    if (it->skip) continue;
    omen__sink_str(s, it->id, it->id_len);
    omen__sink_put(s, it->vec, c->cfg.dim * sizeof(float));
    omen__sink_meta(s, it->fields, it->n_fields);
  }
}

int omen__write_upsert(omen_coll *c, size_t n, const omen_str *ids, const float *vecs,
                       const omen_meta *metas, unsigned threads, int log)
{
  if (n == 0) return OMEN_OK;
  batch b = {c, n, NULL, NULL, 0, NULL, 0, threads, 0, {0}};
  b.items = omen__calloc(&c->db->mem, n * sizeof(batch_item));
  if (!b.items) return omen__fail(c->db, OMEN_NOMEM, "out of memory");
  int rc = batch_check(&b, ids, vecs, metas);
  if (rc) goto done;
  if ((rc = lock_for_write(c))) goto done;
  omen__scratch *sc = omen__coll_scratch(c);
  /* Logged only once nothing can fail before it is in memory too. */
  if (!(rc = batch_plan(&b)) &&
      !(rc = omen__coll_scratch_prepare(c, sc, c->cap, c->graph.ef_construction)) &&
      !(rc = log ? omen__wal_append(c->db, OMEN__LOG_UPSERT, emit_batch, &b) : OMEN_OK)) {
    batch_apply(&b, sc);
    atomic_store(&c->db->dirty, 1);
    rc = omen__link(c, b.link, b.n_link, b.threads, sc);
    after_text(c);
  }
  omen__coll_scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
done:
  batch_free(&b);
  if (rc == OMEN_NOMEM) omen__fail(c->db, rc, "out of memory");
  return rc;
}

int omen_upsert_batch(omen_coll *c, size_t n, const omen_str *ids,
                      const float *vecs, const omen_meta *metas,
                      unsigned threads)
{
  if (!c) return OMEN_INVALID;
  if (n == 0) return OMEN_OK;
  if (!ids || !vecs)
    return omen__fail(c->db, OMEN_INVALID, "ids or vectors are missing");
  int rc = omen__check_writable(c->db);
  if (!rc)
    rc = omen__write_upsert(c, n, ids, vecs, metas, threads, omen__wal_active(c->db));
  return written(c, rc);
}

int omen_upsert(omen_coll *c, const char *id, size_t id_len, const float *vec,
                const omen_field *meta, size_t n_meta)
{
  if (!c) return OMEN_INVALID;
  if (!vec) return omen__fail(c->db, OMEN_INVALID, "vector is missing");
  omen_str s = {id, id_len};
  omen_meta md = {meta, n_meta};
  return omen_upsert_batch(c, 1, &s, vec, &md, 0); /* 0: consolidation may use every core */
}

/* -- Delete ------------------------------------------------------------------ */

typedef struct deletion {
  const omen_coll *c;
  omen_str id;
} deletion;

static void emit_delete(omen__sink *s, const void *arg)
{
  const deletion *d = arg;
  omen__sink_str(s, d->c->name, d->c->name_len);
  omen__sink_str(s, d->id.ptr, d->id.len);
}

/* The text part of a deletion: the documents of n slots going. */
static int plan_drops(omen_coll *c, const uint32_t *slots, size_t n, omen__text_batch *tb)
{
  int rc = OMEN_OK;
  for (size_t i = 0; i < n && c->text && !rc; i++) rc = drop_text(c, slots[i], tb);
  if (!rc && c->text) rc = omen__text_reserve(&c->db->mem, c->text, tb, c->n_slots);
  return rc;
}

/* After a write deleted records: consolidate if due. */
static void after_deletions(omen_coll *c, omen__scratch *sc, int due)
{
  if (due) omen__link_consolidate(c, sc, 0);
}

int omen__write_delete(omen_coll *c, const char *id, size_t id_len, int log)
{
  int rc = omen__check_id(c->db, id, id_len, "");
  if (rc || (rc = lock_for_write(c))) return rc;
  uint32_t slot = omen__coll_find(c, id, id_len, omen__idmap_hash(&c->ids, id, id_len));
  omen__scratch *sc = NULL;
  omen__text_batch tb = {0};
  int due = 0;
  if (slot == OMEN__NO_SLOT) {
    rc = omen__coll_no_record(c, id, id_len);
  } else if (!(sc = omen__coll_scratch(c)) ||
             (rc = omen__link_reserve_deletions(c, sc, 1, &due)) ||
             (rc = plan_drops(c, &slot, 1, &tb))) {
    rc = text_failed(c, rc ? rc : OMEN_NOMEM);
  } else {
    deletion d = {c, {id, id_len}};
    if (log) rc = omen__wal_append(c->db, OMEN__LOG_DELETE, emit_delete, &d);
    if (!rc) {
      if (c->text) omen__text_apply(c->text, &tb);
      omen__coll_delete_slot(c, slot);
      after_deletions(c, sc, due);
      atomic_store(&c->db->dirty, 1);
    }
  }
  omen__coll_scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
  omen__text_batch_free(&c->db->mem, &tb);
  return rc;
}

int omen_delete(omen_coll *c, const char *id, size_t id_len)
{
  if (!c) return OMEN_INVALID;
  int rc = omen__check_writable(c->db);
  if (!rc) rc = omen__write_delete(c, id, id_len, omen__wal_active(c->db));
  return written(c, rc);
}

/* -- Delete by filter ------------------------------------------------------------ */

typedef struct deletions {
  const omen_coll *c;
  const uint32_t *slots;
  size_t n;
} deletions;

static void emit_deletions(omen__sink *s, const void *arg)
{
  const deletions *d = arg;
  omen__sink_str(s, d->c->name, d->c->name_len);
  omen__sink_u32(s, (uint32_t)d->n);
  for (size_t i = 0; i < d->n; i++) {
    uint32_t len;
    const char *id = omen__records_id(&d->c->recs, d->slots[i], &len);
    omen__sink_str(s, id, len);
  }
}

int omen_delete_where(omen_coll *c, const omen_filter *f, uint64_t *deleted)
{
  if (!c) return OMEN_INVALID;
  if (!deleted) return omen__missing(c->db, "deleted");
  *deleted = 0;
  if (!f) return omen__fail(c->db, OMEN_INVALID, "delete_where needs a filter");
  int rc = omen__check_writable(c->db);
  if (rc || (rc = lock_for_write(c))) return rc;
  const omen__mem *m = &c->db->mem;
  omen__scratch *sc = omen__coll_scratch(c);
  size_t cap = (size_t)omen__coll_live(c) + 1, n = 0;
  uint32_t *slots = omen__malloc(m, cap * sizeof(uint32_t));
  omen__bound_filter bf;
  omen__pred ps;
  const omen__pred *pred;
  int due = 0;
  rc = sc && slots ? omen__coll_bind_filter(c, sc, f, &bf, &ps, &pred) : OMEN_NOMEM;
  for (uint32_t s = 0; !rc && s < c->n_slots; s++)
    if (omen__returnable(omen__coll_state(c), pred, s)) slots[n++] = s;
  if (!rc && n) rc = omen__link_reserve_deletions(c, sc, n, &due);
  omen__text_batch tb = {0};
  if (!rc && n) rc = plan_drops(c, slots, n, &tb);
  deletions d = {c, slots, n};
  if (!rc && n && omen__wal_active(c->db))
    rc = omen__wal_append(c->db, OMEN__LOG_DELETE_MANY, emit_deletions, &d);
  if (!rc && n && c->text) omen__text_apply(c->text, &tb);
  for (size_t i = 0; !rc && i < n; i++) omen__coll_delete_slot(c, slots[i]);
  if (!rc && n) {
    after_deletions(c, sc, due);
    atomic_store(&c->db->dirty, 1);
  }
  omen__coll_scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
  omen__free(m, slots, cap * sizeof(uint32_t));
  omen__text_batch_free(m, &tb);
  if (rc) return text_failed(c, rc);
  *deleted = n;
  return written(c, OMEN_OK);
}

/* -- Text index ------------------------------------------------------------------ */

typedef struct text_index {
  const omen_coll *c;
  const uint8_t *settings;
  size_t size;
} text_index;

static void emit_text_index(omen__sink *s, const void *arg)
{
  const text_index *x = arg;
  omen__sink_str(s, x->c->name, x->c->name_len);
  omen__sink_put(s, x->settings, x->size);
}

/* Index every live record of c in t (c's write lock held). */
static int index_all(omen_coll *c, omen__text *t)
{
  const omen__mem *m = &c->db->mem;
  omen__text_batch b = {0};
  int rc = OMEN_OK;
  for (uint32_t s = 0; s < c->n_slots && !rc; s++) {
    if (omen__coll_state(c)[s] != OMEN__SLOT_LIVE) continue;
    uint32_t len;
    const uint8_t *meta = omen__records_meta(&c->recs, s, &len);
    size_t at = b.n_docs;
    rc = omen__text_add_doc(m, t, &c->keys, meta, len, &b);
    if (!rc) b.docs[at].slot = s;
  }
  if (!rc) rc = omen__text_reserve(m, t, &b, c->n_slots);
  if (!rc) {
    omen__text_apply(t, &b);
    rc = omen__text_merge(m, t, NULL, 0, c->n_slots);
  }
  omen__text_batch_free(m, &b);
  return rc;
}

int omen__write_text_index(omen_coll *c, omen__text *t, int log)
{
  int rc = lock_for_write(c);
  if (rc) return rc;
  const omen__mem *m = &c->db->mem;
  text_index x = {c, NULL, omen__text_settings_size(t)};
  uint8_t *settings = omen__malloc(m, x.size);
  if (c->text)
    rc = omen__fail(c->db, OMEN_EXISTS, "collection '%s' has a text index already",
                    c->name);
  else if (!settings)
    rc = text_failed(c, OMEN_NOMEM);
  else if ((rc = index_all(c, t)))
    rc = text_failed(c, rc);
  if (!rc && log) {
    omen__text_settings_write(t, settings);
    x.settings = settings;
    rc = omen__wal_append(c->db, OMEN__LOG_TEXT_INDEX, emit_text_index, &x);
  }
  if (!rc) {
    c->text = t;
    c->version++;
    atomic_store(&c->db->dirty, 1);
  }
  pthread_rwlock_unlock(&c->rw);
  omen__free(m, settings, x.size);
  return rc;
}

int omen_text_index(omen_coll *c, const omen_text_config *cfg)
{
  if (!c) return OMEN_INVALID;
  if (!cfg) return omen__missing(c->db, "cfg");
  char err[128];
  int rc = omen__check_writable(c->db);
  if (rc) return rc;
  if (omen__text_check(cfg, err, sizeof err))
    return omen__fail(c->db, OMEN_INVALID, "%s", err);
  omen__text *t;
  if ((rc = omen__text_new(&c->db->mem, cfg, 0, &t)))
    return rc == OMEN_NOMEM ? omen__fail(c->db, rc, "out of memory")
                            : omen__fail(c->db, rc, "%s", omen__text_error());
  omen__registry_bind(c->db, t);
  if (t->custom[0] && !t->custom_fn)
    rc = omen__fail(c->db, OMEN_INVALID, "tokenizer '%s' is not registered with this "
                    "database (omen_tokenizer_register)", t->custom);
  else
    rc = omen__write_text_index(c, t, omen__wal_active(c->db));
  if (rc) omen__text_free(&c->db->mem, t);
  return written(c, rc);
}
