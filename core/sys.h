/*
** System helpers (sys.c).
*/
#ifndef OMEN_SYS_H
#define OMEN_SYS_H

#include <stdint.h>

/* fsync the directory of path (so a rename in it is durable); 0 or -1. */
int omen__sync_dir(const char *path);
/* 64 random-enough bits from the time, the process, an address and extra:
** ids and salts, not secrets. */
uint64_t omen__random(const void *addr, uint64_t extra);

#endif
