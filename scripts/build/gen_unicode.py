#!/usr/bin/env python3
"""Generate core/unicode_tab.h, the tables behind core/unicode.c.

Run by hand, not by the build:

    python3 scripts/build/gen_unicode.py > core/unicode_tab.h

omen's default tokenizer must split and fold text exactly as SQLite FTS5's
unicode61 tokenizer does. FTS5 carries its own tables, built from Unicode 6.1
data, and they differ from any current Unicode release: every code point
assigned after 6.1 (newer emoji, newer scripts) is unassigned to FTS5, and
FTS5 counts unassigned code points as token characters. Deriving the tables
from Python's much newer unicodedata would therefore disagree with FTS5 on
thousands of code points. So the FTS5 side is measured instead: every code
point from U+0001 to U+10FFFF (but surrogates and U+FFFE/U+FFFF, which FTS5
reads as U+FFFD) is fed to SQLite (the sqlite3 shell, $SQLITE3 or
/usr/bin/sqlite3) through unicode61 with remove_diacritics 0, 1 and 2 and
through trigram, and the tables are built from what comes out. Python's
unicodedata supplies only what FTS5 has no notion of: the canonical
decompositions behind omen's diacritics mode 3 (Greek and Cyrillic).

What is measured for each code point c:
  - unicode61 on char(c): one token if c is a token character (the term is c
    folded), none otherwise;
  - unicode61 on 'a'||char(c)||'a': one token if c is a token character or a
    combining mark FTS5 lets into a token (a "joiner"; remove_diacritics 1 and
    2 then drop it from the term), two tokens if c is a separator;
  - trigram on 'xx'||char(c): c case-folded (trigram folds every character,
    token character or not).
"""

import os
import subprocess
import sys
import unicodedata

SQLITE = os.environ.get("SQLITE3", "/usr/bin/sqlite3")
LAST = 0x10FFFF
# Never produced by decoding (read as U+FFFD, as FTS5 does), so not probed.
UNREAD = set(range(0xD800, 0xE000)) | {0xFFFE, 0xFFFF}
MARKS = range(0x300, 0x370)  # Combining Diacritical Marks: joiners in mode 3


def run_sql(sql):
    r = subprocess.run([SQLITE, ":memory:"], input=sql, capture_output=True,
                       text=True, check=True)
    return r.stdout.splitlines()


def all_rows(table, cols):
    return (f"WITH RECURSIVE c(cp) AS (SELECT 1 UNION ALL SELECT cp+1 FROM c "
            f"WHERE cp<{LAST}) INSERT INTO {table}(rowid,{','.join(cols)}) "
            f"SELECT cp, %s FROM c WHERE cp NOT BETWEEN 55296 AND 57343 "
            f"AND cp NOT IN (65534, 65535);\n")


def decode_hex(h):
    return [ord(ch) for ch in bytes.fromhex(h).decode("utf-8", "surrogatepass")]


def probe_unicode61(rd):
    """Returns (fold, nontoken): fold[c] for token characters whose term is
    not c itself; nontoken[c] = list of terms of 'a'||c||'a'."""
    tok = f"unicode61 remove_diacritics {rd}"
    sql = (f"CREATE VIRTUAL TABLE t USING fts5(x, y, tokenize='{tok}');\n"
           "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');\n"
           + all_rows("t", ["x", "y"]) % "char(cp), 'a'||char(cp)||'a'"
           + "SELECT 'F', doc, hex(term) FROM v WHERE col='x' AND term<>char(doc);\n"
           "SELECT 'N', doc, group_concat(hex(term), ' ') FROM "
           "(SELECT doc, term FROM v WHERE col='y' AND doc NOT IN "
           "(SELECT doc FROM v WHERE col='x') ORDER BY doc, offset) GROUP BY doc;\n")
    fold, nontoken = {}, {}
    for line in run_sql(sql):
        kind, cp, terms = line.split("|")
        if kind == "F":
            got = decode_hex(terms)
            assert len(got) == 1, line
            fold[int(cp)] = got[0]
        else:
            nontoken[int(cp)] = [decode_hex(t) for t in terms.split(" ")]
    return fold, nontoken


def probe_trigram():
    """fold0[c] for every code point whose trigram fold is not c."""
    sql = ("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram');\n"
           "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');\n"
           + all_rows("t", ["x"]) % "'xx'||char(cp)"
           + "SELECT doc, hex(term) FROM v WHERE term<>'xx'||char(doc);\n")
    fold = {}
    for line in run_sql(sql):
        cp, term = line.split("|")
        got = decode_hex(term)
        assert got[:2] == [ord("x")] * 2 and len(got) == 3, line
        fold[int(cp)] = got[2]
    return fold


def measure():
    fold0 = probe_trigram()
    u61 = {rd: probe_unicode61(rd) for rd in (0, 1, 2)}
    nontoken = u61[0][1]
    assert all(u61[rd][1].keys() == nontoken.keys() for rd in (1, 2))
    a = ord("a")
    joiners, seps = set(), set()
    for c, terms in nontoken.items():
        if terms == [[a], [a]]:
            seps.add(c)
            continue
        assert terms == [[a, c, a]], (hex(c), terms)  # kept whole when rd=0
        assert u61[1][1][c] == u61[2][1][c] == [[a, a]], hex(c)  # else dropped
        joiners.add(c)
    seps.update(UNREAD)
    # A token character's unicode61 term with rd=0 is its trigram fold.
    for c, f in u61[0][0].items():
        assert c not in nontoken and fold0.get(c, c) == f, hex(c)
    for c in range(1, LAST + 1):
        if c not in nontoken and c not in UNREAD:
            assert u61[0][0].get(c, c) == fold0.get(c, c), hex(c)
    # Diacritic removal works on the folded character: rd=1 and rd=2 are
    # functions of fold0(c).
    dia = {1: {}, 2: {}}
    for rd in (1, 2):
        for c in range(1, LAST + 1):
            if c in nontoken or c in UNREAD:
                continue
            x, y = fold0.get(c, c), u61[rd][0].get(c, c)
            assert dia[rd].get(x, y) == y, (rd, hex(c))
            if x != y:
                dia[rd][x] = y
    return fold0, seps, joiners, dia


def is_token(c, seps, joiners):
    return c not in seps and c not in joiners


def greek_cyrillic(fold0, seps, joiners):
    """Mode 3: a folded Greek or Cyrillic letter maps to the base letter of
    its canonical decomposition."""
    out = {}
    for c in list(range(0x370, 0x530)) + list(range(0x1F00, 0x2000)):
        if not is_token(c, seps, joiners):
            continue
        x = fold0.get(c, c)
        name = unicodedata.name(chr(x), "")
        if "GREEK" not in name and "CYRILLIC" not in name:
            continue
        base = ord(unicodedata.normalize("NFD", chr(x))[0])
        bname = unicodedata.name(chr(base), "")
        if base != x and ("GREEK" in bname or "CYRILLIC" in bname):
            out[x] = fold0.get(base, base)
    return out


def token_runs(seps, joiners):
    """Starts of the alternating runs from U+0080 on: separators first."""
    runs, prev = [], True
    for c in range(0x80, LAST + 2):
        tok = c > LAST or is_token(c, seps, joiners)
        if tok != prev:
            runs.append(c)
            prev = tok
    if len(runs) % 2:  # FTS5: everything above U+10FFFF is a token character
        assert runs[-1] == LAST + 1
    return runs


def fold_rules(fold0):
    """(first, count, stride, delta): cp in first + k*stride, k < count, folds
    to cp + delta."""
    rules = []
    for c in sorted(fold0):
        d = fold0[c] - c
        if rules:
            first, count, stride, delta = rules[-1]
            last = first + (count - 1) * stride
            if d == delta and count == 1 and c - first in (1, 2):
                rules[-1] = (first, 2, c - first, delta)
                continue
            if d == delta and c == last + stride:
                rules[-1] = (first, count + 1, stride, delta)
                continue
        rules.append((c, 1, 1, d))
    assert all(r[1] < 65536 and r[2] < 256 for r in rules)
    return rules


def dia_ranges(dia, greek, fold0):
    """(first, last, level, to) over folded code points: every folded code
    point in first..last becomes `to` when the diacritics mode >= level.
    Code points that no character folds to are free to join a range."""
    level = {}
    for x, y in dia[1].items():
        assert dia[2].get(x) == y
        level[x] = (1, y)
    for x, y in dia[2].items():
        level.setdefault(x, (2, y))
    for x, y in greek.items():
        assert x not in level
        level[x] = (3, y)
    image = set(fold0.values())
    folded_away = {c for c in fold0 if c not in image}
    out = []
    for x in sorted(level):
        lv, to = level[x]
        if out:
            first, last, plv, pto = out[-1]
            gap = range(last + 1, x)
            if (plv, pto) == (lv, to) and all(g in folded_away for g in gap):
                out[-1] = (first, x, lv, to)
                continue
        out.append((x, x, lv, to))
    assert all(r[1] < 65536 and r[3] < 65536 and r[1] - r[0] < 256 for r in out)
    return out


def c_rows(items, per_line, fmt):
    cells = [fmt(i) for i in items]
    lines = []
    for i in range(0, len(cells), per_line):
        lines.append("  " + ", ".join(cells[i:i + per_line]) + ",")
    return "\n".join(lines)


def sqlite_version():
    return run_sql("SELECT sqlite_version();")[0]


def main():
    fold0, seps, joiners, dia = measure()
    greek = greek_cyrillic(fold0, seps, joiners)
    runs = token_runs(seps, joiners)
    rules = fold_rules(fold0)
    ranges = dia_ranges(dia, greek, fold0)
    assert min(joiners) >= 0x300 and max(joiners) < 0x340
    jmask = sum(1 << (c - 0x300) for c in joiners)
    ascii_fold = []
    for b in range(256):
        if b >= 0x80:
            ascii_fold.append(0xFF)
        elif b and is_token(b, seps, joiners):
            ascii_fold.append(fold0.get(b, b))
        else:
            ascii_fold.append(0)
    w = sys.stdout.write
    w(f"""/*
** GENERATED by scripts/build/gen_unicode.py (run by hand); do not edit.
**
** Token classes, case folding and diacritics removal measured from SQLite
** {sqlite_version()} FTS5 (unicode61 remove_diacritics 0/1/2 and trigram over
** U+0001..U+10FFFF; FTS5's own data is Unicode 6.1). Mode 3's Greek and
** Cyrillic decompositions come from Python's unicodedata, Unicode
** {unicodedata.unidata_version}. Included by core/unicode.c only.
*/
#ifndef OMEN_UNICODE_TAB_H
#define OMEN_UNICODE_TAB_H

#include <stdint.h>

/* Bytes of text: 0 an ASCII separator, 0xff the lead or continuation of a
** multi-byte character, else an ASCII token character folded. */
const uint8_t omen__uni_ascii[256] = {{
{c_rows(ascii_fold, 16, lambda v: f"0x{v:02x}")}
}};

/* From U+0080 on, starts of the alternating runs of separators and token
** characters, a separator run first ({len(runs)} runs). */
static const uint32_t uni_runs[] = {{
{c_rows(runs, 8, lambda v: f"0x{v:x}")}
}};

/* Combining marks that continue a token (but never start one): bit k is
** U+0300 + k. */
#define UNI_JOINERS 0x{jmask:016x}ull

/* Case folding, one code point to one: cp = first + k * stride (k < count)
** folds to cp + delta ({len(rules)} rules). */
static const struct uni_fold_rule {{
  uint32_t first;
  uint16_t count;
  uint8_t stride;
  int32_t delta;
}} uni_fold[] = {{
{c_rows(rules, 3, lambda r: "{{0x{:04x}, {}, {}, {}}}".format(*r))}
}};

/* Diacritics removal over folded code points: first..last become `to` when
** the mode is at least `level` (1 and 2 Latin as FTS5, 3 Greek and
** Cyrillic) ({len(ranges)} ranges). */
static const struct uni_dia_range {{
  uint16_t first;
  uint8_t span, level; /* last = first + span */
  uint16_t to;
}} uni_dia[] = {{
{c_rows(ranges, 3, lambda r: "{{0x{:04x}, {}, {}, 0x{:04x}}}".format(r[0], r[1] - r[0], r[2], r[3]))}
}};

#endif
""")
    ntok14 = sum(1 for c in range(0x80, LAST + 1)
                 if c not in UNREAD
                 and is_token(c, seps, joiners) !=
                 (unicodedata.category(chr(c))[0] in "LN" or
                  unicodedata.category(chr(c)) in ("Co", "Cn")))
    print(f"gen_unicode: {len(runs)} runs, {len(rules)} fold rules, "
          f"{len(ranges)} diacritic ranges, {len(joiners)} joiners; FTS5 "
          f"token class differs from Unicode {unicodedata.unidata_version} "
          f"(L* N* Co Cn) on {ntok14} code points", file=sys.stderr)


if __name__ == "__main__":
    main()
