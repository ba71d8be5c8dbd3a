/*
** UTF-8 checks (see utf8.h). Calls nothing.
*/
#include "port.h"

#include "utf8.h"

int omen__utf8_valid(const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *)str, *end = s + n;
  while (s < end) {
    unsigned c = *s++;
    if (c < 0x80) continue;
    size_t more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (!more || c > 0xf4 || (size_t)(end - s) < more) return 0;
    unsigned cp = c & (0x3f >> more);
    for (size_t i = 0; i < more; i++) {
      if ((s[i] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i] & 0x3f);
    }
    s += more;
    static const unsigned least[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  }
  return 1;
}
