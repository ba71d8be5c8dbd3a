#!/bin/sh
# Tests of omen-lua as a program: the prompt fed through a pipe (-i), scripts
# with arguments and -e chunks, and the real terminal path (readline editing,
# history, Ctrl-C, Tab completion) driven through tmux.
# usage: sh tests/repl_test.sh path/to/omen-lua
# Exits 0 when every check passes; ends with one PASS/FAIL line.
set -u

bin=${1:?usage: sh tests/repl_test.sh path/to/omen-lua}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
[ -x "$bin" ] || { echo "FAIL: repl_test: $bin is not an executable"; exit 1; }

tmp=$(mktemp -d) || exit 1
sock=omen-test-$$
sock_path= # tmux leaves its socket file behind
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null
  [ -n "$sock_path" ] && rm -f "$sock_path"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' HUP INT TERM
HOME=$tmp/home # the prompt's history goes here, not in the real home
export HOME
mkdir "$HOME"

checks=0 failures=0

# check NAME COMMAND...: one check, passed when the command succeeds.
check() {
  name=$1
  shift
  checks=$((checks + 1))
  if "$@"; then return 0; fi
  failures=$((failures + 1))
  echo "  failed: $name"
}

# has FILE EXTENDED-REGEX: some line of the file matches.
has() { grep -Eq -- "$2" "$1"; }
# not_has FILE EXTENDED-REGEX: no line of the file matches.
not_has() { ! grep -Eq -- "$2" "$1"; }

# show FILE: the file, indented, to explain a failure.
show() { sed 's/^/    | /' "$1"; }

# run CMD...: a command that must not hang.
run() {
  if command -v timeout >/dev/null; then timeout 10 "$@"; else "$@"; fi
}

# -- 1. The prompt on a pipe, forced by -i -----------------------------------

cat >"$tmp/prompt.lua" <<'EOF'
40 + 2
=1+1
function twice(x)
  return 2 * x
end
twice(21) + 1000
error("deliberate failure")
"still" .. " running"
db = omen.open()
c = db:create_collection("pets", {dim = 2})
c:upsert("alpha", {0, 0}, {kind = "cat"})
c:upsert("bravo-long-id", {3, 4})
c:search({0, 0}, {k = 2})
.help
.open DIR/dot.omen books
books:create_collection("titles", {dim = 3, metric = "cosine"}):upsert("dune", {1, 0, 0})
.colls books
.info books:collection("titles")
.open DIR/gone.omen gone
gone:close()
.dbs
.bogus
.info 42
EOF
sed -i "s|DIR/|$tmp/|" "$tmp/prompt.lua"
run "$bin" -i <"$tmp/prompt.lua" >"$tmp/raw" 2>"$tmp/err"
check "piped -i exits with status 0" [ $? -eq 0 ]
# Prompts are printed without newlines: strip them off the start of lines.
sed -E 's/^((omen> )|(  \.\.\. ))+//' "$tmp/raw" >"$tmp/out"

check "an expression alone is printed" has "$tmp/out" '^42$'
check "=1+1 prints 2" has "$tmp/out" '^2$'
check "a function defined across lines works" has "$tmp/out" '^1042$'
check "an error prints its message" has "$tmp/err" 'deliberate failure'
check "the line after an error still runs" has "$tmp/out" '^"still running"$'
check "continuation prompts are shown" has "$tmp/raw" '  \.\.\. '

# Search hits: a header and one row per hit, columns aligned.
aligned() {
  awk '
    /^ *# +id +distance/ { hid = index($0, " id ") + 1; hd = index($0, "distance") + 8 }
    /^ *1 +alpha +/ { a = index($0, "alpha"); ad = index($0, "  kind=cat") }
    /^ *2 +bravo-long-id +/ { b = index($0, "bravo-long-id"); bd = length($0) + 1 }
    END { exit !(hid && a == hid && b == hid && ad == hd && bd == hd) }
  ' "$tmp/out"
}
check "search hits print as aligned rows with their ids" aligned
check ".help lists the dot-commands" has "$tmp/out" '^\.colls \[DB\] +the collections'
check ".open opens a database as a global" has "$tmp/out" "^books = $tmp/dot.omen, file"
check ".colls shows a collection's row" \
  has "$tmp/out" '^titles +1 +3 +cosine +none +16 +200 +64 +[0-9.]+ KiB$'
check ".info of a collection shows its settings" \
  has "$tmp/out" '^titles +1 +3 +cosine .* 0 +[0-9.]+ KiB$'
check ".dbs lists the databases opened at the prompt" has "$tmp/out" "^books +$tmp/dot.omen"
check ".dbs leaves out a database closed since" not_has "$tmp/out" "^gone +/"
check ".dbs works after a database was closed" not_has "$tmp/err" "database is closed"
check "an unknown dot-command names itself" has "$tmp/err" '^unknown command \.bogus'
check "a bad dot-command argument says why" \
  has "$tmp/err" '^42 is neither a database nor a collection$'
if [ $failures -gt 0 ]; then
  echo "  piped stdout (prompts stripped):"; show "$tmp/out"
  echo "  piped stderr:"; show "$tmp/err"
fi

# -- 2. Scripts and -e -----------------------------------------------------------

cat >"$tmp/args.lua" <<'EOF'
local a, b = ...
io.write("arg0=", arg[0], " arg1=", arg[1], " arg2=", arg[2], " n=", #arg,
         " dots=", a, ",", b, " pre=", tostring(pre), " argm1=", arg[-1], "\n")
EOF
out=$(run "$bin" -e 'pre = 7' "$tmp/args.lua" one two 2>&1)
check "a script sees arg and ... (output: $out)" \
  [ "$out" = "arg0=$tmp/args.lua arg1=one arg2=two n=2 dots=one,two pre=7 argm1=pre = 7" ]

printf 'local t = nil\nreturn t.field\n' >"$tmp/bad.lua"
run "$bin" "$tmp/bad.lua" >"$tmp/out" 2>"$tmp/err"
check "a runtime error in a script exits non-zero" [ $? -ne 0 ]
check "the script's error goes to stderr" has "$tmp/err" "bad\.lua:2: attempt to index"

out=$(run "$bin" -e 'x = 6' -e 'print(x * 7)' 2>&1)
check "-e chunks run in order (output: $out)" [ "$out" = 42 ]
run "$bin" -e 'error("from -e")' >"$tmp/out" 2>"$tmp/err"
check "a failing -e chunk exits non-zero" [ $? -ne 0 ]
check "the -e error goes to stderr" has "$tmp/err" 'from -e'

out=$(echo 'print(1 + 2)' | run "$bin" 2>&1)
check "without a terminal, standard input runs as a script (output: $out)" [ "$out" = 3 ]
out=$(echo 'print(...)' | run "$bin" - p q 2>&1)
check "- runs standard input with arguments (output: $out)" [ "$out" = "$(printf 'p\tq')" ]
out=$(run "$bin" -v 2>&1)
has_version() { case $1 in omen*LuaJIT*) return 0 ;; esac; return 1; }
check "-v shows the version (output: $out)" has_version "$out"
run "$bin" -z >/dev/null 2>&1
check "an unknown option is a usage error" [ $? -ne 0 ]

# -- 3. A real terminal, through tmux -------------------------------------------

T() { tmux -f /dev/null -L "$sock" "$@"; }

# wait_for REGEX: poll the screen until a line matches, for up to 5 s.
wait_for() {
  i=0
  while [ $i -lt 50 ]; do
    T capture-pane -p -t omen >"$tmp/screen" 2>/dev/null && has "$tmp/screen" "$1" && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# type TEXT: type text literally (tmux would read `end` as the End key).
type_text() { T send-keys -t omen -l "$1"; }

# The shell shows the exit status (tmux can be slow to learn it); its trap
# keeps Ctrl-C, which the whole terminal gets, from ending it.
start_terminal() {
  SHELL=/bin/sh T new-session -d -s omen -x 120 -y 40 \
    "trap : INT; '$bin'; echo \"exited with \$?\"" &&
    sock_path=$(T display-message -p '#{socket_path}') &&
    T set-option -t omen remain-on-exit on >/dev/null
}

terminal_tests() {
  check "the readline prompt appears" wait_for '^omen>'

  # Ctrl-A (readline's start of line) proves the line is being edited.
  type_text '*7'
  T send-keys -t omen C-a
  type_text '6'
  T send-keys -t omen Enter
  check "an expression is printed" wait_for '^42$'
  check "history goes to \$HOME/.omen_history" \
    grep -qx '6\*7' "$HOME/.omen_history"

  type_text 'print("loop" .. "ing") while true do end'
  T send-keys -t omen Enter
  wait_for '^looping$'
  T send-keys -t omen C-c
  check "Ctrl-C interrupts a running chunk" wait_for 'interrupted!'
  type_text 'print("back" .. "again")'
  T send-keys -t omen Enter
  check "the prompt is usable after Ctrl-C" wait_for '^backagain$'

  # Ctrl-C inside one long call into omen (200,000 exact scans: ten seconds
  # and more of work) stops the call itself, not only the Lua code after it.
  # One call, not a loop of shorter ones: between calls, Lua's own Ctrl-C
  # hook would answer instead.
  type_text 'ffi = require("ffi"); big = omen.open():create_collection("big", {dim = 64});'
  type_text ' V = ffi.new("float[?]", 5000 * 64); for i = 0, 5000 * 64 - 1 do'
  type_text ' V[i] = math.sin(i) end; ids = {}; for i = 1, 5000 do ids[i] = "r" .. i end;'
  type_text ' big:upsert_batch(ids, V); print("built")'
  T send-keys -t omen Enter
  check "a collection for the long call is built" wait_for '^built$'
  type_text 'Q = ffi.new("float[?]", 200000 * 64); print("scan" .. "ning");'
  type_text ' big:search_batch(Q, {k = 1, exact = true, n = 200000, threads = 1})'
  T send-keys -t omen Enter
  wait_for '^scanning$'
  sleep 0.3
  T send-keys -t omen C-c
  check "Ctrl-C interrupts a long search inside omen" wait_for 'search interrupted'
  type_text 'print("back" .. "from the scan")'
  T send-keys -t omen Enter
  check "the prompt is usable after interrupting omen" wait_for '^backfrom the scan$'

  type_text 'omen.op'
  T send-keys -t omen Tab
  check "Tab completes omen.op to omen.open" wait_for '^omen> omen\.open$'
  T send-keys -t omen C-u
  type_text 'db = omen.open()'
  T send-keys -t omen Enter
  type_text 'db:create_c'
  T send-keys -t omen Tab
  check "Tab completes methods after ':'" wait_for '^omen> db:create_collection$'
  T send-keys -t omen C-u C-d
  check "Ctrl-D leaves with status 0" wait_for '^exited with 0$'
}

before=$failures
if ! command -v tmux >/dev/null; then
  check "tmux is installed (needed for the terminal tests)" false
elif ! start_terminal; then
  check "tmux starts a session" false
else
  terminal_tests
fi
if [ $failures -gt $before ] && [ -f "$tmp/screen" ]; then
  echo "  last terminal screen:"; show "$tmp/screen"
fi

if [ $failures -eq 0 ]; then
  echo "PASS: repl_test: $checks checks"
else
  echo "FAIL: repl_test: $failures of $checks checks failed"
  exit 1
fi
