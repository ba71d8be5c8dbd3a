/*
** libFuzzer harness for log recovery. Each input becomes the records of a
** log that belongs to an empty database (its header names the file's id
** and generation), and the database is opened read-only, which applies the
** records in memory. Built by `make fuzz` with checksums accepted whatever
** they are, so the record decoders and the writes they replay are reached.
*/
#include "port.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "omen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64], wal[72];
static unsigned char header[64];

/* An empty database, and the log header that belongs to it. */
static void setup(void)
{
  snprintf(path, sizeof path, "/tmp/omen-fuzz-wal-%d.omen", (int)getpid());
  snprintf(wal, sizeof wal, "%s-wal", path);
  unlink(path);
  unlink(wal);
  omen_db *db;
  if (omen_open(path, NULL, &db)) abort();
  omen_close(db);
  unsigned char file[128];
  FILE *f = fopen(path, "rb");
  if (!f || fread(file, 1, sizeof file, f) != sizeof file) abort();
  fclose(f);
  uint32_t version = 1, mark = 0x01020304u;
  uint64_t salt = 0;
  memcpy(header, "\x89OWAL\r\n\x1a", 8);
  memcpy(header + 8, &version, 4);
  memcpy(header + 12, &mark, 4);
  memcpy(header + 16, file + 48, 8); /* generation */
  memcpy(header + 24, &salt, 8);
  memcpy(header + 32, file + 56, 8); /* id */
  uint32_t crc = omen__crc32c(0, header, 60);
  memcpy(header + 60, &crc, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!path[0]) setup();
  FILE *f = fopen(wal, "wb");
  if (!f) return 0;
  fwrite(header, 1, sizeof header, f);
  fwrite(data, 1, size, f);
  fclose(f);
  omen_options o;
  omen_options_init(&o);
  o.flags = OMEN_OPEN_READONLY;
  omen_db *db;
  if (omen_open(path, &o, &db) == OMEN_OK) {
    omen_coll *c;
    uint64_t n;
    if (omen_coll_open(db, "c", &c) == OMEN_OK) {
      omen_count(c, &n);
      omen_coll_close(c);
    }
  }
  omen_close(db);
  return 0;
}
