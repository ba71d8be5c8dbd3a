#!/usr/bin/env bash
# tokenize_fixture.sh: regenerates tests/data/unicode61.txt, sample texts
# with the terms SQLite FTS5 makes of each, which tests/test_tokenize.c holds
# core/tokenize.c to. Run by hand from the repo root (the build never runs
# it); needs sqlite3 with FTS5 ($SQLITE3, default sqlite3 on the PATH):
#
#   bash scripts/build/tokenize_fixture.sh
#
# The samples: the hand list below (a line is a text; "x:HEX" is a text of
# those bytes, for invalid UTF-8 and exact combining marks; "s:EXPR" is an
# SQL expression; "#" lines are comments), runs of 32 consecutive code
# points from many blocks (once between ASCII letters, once bare), and byte
# soup from a fixed pseudo-random sequence (ASCII, lead and continuation
# bytes). Each is tokenized by FTS5 under every configuration below and the
# terms are read back from an fts5vocab 'instance' table, ordered by offset.
#
# Output: per sample a "# " line for people, a "text HEX" line, then one
# line per configuration: its name and the terms as POSITION:HEX. To keep
# the file small the runs of code points have trigram lines only when bare,
# and no trigramcs lines.
set -euo pipefail
export LC_ALL=C

out=tests/data/unicode61.txt
sqlite=${SQLITE3:-sqlite3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name and FTS5 tokenize argument of each configuration
configs=(
  "u61|unicode61"
  "u61rd0|unicode61 remove_diacritics 0"
  "u61rd2|unicode61 remove_diacritics 2"
  "porter|porter unicode61"
  "trigram|trigram"
  "trigramcs|trigram case_sensitive 1"
)

samples() {
  cat <<'EOF'
# English prose, punctuation, numbers
The quick brown fox jumps over the lazy dog.
THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG!
It's a dog's life, isn't it? Rock 'n' roll; O'Reilly & Sons' books.
She said: "Don't stop -- keep going..." and left (quietly).
well-known state-of-the-art e-mail co-operate re-enter x-ray
Pi is 3.14159, e is 2.71828; 1,000,000 and 1.000.000 and 1 000 000.
Call +1 (555) 123-4567 or 555.123.4567 ext. 89 before 9:30am on 2024-01-15.
Version 2.0.1-rc3 released 12/31/1999 at 23:59:59 UTC+05:30.
50% off! $19.99 only, was €25 or £20 or ¥3000; 3×4=12, 10÷2=5, ±1, ½ ¾ ¼.
Section §4.2 ¶3, item #42, see [1], {2} and <3>; a|b, a\b, a/b, a~b, a^b.
Mr. Smith & Mrs. Jones met Dr. Who at St. Paul's, U.S.A., on Jan. 1st.
The 1990s, the '80s, 4th of July, 21st century, 100th time, 2nd place.
Tab	separated	values	and
   leading and trailing spaces   
multiple     spaces      between     words
UPPER lower MiXeD cAsE CamelCase camelCase snake_case kebab-case SCREAMING_CASE
a b c d e f g h i j k l m n o p q r s t u v w x y z
A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9
!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
x!y"z#a$b%c&d'e(f)g*h+i,j-k.l/m:n;o<p=q>r?s@t[u\v]w^x_y`z{a|b}c~d
running runs ran runner easily fairly happiness relational conditional
generalizations connection connected connecting connections caresses ponies
Supercalifragilisticexpialidocious antidisestablishmentarianism floccinaucinihilipilification
pneumonoultramicroscopicsilicovolcanoconiosis
# URLs, e-mail, paths, code
https://www.example.com/path/to/page.html?query=value&x=1#fragment
http://user:pass@host.example.org:8080/a%20b/c?d=e;f=g
ftp://ftp.example.net/pub/file-1.2.3.tar.gz mailto:someone@example.com
john.doe+filter@mail.example.co.uk, JANE_ROE@Example.COM; x@y.z
/usr/local/bin/python3 C:\Program Files\App\app.exe ~/.config/omen/rc
foo_bar.baz() obj->field arr[i++] x += y * 2; return a && b || !c;
def tokenize(text: str) -> List[str]: return text.split()
#include <stdio.h> int main(void) { printf("%d\n", 42); }
SELECT * FROM t WHERE x = 'a''b' AND y <> 3;
omen__uni_fold(cp, 2) __init__ __future__ _private __dunder__ a_b_c
getElementById XMLHttpRequest parseInt toString HTTP2Server IPv6Address
0x1F 0b1010 0o777 1e10 1.5e-3 -42 +7 3.0f 10L 0xdeadBEEF
v1.2.3 sha256:9f86d081884c7d65 uuid 123e4567-e89b-12d3-a456-426614174000
<html><body class="main">Hello&nbsp;world&amp;more</body></html>
{"key": "value", "n": [1, 2, 3], "ok": true, "nested": {"a": null}}
@user #hashtag $variable %percent ^caret &amp *star
# emoji and symbols
I ❤️ NY 😀 😂 🎉 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🏳️‍🌈 ☕ ✔ ✈️
smile😀smile thumbs👍up ok✅done 🤔thinking 🦄unicorn 🥰love
🤔🤔🤔 🦄🦄 🥰 🫠 🪐 🧪 🛸 😀😀
★☆♠♣♥♦ ©®™ ←↑→↓ ∀∂∃∅∇∈∉ ∑∏√∞ ≈≠≤≥ ⊂⊃∩∪ ⌘⌥⇧ ♪♫ ☀☁☂
Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ ⅰⅱⅲ ① ② ③ ⑩ ⒜ Ⓐ Ⓩ ⓐ ² ³ ¹ ⁴ ₁ ₂
ﬁ ﬂ ﬀ ﬃ Ǆ ǅ ǆ Ǉ ǈ ǉ Ǳ ǲ ǳ ǈemma Ǳur ﬁnance
Ａ Ｂ Ｃ ａｂｃ ＡＢＣ１２３ ｶﾀｶﾅ full－width
# Latin with diacritics (NFC)
Café résumé naïve façade jalapeño piñata über Ångström Øresund Ærø
crème brûlée à la mode, déjà vu, vis-à-vis, señor, coöperate, Zoë
Łódź Kraków Gdańsk Wrocław Poznań Żółć źdźbło ŻÓŁW
Ðakovo Þingvellir Ísland Færeyjar Dvořák Škoda Čapek Řeka ŘEKA
Ålesund Århus Ærøskøbing Øster Brønderslev
São Paulo, Maranhão, Ceará, Paraíba, Goiânia, Florianópolis
Nguyễn Tấn Dũng, Hà Nội, Thành phố Hồ Chí Minh, tiếng Việt, Phở
ǖǘǚǜ Ǖ Ǘ ǟ ǡ ǻ ǽ ǿ ȫ ȭ ȱ ḉ ḕ ḗ ḝ ḯ ṍ ṏ ṑ ṓ ṥ ṧ ṩ ẫ ậ ắ ằ ẳ ẵ ặ ế ề ể ễ ệ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ ứ ừ ử ữ ự
ÀÁÂÃÄÅ àáâãäå ÈÉÊË èéêë ÌÍÎÏ ìíîï ÒÓÔÕÖØ òóôõöø ÙÚÛÜ ùúûü Ýý ÿ Ÿ Ññ Çç
ĀāĂăĄą ĆćĈĉĊċČč ĎďĐđ ĒēĔĕĖėĘęĚě ĜĝĞğĠġĢģ ĤĥĦħ ĨĩĪīĬĭĮįİı ĲĳĴĵĶķĸ
ĹĺĻļĽľĿŀŁł ŃńŅņŇňŉŊŋ ŌōŎŏŐőŒœ ŔŕŖŗŘř ŚśŜŝŞşŠš ŢţŤťŦŧ ŨũŪūŬŭŮůŰűŲų ŴŵŶŷŸŹźŻżŽžſ
ȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ
ḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓ ẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẚẛẞ ẠạẢảẤấẦầẨẩẪẫẬậ
ƀƁƂƃƄƅƆƇƈƉƊƋƌƍƎƏƐƑƒƓƔƕƖƗƘƙƚƛƜƝƞƟƠơƢƣƤƥƦƧƨƩƪƫƬƭƮƯưƱƲƳƴƵƶƷƸƹƺƻƼƽƾƿ
ɐɑɒɓɔɕɖɗɘəɚɛɜɝɞɟɠɡɢɣɤɥɦɧɨɩɪɫɬɭɮɯɰɱɲɳɴɵɶɷɸɹɺɻɼɽɾɿ ʰʱʲʳʴʵʶʷʸ ˆˇˈˉ
# Latin with combining marks (NFD), exact bytes
s:'Cafe' || char(0x301) || ' re' || char(0x301) || 'sume' || char(0x301) || ' nai' || char(0x308) || 've'
s:'e' || char(0x301) || char(0x300) || char(0x302) || 'x a' || char(0x327) || char(0x30c) || 'b'
s:char(0x301) || 'leading mark, ' || char(0x308) || char(0x308) || ' only marks, end' || char(0x301)
s:'A' || char(0x30a) || 'ngstro' || char(0x308) || 'm O' || char(0x338) || 'resund'
s:'n' || char(0x303) || ' N' || char(0x303) || ' c' || char(0x327) || ' C' || char(0x327) || ' s' || char(0x30c) || ' S' || char(0x30c)
s:'a' || char(0x305) || 'b a' || char(0x310) || 'b a' || char(0x312) || 'b a' || char(0x31a) || 'b a' || char(0x320) || 'b a' || char(0x332) || 'b a' || char(0x334) || 'b'
s:'a' || char(0x300) || char(0x301) || char(0x302) || char(0x303) || char(0x304) || char(0x305) || char(0x306) || char(0x307) || char(0x308) || char(0x309) || char(0x30a) || char(0x30b) || char(0x30c) || char(0x30d) || char(0x30e) || char(0x30f) || 'z'
s:'a' || char(0x310) || char(0x311) || char(0x312) || char(0x313) || char(0x314) || char(0x315) || char(0x316) || char(0x317) || char(0x318) || char(0x319) || char(0x31a) || char(0x31b) || char(0x31c) || char(0x31d) || char(0x31e) || char(0x31f) || 'z'
s:'a' || char(0x320) || char(0x321) || char(0x322) || char(0x323) || char(0x324) || char(0x325) || char(0x326) || char(0x327) || char(0x328) || char(0x329) || char(0x32a) || char(0x32b) || char(0x32c) || char(0x32d) || char(0x32e) || char(0x32f) || 'z'
s:'a' || char(0x330) || char(0x331) || char(0x332) || char(0x333) || char(0x334) || char(0x335) || char(0x336) || char(0x337) || char(0x338) || char(0x339) || char(0x33a) || char(0x33b) || char(0x33c) || char(0x33d) || char(0x33e) || char(0x33f) || 'z'
s:'a' || char(0x340) || 'b' || char(0x342) || 'c' || char(0x345) || 'd' || char(0x34f) || 'e' || char(0x361) || 'f' || char(0x36f) || 'g' || char(0x1dc0) || 'h' || char(0x20d7) || 'i' || char(0xfe20) || 'j'
s:'ü' || char(0x301) || ' Ü' || char(0x301) || ' ǘ' || char(0x308) || ' ø' || char(0x301)
s:char(0x391) || char(0x313) || 'θη' || char(0x342) || 'ναι ' || char(0x3b1) || char(0x301) || 'λφα ' || char(0x3b9) || char(0x308) || char(0x301)
s:char(0x435) || char(0x308) || 'лка ' || char(0x438) || char(0x306) || 'од ' || char(0x456) || char(0x308)
# German, Turkish, Dutch, Scandinavian
Straße STRASSE Maßstab Fußgängerübergänge Grüße GRÜSSE Äpfel Öl Übel ẞ
Größenwahn weiß Weiss ÄÖÜ äöü Ärger Ökonomie Überraschung Mädchen
İstanbul ISTANBUL istanbul ıi İI Iı DİYARBAKIR Diyarbakır ığdır IĞDIR
Türkçe Şişli Çanakkale Ağrı Muğla Eskişehir Kırıkkale ŞEHİR şehir
IJsselmeer ĳsselmeer Ĳssel ﬁjn café's Åland Ærø Ísafjörður Þórshöfn
# Greek
Ἀθῆναι Ἑλλάς Ὅμηρος ᾨδή ᾄδω Ἰησοῦς Χριστός
ΣΊΣΥΦΟΣ Σίσυφος σίσυφος ΟΔΥΣΣΕΥΣ Οδυσσεύς ὀδυσσεύς
Ελληνικά ελληνικά ΕΛΛΗΝΙΚΆ άέήίόύώ ΆΈΉΊΌΎΏ ϊϋΐΰ ΪΫ
ς σ Σ λόγος ΛΌΓΟΣ λογοσ πόλις ΠΌΛΙΣ ϐ ϑ ϕ ϖ ϰ ϱ ϲ ϳ ϴ ϵ ϶ Ϸ ϸ Ϲ Ϻ ϻ
ᾀᾁᾂᾃᾄᾅᾆᾇᾈᾉᾊᾋᾌᾍᾎᾏ ᾰᾱᾲᾳᾴᾶᾷᾸᾹᾺΆᾼ ῂῃῄῆῇῈΈῊΉῌ ῐῑῒΐῖῗ ῠῡῢΰῤῥῦῧ ῲῳῴῶῷῸΌῺΏῼ
Ͱͱ Ͳͳ Ͷͷ ͻͼͽ ; ΄ ΅ · Ϗ ϗ Ϙϙ Ϛϛ Ϝϝ Ϟϟ Ϡϡ Ϣϣ Ϥϥ Ϧϧ Ϩϩ Ϫϫ Ϭϭ Ϯϯ
# Cyrillic
ёлка Ёлка ЁЛКА йод Йод ЙОД ещё Ещё её
Москва МОСКВА Санкт-Петербург Україна УКРАЇНА їжак Їжак ґанок Ґанок
Беларусь ўсё Ўсё Србија Ђорђе Љубљана Њујорк Џеп Ѓорѓе Ќерка Ѕвезда
Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю.
ѐѝ ӑӓӗӛӝӟӣӥӧӫӭӯӱӳӵӹ Ӑ Ӓ Ӗ Ӛ Ӝ Ӟ Ӣ Ӥ Ӧ Ӫ Ӭ Ӯ Ӱ Ӳ Ӵ Ӹ ѷ Ѷ Ӂ ӂ
Ѡѡ Ѣѣ Ѥѥ Ѧѧ Ѩѩ Ѫѫ Ѭѭ Ѯѯ Ѱѱ Ѳѳ Ѵѵ Ҁҁ ҂ ҃ ҄ ҅ ҆ ҈ ҉ Ҋҋ Ӏ ӏ Ԁԁ Ԑԑ Ԥԥ
# Armenian, Georgian, other bicameral
Հայաստան ՀԱՅԱՍՏԱՆ Երևան ևս ﬓ ﬔ
საქართველო Ⴀ Ⴁ Ⴂ Ⴥ Ⴧ Ⴭ ა ბ Ა Ბ ⴀ
Ⰰ Ⰱ ⰰ ⰱ Ⲁ ⲁ Ⲃ ⲃ 𐐀 𐐁 𐐨 𐐩 𐐧 𐑏 Ꭰ Ꭱ ꭰ Ᏸ ᏸ
Ꙁꙁ Ꙃꙃ Ꚁꚁ Ꜣꜣ Ꜳꜳ Ꝺ Ᵹ ꝺ Ꞌ ꞌ Ɥ Ɦ ɦ Ꞑꞑ Ꞡꞡ Ɦ Ꞩꞩ Ɪ Ʞ Ʇ
# Right-to-left and Indic scripts
مرحبا بالعالم العربية اللغة العربيّة كِتَابٌ ١٢٣ ٤٥٦
שלום עולם עִבְרִית ספר הַסֵּפֶר 123 א״ב
नमस्ते दुनिया हिन्दी भाषा देवनागरी क्षत्रिय ०१२३
বাংলা ভাষা ਪੰਜਾਬੀ ગુજરાતી ଓଡ଼ିଆ தமிழ் తెలుగు ಕನ್ನಡ മലയാളം සිංහල
ภาษาไทย สวัสดีครับ ພາສາລາວ ភាសាខ្មែរ မြန်မာဘာသာ བོད་སྐད་ ትግርኛ አማርኛ
فارسی زبان پارسی اردو زبان ئۇيغۇرچە ܠܫܢܐ ܣܘܪܝܝܐ ދިވެހި ߒߞߏ
# CJK
日本語のテキスト、東京都。漢字とひらがなとカタカナ！
中文文本，北京市。简体字和繁體字？
한국어 텍스트, 서울특별시. 한글과 漢字
東京2020オリンピック iPhone15プロ ＡＢＣ商事 ｶﾀｶﾅ
𠀀𠀁𠀂 𪚥 𩸽 𠮷野家 𡈽 ㊀ ㊤ ㈱ ㍻ ㋿ 々 〆 〇 ー ゝゞ ヽヾ
# long tokens, repeated terms
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
the the the The THE tHe the. the, the; the
ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé
# separators of every kind
a b c d e f g h i j
s:'a' || char(9) || 'b' || char(10) || 'c' || char(11) || 'd' || char(12) || 'e' || char(13) || 'f' || char(0x1c) || 'g' || char(0x7f) || 'h'
s:'a' || char(0xa0) || 'b' || char(0x1680) || 'c' || char(0x2000) || 'd' || char(0x2009) || 'e' || char(0x200b) || 'f' || char(0x2028) || 'g' || char(0x3000) || 'h'
s:'a' || char(0xad) || 'b' || char(0x200c) || 'c' || char(0x200d) || 'd' || char(0x2060) || 'e' || char(0xfeff) || 'f' || char(0x61c) || 'g' || char(0x200e) || 'h'
s:'a' || char(0x2010) || 'b' || char(0x2013) || 'c' || char(0x2014) || 'd' || char(0x2019) || 'e' || char(0x201c) || 'f' || char(0x2026) || 'g' || char(0xb7) || 'h'
s:'a' || char(0x85) || 'b' || char(0x9f) || 'c' || char(0xe000) || 'd' || char(0xf8ff) || 'e' || char(0xf0000) || 'f' || char(0x10fffd) || 'g' || char(0xfffd) || 'h'
s:'a' || char(0xfe0f) || 'b' || char(0xe0001) || 'c' || char(0xe0100) || 'd' || char(0x1f3fb) || 'e' || char(0xe0041) || 'f' || char(0x1d173) || 'g'
s:'a' || char(0x378) || 'b' || char(0x1f914) || 'c' || char(0x1f600) || 'd' || char(0x2fffd) || 'e' || char(0x30000) || 'f' || char(0xa7ab) || 'g' || char(0x1c90) || 'h'
s:'x' || char(0) || 'y z' || char(0) || char(0) || 'w'
s:char(0) || 'abc'
s:'abc' || char(0)
s:'ab' || char(0) || 'cd'
# trigram edge cases: short texts, whitespace, diacritics
s:''
a
ab
abc
abcd
A B
  x  
ABC
aBc DeF
é
éé
ééé
Éé
😀
😀😀
😀😀😀
a😀b😀
s:'e' || char(0x301) || 'f'
s:char(0x301) || char(0x301) || char(0x301)
  
   
    
s:'#'
s:char(9) || char(10) || char(13)
# invalid UTF-8
x:ff
x:80
x:c3
x:e282
x:f09f98
x:61ff62
x:61806263
x:61c3
x:61c328
x:61e28228
x:61f09f9828
x:c0af
x:c080
x:c1bf
x:e08080
x:e0809f
x:eda080
x:edbfbf
x:efbfbe
x:efbfbf
x:f4908080
x:f7bfbfbf
x:f888808080
x:fc8480808080
x:fe
x:feff
x:fffe
x:c3a9a9a9a9a9a9
x:e282ac80808080
x:c3b5
x:b5aab2ba
x:41b5c2b542
x:6162bf6364
x:c3c3c3c3
x:cebccebc80cebc
x:d0b0cc81d0b1
x:4142c3814344
x:616263ff646566
x:80818283848586878889
x:a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
x:b0b1b2b3b4b5b6b7b8b9babbbcbdbebf
x:c080c180c280c380
x:f08080f08181f0908080
x:c2a0c2a1c2aac2b5c2ba
x:e0a080e0a0bfe0bfbf
x:f0908080f48fbfbf
EOF
}

# SQL for the hand list: one INSERT per sample (src is the note for people).
hand_sql() {
  samples | awk -v q="'" '
    function lit(s) { gsub(q, q q, s); return q s q }
    /^#/ { next }
    /^x:/ { h = substr($0, 3)
            printf "INSERT INTO s(src, x) VALUES(%s, CAST(X%s AS TEXT));\n", lit("bytes " h), lit(h); next }
    /^s:/ { e = substr($0, 3)
            printf "INSERT INTO s(src, x) VALUES(%s, %s);\n", lit("sql " e), e; next }
    { printf "INSERT INTO s(src, x) VALUES(%s, %s);\n", lit($0), lit($0) }'
}

# Runs of 32 code points from U+base: between letters, and bare.
sweep_sql() {
  local b
  for b in 80 b0 100 180 1c0 250 2b0 300 330 360 370 3a0 3d0 400 460 4c0 500 \
           530 590 600 660 6d0 700 900 980 e00 10a0 13a0 1680 1d00 1dc0 1e00 \
           1e80 1ef0 1f00 1f50 1fa0 1fd0 2000 2070 2100 2150 2460 24d0 2c00 \
           2c60 2ce0 2d00 3000 3040 3190 4db0 4e00 9fc0 a640 a6f0 a720 a780 \
           a7d0 ab70 abc0 ac00 d7a0 f900 fb00 fb40 fe00 fe40 ff00 ffd0 10000 \
           10400 10480 11000 1d400 1f100 1f300 1f600 1f900 1fa40 20000 2a6d0 \
           2f800 30000 e0000 e01c0 f0000 ffff0 10ffd0; do
    printf "INSERT INTO s(src, x) SELECT 'sweep a<U+%s..+31>', group_concat('a' || char(cp), '') FROM (SELECT 0x%s + value AS cp FROM generate_series(0, 31)) WHERE cp < 0x110000 AND cp NOT BETWEEN 0xd800 AND 0xdfff;\n" "$b" "$b"
    printf "INSERT INTO s(src, x) SELECT 'sweep U+%s..+31', group_concat(char(cp), '') FROM (SELECT 0x%s + value AS cp FROM generate_series(0, 31)) WHERE cp < 0x110000 AND cp NOT BETWEEN 0xd800 AND 0xdfff;\n" "$b" "$b"
  done
}

# Byte soup: 80 texts of 1 to 120 bytes from a 32-bit LCG (exact in awk's
# doubles), a third ASCII, the rest lead and continuation bytes.
soup_sql() {
  awk 'BEGIN {
    x = 20240601
    split("41 61 7a 5a 30 39 20 2e 2d 5f 00 0a", ascii, " ")
    for (t = 0; t < 80; t++) {
      x = (x * 69069 + 1) % 4294967296; n = 1 + int(x / 4294967296 * 120)
      h = ""
      for (i = 0; i < n; i++) {
        x = (x * 69069 + 1) % 4294967296; r = int(x / 16777216)
        if (r < 85) b = sprintf("%02x", 0x61 + r % 26)
        else if (r < 100) b = ascii[1 + r % 12]
        else if (r < 150) b = sprintf("%02x", 0x80 + r % 64)
        else b = sprintf("%02x", r)
        h = h b
      }
      printf "INSERT INTO s(src, x) VALUES('\''soup %d'\'', CAST(X'\''%s'\'' AS TEXT));\n", t, h
    }
  }'
}

{
  echo "CREATE TABLE s(id INTEGER PRIMARY KEY, src TEXT, x TEXT);"
  hand_sql
  sweep_sql
  soup_sql
  cols=""
  for c in "${configs[@]}"; do
    name=${c%%|*}
    echo "CREATE VIRTUAL TABLE t_$name USING fts5(x, tokenize='${c#*|}');"
    echo "INSERT INTO t_$name(rowid, x) SELECT id, x FROM s;"
    echo "CREATE VIRTUAL TABLE v_$name USING fts5vocab(t_$name, 'instance');"
    skip="0"
    [ "$name" = trigram ] && skip="src LIKE 'sweep a<%'"
    [ "$name" = trigramcs ] && skip="src LIKE 'sweep %'"
    cols+=" || CASE WHEN $skip THEN '' ELSE char(10) || '$name' || coalesce((SELECT group_concat(' ' || offset || ':' || hex(term), '') FROM (SELECT offset, term FROM v_$name WHERE doc = s.id ORDER BY offset)), '') END"
  done
  # The note for people, control characters shown as spaces (samples of
  # raw bytes show their hex).
  echo "SELECT '# ' || replace(replace(replace(src, char(10), ' '), char(13), ' '), char(9), ' ') || char(10) || 'text ' || hex(x)$cols FROM s ORDER BY id;"
} > "$tmp/fixture.sql"

n=$(grep -c '^INSERT INTO s' "$tmp/fixture.sql")
{
  echo "# Terms SQLite $("$sqlite" -version | cut -d' ' -f1) FTS5 makes of $n sample texts, by"
  echo "# scripts/build/tokenize_fixture.sh: per sample \"text HEX\", then per tokenize"
  echo "# configuration its terms as POSITION:HEX, read from fts5vocab(t, 'instance')."
  for c in "${configs[@]}"; do echo "#   ${c%%|*}: tokenize='${c#*|}'"; done
  "$sqlite" -batch :memory: < "$tmp/fixture.sql"
} > "$out"
echo "tokenize_fixture: $n samples in $out"
