/*
** Recovery: at open, apply the log that follows the file's checkpoint
** (format in wal.h), then hand the log to wal.c for the writes to come; and
** for a read-only database, keep applying what the writing process appends
** to it afterwards (the log's tail, followed by follow.c).
**
** A writer holds the database's lock, so nobody else changes its log: it
** maps the log whole. A reader reads the bytes it has not applied yet (a
** writer in another process may cut the log at any moment, which would
** fault a mapping); at open it then checks that the file it mapped is still
** the database's file: a checkpoint in between would have folded part of
** the log into a newer file, so it starts again. A reader remembers where
** the records it applied end, in which log (device, inode, salt); a log cut
** shorter, started afresh or written for a newer checkpoint means the file
** was replaced, and the reader must load it again.
**
** Records apply while they are whole, in sequence and checksum right. At
** open, what follows the last of them is either a torn tail (the record
** being written when a process died: normal, dropped) or damage: a bad
** record with whole, in-sequence, checksum-right records after it. Damage is
** never dropped silently: the open fails, naming the log and the record, and
** nothing is truncated unless the caller asks for it
** (OMEN_OPEN_TRUNCATE_LOG). When following, a record that is not whole yet
** is one the writer is still writing: it applies at a later call.
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
#include "registry.h"
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

/* A replayed write on a collection whose tokenizer is the application's:
** that tokenizer missing (or failing) is no fault of the log. */
static int replayed(const omen_coll *c, int rc)
{
  if (rc == OMEN_INVALID && c->text && c->text->custom[0]) return rc; /* its message set */
  return engine_rc(rc);
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
  if (!rc) rc = replayed(c, omen__write_upsert(c, n, b.ids, b.vecs, b.metas, 0, 0));
  batch_mem_free(db, &b);
  return rc;
}

static int delete_one(omen_coll *c, omen_str id)
{
  int rc = omen__write_delete(c, id.ptr, id.len, 0);
  return rc == OMEN_NOTFOUND ? OMEN_OK : replayed(c, rc);
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

static int replay_text_index(omen_db *db, omen__cursor body, const char *name)
{
  omen_coll *c;
  omen__text *t;
  int rc = open_target(db, name, &c);
  if (rc) return rc;
  rc = omen__text_settings_read(&db->mem, body.p, (size_t)(body.end - body.p), &t);
  if (rc) return rc == OMEN_NOMEM ? omen__fail(db, rc, "out of memory") : LOG_FAULT;
  omen__registry_bind(db, t);
  rc = omen__write_text_index(c, t, 0);
  if (rc) omen__text_free(&db->mem, t);
  return engine_rc(rc);
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
  case OMEN__LOG_TEXT_INDEX: return replay_text_index(db, body, name);
  default: return LOG_FAULT;
  }
}

/* -- Reading records ------------------------------------------------------------- */

typedef struct log_view {
  const unsigned char *p; /* bytes [base, size) of the log as recovery found them */
  uint64_t base, size;
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
  if (at < v->base || at > v->size || left < OMEN__LOG_RECORD_HEAD) return SHORT;
  const unsigned char *h = v->p + (at - v->base);
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
    memcpy(&seq, v->p + (at - v->base) + 16, 8);
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

/* -- Replaying -------------------------------------------------------------------- */

typedef struct outcome {
  uint64_t end;         /* where the applied records stop */
  uint64_t seq;         /* of the last applied (0: none) */
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
static int damaged_header(omen_db *db, uint64_t size)
{
  if (size <= OMEN__LOG_HEADER || (db->flags & OMEN_OPEN_TRUNCATE_LOG))
    return OMEN_OK;
  return omen__fail(db, OMEN_CORRUPT,
                    "the log of '%s' is damaged: its header ('%s-wal', %llu "
                    "bytes) fails its checks; nothing was changed. Open with "
                    "recover = \"truncate\" (OMEN_OPEN_TRUNCATE_LOG) to drop the log",
                    db->path, db->path, (unsigned long long)size);
}

static int does_not_apply(omen_db *db, int rc, uint64_t seq)
{
  if (rc != LOG_FAULT) return rc; /* the engine's own failure, its message set */
  return omen__fail(db, OMEN_CORRUPT, "the log of '%s' is damaged: record %llu "
                    "does not apply to the database", db->path,
                    (unsigned long long)seq);
}

/* Apply every whole record from o->end on, the first with sequence number
** o->seq + 1; *stop is the status of the one that stopped it. */
static int replay(omen_db *db, const log_view *v, outcome *o, int *stop)
{
  record r;
  int rc = OMEN_OK;
  uint64_t first = o->seq;
  while ((*stop = read_record(v, o->end, o->seq + 1, 0, &r)) == WHOLE) {
    const unsigned char *body = v->p + (o->end - v->base) + OMEN__LOG_RECORD_HEAD;
    omen__cursor cur = {body, body + r.len, 0};
    rc = apply(db, r.type, cur);
    if (rc) return does_not_apply(db, rc, r.seq);
    o->end += OMEN__LOG_RECORD_HEAD + r.len;
    o->seq = r.seq;
  }
  if (o->seq != first) atomic_store(&db->dirty, 1);
  return OMEN_OK;
}

/* -- The writer ---------------------------------------------------------------------- */

static int recover_mapped(omen_db *db, const log_view *whole, outcome *o, uint64_t *salt)
{
  omen__log_header h;
  if (!omen__log_header_decode(whole->p, &h)) return damaged_header(db, whole->size);
  if (h.generation != db->generation || h.file_id != db->id)
    return OMEN_OK; /* folded in already, or another file's: never applied */
  log_view v = *whole;
  v.salt = *salt = h.salt;
  o->end = OMEN__LOG_HEADER;
  int status, rc = replay(db, &v, o, &status);
  if (!rc && o->end < v.size) rc = damaged_log(db, &v, o, status);
  return rc;
}

static int recover_writer(omen_db *db)
{
  size_t path_size;
  char *path = omen__wal_path(db, &path_size);
  if (!path) return omen__fail(db, OMEN_NOMEM, "out of memory");
  int fd = open(path, O_RDWR | O_CLOEXEC);
  omen__free(&db->mem, path, path_size);
  if (fd < 0) {
    if (errno == ENOENT) return OMEN_OK;
    return omen__fail(db, OMEN_IOERR, "cannot open the log of '%s': %s", db->path,
                      strerror(errno));
  }
  struct stat st;
  outcome o = {0, 0};
  uint64_t salt = 0;
  int rc = OMEN_OK;
  if (fstat(fd, &st))
    rc = omen__fail(db, OMEN_IOERR, "cannot read the log of '%s': %s", db->path,
                    strerror(errno));
  uint64_t size = rc ? 0 : (uint64_t)st.st_size;
  if (!rc && size >= OMEN__LOG_HEADER) {
    void *map = size > SIZE_MAX / 2 ? MAP_FAILED
                                    : mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      rc = omen__fail(db, OMEN_IOERR, "cannot map the log of '%s': %s", db->path,
                      strerror(errno));
    } else {
      log_view v = {map, 0, size, 0};
      rc = recover_mapped(db, &v, &o, &salt);
      munmap(map, (size_t)size);
    }
  }
  if (rc) {
    close(fd);
    return rc;
  }
  /* Keep the whole records, drop a torn tail (or, if asked, damage), and
  ** append after them; a log of another generation, or none, starts again
  ** at the next write. */
  return omen__wal_resume(db, fd, salt, o.seq, o.end);
}

int omen__recover(omen_db *db)
{
  if (!(db->flags & OMEN_OPEN_READONLY)) return recover_writer(db);
  memset(&db->tail, 0, sizeof db->tail);
  int rc = omen__recover_tail(db, 1);
  return rc == OMEN__RELOAD ? OMEN__RETRY : rc;
}

/* -- A reader, following the log -------------------------------------------------- */

static int read_fully(int fd, unsigned char *p, uint64_t from, uint64_t n)
{
  for (uint64_t at = 0; at < n;) {
    ssize_t k = pread(fd, p + at, (size_t)(n - at), (off_t)(from + at));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) { /* cut meanwhile: the rest reads as nothing */
      memset(p + at, 0, (size_t)(n - at));
      return 0;
    }
    at += (uint64_t)k;
  }
  return 0;
}

static int log_read_failed(omen_db *db)
{
  return omen__fail(db, OMEN_IOERR, "cannot read the log of '%s': %s", db->path,
                    strerror(errno));
}

/* Whether the log's bytes differ from v's now. A reader that found damage
** looks again before it says so: the writer may have been taking back a
** failed record, or emptying the log, under it. */
static int changed_since(omen_db *db, int fd, const log_view *v)
{
  struct stat st;
  if (fstat(fd, &st) || (uint64_t)st.st_size != v->size) return 1;
  size_t n = (size_t)(v->size - v->base);
  unsigned char *again = omen__malloc(&db->mem, n ? n : 1);
  int changed = !again || read_fully(fd, again, v->base, n) || memcmp(again, v->p, n);
  omen__free(&db->mem, again, n ? n : 1);
  return changed;
}

/* The same for a header that failed its checks. */
static int header_changed(int fd, const unsigned char *hb, uint64_t size)
{
  struct stat st;
  unsigned char again[OMEN__LOG_HEADER];
  if (fstat(fd, &st) || (uint64_t)st.st_size != size) return 1;
  return read_fully(fd, again, 0, OMEN__LOG_HEADER) || memcmp(again, hb, OMEN__LOG_HEADER);
}

/* Apply the records of the log open as fd (its stat st) that follow those
** applied already. */
static int follow_log(omen_db *db, int fd, const struct stat *st, int at_open)
{
  omen__tail *t = &db->tail;
  uint64_t size = (uint64_t)st->st_size;
  if ((uint64_t)st->st_dev != t->dev || (uint64_t)st->st_ino != t->ino) {
    memset(t, 0, sizeof *t); /* another log file: from its start */
    t->dev = (uint64_t)st->st_dev;
    t->ino = (uint64_t)st->st_ino;
  }
  if (t->end && size < t->end) return OMEN__RELOAD; /* emptied by a checkpoint */
  if (size < OMEN__LOG_HEADER) return OMEN_OK;     /* none yet, or its header */
  if (size > SIZE_MAX / 2)
    return omen__fail(db, OMEN_CORRUPT, "the log of '%s' is too large", db->path);
  unsigned char hb[OMEN__LOG_HEADER];
  omen__log_header h;
  if (read_fully(fd, hb, 0, OMEN__LOG_HEADER)) return log_read_failed(db);
  if (!omen__log_header_decode(hb, &h)) {
    if (!at_open) return OMEN_OK; /* being written */
    int rc = damaged_header(db, size);
    return rc && header_changed(fd, hb, size) ? OMEN__RETRY : rc;
  }
  if (h.file_id != db->id || h.generation != db->generation)
    return !at_open && h.file_id == db->id && h.generation > db->generation
               ? OMEN__RELOAD /* a checkpoint's new log: its file is newer */
               : OMEN_OK;     /* folded in already, or another file's */
  if (t->end && h.salt != t->salt) return OMEN__RELOAD; /* started afresh */
  t->salt = h.salt;
  if (!t->end) t->end = OMEN__LOG_HEADER;
  if (size == t->end) return OMEN_OK;
  size_t n = (size_t)(size - t->end);
  unsigned char *buf = omen__malloc(&db->mem, n);
  if (!buf) return omen__fail(db, OMEN_NOMEM, "out of memory reading the log of '%s'", db->path);
  int status, rc = read_fully(fd, buf, t->end, n) ? log_read_failed(db) : OMEN_OK;
  log_view v = {buf, t->end, size, h.salt};
  outcome o = {t->end, t->seq};
  if (!rc) rc = replay(db, &v, &o, &status);
  t->end = o.end;
  t->seq = o.seq;
  if (!rc && at_open && o.end < size && (rc = damaged_log(db, &v, &o, status)) &&
      changed_since(db, fd, &v))
    rc = OMEN__RETRY;
  omen__free(&db->mem, buf, n);
  return rc;
}

int omen__recover_tail(omen_db *db, int at_open)
{
  const omen__tail *t = &db->tail;
  size_t path_size;
  char *path = omen__wal_path(db, &path_size);
  if (!path) return omen__fail(db, OMEN_NOMEM, "out of memory");
  struct stat st;
  int rc = OMEN_OK, fd = -1;
  if (stat(path, &st)) {
    if (errno != ENOENT) rc = log_read_failed(db);
  } else if (at_open || (uint64_t)st.st_dev != t->dev || (uint64_t)st.st_ino != t->ino ||
             (uint64_t)st.st_size != t->end) {
    fd = open(path, O_RDONLY | O_CLOEXEC); /* the log may have gone or changed since */
    if (fd < 0 && errno != ENOENT) rc = log_read_failed(db);
    if (fd >= 0 && fstat(fd, &st)) rc = log_read_failed(db);
    if (fd >= 0 && !rc) rc = follow_log(db, fd, &st, at_open);
  }
  omen__free(&db->mem, path, path_size);
  if (fd >= 0) close(fd);
  /* at open the file must still be the one whose log this was */
  if (!rc && at_open && omen__storage_replaced(db)) rc = OMEN__RETRY;
  return rc;
}
