#!/usr/bin/env bash
# porter_fixture.sh: regenerates tests/data/porter.txt, a list of lower-case
# words with the stem SQLite FTS5's porter tokenizer gives each, which
# tests/test_porter.c holds core/porter.c to. Run by hand from the repo root
# (the build never runs it); needs sqlite3 (with FTS5), perl and man pages:
#
#   bash scripts/build/porter_fixture.sh            # harvest words afresh
#   bash scripts/build/porter_fixture.sh WORDS      # stem the words in WORDS
#
# The words come from the English man pages (sections 1, 5, 7, 8) and the
# text in /usr/share/doc (a word must occur at least 3 times in each), the
# rarer Porter suffixes from either (2 occurrences), the commonest
# lower-case words with non-ASCII letters from the translated man pages, a
# hand list of tricky cases and tokens around FTS5's 64-byte limit. Which
# words are found depends on what is installed, so to re-stem the same
# words with another sqlite3, pass them back in:
#   grep -v '^#' tests/data/porter.txt | cut -f1 > /tmp/w
#   bash scripts/build/porter_fixture.sh /tmp/w
#
# The table uses tokenize='porter ascii': the ascii tokenizer folds only
# A-Z and keeps every byte >= 0x80 in the token, so the porter stemmer sees
# each word exactly as written, as core/porter.c does.
set -euo pipefail
export LC_ALL=C

out=tests/data/porter.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Words of text on stdin, lower-cased, with their counts.
plain_words() {
  tr -cs '[:alpha:]' '\n' | tr '[:upper:]' '[:lower:]' | sort | uniq -c
}

# The same of roff: requests, font changes and \(xx, \*(xx escapes dropped.
roff_words() {
  sed -e "/^[.']/d" -e 's/\\f[BIRP]//g' -e 's/\\[(*]([A-Za-z0-9][A-Za-z0-9]//g' \
      -e 's/\\[(*][A-Za-z0-9][A-Za-z0-9]//g' -e 's/\\[A-Za-z]//g' | plain_words
}

harvest() {
  find /usr/share/man/man1 /usr/share/man/man5 /usr/share/man/man7 \
       /usr/share/man/man8 -name '*.gz' | sort | xargs zcat 2>/dev/null |
    roff_words > "$tmp/man"
  find /usr/share/doc -type f \( -name copyright -o -name '*.txt' \
       -o -name 'README*' -o -name 'NEWS*' -o -name 'changelog*' \) | sort |
    xargs zcat -f 2>/dev/null | plain_words > "$tmp/doc"

  # Real words: common in both the man pages and the docs.
  awk 'NR == FNR { m[$2] = $1; next }
       ($2 in m) && m[$2] >= 3 && $1 >= 3 { print $2 }' "$tmp/man" "$tmp/doc"

  # The rarer suffixes of steps 2 to 4 (most reached through y -> i).
  cat "$tmp/man" "$tmp/doc" | awk '$1 >= 2 { print $2 }' |
    grep -E '(ational|tional|enci|anci|izer|logy|bly|ally|ently|ely|ously|ization|ator|alism|iveness|fulness|ousness|ality|ivity|bility|icate|ative|alize|icity|ical|ful|ness|ance|ence|ible|ement|ism|ous|ive|ize|sses|eed|ied)s?$'

  # The 1,500 commonest lower-case words with non-ASCII letters, from the
  # translated pages.
  find /usr/share/man -path '/usr/share/man/man*' -prune -o -name '*.gz' -print |
    sort | xargs zcat 2>/dev/null |
    perl -CSD -ne 'next if /^[.\x27]/; s/\\f[BIRP]//g;
      for (/(\p{L}+)/g) { $c{$_}++ if /[^\x00-\x7f]/ && $_ eq lc $_ }
      END { printf "%d %s\n", $c{$_}, $_ for keys %c }' |
    sort -k1,1nr -k2 | sed -n '1,1500p' | cut -d' ' -f2

  tricky
  boundaries
}

# Hand-picked cases: Porter's own examples, short tokens, y, digits, and
# stems that reach a rule with nothing, or one letter, left.
tricky() {
  cat <<'EOF'
a i s y ab as is us ss ed yy by my ok ox
ies ied eed ing eds sss yyy aed eing aing ated ized bled ating izing bling
caresses ponies ties caress cats feed agreed plastered bled motoring sing
conflated troubled sized hopping tanned falling hissing fizzed failing filing
happy sky relational conditional rational valenci hesitanci digitizer
conformabli radicalli differentli vileli analogousli vietnamization
predication operator feudalism decisiveness hopefulness callousness
formaliti sensitiviti sensibiliti triplicate formative formalize electriciti
electrical hopeful goodness revival allowance inference airliner gyroscopic
adjustable defensible irritant replacement adjustment dependent adoption
homologou communism activate angulariti homologous effective bowdlerize
probate rate cease controll roll generalization generalizations oscillators
syzygy yes eyes toy toys toying say saying played yelled yield crying cried
boy boys daily dye dying dyed yay yayed yaying sly slyly enjoy enjoyed
fly flies flying flyer spy spies buy buys buying ply plies replied relies
agency emergency fancy fancies argue argued arguing hoped hoping hop hopped
sses eeds eeing feeds agreement element elements cement ement ment ent
rational national nationalize ationals tionals izers izer ization logi
relate relating related relativity rate rated rates rating
1 12 123 1234 mp3 mp3s x86 x86s 2nd 3rd 1990s ipv6 utf8 64bit sha256 b2b
100s 9ed 99ing abc123ing 3ing 4ies 7sses a1b2c3 0x1f 1e10 v2 v10 ipv4s
café cafés naïve naïveté résumé résumés über straße ñandú señor años
déjà façade façades fiancé fiancées crème éclair éclairs coöperate
naïvely caféing cafés12 ﬁ ß ßs ßes éé ééé éed éing éies
EOF
}

# s repeated n times.
repeat() {
  local s='' i
  for ((i = 0; i < $2; i++)); do s+=$1; done
  printf '%s' "$s"
}

# Tokens either side of the 64-byte limit, in ASCII and with 2-byte letters.
boundaries() {
  local n suffix
  for n in 60 61 62 63 64 65 66 67; do
    for suffix in ational ing ies s; do
      echo "$(repeat conditional 7 | cut -c1-$((n - ${#suffix})))$suffix"
    done
    echo "a$(repeat é $(((n - 4) / 2)))$(repeat x $(((n - 4) % 2)))ing"
  done
}

if [ $# -ge 1 ]; then cat "$1"; else harvest; fi |
  tr ' ' '\n' | perl -ne 'print if /^[a-z0-9\x80-\xff]+$/' | sort -u > "$tmp/words"

# One row per word; its token's stem, read back through fts5vocab.
awk '{ printf "INSERT INTO t(rowid, x) VALUES(%d, '\''%s'\'');\n", NR, $0 }' \
  "$tmp/words" > "$tmp/insert.sql"
sqlite3 -batch :memory: \
  "CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter ascii');" \
  "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');" \
  ".read $tmp/insert.sql" \
  ".separator \"\t\"" \
  "SELECT t.x, v.term FROM t JOIN v ON v.doc = t.rowid ORDER BY t.rowid;" \
  > "$tmp/stems"

words=$(wc -l < "$tmp/words")
stems=$(wc -l < "$tmp/stems")
if [ "$words" != "$stems" ]; then
  echo "porter_fixture: $words words but $stems stems (a word made 0 or 2 tokens)" >&2
  exit 1
fi

{
  echo "# word<TAB>stem by SQLite $(sqlite3 -version | cut -d' ' -f1) FTS5, made by" \
       "scripts/build/porter_fixture.sh${1:+ $1}: CREATE VIRTUAL TABLE t USING" \
       "fts5(x, tokenize='porter ascii'); one INSERT per word (rowid = line);" \
       "SELECT t.x, v.term FROM t JOIN fts5vocab(t, 'instance') v ON v.doc = t.rowid"
  cat "$tmp/stems"
} > "$out"
echo "porter_fixture: $words words in $out"
