/*
** The write-ahead log (wal.c): its format, shared with recovery
** (recover.c), and the writer's calls.
**
**   header  64 bytes: magic, version, byte-order mark, the generation of the
**           checkpoint the log follows, a random salt, the id of the
**           database file, then a CRC of them
**   record  u64 payload length, u32 CRC, u32 type, u64 sequence, payload
**
** A record's CRC covers the salt, its length, type, sequence and payload, so
** bytes of an older log (another salt) never pass for records of this one.
*/
#ifndef OMEN_WAL_H
#define OMEN_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "crc32c.h"
#include "omen_int.h"

#define OMEN__LOG_HEADER 64u
#define OMEN__LOG_RECORD_HEAD 24u

typedef struct omen__log_header {
  uint64_t generation, salt, file_id;
} omen__log_header;

void omen__log_header_encode(unsigned char *h, const omen__log_header *lh);
/* Whether h (OMEN__LOG_HEADER bytes) is a log header of this version and
** byte order with a right CRC; fills *lh if so. */
int omen__log_header_decode(const unsigned char *h, omen__log_header *lh);

/* The CRC of a record's head fields, to be continued over its payload. */
static inline uint32_t omen__log_crc_head(uint64_t salt, uint64_t len, uint32_t type,
                                          uint64_t seq)
{
  uint32_t c = omen__crc32c(0, &salt, 8);
  c = omen__crc32c(c, &len, 8);
  c = omen__crc32c(c, &type, 4);
  return omen__crc32c(c, &seq, 8);
}

/* -- Records and the writer ----------------------------------------------------- */

enum {
  OMEN__LOG_CREATE = 1,
  OMEN__LOG_DROP,
  OMEN__LOG_UPSERT,
  OMEN__LOG_DELETE,
  OMEN__LOG_DELETE_MANY, /* name, count, ids: one delete_where */
  OMEN__LOG_TEXT_INDEX   /* name, the index's settings (text.c) */
};

/* A record is emitted by a function called three times on a sink: to size
** it, to checksum it, and to write it. */
typedef struct omen__sink {
  int pass;
  uint64_t size;
  uint32_t crc;
  omen__wal *wal;
  int err;                /* errno of a failed write */
} omen__sink;
typedef void (*omen__emit_fn)(omen__sink *s, const void *arg);

void omen__sink_put(omen__sink *s, const void *p, size_t n);
void omen__sink_u32(omen__sink *s, uint32_t v);
void omen__sink_str(omen__sink *s, const char *p, size_t n); /* u32 length, bytes */
void omen__sink_meta(omen__sink *s, const omen_field *f, size_t n);

/* Whether writes to db go to a log (a file database, writable). */
int omen__wal_active(const omen_db *db);
void omen__wal_init(omen_db *db, const omen_options *o);
/* Append one record (a whole batch is one) and make it as durable as the
** sync mode asks; on failure nothing of it remains in the log. */
int omen__wal_append(omen_db *db, int type, omen__emit_fn emit, const void *arg);
/* Take over the log after recovery: append after byte `end`, the whole
** records of log `salt` up to sequence number seq (end 0: start a new log
** at the first write). */
int omen__wal_resume(omen_db *db, int fd, uint64_t salt, uint64_t seq, uint64_t end);
/* "<path>-wal", allocated (size bytes). */
char *omen__wal_path(omen_db *db, size_t *size);
/* Empty the log once a checkpoint holds everything in it. */
int omen__wal_reset(omen_db *db);
int omen__wal_flush(omen_db *db, int sync);
/* Whether the log has grown past its checkpoint size. */
int omen__wal_full(omen_db *db);
/* After a failed automatic checkpoint: try again once the log doubled. */
void omen__wal_backoff(omen_db *db);
void omen__wal_close(omen_db *db, int remove);

#endif
