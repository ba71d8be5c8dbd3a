/*
** Write-ahead log, the writing side: "<path>-wal", the writes made since the
** file's last checkpoint (format in wal.h). Each write call appends one
** record before it changes anything in memory (a batch is one record), so
** every call that returned is in the log, and a call that failed is not. A
** checkpoint empties the log; its generation tells a log that was folded
** already (a crash between the rename and the emptying) from one that was
** not. Recovery (recover.c) reads it back.
**
** With sync "off" records are acknowledged from a buffer: a write that
** fails (a full disk) takes back only its own record, never the buffered
** ones before it, which go out with the next write or flush.
**
** Payloads: CREATE name, config; DROP name; DELETE name, id; DELETE_MANY
** name, count, ids; UPSERT name, count, dim, then per record its id, vector
** and metadata (keys by name).
**
** Calls: sys, crc32c, mem. Called by write, catalog and checkpoint
** (appending, emptying) and by recover (taking the log over).
*/
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "hash.h"
#include "sys.h"
#include "wal.h"

#define LOG_MAGIC "\x89OWAL\r\n\x1a"
#define VERSION 1u
#define ORDER_MARK 0x01020304u
#define BUF_SIZE (1u << 20)
#define MIN_LIMIT (64ull << 20)

enum { PASS_SIZE, PASS_CRC, PASS_WRITE };

/* -- Sinks ------------------------------------------------------------------- */
/* The file holds the log's bytes [0, size); the buffer the next n, not yet
** written. Records in the buffer may be acknowledged already (sync "off"), so
** a failed write keeps whatever of the buffer it could not write. */

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

/* Write the buffer out; on failure the bytes not written stay in it. */
static void flush_buf(omen__wal *w, int *err)
{
  uint64_t before = w->size;
  write_out(w, w->buf, w->n, err);
  size_t done = (size_t)(w->size - before);
  if (done < w->n) memmove(w->buf, w->buf + done, w->n - done);
  w->n -= done;
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
    if (s->err) return;
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
  return db->path && !(db->flags & OMEN_OPEN_READONLY);
}

void omen__wal_init(omen_db *db, const omen_options *o)
{
  omen__wal *w = &db->wal;
  w->fd = -1;
  w->sync = o->sync;
  w->limit = o->checkpoint_bytes;
}

char *omen__wal_path(omen_db *db, size_t *size)
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


void omen__log_header_encode(unsigned char *h, const omen__log_header *lh)
{
  uint32_t version = VERSION, mark = ORDER_MARK;
  memset(h, 0, OMEN__LOG_HEADER);
  memcpy(h, LOG_MAGIC, 8);
  memcpy(h + 8, &version, 4);
  memcpy(h + 12, &mark, 4);
  memcpy(h + 16, &lh->generation, 8);
  memcpy(h + 24, &lh->salt, 8);
  memcpy(h + 32, &lh->file_id, 8);
  uint32_t crc = omen__crc32c(0, h, OMEN__LOG_HEADER - 4);
  memcpy(h + OMEN__LOG_HEADER - 4, &crc, 4);
}

int omen__log_header_decode(const unsigned char *h, omen__log_header *lh)
{
  uint32_t version, mark, crc;
  if (memcmp(h, LOG_MAGIC, 8)) return 0;
  memcpy(&version, h + 8, 4);
  memcpy(&mark, h + 12, 4);
  memcpy(&crc, h + OMEN__LOG_HEADER - 4, 4);
  if (version != VERSION || mark != ORDER_MARK ||
      !omen__crc_ok(crc, omen__crc32c(0, h, OMEN__LOG_HEADER - 4)))
    return 0;
  memcpy(&lh->generation, h + 16, 8);
  memcpy(&lh->salt, h + 24, 8);
  memcpy(&lh->file_id, h + 32, 8);
  return 1;
}

/* Start a fresh log: open (creating) the file, empty it, write the header. */
static int start_log(omen_db *db)
{
  omen__wal *w = &db->wal;
  size_t size;
  char *path = omen__wal_path(db, &size);
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
  unsigned char h[OMEN__LOG_HEADER];
  w->salt = omen__random(db, db->wal.salt);
  w->seq = 0;
  w->size = 0;
  omen__log_header h_fields = {db->generation, w->salt, db->id};
  omen__log_header_encode(h, &h_fields);
  if (!err && (ftruncate(w->fd, 0) || lseek(w->fd, 0, SEEK_SET) < 0)) err = errno;
  if (!err) write_out(w, h, OMEN__LOG_HEADER, &err);
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

/* Take a failed record, which began at byte `start` of the log, back out:
** the bytes before it stay, in the file or in the buffer. */
static void undo(omen__wal *w, uint64_t start)
{
  if (w->size <= start) { /* none of it reached the file */
    w->n = (size_t)(start - w->size);
    return;
  }
  w->n = 0; /* what is buffered is all of the failed record */
  if (ftruncate(w->fd, (off_t)start) || lseek(w->fd, (off_t)start, SEEK_SET) < 0)
    w->broken = 1; /* later records would follow a torn one: refuse them */
  else
    w->size = start;
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
  s.crc = omen__log_crc_head(w->salt, len, t, seq);
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
    flush_buf(w, &err); /* what it could not write stays buffered */
    if (!err && sync && fdatasync(w->fd)) err = errno;
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
      char *path = omen__wal_path(db, &size);
      if (path) {
        unlink(path);
        omen__free(&db->mem, path, size);
      }
    }
  }
  if (w->buf) omen__free(&db->mem, w->buf, BUF_SIZE);
  w->buf = NULL;
}

int omen__wal_resume(omen_db *db, int fd, uint64_t salt, uint64_t seq, uint64_t end)
{
  omen__wal *w = &db->wal;
  w->fd = fd;
  w->salt = salt;
  w->seq = seq;
  w->size = end;
  w->n = 0;
  if (!end) return OMEN_OK; /* started afresh by the first write */
  if (ftruncate(fd, (off_t)end) || lseek(fd, (off_t)end, SEEK_SET) < 0)
    return omen__fail(db, OMEN_IOERR, "cannot repair the log of '%s': %s",
                      db->path, strerror(errno));
  w->buf = omen__malloc(&db->mem, BUF_SIZE);
  if (!w->buf) return omen__fail(db, OMEN_NOMEM, "out of memory");
  w->cap = BUF_SIZE;
  return OMEN_OK;
}
