/*
** Storage: the database file. A checkpoint writes the whole database to a
** side file ("<path>-tmp"), syncs it and renames it over the old one, so the
** file on disk always holds one complete checkpoint. Loading checks every
** checksum, length, offset and cross-reference before any of it is used.
**
** Layout (native byte order; a marker in the header refuses other orders):
**   0      header, HEADER_SIZE bytes (fields below, then a CRC of them)
**   4096   per collection, its sections, each 64-byte aligned:
**          vectors, inverse norms (cosine), slot states, free slots,
**          level-0 links, levels, upper-block index, upper links,
**          record references, record heap, key names, key index
**   ...    the catalog: per collection its name, configuration, counters
**          and the offset, length and CRC-32C of each section
**
** The arrays are stored exactly as they live in memory, so a later version
** can map them instead of reading them.
**
** The writer lock is a flock() on the file. Readers take no lock: a
** checkpoint never changes a file in place, it replaces it.
*/
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "omen_int.h"

#define MAGIC "\x89OMEN\r\n\x1a"
#define FORMAT_VERSION 1u
#define ORDER_MARK 0x01020304u
#define HEADER_SIZE 4096u
#define HEADER_USED 64u
#define ALIGN 64u

enum {
  S_VECS, S_INVNORM, S_STATE, S_FREE, S_LINKS0, S_LEVEL, S_UPPER_AT, S_UPPER,
  S_REFS, S_HEAP, S_KEYNAMES, S_KEYINDEX, N_SECTIONS
};

typedef struct section {
  uint64_t off, len;
  uint32_t crc;
} section;

/* -- Little helpers ---------------------------------------------------------- */

static int io_fail(omen_db *db, const char *what)
{
  return omen__fail(db, OMEN_IOERR, "cannot %s '%s': %s", what, db->path,
                    strerror(errno));
}

static int damaged(omen_db *db, const char *why)
{
  return omen__fail(db, OMEN_CORRUPT, "database file '%s' is damaged: %s",
                    db->path, why);
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* -- Writing ---------------------------------------------------------------- */

typedef struct writer {
  int fd;
  int err;          /* errno of the first failure */
  uint64_t off;     /* bytes written so far */
  uint32_t crc;     /* of the current section */
  size_t n;
  unsigned char buf[1 << 16];
} writer;

static void w_flush(writer *w)
{
  for (size_t at = 0; at < w->n && !w->err;) {
    ssize_t k = write(w->fd, w->buf + at, w->n - at);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) w->err = k < 0 ? errno : EIO;
    else at += (size_t)k;
  }
  w->n = 0;
}

static void w_raw(writer *w, const void *p, size_t n)
{
  const unsigned char *s = p;
  while (n) {
    if (w->n == sizeof w->buf) w_flush(w);
    size_t k = sizeof w->buf - w->n < n ? sizeof w->buf - w->n : n;
    memcpy(w->buf + w->n, s, k);
    w->n += k;
    w->off += k;
    s += k;
    n -= k;
  }
}

static void w_bytes(writer *w, const void *p, size_t n)
{
  w->crc = omen__crc32c(w->crc, p, n);
  w_raw(w, p, n);
}

static void w_pad(writer *w)
{
  static const unsigned char zeros[ALIGN];
  if (w->off % ALIGN) w_raw(w, zeros, ALIGN - w->off % ALIGN);
}

static void w_begin(writer *w, section *s)
{
  w_pad(w);
  s->off = w->off;
  w->crc = 0;
}

static void w_end(writer *w, section *s)
{
  s->len = w->off - s->off;
  s->crc = w->crc;
}

static void w_section(writer *w, section *s, const void *p, size_t n)
{
  w_begin(w, s);
  if (n) w_bytes(w, p, n);
  w_end(w, s);
}

/* The catalog is built in memory: a few hundred bytes per collection. */
typedef struct bytes {
  const omen__mem *mem;
  unsigned char *p;
  size_t n, cap;
  int nomem;
} bytes;

static void b_put(bytes *b, const void *p, size_t n)
{
  if (b->nomem) return;
  if (b->n + n > b->cap) {
    size_t cap = omen__grow_cap(b->cap, b->n + n, 256);
    unsigned char *q = omen__realloc(b->mem, b->p, b->cap, cap);
    if (!q) {
      b->nomem = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void b_u32(bytes *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(bytes *b, uint64_t v) { b_put(b, &v, 8); }

/* Records are written compacted: references first (with their new offsets),
** then the live bytes in the same order. */
static uint64_t write_records(writer *w, const omen_coll *c, section *refs,
                              section *heap)
{
  const omen__recref *r = c->recs.refs.p;
  uint64_t at = 0;
  w_begin(w, refs);
  for (uint32_t s = 0; s < c->n_slots; s++) {
    omen__recref out = {r[s].id_len ? at : 0, r[s].id_len, r[s].meta_len};
    at += (uint64_t)r[s].id_len + r[s].meta_len;
    w_bytes(w, &out, sizeof out);
  }
  w_end(w, refs);
  w_begin(w, heap);
  for (uint32_t s = 0; s < c->n_slots; s++)
    if (r[s].id_len)
      w_bytes(w, (const unsigned char *)c->recs.heap.p + r[s].off,
              (size_t)r[s].id_len + r[s].meta_len);
  w_end(w, heap);
  return at;
}

static void write_coll(writer *w, bytes *cat, const omen_coll *c)
{
  section s[N_SECTIONS];
  size_t n = c->n_slots, row = (1 + (size_t)c->graph.m0) * sizeof(uint32_t);
  const omen__graph *g = &c->graph;
  w_section(w, &s[S_VECS], c->vecs.p, n * c->stride * sizeof(float));
  w_section(w, &s[S_INVNORM], c->inv_norm.p,
            c->cfg.metric == OMEN_COSINE ? n * sizeof(float) : 0);
  w_section(w, &s[S_STATE], c->state.p, n);
  w_section(w, &s[S_FREE], c->free_slots.p, c->n_free * sizeof(uint32_t));
  w_section(w, &s[S_LINKS0], g->links0.p, n * row);
  w_section(w, &s[S_LEVEL], g->level.p, n);
  w_section(w, &s[S_UPPER_AT], g->upper_at.p, n * sizeof(uint32_t));
  w_section(w, &s[S_UPPER], g->upper.p,
            (size_t)g->upper_blocks * (1 + g->m) * sizeof(uint32_t));
  uint64_t heap = write_records(w, c, &s[S_REFS], &s[S_HEAP]);
  w_section(w, &s[S_KEYNAMES], c->keys.names.p, (size_t)c->keys.names_used);
  w_section(w, &s[S_KEYINDEX], c->keys.index.p, c->keys.n * sizeof(uint64_t));

  b_u32(cat, (uint32_t)c->name_len);
  b_put(cat, c->name, c->name_len);
  uint32_t cfg[] = {c->cfg.dim, (uint32_t)c->cfg.metric, c->cfg.m,
                    c->cfg.ef_construction, c->cfg.ef_search,
                    c->n_slots, c->n_free, g->entry, g->max_level, c->keys.n};
  for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) b_u32(cat, cfg[i]);
  b_u64(cat, g->seed);
  b_u64(cat, c->ids.seed);
  b_u64(cat, g->upper_blocks);
  b_u64(cat, heap);
  b_u64(cat, c->keys.names_used);
  for (int i = 0; i < N_SECTIONS; i++) {
    b_u64(cat, s[i].off);
    b_u64(cat, s[i].len);
    b_u32(cat, s[i].crc);
  }
}

static void encode_header(unsigned char *h, uint64_t file_size,
                          const section *cat, uint32_t n_colls)
{
  memset(h, 0, HEADER_USED);
  memcpy(h, MAGIC, 8);
  put32(h + 8, FORMAT_VERSION);
  put32(h + 12, ORDER_MARK);
  put64(h + 16, file_size);
  put64(h + 24, cat->off);
  put64(h + 32, cat->len);
  put32(h + 40, cat->crc);
  put32(h + 44, n_colls);
  put32(h + HEADER_USED - 4, omen__crc32c(0, h, HEADER_USED - 4));
}

static int sync_dir(const char *path)
{
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash) strcpy(dir, ".");
  else if (slash == path) strcpy(dir, "/");
  else if ((size_t)(slash - path) < sizeof dir) {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = 0;
  } else return -1;
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Write everything to fd; returns OMEN_OK or sets errno / OMEN_NOMEM. */
static int write_all(omen_db *db, writer *w)
{
  unsigned char header[HEADER_SIZE] = {0};
  bytes cat = {&db->mem, NULL, 0, 0, 0};
  w_raw(w, header, HEADER_SIZE);
  for (size_t i = 0; i < db->n_colls; i++) {
    omen_coll *c = db->colls[i];
    pthread_rwlock_rdlock(&c->rw); /* searches go on; writers wait */
    write_coll(w, &cat, c);
    pthread_rwlock_unlock(&c->rw);
  }
  section cs;
  w_section(w, &cs, cat.p, cat.n);
  omen__free(&db->mem, cat.p, cat.cap);
  if (cat.nomem) return OMEN_NOMEM;
  w_flush(w);
  encode_header(header, w->off, &cs, (uint32_t)db->n_colls);
  if (!w->err && pwrite(w->fd, header, HEADER_SIZE, 0) != HEADER_SIZE)
    w->err = errno ? errno : EIO;
  if (!w->err && fsync(w->fd)) w->err = errno;
  return OMEN_OK;
}

int omen__storage_save(omen_db *db)
{
  size_t len = strlen(db->path);
  char *tmp = omen__malloc(&db->mem, len + 5);
  writer *w = omen__malloc(&db->mem, sizeof *w);
  int rc = OMEN_OK;
  if (!tmp || !w) {
    rc = omen__fail(db, OMEN_NOMEM, "out of memory");
    goto done;
  }
  memcpy(tmp, db->path, len);
  memcpy(tmp + len, "-tmp", 5);
  w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) {
    rc = io_fail(db, "write a checkpoint beside");
    goto done;
  }
  w->err = 0;
  w->off = 0;
  w->n = 0;
  /* Lock the new file before it takes the name, so no writer slips in. */
  if (flock(w->fd, LOCK_EX | LOCK_NB)) w->err = errno;
  if (!w->err && (rc = write_all(db, w)))
    omen__fail(db, rc, "out of memory");
  if (!rc && !w->err && rename(tmp, db->path)) w->err = errno;
  if (rc || w->err) {
    if (!rc) {
      errno = w->err;
      rc = io_fail(db, "write a checkpoint of");
    }
    close(w->fd);
    unlink(tmp);
    goto done;
  }
  sync_dir(db->path); /* best effort: the data itself is already synced */
  if (db->lock_fd >= 0) close(db->lock_fd);
  db->lock_fd = w->fd;
done:
  if (tmp) omen__free(&db->mem, tmp, len + 5);
  if (w) omen__free(&db->mem, w, sizeof *w);
  return rc;
}

/* -- Reading ---------------------------------------------------------------- */

typedef struct reader {
  omen_db *db;
  int fd;
  uint64_t size;
} reader;

/* A cursor over the catalog bytes. */
typedef struct cursor {
  const unsigned char *p, *end;
  int short_read;
} cursor;

static const unsigned char *c_take(cursor *c, size_t n)
{
  if ((size_t)(c->end - c->p) < n) {
    c->short_read = 1;
    return NULL;
  }
  const unsigned char *p = c->p;
  c->p += n;
  return p;
}

static uint32_t c_u32(cursor *c)
{
  const unsigned char *p = c_take(c, 4);
  return p ? get32(p) : 0;
}

static uint64_t c_u64(cursor *c)
{
  const unsigned char *p = c_take(c, 8);
  return p ? get64(p) : 0;
}

static int read_at(reader *r, void *dst, uint64_t off, size_t n)
{
  unsigned char *p = dst;
  while (n) {
    ssize_t k = pread(r->fd, p, n, (off_t)off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return io_fail(r->db, "read");
    if (k == 0) return damaged(r->db, "file ends early");
    p += k;
    off += (uint64_t)k;
    n -= (size_t)k;
  }
  return OMEN_OK;
}

/* Read a section whose length must be exactly `len` into dst. */
static int read_section(reader *r, const section *s, uint64_t len, void *dst,
                        const char *name)
{
  char why[96];
  if (s->len != len || s->off % ALIGN || s->off < HEADER_SIZE ||
      s->off > r->size || s->len > r->size - s->off) {
    snprintf(why, sizeof why, "section '%s' has a bad size or place", name);
    return damaged(r->db, why);
  }
  int rc = len ? read_at(r, dst, s->off, (size_t)len) : OMEN_OK;
  if (rc) return rc;
  if (omen__crc32c(0, dst, (size_t)len) != s->crc) {
    snprintf(why, sizeof why, "checksum mismatch in section '%s'", name);
    return damaged(r->db, why);
  }
  return OMEN_OK;
}

typedef struct coll_head {
  omen_coll_config cfg;
  uint32_t n_slots, n_free, entry, max_level, n_keys;
  uint64_t graph_seed, ids_seed, upper_blocks, heap, key_names;
  section s[N_SECTIONS];
} coll_head;

static int parse_head(cursor *cur, coll_head *h, char *name, size_t *name_len)
{
  *name_len = c_u32(cur);
  const unsigned char *p = *name_len <= OMEN_MAX_NAME ? c_take(cur, *name_len) : NULL;
  if (!p || *name_len == 0 || memchr(p, 0, *name_len)) return OMEN_CORRUPT;
  memcpy(name, p, *name_len);
  name[*name_len] = 0;
  h->cfg.dim = c_u32(cur);
  h->cfg.metric = (omen_metric)c_u32(cur);
  h->cfg.m = c_u32(cur);
  h->cfg.ef_construction = c_u32(cur);
  h->cfg.ef_search = c_u32(cur);
  h->n_slots = c_u32(cur);
  h->n_free = c_u32(cur);
  h->entry = c_u32(cur);
  h->max_level = c_u32(cur);
  h->n_keys = c_u32(cur);
  h->graph_seed = c_u64(cur);
  h->ids_seed = c_u64(cur);
  h->upper_blocks = c_u64(cur);
  h->heap = c_u64(cur);
  h->key_names = c_u64(cur);
  for (int i = 0; i < N_SECTIONS; i++) {
    h->s[i].off = c_u64(cur);
    h->s[i].len = c_u64(cur);
    h->s[i].crc = c_u32(cur);
  }
  return cur->short_read ? OMEN_CORRUPT : OMEN_OK;
}

/* Counts that bound every allocation: nothing may claim more than the file
** could hold. */
static int check_counts(reader *r, const coll_head *h)
{
  if (h->n_slots > UINT32_MAX - 1 || h->n_free > h->n_slots ||
      h->n_keys > OMEN__MAX_KEYS || h->max_level > OMEN__MAX_LEVEL ||
      h->upper_blocks >= UINT32_MAX ||
      h->heap > r->size || h->key_names > r->size ||
      (uint64_t)h->n_slots > r->size || h->upper_blocks > r->size)
    return damaged(r->db, "collection counters out of range");
  if (h->n_slots == 0 ? h->entry != OMEN__NO_SLOT
                      : (h->entry != OMEN__NO_SLOT && h->entry >= h->n_slots))
    return damaged(r->db, "bad graph entry point");
  return OMEN_OK;
}

static int load_sections(reader *r, omen_coll *c, const coll_head *h)
{
  const omen__mem *m = &c->db->mem;
  omen__graph *g = &c->graph;
  uint64_t n = h->n_slots, row = (1 + (uint64_t)g->m0) * 4;
  uint64_t block = (1 + (uint64_t)g->m) * 4;
  int rc;
  if ((rc = omen__coll_reserve(c, h->n_slots)) ||
      (rc = omen__buf_reserve(m, &c->free_slots, h->n_free * 4u + 4, 0)) ||
      (rc = omen__buf_reserve(m, &g->upper, (size_t)(h->upper_blocks * block), 0)) ||
      (rc = omen__buf_reserve(m, &c->recs.heap, (size_t)h->heap + 1, 0)) ||
      (rc = omen__buf_reserve(m, &c->keys.names, (size_t)h->key_names + 1, 0)) ||
      (rc = omen__buf_reserve(m, &c->keys.index, h->n_keys * 8u + 8, 0)))
    return omen__fail(c->db, rc, "out of memory loading '%s'", c->name);
  int cosine = c->cfg.metric == OMEN_COSINE;
  if ((rc = read_section(r, &h->s[S_VECS], n * c->stride * 4, c->vecs.p, "vectors")) ||
      (rc = read_section(r, &h->s[S_INVNORM], cosine ? n * 4 : 0, c->inv_norm.p, "norms")) ||
      (rc = read_section(r, &h->s[S_STATE], n, c->state.p, "states")) ||
      (rc = read_section(r, &h->s[S_FREE], h->n_free * 4u, c->free_slots.p, "free slots")) ||
      (rc = read_section(r, &h->s[S_LINKS0], n * row, g->links0.p, "links")) ||
      (rc = read_section(r, &h->s[S_LEVEL], n, g->level.p, "levels")) ||
      (rc = read_section(r, &h->s[S_UPPER_AT], n * 4, g->upper_at.p, "upper index")) ||
      (rc = read_section(r, &h->s[S_UPPER], h->upper_blocks * block, g->upper.p, "upper links")) ||
      (rc = read_section(r, &h->s[S_REFS], n * sizeof(omen__recref), c->recs.refs.p, "records")) ||
      (rc = read_section(r, &h->s[S_HEAP], h->heap, c->recs.heap.p, "record heap")) ||
      (rc = read_section(r, &h->s[S_KEYNAMES], h->key_names, c->keys.names.p, "key names")) ||
      (rc = read_section(r, &h->s[S_KEYINDEX], h->n_keys * 8u, c->keys.index.p, "key index")))
    return rc;
  c->n_slots = h->n_slots;
  c->n_free = h->n_free;
  g->upper_blocks = h->upper_blocks;
  g->entry = h->entry;
  g->max_level = h->max_level;
  c->recs.used = h->heap;
  c->keys.names_used = h->key_names;
  c->keys.n = h->n_keys;
  return OMEN_OK;
}

/* -- Validation of what was read -------------------------------------------- */

static int check_slots(omen_coll *c)
{
  uint8_t *state = c->state.p;
  uint32_t *free_slots = c->free_slots.p, deleted = 0;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    if (state[s] != OMEN__SLOT_LIVE && state[s] != OMEN__SLOT_DELETED)
      return damaged(c->db, "bad slot state");
    deleted += state[s] == OMEN__SLOT_DELETED;
  }
  if (deleted != c->n_free) return damaged(c->db, "free list does not match");
  int rc = OMEN_OK;
  for (uint32_t i = 0; i < c->n_free && !rc; i++) { /* mark to catch repeats */
    uint32_t s = free_slots[i];
    if (s >= c->n_slots || state[s] != OMEN__SLOT_DELETED) rc = OMEN_CORRUPT;
    else state[s] = 0;
  }
  for (uint32_t s = 0; s < c->n_slots; s++)
    if (!state[s]) state[s] = OMEN__SLOT_DELETED;
  return rc ? damaged(c->db, "bad free list") : OMEN_OK;
}

static int check_vectors(omen_coll *c)
{
  float *v = c->vecs.p;
  const float *inv = c->inv_norm.p;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    float *row = v + (size_t)s * c->stride;
    for (uint32_t i = 0; i < c->cfg.dim; i++)
      if (!isfinite(row[i])) return damaged(c->db, "vector is not finite");
    for (uint32_t i = c->cfg.dim; i < c->stride; i++)
      if (row[i] != 0.0f) return damaged(c->db, "vector padding is not zero");
    if (inv && !(isfinite(inv[s]) && inv[s] > 0))
      return damaged(c->db, "bad vector norm");
  }
  return OMEN_OK;
}

static int check_graph(omen_coll *c)
{
  const omen__graph *g = &c->graph;
  const uint8_t *level = g->level.p;
  const uint32_t *upper_at = g->upper_at.p;
  uint64_t next_block = 0;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    /* Levels are a function of the slot and blocks are handed out in slot
    ** order, so both are known exactly. */
    if (level[s] != omen__graph_level_of(g, s) ||
        upper_at[s] != (level[s] ? next_block + 1 : 0))
      return damaged(c->db, "bad graph levels");
    next_block += level[s];
  }
  if (next_block != g->upper_blocks) return damaged(c->db, "bad graph levels");
  for (uint32_t s = 0; s < c->n_slots; s++)
    for (uint32_t l = 0; l <= level[s]; l++) {
      const uint32_t *list = omen__links(g, s, l);
      if (list[0] > (l ? g->m : g->m0)) return damaged(c->db, "bad link count");
      for (uint32_t i = 1; i <= list[0]; i++)
        if (list[i] >= c->n_slots || level[list[i]] < l)
          return damaged(c->db, "bad link");
    }
  if (g->entry != OMEN__NO_SLOT && g->max_level != level[g->entry])
    return damaged(c->db, "bad graph entry point");
  if (c->n_slots) memset(g->locks.p, 0, c->n_slots);
  omen__graph_count_indeg(&c->graph, c->n_slots);
  return OMEN_OK;
}

static int check_keys(omen_coll *c)
{
  omen__keys *k = &c->keys;
  const uint64_t *index = k->index.p;
  uint32_t n = k->n;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t off = index[i] >> 8, len = index[i] & 0xff;
    if (len == 0 || off > k->names_used || len > k->names_used - off)
      return damaged(c->db, "bad metadata key");
  }
  int rc = omen__keys_rehash(&c->db->mem, k);
  if (rc == OMEN_CORRUPT) return damaged(c->db, "repeated metadata key");
  if (rc) return omen__fail(c->db, rc, "out of memory loading '%s'", c->name);
  return OMEN_OK;
}

static int check_records(omen_coll *c)
{
  const omen__recref *refs = c->recs.refs.p;
  const uint8_t *state = c->state.p;
  const unsigned char *heap = c->recs.heap.p;
  uint64_t used = c->recs.used;
  int rc = omen__idmap_reserve(&c->db->mem, &c->ids, c->n_slots - c->n_free);
  if (rc) return omen__fail(c->db, rc, "out of memory loading '%s'", c->name);
  for (uint32_t s = 0; s < c->n_slots; s++) {
    const omen__recref *r = &refs[s];
    uint64_t len = (uint64_t)r->id_len + r->meta_len;
    if (state[s] == OMEN__SLOT_DELETED) {
      if (r->id_len || r->meta_len) return damaged(c->db, "deleted slot has a record");
      continue;
    }
    if (r->id_len < 1 || r->id_len > OMEN_MAX_ID || r->meta_len > OMEN_MAX_META ||
        r->off > used || len > used - r->off)
      return damaged(c->db, "bad record reference");
    if (omen__meta_validate(heap + r->off + r->id_len, r->meta_len, c->keys.n))
      return damaged(c->db, "bad metadata");
    const char *id = (const char *)heap + r->off;
    uint32_t hash = omen__idmap_hash(&c->ids, id, r->id_len);
    if (omen__idmap_find(&c->ids, &c->recs, id, r->id_len, hash) != OMEN__NO_SLOT)
      return damaged(c->db, "repeated id");
    omen__idmap_insert(&c->ids, hash, s);
  }
  return OMEN_OK;
}

static int load_coll(reader *r, cursor *cur)
{
  omen_db *db = r->db;
  coll_head h;
  char name[OMEN_MAX_NAME + 1];
  size_t name_len;
  if (parse_head(cur, &h, name, &name_len)) return damaged(db, "bad catalog");
  if (omen__coll_check_config(db, &h.cfg)) return damaged(db, "bad collection settings");
  int rc = check_counts(r, &h);
  if (rc) return rc;
  omen_coll *c;
  if ((rc = omen__coll_new(db, name, name_len, &h.cfg, &c)))
    return omen__fail(db, rc, "cannot load collection '%s'", name);
  c->graph.seed = h.graph_seed;
  c->ids.seed = h.ids_seed;
  if ((rc = load_sections(r, c, &h)) || (rc = check_slots(c)) ||
      (rc = check_vectors(c)) || (rc = check_graph(c)) ||
      (rc = check_keys(c)) || (rc = check_records(c))) {
    omen__coll_free_shell(c);
    return rc;
  }
  if ((rc = omen__catalog_add(db, c))) {
    omen__coll_free_shell(c);
    return rc == OMEN_EXISTS ? damaged(db, "repeated collection name")
                             : omen__fail(db, rc, "out of memory");
  }
  return OMEN_OK;
}

static int load_header(reader *r, section *cat, uint32_t *n_colls)
{
  unsigned char h[HEADER_USED];
  int rc = r->size < 8 ? OMEN_NOTOMEN : read_at(r, h, 0, 8);
  if (rc && rc != OMEN_NOTOMEN) return rc;
  if (rc || memcmp(h, MAGIC, 8))
    return omen__fail(r->db, OMEN_NOTOMEN, "'%s' is not an omen database",
                      r->db->path);
  if (r->size < HEADER_SIZE) return damaged(r->db, "file is truncated");
  if ((rc = read_at(r, h, 0, HEADER_USED))) return rc;
  uint32_t version = get32(h + 8);
  if (get32(h + 12) != ORDER_MARK) {
    if (version == FORMAT_VERSION || get32(h + 12) == 0x04030201u)
      return omen__fail(r->db, OMEN_FORMAT,
                        "'%s' was written on a machine of the other byte order",
                        r->db->path);
  }
  if (get32(h + HEADER_USED - 4) != omen__crc32c(0, h, HEADER_USED - 4))
    return damaged(r->db, "header checksum mismatch");
  if (version != FORMAT_VERSION)
    return omen__fail(r->db, OMEN_FORMAT,
                      "'%s' has format version %u; this omen reads version %u",
                      r->db->path, version, FORMAT_VERSION);
  if (get64(h + 16) != r->size)
    return damaged(r->db, r->size < get64(h + 16) ? "file is truncated"
                                                  : "file has trailing bytes");
  cat->off = get64(h + 24);
  cat->len = get64(h + 32);
  cat->crc = get32(h + 40);
  *n_colls = get32(h + 44);
  if (cat->off < HEADER_SIZE || cat->off > r->size ||
      cat->len > r->size - cat->off || *n_colls > cat->len)
    return damaged(r->db, "bad catalog place");
  return OMEN_OK;
}

static int load_file(reader *r)
{
  section cs;
  uint32_t n_colls = 0;
  int rc = load_header(r, &cs, &n_colls);
  if (rc) return rc;
  unsigned char *cat = omen__malloc(&r->db->mem, (size_t)cs.len + 1);
  if (!cat) return omen__fail(r->db, OMEN_NOMEM, "out of memory");
  rc = read_section(r, &cs, cs.len, cat, "catalog");
  cursor cur = {cat, cat + cs.len, 0};
  for (uint32_t i = 0; i < n_colls && !rc; i++) rc = load_coll(r, &cur);
  if (!rc && cur.p != cur.end) rc = damaged(r->db, "catalog has trailing bytes");
  omen__free(&r->db->mem, cat, (size_t)cs.len + 1);
  return rc;
}

/* Open path and, for a writer, take its lock. A checkpoint of another
** process may rename a new file over the one just opened; then the lock
** would guard a dead file, so check and retry. */
static int open_locked(omen_db *db, int *fd_out, uint64_t *size)
{
  int readonly = db->flags & OMEN_OPEN_READONLY;
  for (int attempt = 0; attempt < 16; attempt++) {
    int fd = open(db->path, readonly ? O_RDONLY | O_CLOEXEC
                                     : O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail(db, "open");
    if (!readonly && flock(fd, LOCK_EX | LOCK_NB)) {
      int err = errno;
      close(fd);
      if (err == EWOULDBLOCK)
        return omen__fail(db, OMEN_LOCKED, "database is locked: '%s' is open "
                          "for writing elsewhere", db->path);
      errno = err;
      return io_fail(db, "lock");
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(db->path, &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev) {
      if (!S_ISREG(a.st_mode)) {
        close(fd);
        return omen__fail(db, OMEN_IOERR, "'%s' is not a regular file", db->path);
      }
      *fd_out = fd;
      *size = (uint64_t)a.st_size;
      return OMEN_OK;
    }
    close(fd);
  }
  return omen__fail(db, OMEN_IOERR, "cannot open '%s': it keeps being replaced",
                    db->path);
}

int omen__storage_load(omen_db *db)
{
  reader r = {db, -1, 0};
  int rc = open_locked(db, &r.fd, &r.size);
  if (rc) return rc;
  if (r.size > 0) rc = load_file(&r); /* an empty file is a new database */
  if (rc || (db->flags & OMEN_OPEN_READONLY)) close(r.fd);
  else db->lock_fd = r.fd;
  return rc;
}
