/*
** The write-ahead log's format, shared by the writer (wal.c) and recovery
** (recover.c).
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

#endif
