-- eval.lua: recall@k and speed of a collection's graph search over an ef sweep.
local ffi = require("ffi")
local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")

local USAGE = [[
usage: omen-lua scripts/eval.lua DB COLLECTION QUERIES [options]

Measure the graph search of COLLECTION (database DB, opened read-only) with
the vectors of the file QUERIES: for each ef of the sweep, recall@k (the
share of the true k nearest neighbours found, averaged over all queries)
and queries per second.

The truth is exact search (c:search with exact = true, computed once per
query before the sweep), or the file given by --truth: .ivecs rows of
neighbour row numbers, one row per query in the order of QUERIES, at least
k per row (as ann-benchmarks and TEXMEX ship them); a row number R stands
for the id P..R, P the --id-prefix (the ids scripts/ingest.lua gives rows).

Timing: the queries are answered one at a time by c:search(q, {k = K,
ef = EF, with_meta = false}) on this thread, the whole call timed; each ef
keeps its best pass of --rounds. An untimed pass at the largest ef comes
first, so that no ef pays for first touches of the file (page faults, the
checks of its chunks).

QUERIES formats (by extension, or --format): fvecs, bvecs, ivecs, npy,
csv, jsonl, as for scripts/search.lua.

options:
  --format F      the format of QUERIES
  --k N           neighbours per query (10)
  --ef LIST       the sweep, comma-separated (10,20,40,80,160)
  --limit N       use the first N queries only
  --truth FILE    ground truth (.ivecs) instead of exact search
  --id-prefix P   put P in front of the row numbers of --truth
  --rounds N      timed passes per ef, the best kept (1)
Prints a table of ef, recall@k, queries/s and mean ms per query.
]]

local NAME = "eval"

local a = cli.parse({
  name = NAME, usage = USAGE, positional = {"db", "collection", "queries"},
  options = {
    format = {kind = "string", choices = cli.formats},
    k = {kind = "int", min = 1, default = 10},
    ef = {kind = "list", default = {10, 20, 40, 80, 160}},
    limit = {kind = "int", min = 1},
    truth = {kind = "string"},
    id_prefix = {kind = "string", default = ""},
    rounds = {kind = "int", min = 1, default = 1},
  },
}, arg)

local db -- closed on the way out of an error

local function die(msg)
  if db then db:close() end
  cli.die(NAME, msg)
end

-- Every query (up to --limit) in one flat float buffer, so that a query is
-- passed to c:search as a pointer into it and read in place, as an
-- application holding its vectors in memory would.
local function read_queries(path, format, limit)
  local r, err = cli.read_vectors(path, format)
  if not r then die(err) end
  local parts, n = {}, 0
  while not limit or n < limit do
    local want = limit and math.min(10000, limit - n) or 10000
    local ok, count, _, vecs = pcall(r.next, r, want)
    if not ok then die(count) end
    if count == 0 then break end
    parts[#parts + 1] = {count, vecs}
    n = n + count
  end
  r:close()
  local all = ffi.new("float[?]", n * r.dim)
  local at = 0
  for _, p in ipairs(parts) do
    ffi.copy(all + at, p[2], p[1] * r.dim * 4)
    at = at + p[1] * r.dim
  end
  return all, n, r.dim
end

-- The truth from exact search: per query the set of ids of its exact k
-- nearest, and its size (fewer than k when the collection is smaller).
-- search_batch with exact = true gives, per query, what c:search would,
-- on every core.
local function exact_truth(c, qs, n, k)
  local sets, sizes = {}, {}
  local chunk, dim = 1000, c:dim()
  for from = 0, n - 1, chunk do
    local m = math.min(chunk, n - from)
    local res = cli.ok(c:search_batch(qs + from * dim, {k = k, exact = true, with_meta = false,
                                                        n = m}))
    for i = 1, m do
      local set = {}
      for _, h in ipairs(res[i]) do set[h.id] = true end
      sets[from + i], sizes[from + i] = set, #res[i]
    end
  end
  return sets, sizes
end

-- The truth from an .ivecs file: the first k of each of the first n rows,
-- as id sets. Read here rather than by cli.read_vectors, which turns
-- components into floats: row numbers past 2^24 would lose their last bits.
local function file_truth(path, n, k, prefix)
  local f, err = io.open(path, "rb")
  if not f then die(err) end
  local sets, sizes = {}, {}
  for i = 1, n do
    local head = f:read(4)
    if not head then
      die(("%s: %d rows of neighbours for %d queries (one row per query is needed)"):format(
        path, i - 1, n))
    end
    if #head < 4 then die(("%s:record %d: truncated (no room for its length)"):format(path, i)) end
    local len = ffi.cast("const int32_t *", head)[0]
    if len < 1 or len > 1048576 then
      die(("%s:record %d: bad row length %d (not an .ivecs file?)"):format(path, i, len))
    end
    if len < k then
      die(("%s:record %d: %d neighbours, fewer than k = %d"):format(path, i, len, k))
    end
    local body = f:read(4 * len)
    if not body or #body < 4 * len then
      die(("%s:record %d: truncated: %d of its %d bytes"):format(path, i, body and #body or 0,
                                                                4 * len))
    end
    local rows = ffi.cast("const int32_t *", body)
    local set = {}
    for j = 0, k - 1 do
      if rows[j] < 0 then
        die(("%s:record %d: neighbour %d is %d, not a row number"):format(path, i, j + 1, rows[j]))
      end
      set[prefix .. rows[j]] = true
    end
    sets[i], sizes[i] = set, k
  end
  f:close()
  return sets, sizes
end

-- A wrong --id-prefix makes every recall 0 without any error; say so
-- before the sweep if true neighbours are not in the collection.
local function check_truth_ids(c, sets)
  local missing, example = 0, nil
  for _, set in ipairs(sets) do
    for id in pairs(set) do
      if not cli.ok(c:get(id)) then
        missing = missing + 1
        example = example or id
      end
      break -- one id per query is enough to catch a wrong prefix
    end
  end
  if missing > 0 then
    io.stderr:write(("%s: warning: %d of %d queries have a true neighbour not in %s (as %q;"
      .. " is --id-prefix right?)\n"):format(NAME, missing, #sets, a.collection, example))
  end
end

-- One timed pass at ef: its seconds and every query's hits.
local function pass(c, qs, n, dim, k, ef)
  local got = {}
  local t0 = cli.now()
  for i = 0, n - 1 do
    got[i + 1] = cli.ok(c:search(qs + i * dim, {k = k, ef = ef, with_meta = false}))
  end
  return cli.now() - t0, got
end

-- An error message without the "file:line: " where the call was made.
local function plain(err)
  return (tostring(err):gsub("^[^:\n]*:%d+: ", ""))
end

local function recall(got, sets, sizes)
  local found, total = 0, 0
  for i, hits in ipairs(got) do
    local set = sets[i]
    for _, h in ipairs(hits) do
      if set[h.id] then found = found + 1 end
    end
    total = total + sizes[i]
  end
  return total > 0 and found / total or 1
end

-- -- The job ---------------------------------------------------------------------

local qs, nq, qdim = read_queries(a.queries, a.format, a.limit)

db = cli.open_db(NAME, a.db, {readonly = true})
local c, err = db:collection(a.collection)
if not c then die(("%s: %s"):format(a.db, err)) end
if c:dim() ~= qdim then
  die(("%s has %d components per query, collection %s has dimension %d"):format(
    a.queries, qdim, a.collection, c:dim()))
end
local info = cli.ok(c:info())
if info.count == 0 then die(("collection %s is empty"):format(a.collection)) end

local k = a.k
local t0 = cli.now()
local ok, sets, sizes = pcall(function()
  if a.truth then return file_truth(a.truth, nq, k, a.id_prefix) end
  return exact_truth(c, qs, nq, k)
end)
if not ok then die(plain(sets)) end
local truth_what = a.truth and ("%s (first %d of each row)"):format(a.truth, k)
  or ("exact search, %.2f s"):format(cli.now() - t0)
if a.truth then check_truth_ids(c, sets) end

-- One untimed pass at the largest ef first: it checks the options with the
-- engine before the table starts, and pays for what the first touch of a
-- file-backed collection costs (page faults, the check of each chunk's
-- CRC), which would otherwise slow down whichever ef came first.
local max_ef = math.max(unpack(a.ef))
local warm, werr = pcall(pass, c, qs, nq, qdim, k, max_ef)
if not warm then die(("ef %d: %s"):format(max_ef, plain(werr))) end

print(("collection %s of %s: %d records, dim %d, %s%s; %d queries from %s, k %d"):format(
  a.collection, a.db, info.count, info.dim, info.metric,
  info.quantization ~= "none" and ", " .. info.quantization or "", nq, a.queries, k))
print("truth: " .. truth_what)

local rhead = "recall@" .. k
local row = "%6s  %" .. #rhead .. "s  %10s  %9s"
print(row:format("ef", rhead, "queries/s", "ms/query"))
for _, ef in ipairs(a.ef) do
  local best, got
  for _ = 1, a.rounds do
    local done, secs, hits = pcall(pass, c, qs, nq, qdim, k, ef)
    if not done then die(("ef %d: %s"):format(ef, plain(secs))) end
    if not best or secs < best then best = secs end
    got = hits
  end
  best = math.max(best, 1e-9)
  print(row:format(ef, ("%.4f"):format(recall(got, sets, sizes)), ("%.0f"):format(nq / best),
                   ("%.4f"):format(1000 * best / nq)))
end
db:close()
