/*
** The registry of code kinds (codes.h says what a kind is): one line each
** in KINDS, naming the kind as its file defines it (omen__kind_NAME).
** Adding a kind is its own file and one line here.
**
** Calls: nothing; codes.c reads the table.
*/
#include "port.h"

#include "codes.h"

#define KINDS(X) \
  X(none)        \
  X(sq8)         \
  X(pca8)

#define DECLARE(name) extern const omen__code_kind omen__kind_##name;
#define ENTRY(name) &omen__kind_##name,
KINDS(DECLARE)
const omen__code_kind *const omen__code_kinds[] = {KINDS(ENTRY) NULL};
