/*
** Recovery: at open, apply the log that follows the file's checkpoint
** (format in wal.h), then hand the log to wal.c for the writes to come.
**
** The log is taken as a snapshot of its bytes when recovery starts. A writer
** holds the database's lock, so nobody else changes its log and it maps it;
** a read-only open copies it (a writer in another process may truncate the
** log at any moment, which would fault a mapping) and then checks that the
** file it mapped is still the database's file: a checkpoint in between
** would have folded part of the log into a newer file, so it starts again.
**
** Records apply while they are whole, in sequence and checksum right. What
** follows the last of them is either a torn tail (the record being written
** when a process died: normal, dropped) or damage: a bad record with whole,
** in-sequence, checksum-right records after it. Damage is never dropped
** silently: the open fails, naming the log and the record, and nothing is
** truncated unless the caller asks for it (OMEN_OPEN_TRUNCATE_LOG).
**
** Calls: write and catalog (applying records, with log = 0 so that nothing
** is logged again), storage (was the file replaced), wal.
*/
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "cursor.h"
#include "recover.h"
#include "storage.h"
#include "wal.h"
#include "write.h"

/* -- Payloads ------------------------------------------------------------------ */

static omen_str take_str(omen__cursor *r)
{
  uint32_t n = omen__take_u32(r);
  const unsigned char *p = omen__take(r, n);
  omen_str s = {p ? (const char *)p : "", p ? n : 0};
  return s;
}

/* Names are NUL-terminated for the API: copy into buf. */
static const char *take_name(omen__cursor *r, char *buf)
{
  omen_str s = take_str(r);
  if (s.len == 0 || s.len > OMEN_MAX_NAME || memchr(s.ptr, 0, s.len)) r->bad = 1;
  if (r->bad) return NULL;
  memcpy(buf, s.ptr, s.len);
  buf[s.len] = 0;
  return buf;
}

/* Scratch of one replayed batch. */
typedef struct batch_mem {
  omen_str *ids;
  float *vecs;
  omen_meta *metas;
  omen_field *fields;
  omen_str *items;
  size_t n, dim, n_fields, n_items;
} batch_mem;

static void batch_mem_free(omen_db *db, batch_mem *b)
{
  omen__free(&db->mem, b->ids, b->n * sizeof *b->ids);
  omen__free(&db->mem, b->vecs, b->n * b->dim * sizeof(float));
  omen__free(&db->mem, b->metas, b->n * sizeof *b->metas);
  omen__free(&db->mem, b->fields, b->n_fields * sizeof *b->fields);
  omen__free(&db->mem, b->items, b->n_items * sizeof *b->items);
}

/* Read one record's metadata: into f and *items when f is given, else only
** counting; *n_items adds the string-array items seen. */
static size_t take_meta(omen__cursor *r, omen_field *f, omen_str **items,
                        size_t *n_items)
{
  uint32_t n = omen__take_u32(r);
  if (n > OMEN__MAX_FIELDS) r->bad = 1;
  for (uint32_t i = 0; i < n && !r->bad; i++) {
    omen_field fld;
    fld.key = take_str(r);
    const unsigned char *t = omen__take(r, 1);
    fld.value.type = t ? (omen_type)*t : (omen_type)0;
    if (fld.value.type == OMEN_NUMBER) {
      const unsigned char *p = omen__take(r, 8);
      if (p) memcpy(&fld.value.u.number, p, 8);
    } else if (fld.value.type == OMEN_BOOL) {
      const unsigned char *p = omen__take(r, 1);
      fld.value.u.boolean = p && *p;
    } else if (fld.value.type == OMEN_STRING) {
      fld.value.u.string = take_str(r);
    } else if (fld.value.type == OMEN_STRINGS) {
      uint32_t k = omen__take_u32(r);
      if (k > (size_t)(r->end - r->p) / 4) r->bad = 1; /* 4 bytes per item */
      fld.value.u.strings.n = k;
      fld.value.u.strings.items = f ? *items : NULL;
      for (uint32_t j = 0; j < k && !r->bad; j++) {
        omen_str s = take_str(r);
        if (f) (*items)[j] = s;
      }
      if (f) *items += k;
      *n_items += k;
    } else {
      r->bad = 1;
    }
    if (f) f[i] = fld;
  }
  return n;
}

/* -- Applying records ------------------------------------------------------------
** Each returns OMEN_OK, or a code with the message set: parsing failures
** and writes the database refuses are the log's fault (LOG_FAULT, worded
** by the caller); damage of the file, found by the write, keeps the file's
** message. */

#define LOG_FAULT (-1000) /* internal: the record does not apply */

/* What the engine said of a replayed write: its own failures stand; a
** refusal means the record does not fit this database. */
static int engine_rc(int rc)
{
  if (rc == OMEN_OK || rc == OMEN_CORRUPT || rc == OMEN_NOMEM || rc == OMEN_ERROR)
    return rc;
  return LOG_FAULT;
}

static int open_target(omen_db *db, const char *name, omen_coll **c)
{
  *c = omen__catalog_get(db, name);
  return *c ? OMEN_OK : LOG_FAULT;
}

/* An UPSERT record as arrays for omen__write_upsert: read twice, to count
** and then to fill. */
static int replay_upsert(omen_db *db, omen__cursor body, const char *name)
{
  uint32_t n = omen__take_u32(&body), dim = omen__take_u32(&body);
  omen_coll *c;
  if (body.bad) return LOG_FAULT;
  int rc = open_target(db, name, &c);
  if (rc) return rc;
  batch_mem b = {0};
  b.n = n;
  b.dim = dim;
  rc = c->cfg.dim == dim && n <= (size_t)(body.end - body.p) ? OMEN_OK : LOG_FAULT;
  omen__cursor count = body;
  for (uint32_t i = 0; i < n && !rc && !count.bad; i++) {
    take_str(&count);
    omen__take(&count, (size_t)dim * 4);
    b.n_fields += take_meta(&count, NULL, NULL, &b.n_items);
  }
  if (!rc && (count.bad || count.p != count.end)) rc = LOG_FAULT;
  if (!rc && ((n && !(b.ids = omen__malloc(&db->mem, n * sizeof *b.ids))) ||
              (n && !(b.vecs = omen__malloc(&db->mem, (size_t)n * dim * 4))) ||
              (n && !(b.metas = omen__malloc(&db->mem, n * sizeof *b.metas))) ||
              (b.n_fields && !(b.fields = omen__malloc(&db->mem, b.n_fields * sizeof *b.fields))) ||
              (b.n_items && !(b.items = omen__malloc(&db->mem, b.n_items * sizeof *b.items)))))
    rc = omen__fail(db, OMEN_NOMEM, "out of memory applying the log of '%s'", db->path);
  omen_field *f = b.fields;
  omen_str *items = b.items;
  size_t seen = 0;
  for (uint32_t i = 0; i < n && !rc; i++) { /* the counting pass checked it */
    b.ids[i] = take_str(&body);
    const unsigned char *v = omen__take(&body, (size_t)dim * 4);
    if (v) memcpy(b.vecs + (size_t)i * dim, v, (size_t)dim * 4);
    b.metas[i].fields = f;
    b.metas[i].n = take_meta(&body, f, &items, &seen);
    f += b.metas[i].n;
  }
  if (!rc) rc = engine_rc(omen__write_upsert(c, n, b.ids, b.vecs, b.metas, 0, 0));
  batch_mem_free(db, &b);
  return rc;
}

static int delete_one(omen_coll *c, omen_str id)
{
  int rc = omen__write_delete(c, id.ptr, id.len, 0);
  return rc == OMEN_NOTFOUND ? OMEN_OK : engine_rc(rc);
}

static int replay_deletions(omen_db *db, omen__cursor body, const char *name,
                            int many)
{
  uint32_t n = many ? omen__take_u32(&body) : 1;
  omen_coll *c;
  if (body.bad) return LOG_FAULT;
  int rc = open_target(db, name, &c);
  for (uint32_t i = 0; i < n && !rc; i++) {
    omen_str id = take_str(&body);
    rc = body.bad ? LOG_FAULT : delete_one(c, id);
  }
  if (!rc && body.p != body.end) rc = LOG_FAULT;
  return rc;
}

static int replay_create(omen_db *db, omen__cursor body, const char *name)
{
  omen_coll_config cfg;
  cfg.dim = omen__take_u32(&body);
  cfg.metric = (omen_metric)omen__take_u32(&body);
  cfg.m = omen__take_u32(&body);
  cfg.ef_construction = omen__take_u32(&body);
  cfg.ef_search = omen__take_u32(&body);
  /* logs written before quantization end here */
  cfg.quantization = body.p == body.end ? OMEN_QUANT_NONE
                                        : (omen_quant)omen__take_u32(&body);
  if (body.bad || body.p != body.end) return LOG_FAULT;
  return engine_rc(omen__catalog_create(db, name, &cfg, 0, NULL));
}

static int apply(omen_db *db, uint32_t type, omen__cursor body)
{
  char name[OMEN_MAX_NAME + 1];
  if (!take_name(&body, name)) return LOG_FAULT;
  switch (type) {
  case OMEN__LOG_UPSERT: return replay_upsert(db, body, name);
  case OMEN__LOG_CREATE: return replay_create(db, body, name);
  case OMEN__LOG_DROP:
    return body.p != body.end ? LOG_FAULT : engine_rc(omen__catalog_drop(db, name, 0));
  case OMEN__LOG_DELETE: return replay_deletions(db, body, name, 0);
  case OMEN__LOG_DELETE_MANY: return replay_deletions(db, body, name, 1);
  default: return LOG_FAULT;
  }
}

/* -- Reading records ------------------------------------------------------------- */

typedef struct log_view {
  const unsigned char *p; /* the log's bytes as recovery found them */
  uint64_t size;
  uint64_t salt;
} log_view;

typedef struct record {
  uint64_t len, seq;
  uint32_t type;
} record;

enum { WHOLE, SHORT, OUT_OF_SEQUENCE, BAD_CHECKSUM };

/* What starts at byte `at`: a whole record with the sequence number want
** (any above `after` when want is 0), or why not. */
static int read_record(const log_view *v, uint64_t at, uint64_t want, uint64_t after,
                       record *r)
{
  uint64_t left = v->size - at;
  uint32_t crc;
  if (at > v->size || left < OMEN__LOG_RECORD_HEAD) return SHORT;
  const unsigned char *h = v->p + at;
  memcpy(&r->len, h, 8);
  memcpy(&crc, h + 8, 4);
  memcpy(&r->type, h + 12, 4);
  memcpy(&r->seq, h + 16, 8);
  if (want ? r->seq != want : r->seq <= after) return OUT_OF_SEQUENCE;
  if (r->len > left - OMEN__LOG_RECORD_HEAD) return SHORT;
  uint32_t c = omen__log_crc_head(v->salt, r->len, r->type, r->seq);
  c = omen__crc32c(c, h + OMEN__LOG_RECORD_HEAD, (size_t)r->len);
  return omen__crc_ok(crc, c) ? WHOLE : BAD_CHECKSUM;
}

/* After the records stop at `end` (the last applied had sequence number
** last): the whole records of this log that still follow, counted. A torn
** tail has none. A candidate must carry a later sequence number and pass
** its checksum, which covers the log's salt: chance bytes do not. */
static uint64_t records_after(const log_view *v, uint64_t end, uint64_t last,
                              uint64_t *first_at)
{
  record r;
  uint64_t at = end + 1, count = 0;
  /* sequence numbers grow by one per record of at least a head */
  uint64_t most = last + (v->size - end) / OMEN__LOG_RECORD_HEAD + 1;
  for (; at + OMEN__LOG_RECORD_HEAD <= v->size; at++) {
    uint64_t seq;
    memcpy(&seq, v->p + at + 16, 8);
    if (seq <= last || seq > most) continue;
    if (read_record(v, at, 0, last, &r) == WHOLE) break;
  }
  if (at + OMEN__LOG_RECORD_HEAD > v->size) return 0;
  *first_at = at;
  for (uint64_t want = r.seq; read_record(v, at, want, 0, &r) == WHOLE; want++) {
    count++;
    at += OMEN__LOG_RECORD_HEAD + r.len;
  }
  return count;
}

/* -- The snapshot ------------------------------------------------------------------ */

typedef struct snapshot {
  log_view v;
  void *map;            /* a writer's mapping, or NULL */
  unsigned char *copy;  /* a reader's copy, or NULL */
} snapshot;

static void release(omen_db *db, snapshot *s)
{
  if (s->map) munmap(s->map, (size_t)s->v.size);
  if (s->copy) omen__free(&db->mem, s->copy, (size_t)s->v.size);
  s->map = s->copy = NULL;
}

static int read_fully(int fd, unsigned char *p, uint64_t n)
{
  for (uint64_t at = 0; at < n;) {
    ssize_t k = pread(fd, p + at, (size_t)(n - at), (off_t)at);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) return 0; /* truncated meanwhile: the rest is gone */
    at += (uint64_t)k;
  }
  return 0;
}

/* Take the log's bytes as they are now. */
static int take_snapshot(omen_db *db, int fd, int writer, snapshot *s)
{
  struct stat st;
  memset(s, 0, sizeof *s);
  if (fstat(fd, &st)) return omen__fail(db, OMEN_IOERR, "cannot read the log of '%s': %s",
                                        db->path, strerror(errno));
  uint64_t size = (uint64_t)st.st_size;
  if (size < OMEN__LOG_HEADER) return OMEN_OK; /* no log, or a torn header */
  if (size > SIZE_MAX / 2)
    return omen__fail(db, OMEN_CORRUPT, "the log of '%s' is too large", db->path);
  if (writer) {
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
      return omen__fail(db, OMEN_IOERR, "cannot map the log of '%s': %s", db->path,
                        strerror(errno));
    s->map = map;
    s->v.p = map;
  } else {
    if (!(s->copy = omen__malloc(&db->mem, (size_t)size)))
      return omen__fail(db, OMEN_NOMEM, "out of memory reading the log of '%s'",
                        db->path);
    memset(s->copy, 0, (size_t)size);
    if (read_fully(fd, s->copy, size)) {
      omen__free(&db->mem, s->copy, (size_t)size);
      s->copy = NULL;
      return omen__fail(db, OMEN_IOERR, "cannot read the log of '%s': %s", db->path,
                        strerror(errno));
    }
    s->v.p = s->copy;
  }
  s->v.size = size;
  return OMEN_OK;
}

/* Whether the log differs from the snapshot now. A reader that found damage
** looks again before it says so: the writer may have been taking back a
** failed record under it. */
static int changed_since(omen_db *db, int fd, const snapshot *s)
{
  snapshot again;
  if (take_snapshot(db, fd, 0, &again)) return 1;
  int changed = again.v.size != s->v.size ||
                (s->v.size && memcmp(again.v.p, s->v.p, (size_t)s->v.size));
  release(db, &again);
  return changed;
}

/* -- Recovery ----------------------------------------------------------------------- */

typedef struct outcome {
  uint64_t end;         /* where the applied records stop; 0: no log to
                           continue (none, or another checkpoint's) */
  uint64_t seq;         /* of the last applied */
  uint64_t salt;
} outcome;

static const char *why_not(int status)
{
  return status == SHORT ? "runs past the end of the log"
         : status == OUT_OF_SEQUENCE ? "is out of sequence"
                                     : "fails its checksum";
}

/* Damage before the end of the log: refuse, unless told to drop it. */
static int damaged_log(omen_db *db, const log_view *v, const outcome *o, int status)
{
  uint64_t next_at = 0, later = records_after(v, o->end, o->seq, &next_at);
  if (!later || (db->flags & OMEN_OPEN_TRUNCATE_LOG)) return OMEN_OK;
  return omen__fail(db, OMEN_CORRUPT,
                    "the log of '%s' is damaged: record %llu (at byte %llu of "
                    "'%s-wal') %s, yet %llu whole record%s follow%s it, from byte "
                    "%llu; nothing was changed. Open with recover = \"truncate\" "
                    "(OMEN_OPEN_TRUNCATE_LOG) to drop it and everything after it",
                    db->path, (unsigned long long)(o->seq + 1),
                    (unsigned long long)o->end, db->path, why_not(status),
                    (unsigned long long)later, later == 1 ? "" : "s",
                    later == 1 ? "s" : "", (unsigned long long)next_at);
}

/* A header that fails its own checks with records behind it is damage too
** (a torn header is never followed by anything). */
static int damaged_header(omen_db *db, const log_view *v)
{
  if (v->size <= OMEN__LOG_HEADER || (db->flags & OMEN_OPEN_TRUNCATE_LOG))
    return OMEN_OK;
  return omen__fail(db, OMEN_CORRUPT,
                    "the log of '%s' is damaged: its header ('%s-wal', %llu "
                    "bytes) fails its checks; nothing was changed. Open with "
                    "recover = \"truncate\" (OMEN_OPEN_TRUNCATE_LOG) to drop the log",
                    db->path, db->path, (unsigned long long)v->size);
}

static int does_not_apply(omen_db *db, int rc, uint64_t seq)
{
  if (rc != LOG_FAULT) return rc; /* the engine's own failure, its message set */
  return omen__fail(db, OMEN_CORRUPT, "the log of '%s' is damaged: record %llu "
                    "does not apply to the database", db->path,
                    (unsigned long long)seq);
}

/* Apply every whole record; then tell a torn tail from damage. */
static int replay(omen_db *db, const log_view *v, outcome *o)
{
  record r;
  int status, rc = OMEN_OK;
  o->end = OMEN__LOG_HEADER;
  o->seq = 0;
  while ((status = read_record(v, o->end, o->seq + 1, 0, &r)) == WHOLE) {
    const unsigned char *body = v->p + o->end + OMEN__LOG_RECORD_HEAD;
    omen__cursor cur = {body, body + r.len, 0};
    rc = apply(db, r.type, cur);
    if (rc) return does_not_apply(db, rc, r.seq);
    o->end += OMEN__LOG_RECORD_HEAD + r.len;
    o->seq = r.seq;
  }
  if (o->seq) atomic_store(&db->dirty, 1);
  return o->end < v->size ? damaged_log(db, v, o, status) : OMEN_OK;
}

static int recover_snapshot(omen_db *db, const snapshot *s, outcome *o)
{
  omen__log_header h;
  o->end = o->seq = o->salt = 0;
  if (!s->v.p) return OMEN_OK;
  if (!omen__log_header_decode(s->v.p, &h)) return damaged_header(db, &s->v);
  if (h.generation != db->generation || h.file_id != db->id)
    return OMEN_OK; /* folded in already, or another file's: never applied */
  log_view v = s->v;
  v.salt = o->salt = h.salt;
  return replay(db, &v, o);
}

int omen__recover(omen_db *db)
{
  int writer = !(db->flags & OMEN_OPEN_READONLY);
  size_t path_size;
  char *path = omen__wal_path(db, &path_size);
  if (!path) return omen__fail(db, OMEN_NOMEM, "out of memory");
  int fd = open(path, writer ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
  omen__free(&db->mem, path, path_size);
  if (fd < 0) {
    if (errno == ENOENT) return OMEN_OK;
    return omen__fail(db, OMEN_IOERR, "cannot open the log of '%s': %s", db->path,
                      strerror(errno));
  }
  snapshot s;
  outcome o = {0, 0, 0};
  int rc = take_snapshot(db, fd, writer, &s);
  if (!rc && !writer && omen__storage_replaced(db)) rc = OMEN__RETRY;
  if (!rc) rc = recover_snapshot(db, &s, &o);
  if (rc == OMEN_CORRUPT && !writer && changed_since(db, fd, &s)) rc = OMEN__RETRY;
  release(db, &s);
  if (!writer || rc) {
    close(fd);
    return rc;
  }
  /* Keep the whole records, drop a torn tail (or, if asked, damage), and
  ** append after them; a log of another generation, or none, starts again
  ** at the next write. */
  return omen__wal_resume(db, fd, o.salt, o.seq, o.end);
}
