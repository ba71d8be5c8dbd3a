-- search.lua: answer a file of query vectors against a collection.
local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")

local USAGE = [[
usage: omen-lua scripts/search.lua DB COLLECTION [QUERIES] [options]

Search COLLECTION of the database DB (opened read-only) for the nearest
records to each vector of the file QUERIES, and print the hits. Queries go
through c:search_batch, BATCH at a time, on THREADS threads. With
--text-query, each vector query is fused with the text query (the
collection needs a text index); without QUERIES, the text query alone is
answered (query id "text"), hits ranked by BM25.

QUERIES formats (by extension, or --format):
  .fvecs .bvecs .ivecs  int32 dim + components per record; ids: row numbers
  .npy                  2-D array (float32/64, uint8, int32/64); ids: rows
  .csv                  id,x1,x2,...  (a non-numeric first line is a header)
  .jsonl                {"id": ..., "vector": [...]} per line
The query ids printed are the file's ids (row numbers count from 0).

Output (--as):
  tsv    a header line "query  rank  id  distance" ("score" too with
         --text-query: BM25 or the fused score, higher is better; "meta" with
         --with-meta, as compact JSON), then one line per hit, rank from 1
         (a text-only search has no distances: the field is empty);
         tab, newline, carriage return and backslash in ids are written
         \t \n \r \\
  jsonl  one line per query: {"query": ID, "hits": [{"id": ..., "distance":
         ..., "meta": {...}}, ...]}
Distances are printed with 9 significant digits (exact for float32).

options:
  --format F      fvecs, bvecs, ivecs, npy, csv or jsonl
  --k N           hits per query (10)
  --ef N          search breadth (default: the collection's ef_search)
  --exact         scan every record instead of walking the graph
  --filter JSON   only records whose metadata match, in the filter syntax
                  of c:search: '{"cat": "shoes", "price": {"$lt": 50}}'
  --text-query T  full-text query: words ranked by BM25, "+word" required,
                  "-word" excluded
  --fusion F      with QUERIES and --text-query: rrf (default) or linear
  --alpha A       linear fusion: the vector's share, 0 to 1 (0.5)
  --depth N       records each half of a fused query ranks (max(k, 50))
  --with-meta     print each hit's metadata
  --as FORMAT     tsv or jsonl (tsv)
  --out FILE      write there instead of stdout (whole or not at all: the
                  lines go to FILE.part, renamed at the end)
  --threads N     search threads (default: one per core)
  --batch N       queries per c:search_batch call (1000)
A summary line goes to stderr at the end.
]]

local NAME = "search"

local a = cli.parse({
  name = NAME, usage = USAGE, positional = {"db", "collection"}, optional = {"queries"},
  options = {
    format = {kind = "string", choices = cli.formats},
    k = {kind = "int", min = 1, default = 10},
    ef = {kind = "int", min = 1},
    exact = {kind = "flag"},
    filter = {kind = "string"},
    with_meta = {kind = "flag"},
    as = {kind = "string", choices = {"tsv", "jsonl"}, default = "tsv"},
    out = {kind = "string"},
    threads = {kind = "int", min = 1},
    batch = {kind = "int", min = 1, default = 1000},
    text_query = {kind = "string"},
    fusion = {kind = "string", choices = {"rrf", "linear"}},
    alpha = {kind = "number"},
    depth = {kind = "int", min = 1},
  },
}, arg)
if not a.queries and not a.text_query then
  cli.die(NAME, "give a QUERIES file, --text-query, or both", 2)
end
if (a.fusion or a.alpha or a.depth) and not (a.queries and a.text_query) then
  cli.die(NAME, "--fusion, --alpha and --depth go with QUERIES and --text-query", 2)
end

-- What to undo when the job stops on an error: the database handle and a
-- half-written --out file.
local db, out, part

local function die(msg)
  if out and out ~= io.stdout then
    out:close()
    os.remove(part)
  end
  if db then db:close() end
  cli.die(NAME, msg)
end

-- The --filter text as a filter table, or stop saying why not. The engine
-- judges the operators (see check_filter); this only checks it is JSON.
local function decode_filter(text)
  local ok, cjson = pcall(require, "cjson.safe")
  if not ok then die("--filter needs lua-cjson (Debian: lua-cjson)") end
  local f, err = cjson.decode(text)
  if f == nil then die(("--filter is not valid JSON: %s (%s)"):format(err, text)) end
  if type(f) ~= "table" or (next(f) ~= nil and f[1] ~= nil) then
    die(("--filter must be a JSON object like {\"field\": value} (got %s)"):format(text))
  end
  return f
end

-- Compile the filter once before any output, so a bad operator stops the
-- job with nothing written. c:count builds the filter's bitmap of matches,
-- which the searches then reuse, so the count is not wasted work.
local function check_filter(c, filter)
  local ok, n = pcall(function() return cli.ok(c:count(filter)) end)
  if not ok then die(("bad --filter %s: %s"):format(a.filter, tostring(n))) end
  return n
end

-- Ids are any bytes; keep a TSV line one line of four (or five) fields.
local TSV_ESC = {["\t"] = "\\t", ["\n"] = "\\n", ["\r"] = "\\r", ["\\"] = "\\\\"}
local function tsv_field(s)
  return (s:gsub("[\t\n\r\\]", TSV_ESC))
end

local function distance(d) return d and ("%.9g"):format(d) or "" end

-- The lines of one query's hits, appended to `buf`.
local function tsv_lines(buf, qid, hits, with_meta)
  local q = tsv_field(qid)
  for rank, h in ipairs(hits) do
    local line = q .. "\t" .. rank .. "\t" .. tsv_field(h.id) .. "\t" .. distance(h.distance)
    if a.text_query then line = line .. "\t" .. distance(h.score) end
    if with_meta then line = line .. "\t" .. cli.json(h.meta) end
    buf[#buf + 1] = line
  end
end

-- Built by hand rather than with cli.json, which sorts keys: "query" reads
-- better first, and a hit's "id" before its "distance".
local function jsonl_line(buf, qid, hits, with_meta)
  local parts = {}
  for i, h in ipairs(hits) do
    local s = '{"id":' .. cli.json(h.id)
    if h.distance then s = s .. ',"distance":' .. distance(h.distance) end
    if h.score then s = s .. ',"score":' .. distance(h.score) end
    if with_meta then s = s .. ',"meta":' .. cli.json(h.meta) end
    parts[i] = s .. "}"
  end
  buf[#buf + 1] = '{"query":' .. cli.json(qid) .. ',"hits":[' .. table.concat(parts, ",") .. "]}"
end

local function open_out(path)
  if not path then return io.stdout end
  part = path .. ".part"
  local f, err = io.open(part, "wb")
  if not f then die("cannot write --out: " .. tostring(err)) end
  return f
end

local function write(s)
  local ok, err = out:write(s)
  if not ok then die(("cannot write %s: %s"):format(a.out or "stdout", tostring(err))) end
end

-- -- The job ---------------------------------------------------------------------

-- Without a QUERIES file: one query, the text alone.
local function text_only()
  local done = false
  return {size = nil, offset = function() return 0 end, close = function() end,
          next = function()
            if done then return 0 end
            done = true
            return 1, {"text"}, nil
          end}
end

local r, err
if a.queries then
  r, err = cli.read_vectors(a.queries, a.format)
  if not r then die(err) end
else
  r = text_only()
end

db = cli.open_db(NAME, a.db, {readonly = true})
local c
c, err = db:collection(a.collection)
if not c then die(("%s: %s"):format(a.db, err)) end
if a.queries and c:dim() ~= r.dim then
  die(("%s has %d components per query, collection %s has dimension %d"):format(
    a.queries, r.dim, a.collection, c:dim()))
end

local filter = a.filter and decode_filter(a.filter)
local matches = filter and check_filter(c, filter)

local opts = {k = a.k, ef = a.ef, exact = a.exact == true, filter = filter,
              with_meta = a.with_meta == true, threads = a.threads, text = a.text_query,
              depth = a.depth,
              fusion = a.fusion and {method = a.fusion, alpha = a.alpha} or nil}
local emit = a.as == "jsonl" and jsonl_line or tsv_lines

out = open_out(a.out)
-- The TSV header goes out with the first batch's lines, so that options the
-- engine refuses (an ef too large) stop the job before anything is written.
local header
if a.as == "tsv" then
  header = "query\trank\tid\tdistance" .. (a.text_query and "\tscore" or "") ..
           (a.with_meta and "\tmeta" or "")
end

local progress = cli.progress(NAME, r.size, "queries")
local answered, hits_out = 0, 0
while true do
  local ok, n, ids, vecs = pcall(r.next, r, a.batch)
  if not ok then die(("%s (%d queries answered before it)"):format(n, answered)) end
  if n == 0 then break end
  opts.n = n
  local done, res = pcall(function()
    if not vecs then -- the text alone
      local o = {}
      for key, v in pairs(opts) do if key ~= "n" and key ~= "threads" then o[key] = v end end
      return {cli.ok(c:search(nil, o))}
    end
    return cli.ok(c:search_batch(vecs, opts))
  end)
  if not done then
    die(("%s: queries %d to %d: %s"):format(a.queries or "--text-query", answered + 1,
                                            answered + n, tostring(res)))
  end
  local buf = {}
  if header then buf[1], header = header, nil end
  for i = 1, n do
    emit(buf, ids[i], res[i], a.with_meta)
    hits_out = hits_out + #res[i]
  end
  if #buf > 0 then write(table.concat(buf, "\n") .. "\n") end
  answered = answered + n
  progress:update(answered, r:offset())
end
r:close()

if out ~= io.stdout then
  local ok, cerr = out:close()
  out = nil
  if not ok then
    os.remove(part)
    die(("cannot write %s: %s"):format(a.out, tostring(cerr)))
  end
  local moved, merr = os.rename(part, a.out)
  if not moved then
    os.remove(part)
    die(("cannot write %s: %s"):format(a.out, tostring(merr)))
  end
else
  io.stdout:flush()
end
progress:finish(answered, ("answered from %s (%d hits%s)"):format(a.collection, hits_out,
  matches and ("; the filter matches %d records"):format(matches) or ""))
db:close()
