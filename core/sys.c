/*
** What the engine asks of the system beyond reading and writing files:
** making a rename durable, and random-enough bits for ids and salts.
**
** Calls: the C library and POSIX only.
*/
#include "port.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "sys.h"

int omen__sync_dir(const char *path)
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

uint64_t omen__random(const void *addr, uint64_t extra)
{
  struct timespec t, m;
  clock_gettime(CLOCK_REALTIME, &t);
  clock_gettime(CLOCK_MONOTONIC, &m);
  return omen__mix64((uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30) ^
                     omen__mix64((uint64_t)m.tv_nsec ^ ((uint64_t)getpid() << 32)) ^
                     (uint64_t)(uintptr_t)addr ^ extra);
}
