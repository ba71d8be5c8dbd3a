/*
** CRC-32C of a byte range. Chain calls by passing the previous result as crc
** (start with 0).
*/
#ifndef OMEN_CRC32C_H
#define OMEN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t omen__crc32c(uint32_t crc, const void *data, size_t n);

/* The same with the table only, whatever the CPU (for the tests). */
uint32_t omen__crc32c_portable(uint32_t crc, const void *data, size_t n);

/* Whether a stored checksum matches. Fuzzing builds accept any, so the
** fuzzer reaches the checks that stand behind the checksums. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define omen__crc_ok(stored, computed) ((void)(stored), (void)(computed), 1)
#else
#define omen__crc_ok(stored, computed) ((stored) == (computed))
#endif

#endif
