# amalgamate.awk: core/*.c with the core headers they include, each header
# once, as one C file (`make amalgamation`):
#   awk -v dir=core -f scripts/build/amalgamate.awk core/*.c > omen.c
#
# Expands each core header once, in place of its first #include; omen.h
# stays an #include (it ships beside omen.c).
function expand(file,    line, name) {
  while ((getline line < file) > 0) {
    if (line ~ /^#include "[a-z_0-9]+\.h"/) {
      name = line
      sub(/^#include "/, "", name)
      sub(/".*/, "", name)
      if (name == "omen.h") { if (!("omen.h" in seen)) print line; seen[name] = 1; continue }
      if (!(name in seen)) { seen[name] = 1; print "/* -- " name " -- */"; expand(dir "/" name) }
      continue
    }
    print line
  }
  close(file)
}
BEGIN {
  print "/*"
  print "** omen, amalgamated: every file of core/ in one translation unit, made by"
  print "** `make amalgamation` from the sources. Build it with"
  print "**   cc -std=c11 -O2 -pthread -c omen.c"
  print "** beside omen.h, its public header. Do not edit: edit core/ instead."
  print "*/"
  print "#if defined(__clang__) /* the headers' static inline helpers, not all used */"
  print "#pragma clang diagnostic ignored \"-Wunused-function\""
  print "#endif"
  for (i = 1; i < ARGC; i++) { print "/* -- " ARGV[i] " -- */"; expand(ARGV[i]) }
  exit
}
