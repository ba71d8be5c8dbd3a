/*
** Write-ahead log: "<path>-wal", the writes made since the file's last
** checkpoint. Each write call appends one record before it changes anything
** in memory (a batch is one record), so every call that returned is in the
** log, and a call that failed is not.
**
**   header  64 bytes: magic, version, byte-order mark, the generation of the
**           checkpoint the log follows, a random salt, the id of the
**           database file, then a CRC of them
**   record  u64 payload length, u32 CRC, u32 type, u64 sequence, payload
**
** A record's CRC covers the salt, its length, type, sequence and payload.
** Recovery applies records while they are whole, in sequence and checksum
** right, and drops the rest: a torn tail, or bytes of an older log, never
** apply. A checkpoint empties the log; its generation tells a log that was
** folded already (a crash between the rename and the emptying) from one
** that was not.
**
** Payloads: CREATE name, config; DROP name; DELETE name, id; DELETE_MANY
** name, count, ids; UPSERT name, count, dim, then per record its id, vector
** and metadata (keys by name).
*/
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "cursor.h"
#include "hash.h"
#include "omen_int.h"

#define LOG_MAGIC "\x89OWAL\r\n\x1a"
#define VERSION 1u
#define ORDER_MARK 0x01020304u
#define LOG_HEADER_SIZE 64u
#define RECORD_HEAD 24u
#define BUF_SIZE (1u << 20)
#define MIN_LIMIT (64ull << 20)

enum { PASS_SIZE, PASS_CRC, PASS_WRITE };

/* -- Sinks ------------------------------------------------------------------- */

static void write_out(omen__wal *w, const void *p, size_t n, int *err)
{
  const unsigned char *s = p;
  while (n && !*err) {
    ssize_t k = write(w->fd, s, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      *err = k < 0 ? errno : EIO;
      return;
    }
    s += k;
    n -= (size_t)k;
    w->size += (uint64_t)k;
  }
}

static void flush_buf(omen__wal *w, int *err)
{
  write_out(w, w->buf, w->n, err);
  w->n = 0;
}

void omen__sink_put(omen__sink *s, const void *p, size_t n)
{
  if (s->pass == PASS_SIZE) {
    s->size += n;
  } else if (s->pass == PASS_CRC) {
    s->crc = omen__crc32c(s->crc, p, n);
  } else if (!s->err) {
    omen__wal *w = s->wal;
    if (w->n + n > w->cap) flush_buf(w, &s->err);
    if (n > w->cap) {
      write_out(w, p, n, &s->err);
    } else {
      memcpy(w->buf + w->n, p, n);
      w->n += n;
    }
  }
}

void omen__sink_u32(omen__sink *s, uint32_t v) { omen__sink_put(s, &v, 4); }

void omen__sink_str(omen__sink *s, const char *p, size_t n)
{
  omen__sink_u32(s, (uint32_t)n);
  omen__sink_put(s, p, n);
}

/* Metadata with its keys by name (the log does not know the dictionary):
** u32 count, then per field its key, u8 type and value. */
void omen__sink_meta(omen__sink *s, const omen_field *f, size_t n)
{
  omen__sink_u32(s, (uint32_t)n);
  for (size_t i = 0; i < n; i++) {
    const omen_value *v = &f[i].value;
    uint8_t type = (uint8_t)v->type;
    omen__sink_str(s, f[i].key.ptr, f[i].key.len);
    omen__sink_put(s, &type, 1);
    if (v->type == OMEN_NUMBER) {
      omen__sink_put(s, &v->u.number, 8);
    } else if (v->type == OMEN_BOOL) {
      uint8_t b = v->u.boolean ? 1 : 0;
      omen__sink_put(s, &b, 1);
    } else if (v->type == OMEN_STRING) {
      omen__sink_str(s, v->u.string.ptr, v->u.string.len);
    } else {
      omen__sink_u32(s, (uint32_t)v->u.strings.n);
      for (size_t j = 0; j < v->u.strings.n; j++)
        omen__sink_str(s, v->u.strings.items[j].ptr, v->u.strings.items[j].len);
    }
  }
}

/* -- The log file -------------------------------------------------------------- */

int omen__wal_active(const omen_db *db)
{
  return db->path && !(db->flags & OMEN_OPEN_READONLY) && !db->replaying;
}

void omen__wal_init(omen_db *db, const omen_options *o)
{
  omen__wal *w = &db->wal;
  w->fd = -1;
  w->sync = o->sync;
  w->limit = o->checkpoint_bytes;
}

static char *wal_path(omen_db *db, size_t *size)
{
  size_t len = strlen(db->path);
  char *p = omen__malloc(&db->mem, len + 5);
  if (p) {
    memcpy(p, db->path, len);
    memcpy(p + len, "-wal", 5);
  }
  *size = len + 5;
  return p;
}

uint64_t omen__random(const omen_db *db)
{
  struct timespec t, m;
  clock_gettime(CLOCK_REALTIME, &t);
  clock_gettime(CLOCK_MONOTONIC, &m);
  return omen__mix64((uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30) ^
                     omen__mix64((uint64_t)m.tv_nsec ^ ((uint64_t)getpid() << 32)) ^
                     (uint64_t)(uintptr_t)db ^ db->wal.salt);
}

static void encode_log_header(unsigned char *h, uint64_t generation, uint64_t salt,
                          uint64_t id)
{
  uint32_t version = VERSION, mark = ORDER_MARK;
  memset(h, 0, LOG_HEADER_SIZE);
  memcpy(h, LOG_MAGIC, 8);
  memcpy(h + 8, &version, 4);
  memcpy(h + 12, &mark, 4);
  memcpy(h + 16, &generation, 8);
  memcpy(h + 24, &salt, 8);
  memcpy(h + 32, &id, 8);
  uint32_t crc = omen__crc32c(0, h, LOG_HEADER_SIZE - 4);
  memcpy(h + LOG_HEADER_SIZE - 4, &crc, 4);
}

/* Start a fresh log: open (creating) the file, empty it, write the header. */
static int start_log(omen_db *db)
{
  omen__wal *w = &db->wal;
  size_t size;
  char *path = wal_path(db, &size);
  if (!path) return omen__fail(db, OMEN_NOMEM, "out of memory");
  int err = 0;
  if (w->fd < 0) {
    w->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->fd < 0) err = errno;
  }
  if (!w->buf && !err && !(w->buf = omen__malloc(&db->mem, BUF_SIZE))) {
    omen__free(&db->mem, path, size);
    return omen__fail(db, OMEN_NOMEM, "out of memory");
  }
  w->cap = BUF_SIZE;
  w->n = 0;
  unsigned char h[LOG_HEADER_SIZE];
  w->salt = omen__random(db);
  w->seq = 0;
  w->size = 0;
  encode_log_header(h, db->generation, w->salt, db->id);
  if (!err && (ftruncate(w->fd, 0) || lseek(w->fd, 0, SEEK_SET) < 0)) err = errno;
  if (!err) write_out(w, h, LOG_HEADER_SIZE, &err);
  /* The header must be on disk before any record can count on it. */
  if (!err && fdatasync(w->fd)) err = errno;
  if (!err) omen__sync_dir(path);
  omen__free(&db->mem, path, size);
  if (err) {
    errno = err;
    w->size = 0;
    return omen__fail(db, OMEN_IOERR, "cannot write the log of '%s': %s",
                      db->path, strerror(err));
  }
  w->broken = 0;
  return OMEN_OK;
}

/* Take a failed record back out of the log. */
static void undo(omen__wal *w, uint64_t start)
{
  w->n = 0;
  if (w->size > start) {
    if (ftruncate(w->fd, (off_t)start) || lseek(w->fd, (off_t)start, SEEK_SET) < 0)
      w->broken = 1; /* later records would follow a torn one: refuse them */
    else
      w->size = start;
  }
}

int omen__wal_append(omen_db *db, int type, omen__emit_fn emit, const void *arg)
{
  omen__wal *w = &db->wal;
  pthread_mutex_lock(&w->mu);
  int rc = OMEN_OK;
  if ((w->fd < 0 || w->size == 0) && (rc = start_log(db))) goto done;
  if (w->broken) {
    rc = omen__fail(db, OMEN_IOERR, "the log of '%s' failed earlier; "
                    "a checkpoint must succeed before more writes", db->path);
    goto done;
  }
  omen__sink s = {PASS_SIZE, 0, 0, w, 0};
  emit(&s, arg);
  uint64_t len = s.size, seq = w->seq + 1, start = w->size + w->n;
  uint32_t t = (uint32_t)type;
  s.pass = PASS_CRC;
  s.crc = omen__crc32c(0, &w->salt, 8);
  s.crc = omen__crc32c(s.crc, &len, 8);
  s.crc = omen__crc32c(s.crc, &t, 4);
  s.crc = omen__crc32c(s.crc, &seq, 8);
  emit(&s, arg);
  uint32_t crc = s.crc;
  s.pass = PASS_WRITE;
  omen__sink_put(&s, &len, 8);
  omen__sink_put(&s, &crc, 4);
  omen__sink_put(&s, &t, 4);
  omen__sink_put(&s, &seq, 8);
  emit(&s, arg);
  if (w->sync != OMEN_SYNC_OFF || w->n > w->cap / 2) flush_buf(w, &s.err);
  if (!s.err && w->sync == OMEN_SYNC_FULL && fdatasync(w->fd)) s.err = errno;
  if (s.err) {
    undo(w, start);
    rc = omen__fail(db, OMEN_IOERR, "cannot write the log of '%s': %s",
                    db->path, strerror(s.err));
  } else {
    w->seq = seq;
  }
done:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int omen__wal_flush(omen_db *db, int sync)
{
  omen__wal *w = &db->wal;
  int err = 0;
  pthread_mutex_lock(&w->mu);
  if (w->fd >= 0) {
    flush_buf(w, &err);
    if (!err && sync && fdatasync(w->fd)) err = errno;
    if (err) undo(w, w->size); /* keep what is whole on disk */
  }
  pthread_mutex_unlock(&w->mu);
  if (err)
    return omen__fail(db, OMEN_IOERR, "cannot write the log of '%s': %s",
                      db->path, strerror(err));
  return OMEN_OK;
}

int omen__wal_full(omen_db *db)
{
  omen__wal *w = &db->wal;
  pthread_mutex_lock(&w->mu);
  uint64_t limit = w->limit;
  if (!limit) limit = db->map_len / 4 > MIN_LIMIT ? db->map_len / 4 : MIN_LIMIT;
  int full = w->fd >= 0 && w->size + w->n > limit;
  pthread_mutex_unlock(&w->mu);
  return full;
}

void omen__wal_backoff(omen_db *db)
{
  omen__wal *w = &db->wal;
  pthread_mutex_lock(&w->mu);
  w->limit = 2 * (w->size + w->n);
  pthread_mutex_unlock(&w->mu);
}

int omen__wal_reset(omen_db *db)
{
  omen__wal *w = &db->wal;
  pthread_mutex_lock(&w->mu);
  w->n = 0;
  int err = 0;
  /* An empty file is no log; a crash before this leaves a log of the old
  ** generation, which recovery knows to skip. */
  if (w->fd >= 0 && (ftruncate(w->fd, 0) || lseek(w->fd, 0, SEEK_SET) < 0))
    err = errno;
  w->size = 0;
  w->seq = 0;
  w->broken = err != 0;
  pthread_mutex_unlock(&w->mu);
  return OMEN_OK;
}

void omen__wal_close(omen_db *db, int remove)
{
  omen__wal *w = &db->wal;
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
    if (remove) {
      size_t size;
      char *path = wal_path(db, &size);
      if (path) {
        unlink(path);
        omen__free(&db->mem, path, size);
      }
    }
  }
  if (w->buf) omen__free(&db->mem, w->buf, BUF_SIZE);
  w->buf = NULL;
}

/* -- Recovery -------------------------------------------------------------------- */

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

/* An UPSERT record as arrays for omen_upsert_batch: read twice, to count
** and then to fill. */
static int replay_upsert(omen_db *db, omen__cursor body, const char *name)
{
  uint32_t n = omen__take_u32(&body), dim = omen__take_u32(&body);
  omen_coll *c;
  if (body.bad || omen_coll_open(db, name, &c)) return OMEN_CORRUPT;
  omen_coll_info info;
  omen_coll_info_get(c, &info);
  batch_mem b = {0};
  b.n = n;
  b.dim = dim;
  int rc = info.config.dim == dim && n <= (size_t)(body.end - body.p) ? OMEN_OK
                                                                      : OMEN_CORRUPT;
  omen__cursor count = body;
  for (uint32_t i = 0; i < n && !rc && !count.bad; i++) {
    take_str(&count);
    omen__take(&count, (size_t)dim * 4);
    b.n_fields += take_meta(&count, NULL, NULL, &b.n_items);
  }
  if (!rc && (count.bad || count.p != count.end)) rc = OMEN_CORRUPT;
  if (!rc && ((n && !(b.ids = omen__malloc(&db->mem, n * sizeof *b.ids))) ||
              (n && !(b.vecs = omen__malloc(&db->mem, (size_t)n * dim * 4))) ||
              (n && !(b.metas = omen__malloc(&db->mem, n * sizeof *b.metas))) ||
              (b.n_fields && !(b.fields = omen__malloc(&db->mem, b.n_fields * sizeof *b.fields))) ||
              (b.n_items && !(b.items = omen__malloc(&db->mem, b.n_items * sizeof *b.items)))))
    rc = OMEN_NOMEM;
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
  if (!rc) rc = omen_upsert_batch(c, n, b.ids, b.vecs, b.metas, 0);
  batch_mem_free(db, &b);
  omen_coll_close(c);
  return rc;
}

static int replay_deletions(omen_db *db, omen__cursor body, const char *name)
{
  omen_coll *c;
  uint32_t n = omen__take_u32(&body);
  if (body.bad || omen_coll_open(db, name, &c)) return OMEN_CORRUPT;
  int rc = OMEN_OK;
  for (uint32_t i = 0; i < n && !rc; i++) {
    omen_str id = take_str(&body);
    if (body.bad) rc = OMEN_CORRUPT;
    else if ((rc = omen_delete(c, id.ptr, id.len)) == OMEN_NOTFOUND) rc = OMEN_OK;
  }
  if (!rc && body.p != body.end) rc = OMEN_CORRUPT;
  omen_coll_close(c);
  return rc;
}

static int apply(omen_db *db, uint32_t type, omen__cursor body)
{
  char name[OMEN_MAX_NAME + 1];
  if (!take_name(&body, name)) return OMEN_CORRUPT;
  if (type == OMEN__LOG_UPSERT) return replay_upsert(db, body, name);
  if (type == OMEN__LOG_CREATE) {
    omen_coll_config cfg;
    cfg.dim = omen__take_u32(&body);
    cfg.metric = (omen_metric)omen__take_u32(&body);
    cfg.m = omen__take_u32(&body);
    cfg.ef_construction = omen__take_u32(&body);
    cfg.ef_search = omen__take_u32(&body);
    /* logs written before quantization end here */
    cfg.quantization = body.p == body.end ? OMEN_QUANT_NONE
                                          : (omen_quant)omen__take_u32(&body);
    omen_coll *c;
    if (body.bad || body.p != body.end) return OMEN_CORRUPT;
    int rc = omen_coll_create(db, name, &cfg, &c);
    omen_coll_close(c);
    return rc;
  }
  if (type == OMEN__LOG_DROP) return omen_coll_drop(db, name);
  if (type == OMEN__LOG_DELETE_MANY) return replay_deletions(db, body, name);
  if (type == OMEN__LOG_DELETE) {
    omen_str id = take_str(&body);
    omen_coll *c;
    if (body.bad || body.p != body.end || omen_coll_open(db, name, &c))
      return OMEN_CORRUPT;
    int rc = omen_delete(c, id.ptr, id.len);
    omen_coll_close(c);
    return rc == OMEN_NOTFOUND ? OMEN_OK : rc;
  }
  return OMEN_CORRUPT;
}

/* Whether the bytes at p begin a whole, right record of this log. */
static int whole_record(const unsigned char *p, uint64_t left, uint64_t salt,
                        uint64_t want_seq, uint64_t *len, uint32_t *type)
{
  uint32_t crc, t;
  uint64_t seq, n;
  if (left < RECORD_HEAD) return 0;
  memcpy(&n, p, 8);
  memcpy(&crc, p + 8, 4);
  memcpy(&t, p + 12, 4);
  memcpy(&seq, p + 16, 8);
  if (seq != want_seq || n > left - RECORD_HEAD) return 0;
  uint32_t c = omen__crc32c(0, &salt, 8);
  c = omen__crc32c(c, &n, 8);
  c = omen__crc32c(c, &t, 4);
  c = omen__crc32c(c, &seq, 8);
  c = omen__crc32c(c, p + RECORD_HEAD, (size_t)n);
  *len = n;
  *type = t;
  return omen__crc_ok(crc, c);
}

/* Apply every whole record; *end receives where the whole ones stop. */
static int replay(omen_db *db, const unsigned char *map, uint64_t size,
                  uint64_t salt, uint64_t *end, uint64_t *last_seq)
{
  uint64_t at = LOG_HEADER_SIZE, seq = 0, len;
  uint32_t type;
  int rc = OMEN_OK;
  while (!rc && whole_record(map + at, size - at, salt, seq + 1, &len, &type)) {
    omen__cursor body = {map + at + RECORD_HEAD, map + at + RECORD_HEAD + len, 0};
    rc = apply(db, type, body);
    if (rc == OMEN_CORRUPT || rc == OMEN_INVALID || rc == OMEN_EXISTS ||
        rc == OMEN_NOTFOUND)
      rc = omen__fail(db, OMEN_CORRUPT, "the log of '%s' is damaged: record "
                      "%llu does not apply to the database", db->path,
                      (unsigned long long)(seq + 1));
    at += RECORD_HEAD + len;
    seq++;
  }
  *end = at;
  *last_seq = seq;
  return rc;
}

/* Whether the log follows this very file at this checkpoint. */
static int header_matches(const unsigned char *h, uint64_t size,
                          const omen_db *db, uint64_t *salt)
{
  uint32_t version, mark, crc;
  uint64_t gen, id;
  if (size < LOG_HEADER_SIZE || memcmp(h, LOG_MAGIC, 8)) return 0;
  memcpy(&version, h + 8, 4);
  memcpy(&mark, h + 12, 4);
  memcpy(&gen, h + 16, 8);
  memcpy(salt, h + 24, 8);
  memcpy(&id, h + 32, 8);
  memcpy(&crc, h + LOG_HEADER_SIZE - 4, 4);
  return version == VERSION && mark == ORDER_MARK &&
         omen__crc_ok(crc, omen__crc32c(0, h, LOG_HEADER_SIZE - 4)) &&
         gen == db->generation && id == db->id;
}

int omen__wal_recover(omen_db *db)
{
  omen__wal *w = &db->wal;
  int writer = !(db->flags & OMEN_OPEN_READONLY);
  size_t path_size;
  char *path = wal_path(db, &path_size);
  if (!path) return omen__fail(db, OMEN_NOMEM, "out of memory");
  int fd = open(path, writer ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
  omen__free(&db->mem, path, path_size);
  if (fd < 0) {
    if (errno == ENOENT) return OMEN_OK;
    return omen__fail(db, OMEN_IOERR, "cannot open the log of '%s': %s",
                      db->path, strerror(errno));
  }
  struct stat st;
  uint64_t size = fstat(fd, &st) ? 0 : (uint64_t)st.st_size, salt = 0;
  uint64_t end = 0, seq = 0;
  int rc = OMEN_OK;
  void *map = NULL;
  if (size >= LOG_HEADER_SIZE && size <= SIZE_MAX / 2) {
    map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) map = NULL;
  }
  if (map && header_matches(map, size, db, &salt)) {
    db->replaying = 1;
    rc = replay(db, map, size, salt, &end, &seq);
    db->replaying = 0;
    if (seq) atomic_store(&db->dirty, 1);
  }
  if (map) munmap(map, (size_t)size);
  if (!writer || rc) {
    close(fd);
    return rc;
  }
  /* Keep the whole records, drop a torn tail, and append after them; a log
  ** of another generation (or none) starts again at the next write. */
  w->fd = fd;
  w->salt = salt;
  w->seq = seq;
  w->size = end;
  if (ftruncate(fd, (off_t)end) || lseek(fd, (off_t)end, SEEK_SET) < 0)
    return omen__fail(db, OMEN_IOERR, "cannot repair the log of '%s': %s",
                      db->path, strerror(errno));
  if (end) {
    w->buf = omen__malloc(&db->mem, BUF_SIZE);
    if (!w->buf) return omen__fail(db, OMEN_NOMEM, "out of memory");
    w->cap = BUF_SIZE;
  }
  return OMEN_OK;
}
