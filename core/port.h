/*
** Platform setup, included first by every core file: exposes POSIX (threads,
** pread, fsync) and the BSD/glibc extensions omen uses (flock, the writer
** preference of read-write locks) under -std=c11.
*/
#ifndef OMEN_PORT_H
#define OMEN_PORT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#endif
