/*
** Storage: the database file. A checkpoint writes the whole database to a
** side file ("<path>-tmp"), syncs it, and renames it over the old one, so
** the file always holds one complete checkpoint. Opening maps the file and
** uses its arrays where they lie: nothing is rebuilt, and the bulk (vectors
** and level-0 links) is not even read until a search touches it.
**
** Layout (native byte order; a marker in the header refuses other orders):
**   0      header, HEADER_SIZE bytes: magic, version, byte-order mark, file
**          size, catalog place and CRC, collection count, checkpoint
**          generation, the file's random id, then a CRC of them
**   4096   per collection, its arrays exactly as in memory, each 64-byte
**          aligned (see `enum sections`)
**   ...    the catalog: per collection its name, configuration, counters
**          and the offset, length and CRC-32C of each array
**
** Every array but the bulk is checked when the file is opened: its CRC, and
** every count, offset and reference against the others. The bulk carries a
** CRC per run of OMEN__CHUNK slots, checked on first use (search.c) and in
** full before the first write to the collection.
**
** The writer lock is a flock() on the file. Readers take no lock: a
** checkpoint never changes a file in place, it replaces it.
**
** Calls: coll and catalog (attaching what it loads), codes (their
** parameters), sys, crc32c, mem.
*/
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "coll.h"
#include "crc32c.h"
#include "cursor.h"
#include "storage.h"
#include "sys.h"

#define MAGIC "\x89OMEN\r\n\x1a"
#define FORMAT_VERSION 4u /* 2 added the quantization; 3 free slots, apart
                             from deleted ones still in the graph; 4 the
                             text index */
#define OLDEST_VERSION 1u
#define ORDER_MARK 0x01020304u
#define HEADER_SIZE 4096u
#define HEADER_USED 128u
#define ALIGN 64u

enum sections {
  S_VECS,     /* stride floats per slot (checked by chunk) */
  S_INVNORM,  /* float per slot, cosine only */
  S_STATE,    /* byte per slot */
  S_FREE,     /* uint32 per free slot */
  S_LINKS0,   /* (1 + m0) uint32 per slot (checked by chunk) */
  S_LEVEL,    /* byte per slot */
  S_UPPER_AT, /* uint32 per slot */
  S_UPPER,    /* upper-level blocks */
  S_INDEG,    /* uint32 per slot */
  S_REFS,     /* record reference per slot */
  S_HEAP,     /* ids and encoded metadata */
  S_KEYNAMES, /* metadata key names */
  S_KEYINDEX, /* uint64 per key */
  S_IDMAP,    /* the id map's table */
  S_CHUNKS,   /* two CRCs per chunk: its vectors, its level-0 links */
  S_QUANT,    /* the code kind's parameters, once fitted (its own layout) */
  S_TNAMES,   /* text index: the terms, back to back */
  S_TINDEX,   /* uint64 per term: offset << 8 | length */
  S_TPOST,    /* uint64 per term: its list's offset in the postings */
  S_TCOUNT,   /* uint32 per term: postings in its list */
  S_TDF,      /* uint32 per term: documents holding it */
  S_THEAP,    /* the encoded lists (postings.h) */
  S_TLEN,     /* uint32 per slot: document length and flag */
  N_SECTIONS
};
#define V1_SECTIONS S_QUANT
#define V3_SECTIONS S_TNAMES

static const char *const section_name[N_SECTIONS] = {
  "vectors", "norms", "states", "free slots", "links", "levels",
  "upper index", "upper links", "in-degrees", "records", "record heap",
  "key names", "key index", "id map", "chunk checksums", "quantizer",
  "text terms", "text term index", "text list places", "text list sizes",
  "text frequencies", "text postings", "text lengths"};

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

static uint32_t n_chunks(uint32_t n_slots)
{
  return (n_slots + OMEN__CHUNK - 1) / OMEN__CHUNK;
}

/* -- Writing ---------------------------------------------------------------- */

typedef struct file_writer {
  int fd;
  int err;          /* errno of the first failure */
  uint64_t off;     /* bytes written so far */
  uint32_t crc;     /* of the current section */
  size_t n;
  unsigned char buf[1 << 16];
} file_writer;

static void w_flush(file_writer *w)
{
  for (size_t at = 0; at < w->n && !w->err;) {
    ssize_t k = write(w->fd, w->buf + at, w->n - at);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) w->err = k < 0 ? errno : EIO;
    else at += (size_t)k;
  }
  w->n = 0;
}

static void w_raw(file_writer *w, const void *p, size_t n)
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

static void w_bytes(file_writer *w, const void *p, size_t n)
{
  w->crc = omen__crc32c(w->crc, p, n);
  w_raw(w, p, n);
}

static void w_begin(file_writer *w, section *s)
{
  static const unsigned char zeros[ALIGN];
  if (w->off % ALIGN) w_raw(w, zeros, ALIGN - w->off % ALIGN);
  s->off = w->off;
  w->crc = 0;
}

static void w_end(file_writer *w, section *s)
{
  s->len = w->off - s->off;
  s->crc = w->crc;
}

static void w_section(file_writer *w, section *s, const void *p, size_t n)
{
  w_begin(w, s);
  if (n) w_bytes(w, p, n);
  w_end(w, s);
}

/* A bulk array: checksummed per chunk of slots instead of as a whole. */
static void w_chunked(file_writer *w, section *s, const void *base, size_t row,
                      uint32_t n_slots, uint32_t *crc)
{
  w_begin(w, s);
  for (uint32_t c = 0; c < n_chunks(n_slots); c++) {
    uint32_t first = c * OMEN__CHUNK;
    uint32_t rows = n_slots - first < OMEN__CHUNK ? n_slots - first : OMEN__CHUNK;
    const unsigned char *p = (const unsigned char *)base + first * row;
    crc[2 * c] = omen__crc32c(0, p, rows * row);
    w_raw(w, p, rows * row);
  }
  w_end(w, s);
  s->crc = 0;
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
static uint64_t write_records(file_writer *w, const omen_coll *c, section *refs,
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

static void catalog_entry(bytes *cat, const omen_coll *c, uint64_t heap,
                          const section *s)
{
  const omen__graph *g = &c->graph;
  b_u32(cat, (uint32_t)c->name_len);
  b_put(cat, c->name, c->name_len);
  uint32_t u32s[] = {c->cfg.dim, (uint32_t)c->cfg.metric, c->cfg.m,
                     c->cfg.ef_construction, c->cfg.ef_search,
                     (uint32_t)c->cfg.quantization, c->n_slots, c->n_free, g->entry,
                     g->max_level, c->keys.n};
  for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) b_u32(cat, u32s[i]);
  uint64_t u64s[] = {g->seed, c->ids.seed, g->upper_blocks, heap,
                     c->keys.names_used, c->ids.mask ? c->ids.mask + 1 : 0,
                     c->ids.removed};
  for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++) b_u64(cat, u64s[i]);
  for (int i = 0; i < N_SECTIONS; i++) {
    b_u64(cat, s[i].off);
    b_u64(cat, s[i].len);
    b_u32(cat, s[i].crc);
  }
}

/* The text index's arrays (empty without one). */
static void w_text(file_writer *w, section *s, const omen__text_image *img)
{
  uint64_t n = img->n_terms;
  w_section(w, &s[S_TNAMES], img->names, (size_t)img->names_used);
  w_section(w, &s[S_TINDEX], img->index, (size_t)n * 8);
  w_section(w, &s[S_TPOST], img->post, (size_t)n * 8);
  w_section(w, &s[S_TCOUNT], img->count, (size_t)n * 4);
  w_section(w, &s[S_TDF], img->df, (size_t)n * 4);
  w_section(w, &s[S_THEAP], img->heap, (size_t)img->heap_used);
  w_section(w, &s[S_TLEN], img->len, (size_t)img->n_len * 4);
}

/* After a collection's entry: the size of its text settings (0: no
** index), the settings, and the counts of the image. */
static void catalog_text(bytes *cat, const omen__text *t, const omen__text_image *img,
                         const omen__mem *mem)
{
  size_t n = t ? omen__text_settings_size(t) : 0;
  b_u32(cat, (uint32_t)n);
  if (!t) return;
  uint8_t *p = omen__malloc(mem, n);
  if (!p) {
    cat->nomem = 1;
    return;
  }
  omen__text_settings_write(t, p);
  b_put(cat, p, n);
  omen__free(mem, p, n);
  uint64_t u64s[] = {img->n_docs, img->total_len, img->names_used, img->heap_used};
  for (size_t i = 0; i < 4; i++) b_u64(cat, u64s[i]);
  b_u32(cat, img->n_terms);
  b_u32(cat, img->n_len);
}

/* The code kind's parameters (none for some kinds, or before a fit). */
static int w_quantizer(file_writer *w, section *s, const omen_coll *c, const omen__mem *mem)
{
  const omen__codes *cs = &c->codes;
  size_t n = cs->kind->saved_bytes(cs);
  void *p = n ? omen__malloc(mem, n) : NULL;
  if (n && !p) return OMEN_NOMEM;
  if (n) cs->kind->save(cs, p);
  w_section(w, s, p, n);
  omen__free(mem, p, n);
  return OMEN_OK;
}

static int write_coll(file_writer *w, bytes *cat, const omen_coll *c,
                      const omen__mem *mem)
{
  section s[N_SECTIONS];
  size_t n = c->n_slots, u32 = sizeof(uint32_t);
  size_t row0 = (1 + (size_t)c->graph.m0) * u32;
  size_t crc_size = (size_t)n_chunks(c->n_slots) * 2 * u32;
  uint32_t *crc = omen__malloc(mem, crc_size ? crc_size : 1);
  if (!crc) return OMEN_NOMEM;
  const omen__graph *g = &c->graph;
  w_chunked(w, &s[S_VECS], c->vecs.p, c->stride * sizeof(float), c->n_slots, crc);
  w_section(w, &s[S_INVNORM], c->inv_norm.p,
            c->metric->normalised ? n * sizeof(float) : 0);
  w_section(w, &s[S_STATE], c->state.p, n);
  w_section(w, &s[S_FREE], c->free_slots.p, c->n_free * u32);
  w_chunked(w, &s[S_LINKS0], g->links0.p, row0, c->n_slots, crc + 1);
  w_section(w, &s[S_LEVEL], g->level.p, n);
  w_section(w, &s[S_UPPER_AT], g->upper_at.p, n * u32);
  w_section(w, &s[S_UPPER], g->upper.p, (size_t)g->upper_blocks * (1 + g->m) * u32);
  w_section(w, &s[S_INDEG], g->indeg.p, n * u32);
  uint64_t heap = write_records(w, c, &s[S_REFS], &s[S_HEAP]);
  w_section(w, &s[S_KEYNAMES], c->keys.names.p, (size_t)c->keys.names_used);
  w_section(w, &s[S_KEYINDEX], c->keys.index.p, c->keys.n * sizeof(uint64_t));
  w_section(w, &s[S_IDMAP], c->ids.tab.p,
            c->ids.mask ? (size_t)(c->ids.mask + 1) * sizeof(uint64_t) : 0);
  w_section(w, &s[S_CHUNKS], crc, crc_size);
  omen__free(mem, crc, crc_size ? crc_size : 1);
  if (w_quantizer(w, &s[S_QUANT], c, mem)) return OMEN_NOMEM;
  omen__text_image img;
  memset(&img, 0, sizeof img);
  if (c->text && omen__text_image_make(mem, c->text, c->n_slots, &img)) return OMEN_NOMEM;
  w_text(w, s, &img);
  catalog_entry(cat, c, heap, s);
  catalog_text(cat, c->text, &img, mem);
  omen__text_image_free(mem, &img);
  return cat->nomem ? OMEN_NOMEM : OMEN_OK;
}

static void encode_header(unsigned char *h, uint64_t file_size,
                          const section *cat, uint32_t n_colls,
                          uint64_t generation, uint64_t id)
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
  put64(h + 48, generation);
  put64(h + 56, id);
  put32(h + HEADER_USED - 4, omen__crc32c(0, h, HEADER_USED - 4));
}

/* Write everything to w; OMEN_OK, or OMEN_NOMEM, or w->err set. The caller
** holds every collection's lock for reading. */
static int write_all(omen_db *db, file_writer *w, uint64_t generation)
{
  unsigned char header[HEADER_SIZE] = {0};
  bytes cat = {&db->mem, NULL, 0, 0, 0};
  int rc = OMEN_OK;
  w_raw(w, header, HEADER_SIZE);
  for (size_t i = 0; i < db->n_colls && !rc; i++)
    rc = write_coll(w, &cat, db->colls[i], &db->mem);
  section cs;
  w_section(w, &cs, cat.p, cat.n);
  omen__free(&db->mem, cat.p, cat.cap);
  if (rc || cat.nomem) return OMEN_NOMEM;
  w_flush(w);
  encode_header(header, w->off, &cs, (uint32_t)db->n_colls, generation, db->id);
  if (!w->err && pwrite(w->fd, header, HEADER_SIZE, 0) != HEADER_SIZE)
    w->err = errno ? errno : EIO;
  if (!w->err && fsync(w->fd)) w->err = errno;
  return OMEN_OK;
}

int omen__storage_save(omen_db *db, uint64_t generation)
{
  size_t len = strlen(db->path);
  char *tmp = omen__malloc(&db->mem, len + 5);
  file_writer *w = omen__malloc(&db->mem, sizeof *w);
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
  /* Lock the new file before it takes the name, so no file_writer slips in. */
  if (flock(w->fd, LOCK_EX | LOCK_NB)) w->err = errno;
  if (!w->err && (rc = write_all(db, w, generation)))
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
  omen__sync_dir(db->path); /* best effort: the data itself is synced */
  if (db->lock_fd >= 0) close(db->lock_fd);
  db->lock_fd = w->fd;
  struct stat st;
  if (!fstat(w->fd, &st)) {
    db->file_dev = (uint64_t)st.st_dev;
    db->file_ino = (uint64_t)st.st_ino;
  }
  db->generation = generation;
done:
  if (tmp) omen__free(&db->mem, tmp, len + 5);
  if (w) omen__free(&db->mem, w, sizeof *w);
  return rc;
}

/* -- Reading ---------------------------------------------------------------- */

typedef struct loader {
  omen_db *db;
  unsigned char *map;
  uint64_t size;
  uint32_t version;       /* of the file's format */
} loader;

typedef struct coll_head {
  omen_coll_config cfg;
  uint32_t n_slots, n_free, entry, max_level, n_keys;
  uint64_t graph_seed, ids_seed, upper_blocks, heap, key_names, id_entries,
      id_removed;
  section s[N_SECTIONS];
  const unsigned char *text;  /* the text index's settings, or NULL */
  uint32_t text_size;
  omen__text_image img;       /* its counts (arrays attached later) */
} coll_head;

static int parse_head(const loader *L, omen__cursor *cur, coll_head *h,
                      char *name, size_t *name_len)
{
  *name_len = omen__take_u32(cur);
  const unsigned char *p = *name_len <= OMEN_MAX_NAME ? omen__take(cur, *name_len) : NULL;
  if (!p || *name_len == 0 || memchr(p, 0, *name_len)) return OMEN_CORRUPT;
  memcpy(name, p, *name_len);
  name[*name_len] = 0;
  h->cfg.dim = omen__take_u32(cur);
  h->cfg.metric = (omen_metric)omen__take_u32(cur);
  h->cfg.m = omen__take_u32(cur);
  h->cfg.ef_construction = omen__take_u32(cur);
  h->cfg.ef_search = omen__take_u32(cur);
  h->cfg.quantization = L->version >= 2 ? (omen_quant)omen__take_u32(cur)
                                        : OMEN_QUANT_NONE;
  h->n_slots = omen__take_u32(cur);
  h->n_free = omen__take_u32(cur);
  h->entry = omen__take_u32(cur);
  h->max_level = omen__take_u32(cur);
  h->n_keys = omen__take_u32(cur);
  h->graph_seed = omen__take_u64(cur);
  h->ids_seed = omen__take_u64(cur);
  h->upper_blocks = omen__take_u64(cur);
  h->heap = omen__take_u64(cur);
  h->key_names = omen__take_u64(cur);
  h->id_entries = omen__take_u64(cur);
  h->id_removed = omen__take_u64(cur);
  memset(h->s, 0, sizeof h->s);
  int n = L->version >= 4 ? N_SECTIONS : L->version >= 2 ? V3_SECTIONS : V1_SECTIONS;
  for (int i = 0; i < n; i++) {
    h->s[i].off = omen__take_u64(cur);
    h->s[i].len = omen__take_u64(cur);
    h->s[i].crc = omen__take_u32(cur);
  }
  memset(&h->img, 0, sizeof h->img);
  h->text = NULL;
  h->text_size = L->version >= 4 ? omen__take_u32(cur) : 0;
  if (h->text_size) {
    h->text = omen__take(cur, h->text_size);
    h->img.n_docs = omen__take_u64(cur);
    h->img.total_len = omen__take_u64(cur);
    h->img.names_used = omen__take_u64(cur);
    h->img.heap_used = omen__take_u64(cur);
    h->img.n_terms = omen__take_u32(cur);
    h->img.n_len = omen__take_u32(cur);
  }
  return cur->bad ? OMEN_CORRUPT : OMEN_OK;
}

/* Counts that bound every allocation: nothing may claim more than the file
** could hold. */
static int check_counts(loader *L, const coll_head *h)
{
  uint64_t e = h->id_entries;
  if (h->n_slots > UINT32_MAX - 1 || h->n_free > h->n_slots ||
      h->n_keys > OMEN__MAX_KEYS || h->max_level > OMEN__MAX_LEVEL ||
      h->upper_blocks >= UINT32_MAX || h->heap > L->size ||
      h->key_names > L->size || (uint64_t)h->n_slots > L->size ||
      h->upper_blocks > L->size || e > L->size || (e & (e - 1)) ||
      (e && e < 16) || (e == 0 && h->n_slots > h->n_free) ||
      h->id_removed > e)
    return damaged(L->db, "collection counters out of range");
  if (h->n_slots == 0 ? h->entry != OMEN__NO_SLOT
                      : (h->entry != OMEN__NO_SLOT && h->entry >= h->n_slots))
    return damaged(L->db, "bad graph entry point");
  return OMEN_OK;
}

/* Point b at section i, which must be exactly len bytes; its CRC is checked
** now unless the bulk is checked by chunk. */
static int attach(loader *L, const coll_head *h, int i, uint64_t len,
                  omen__buf *b)
{
  const section *s = &h->s[i];
  char why[96];
  if (s->len != len || s->off % ALIGN || s->off < HEADER_SIZE ||
      s->off > L->size || s->len > L->size - s->off) {
    snprintf(why, sizeof why, "array '%s' has a bad size or place", section_name[i]);
    return damaged(L->db, why);
  }
  if (i != S_VECS && i != S_LINKS0 &&
      !omen__crc_ok(s->crc, omen__crc32c(0, L->map + s->off, (size_t)len))) {
    snprintf(why, sizeof why, "checksum mismatch in '%s'", section_name[i]);
    return damaged(L->db, why);
  }
  /* An empty section points nowhere: a pointer into the map would be
  ** mistaken for data (and outlive the map when the file is rewritten). */
  omen__buf none = {0};
  *b = len ? omen__buf_mapped(L->map + s->off, (size_t)len) : none;
  return OMEN_OK;
}

static int attach_all(loader *L, omen_coll *c, const coll_head *h,
                      omen__buf *chunks)
{
  omen__graph *g = &c->graph;
  uint64_t n = h->n_slots, u32 = 4, row0 = (1 + (uint64_t)g->m0) * u32;
  uint64_t block = (1 + (uint64_t)g->m) * u32;
  int cosine = c->metric->normalised, rc;
  if ((rc = attach(L, h, S_VECS, n * c->stride * 4, &c->vecs)) ||
      (rc = attach(L, h, S_INVNORM, cosine ? n * 4 : 0, &c->inv_norm)) ||
      (rc = attach(L, h, S_STATE, n, &c->state)) ||
      (rc = attach(L, h, S_FREE, h->n_free * u32, &c->free_slots)) ||
      (rc = attach(L, h, S_LINKS0, n * row0, &g->links0)) ||
      (rc = attach(L, h, S_LEVEL, n, &g->level)) ||
      (rc = attach(L, h, S_UPPER_AT, n * u32, &g->upper_at)) ||
      (rc = attach(L, h, S_UPPER, h->upper_blocks * block, &g->upper)) ||
      (rc = attach(L, h, S_INDEG, n * u32, &g->indeg)) ||
      (rc = attach(L, h, S_REFS, n * sizeof(omen__recref), &c->recs.refs)) ||
      (rc = attach(L, h, S_HEAP, h->heap, &c->recs.heap)) ||
      (rc = attach(L, h, S_KEYNAMES, h->key_names, &c->keys.names)) ||
      (rc = attach(L, h, S_KEYINDEX, h->n_keys * 8ull, &c->keys.index)) ||
      (rc = attach(L, h, S_IDMAP, h->id_entries * 8, &c->ids.tab)) ||
      (rc = attach(L, h, S_CHUNKS, n_chunks(h->n_slots) * 2ull * u32, chunks)))
    return rc;
  c->n_slots = c->cap = h->n_slots;
  c->n_free = h->n_free;
  g->upper_blocks = h->upper_blocks;
  g->entry = h->entry;
  g->max_level = h->max_level;
  g->seed = h->graph_seed;
  c->recs.used = h->heap;
  c->keys.names_used = h->key_names;
  c->keys.n = h->n_keys;
  c->ids.seed = h->ids_seed;
  c->ids.mask = h->id_entries ? h->id_entries - 1 : 0;
  c->ids.removed = h->id_removed;
  return OMEN_OK;
}

/* Memory a collection needs beside its mapped arrays. */
static int allocate_rest(omen_coll *c)
{
  const omen__mem *m = &c->db->mem;
  int rc = omen__buf_reserve(m, &c->graph.locks, c->n_slots ? c->n_slots : 1, 0);
  if (!rc && c->n_slots) memset(c->graph.locks.p, 0, c->n_slots);
  uint32_t chunks = n_chunks(c->n_slots);
  if (!rc && chunks) {
    c->lazy.done = omen__calloc(m, chunks);
    if (!c->lazy.done) rc = OMEN_NOMEM;
  }
  return rc;
}

/* -- Validation of what was mapped ------------------------------------------- */

/* Slot states and the free list. In files before version 3 every deleted
** slot is on the free list with its links in place (slots were taken out
** of the graph when reused): they are read as deleted slots not yet
** consolidated, and the list as empty. */
static int check_slots(omen_coll *c, uint32_t version)
{
  uint8_t *state = c->state.p;
  uint32_t *free_slots = c->free_slots.p, counts[5] = {0};
  uint8_t listed = version >= 3 ? OMEN__SLOT_FREE : OMEN__SLOT_DELETED;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    if (state[s] != OMEN__SLOT_LIVE && state[s] != OMEN__SLOT_DELETED &&
        (state[s] != OMEN__SLOT_FREE || version < 3))
      return damaged(c->db, "bad slot state");
    counts[state[s]]++;
  }
  if (counts[listed] != c->n_free) return damaged(c->db, "free list does not match");
  /* Each listed slot once: mark in the (zeroed) lock bytes. */
  uint8_t *mark = c->graph.locks.p;
  int rc = OMEN_OK;
  for (uint32_t i = 0; i < c->n_free && !rc; i++) {
    uint32_t s = free_slots[i];
    if (s >= c->n_slots || state[s] != listed || mark[s]) rc = OMEN_CORRUPT;
    else mark[s] = 1;
  }
  if (c->n_slots) memset(mark, 0, c->n_slots);
  if (rc) return damaged(c->db, "bad free list");
  c->n_deleted = counts[OMEN__SLOT_DELETED];
  if (version < 3) c->n_free = 0;
  c->ids.live = counts[OMEN__SLOT_LIVE];
  return OMEN_OK;
}

/* Levels, the blocks they own (handed out in slot order), the upper lists,
** and the entry point: all small, all checked now. */
static int check_upper(omen_coll *c)
{
  const omen__graph *g = &c->graph;
  const uint8_t *level = g->level.p;
  const uint32_t *upper_at = g->upper_at.p;
  uint64_t next_block = 0;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    if (level[s] > OMEN__MAX_LEVEL || upper_at[s] != (level[s] ? next_block + 1 : 0))
      return damaged(c->db, "bad graph levels");
    next_block += level[s];
  }
  if (next_block != g->upper_blocks) return damaged(c->db, "bad graph levels");
  for (uint32_t s = 0; s < c->n_slots; s++)
    for (uint32_t l = 1; l <= level[s]; l++) {
      const uint32_t *list = omen__links(g, s, l);
      if (list[0] > g->m) return damaged(c->db, "bad link count");
      for (uint32_t i = 1; i <= list[0]; i++)
        if (list[i] >= c->n_slots || level[list[i]] < l)
          return damaged(c->db, "bad link");
    }
  if (g->entry != OMEN__NO_SLOT && g->max_level != level[g->entry])
    return damaged(c->db, "bad graph entry point");
  return OMEN_OK;
}

static int check_keys(omen_coll *c)
{
  omen__keys *k = &c->keys;
  const uint64_t *index = k->index.p;
  for (uint32_t i = 0; i < k->n; i++) {
    uint64_t off = index[i] >> 8, len = index[i] & 0xff;
    if (len == 0 || off > k->names_used || len > k->names_used - off)
      return damaged(c->db, "bad metadata key");
  }
  int rc = omen__keys_rehash(&c->db->mem, k);
  if (rc == OMEN_CORRUPT) return damaged(c->db, "repeated metadata key");
  if (rc) return omen__fail(c->db, rc, "out of memory loading '%s'", c->name);
  return OMEN_OK;
}

/* Record references stay inside the heap; metadata encodings are checked
** as they are read. */
static int check_records(omen_coll *c)
{
  const omen__recref *refs = c->recs.refs.p;
  const uint8_t *state = c->state.p;
  uint64_t used = c->recs.used;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    const omen__recref *r = &refs[s];
    uint64_t len = (uint64_t)r->id_len + r->meta_len;
    if (state[s] != OMEN__SLOT_LIVE) {
      if (r->id_len || r->meta_len) return damaged(c->db, "deleted slot has a record");
      continue;
    }
    if (r->id_len < 1 || r->id_len > OMEN_MAX_ID || r->meta_len > OMEN_MAX_META ||
        r->off > used || len > used - r->off)
      return damaged(c->db, "bad record reference");
  }
  return OMEN_OK;
}

/* The id map names each live slot exactly once. */
static int check_idmap(omen_coll *c)
{
  const uint64_t *tab = c->ids.tab.p;
  const uint8_t *state = c->state.p;
  uint8_t *mark = c->graph.locks.p;
  uint64_t entries = c->ids.mask ? c->ids.mask + 1 : 0, live = 0, removed = 0;
  int rc = OMEN_OK;
  for (uint64_t i = 0; i < entries && !rc; i++) {
    if (tab[i] <= 1) {
      removed += tab[i];
      continue;
    }
    uint32_t slot = (uint32_t)tab[i] - 2;
    if (slot >= c->n_slots || state[slot] != OMEN__SLOT_LIVE || mark[slot]) rc = 1;
    else mark[slot] = 1;
    live++;
  }
  if (c->n_slots) memset(mark, 0, c->n_slots);
  if (rc || live != c->ids.live || removed != c->ids.removed)
    return damaged(c->db, "bad id map");
  return OMEN_OK;
}

/* The code kind's parameters. The codes themselves are not in the file:
** each chunk's are made from its vectors once they pass their check. */
static int load_quantizer(loader *L, omen_coll *c, const coll_head *h)
{
  if (L->version < 2) return OMEN_OK; /* before quantization */
  omen__codes *cs = &c->codes;
  omen__buf b;
  int rc = attach(L, h, S_QUANT, h->s[S_QUANT].len, &b);
  if (rc) return rc;
  if (cs->kind->load(cs, b.p, b.size) || (cs->row && c->n_slots && !cs->kind->fitted(cs)))
    return damaged(L->db, "bad quantizer");
  cs->fitted_at = c->ids.live; /* fits count from here */
  if (omen__codes_reserve(cs, &c->db->mem, c->n_slots, 0))
    return omen__fail(L->db, OMEN_NOMEM, "out of memory");
  return OMEN_OK;
}

/* The text index: its settings, then its arrays where they lie. */
static int load_text(loader *L, omen_coll *c, coll_head *h)
{
  if (!h->text) return OMEN_OK;
  omen__text_image *img = &h->img;
  uint64_t n = img->n_terms;
  if (img->n_len != c->n_slots || img->names_used > L->size || img->heap_used > L->size ||
      n > L->size)
    return damaged(L->db, "text index counters out of range");
  int rc = omen__text_settings_read(&L->db->mem, h->text, h->text_size, &c->text);
  if (rc == OMEN_NOMEM) return omen__fail(L->db, rc, "out of memory");
  if (rc) return damaged(L->db, "bad text index settings");
  omen__buf b[7];
  static const int which[7] = {S_TNAMES, S_TINDEX, S_TPOST, S_TCOUNT, S_TDF, S_THEAP,
                               S_TLEN};
  uint64_t len[7] = {img->names_used, n * 8, n * 8, n * 4, n * 4, img->heap_used,
                     (uint64_t)img->n_len * 4};
  for (int i = 0; i < 7; i++)
    if ((rc = attach(L, h, which[i], len[i], &b[i]))) return rc;
  img->names = b[0].p;
  img->index = b[1].p;
  img->post = b[2].p;
  img->count = b[3].p;
  img->df = b[4].p;
  img->heap = b[5].p;
  img->len = b[6].p;
  char why[128];
  rc = omen__text_attach(&L->db->mem, c->text, img, c->state.p, why, sizeof why);
  if (rc == OMEN_CORRUPT) return damaged(L->db, why);
  if (rc) return omen__fail(L->db, rc, "out of memory");
  return OMEN_OK;
}

static void make_codes(void *ctx, uint32_t first, uint32_t end)
{
  omen__coll_codes_fill(ctx, first, end);
}

static void start_lazy(omen_coll *c, const omen__buf *chunks)
{
  c->lazy.crc = chunks->p;
  c->lazy.links0 = c->graph.links0.p;
  c->lazy.n_slots = c->n_slots;
  c->lazy.m0 = c->graph.m0;
  c->lazy.mu = &c->lazy_mu;
  if (c->codes.row && c->codes.kind->fitted(&c->codes)) {
    c->lazy.ready = make_codes;
    c->lazy.ctx = c;
  }
  c->lazy_on = c->n_slots > 0;
}

static int load_coll(loader *L, omen__cursor *cur)
{
  omen_db *db = L->db;
  coll_head h;
  char name[OMEN_MAX_NAME + 1];
  size_t name_len;
  if (parse_head(L, cur, &h, name, &name_len)) return damaged(db, "bad catalog");
  if (omen__coll_check_config(db, &h.cfg)) return damaged(db, "bad collection settings");
  int rc = check_counts(L, &h);
  if (rc) return rc;
  omen_coll *c;
  if ((rc = omen__coll_new(db, name, name_len, &h.cfg, &c)))
    return omen__fail(db, rc, "cannot load collection '%s'", name);
  omen__buf chunks;
  if ((rc = attach_all(L, c, &h, &chunks)) ||
      (rc = allocate_rest(c) ? omen__fail(db, OMEN_NOMEM, "out of memory") : 0) ||
      (rc = check_slots(c, L->version)) || (rc = check_upper(c)) || (rc = check_keys(c)) ||
      (rc = check_records(c)) || (rc = check_idmap(c)) ||
      (rc = load_quantizer(L, c, &h)) || (rc = load_text(L, c, &h))) {
    omen__coll_free_shell(c);
    return rc;
  }
  start_lazy(c, &chunks);
  if ((rc = omen__catalog_add(db, c))) {
    omen__coll_free_shell(c);
    return rc == OMEN_EXISTS ? damaged(db, "repeated collection name")
                             : omen__fail(db, rc, "out of memory");
  }
  return OMEN_OK;
}

static int load_header(loader *L, section *cat, uint32_t *n_colls)
{
  const unsigned char *h = L->map;
  if (L->size < 8 || memcmp(h, MAGIC, 8))
    return omen__fail(L->db, OMEN_NOTOMEN, "'%s' is not an omen database",
                      L->db->path);
  if (L->size < HEADER_SIZE) return damaged(L->db, "file is truncated");
  uint32_t version = get32(h + 8);
  int known = version >= OLDEST_VERSION && version <= FORMAT_VERSION;
  if (get32(h + 12) != ORDER_MARK && (known || get32(h + 12) == 0x04030201u))
    return omen__fail(L->db, OMEN_FORMAT,
                      "'%s' was written on a machine of the other byte order",
                      L->db->path);
  if (!omen__crc_ok(get32(h + HEADER_USED - 4), omen__crc32c(0, h, HEADER_USED - 4)))
    return damaged(L->db, "header checksum mismatch");
  if (!known)
    return omen__fail(L->db, OMEN_FORMAT,
                      "'%s' has format version %u; this omen reads versions "
                      "%u to %u", L->db->path, version, OLDEST_VERSION,
                      FORMAT_VERSION);
  L->version = version;
  if (get64(h + 16) != L->size)
    return damaged(L->db, L->size < get64(h + 16) ? "file is truncated"
                                                  : "file has trailing bytes");
  cat->off = get64(h + 24);
  cat->len = get64(h + 32);
  cat->crc = get32(h + 40);
  *n_colls = get32(h + 44);
  L->db->generation = get64(h + 48);
  L->db->id = get64(h + 56);
  if (cat->off < HEADER_SIZE || cat->off > L->size ||
      cat->len > L->size - cat->off || *n_colls > cat->len)
    return damaged(L->db, "bad catalog place");
  if (!omen__crc_ok(cat->crc, omen__crc32c(0, L->map + cat->off, (size_t)cat->len)))
    return damaged(L->db, "checksum mismatch in the catalog");
  return OMEN_OK;
}

static int load_map(loader *L)
{
  section cs = {0, 0, 0};
  uint32_t n_colls = 0;
  int rc = load_header(L, &cs, &n_colls);
  if (rc) return rc; /* the catalog's place is known good only now */
  omen__cursor cur = {L->map + cs.off, L->map + cs.off + cs.len, 0};
  for (uint32_t i = 0; i < n_colls && !rc; i++) rc = load_coll(L, &cur);
  if (!rc && cur.p != cur.end) rc = damaged(L->db, "catalog has trailing bytes");
  return rc;
}

/* The process holding the flock on db->path, from /proc/locks (Linux), or
** 0 if that cannot be told. */
static long lock_holder(const omen_db *db)
{
  struct stat st;
  FILE *f = stat(db->path, &st) ? NULL : fopen("/proc/locks", "r");
  char line[256];
  long pid = 0;
  while (f && !pid && fgets(line, sizeof line, f)) {
    long holder;
    unsigned long long ino;
    char kind[16];
    if (sscanf(line, "%*s %15s %*s %*s %ld %*x:%*x:%llu", kind, &holder, &ino) == 3 &&
        !strcmp(kind, "FLOCK") && ino == (unsigned long long)st.st_ino)
      pid = holder;
  }
  if (f) fclose(f);
  return pid;
}

static int locked(omen_db *db)
{
  long pid = lock_holder(db);
  if (pid == (long)getpid())
    return omen__fail(db, OMEN_LOCKED, "database is locked: '%s' is already open for "
                      "writing in this process (share that handle, or open this one "
                      "read-only)", db->path);
  if (pid)
    return omen__fail(db, OMEN_LOCKED, "database is locked: '%s' is open for writing "
                      "by process %ld", db->path, pid);
  return omen__fail(db, OMEN_LOCKED, "database is locked: '%s' is open for writing "
                    "by another handle or process", db->path);
}

/* Open path and, for a file_writer, take its lock. A checkpoint of another
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
      if (err == EWOULDBLOCK) return locked(db);
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
      db->file_dev = (uint64_t)a.st_dev;
      db->file_ino = (uint64_t)a.st_ino;
      return OMEN_OK;
    }
    close(fd);
  }
  return omen__fail(db, OMEN_IOERR, "cannot open '%s': it keeps being replaced",
                    db->path);
}

int omen__storage_replaced(const omen_db *db)
{
  struct stat st;
  return stat(db->path, &st) || (uint64_t)st.st_dev != db->file_dev ||
         (uint64_t)st.st_ino != db->file_ino;
}

void omen__storage_unmap(omen_db *db)
{
  if (db->map) munmap(db->map, db->map_len);
  db->map = NULL;
  db->map_len = 0;
}

int omen__storage_load(omen_db *db)
{
  int fd = -1;
  uint64_t size = 0;
  int rc = open_locked(db, &fd, &size);
  if (rc) return rc;
  if (size > 0 && size > SIZE_MAX / 2) rc = damaged(db, "file is too large");
  if (!rc && size > 0) { /* an empty file is a new database */
    void *map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      rc = io_fail(db, "map");
    } else {
      db->map = map;
      db->map_len = (size_t)size;
      loader L = {db, map, size, 0};
      rc = load_map(&L);
    }
  }
  if (rc || (db->flags & OMEN_OPEN_READONLY)) {
    close(fd);
    return rc;
  }
  db->lock_fd = fd;
  if (size == 0) { /* new: give the file its identity (and a header) now */
    db->id = omen__random(db, db->wal.salt);
    rc = omen__storage_save(db, 1);
  }
  return rc;
}

int omen__storage_check_all(omen_coll *c)
{
  if (!c->lazy_on) return OMEN_OK;
  omen__space sp = omen__coll_space(c);
  for (uint32_t k = 0; k < n_chunks(c->n_slots); k++)
    if (omen__touch(&sp, k * OMEN__CHUNK))
      return omen__fail(c->db, OMEN_CORRUPT,
                        "database file '%s' is damaged: checksum mismatch in "
                        "collection '%s', slots %u to %u", c->db->path, c->name,
                        k * OMEN__CHUNK, (k + 1) * OMEN__CHUNK - 1);
  c->lazy_on = 0;
  return OMEN_OK;
}

int omen__storage_verify(omen_db *db)
{
  int rc = OMEN_OK;
  for (size_t i = 0; i < db->n_colls && !rc; i++) {
    omen_coll *c = db->colls[i];
    pthread_rwlock_wrlock(&c->rw);
    rc = omen__storage_check_all(c);
    char why[128];
    if (!rc && c->text &&
        (rc = omen__text_verify(&db->mem, c->text, c->state.p, why, sizeof why)))
      rc = rc == OMEN_CORRUPT ? omen__fail(db, rc, "collection '%s': %s", c->name, why)
                              : omen__fail(db, rc, "out of memory");
    pthread_rwlock_unlock(&c->rw);
  }
  return rc;
}
