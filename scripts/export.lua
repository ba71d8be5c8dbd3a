-- export.lua: write a collection out as JSON Lines or fvecs, every record
-- with its id, vector and metadata, so that scripts/import.lua can load it
-- back exactly (a backup, or a move to another database).
local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")

local USAGE = [[
usage: omen-lua scripts/export.lua DB COLLECTION OUT [options]

Write every record of COLLECTION of the database DB to OUT. DB is opened
read-only, so an export can run beside a writer (it sees the writes made
before it opened).

OUT formats (by extension, or --format):
  .jsonl   a first line with the collection's settings,
             {"omen_collection": {"name": ..., "dim": ..., "metric": ...,
              "m": ..., "ef_construction": ..., "ef_search": ...,
              "quantization": ..., "count": ...}}
           then one record per line,
             {"id": ..., "vector": [...], "meta": {...}}
  .fvecs   the vectors (int32 dim + dim float32 per record), and beside it
           OUT.jsonl with the same first line, then {"id": ..., "meta": ...}
           per record, in the same order (fvecs holds no ids or metadata)

Vector components are written with 9 significant digits and metadata
numbers with 17, so both read back bit for bit; -0 keeps its sign and an
infinite metadata number is written as 1e999 (or -1e999). Ids and strings
are bytes, JSON is UTF-8 text: one that is not valid UTF-8 is written as
{"base64": "..."} (and a record whose metadata has such a key as
"meta": {"$pairs": [[key, value], ...]}), so the file is standard JSON and
reads back byte for byte. Records come in the collection's slot order.

The files are written under OUT.tmp (and OUT.jsonl.tmp) and renamed when
complete, so a failed export never leaves a partial file under OUT.

options:
  --format F   jsonl or fvecs
Progress goes to stderr: a live line on a terminal, else one summary line.
]]

local a = cli.parse({
  name = "export", usage = USAGE, positional = {"db", "collection", "out"},
  options = {format = {kind = "string", choices = {"jsonl", "fvecs"}}},
}, arg)

-- -- JSON -------------------------------------------------------------------------

-- A metadata value; a table is an array of strings: [] when empty, not {}.
-- Strings that are not UTF-8 go as {"base64": ...} (cli.json_bytes).
local function json_value(v)
  if type(v) == "string" then return cli.json_bytes(v) end
  if type(v) ~= "table" then return cli.json(v) end
  local parts = {}
  for i = 1, #v do parts[i] = cli.json_bytes(v[i]) end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- A record's metadata as a JSON object, keys sorted (as cli.json does), so
-- the same record always gives the same text. Keys that are not UTF-8
-- cannot be object keys: such a record's metadata goes as
-- {"$pairs": [[key, value], ...]} instead, each key in cli.json_bytes form.
local function json_meta(meta)
  local keys, plain = {}, true
  for k in pairs(meta or {}) do
    keys[#keys + 1] = k
    plain = plain and cli.utf8_valid(k)
  end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    parts[i] = plain and cli.json(k) .. ":" .. json_value(meta[k])
                     or "[" .. cli.json_bytes(k) .. "," .. json_value(meta[k]) .. "]"
  end
  if plain then return "{" .. table.concat(parts, ",") .. "}" end
  return '{"$pairs":[' .. table.concat(parts, ",") .. "]}"
end

-- The first line of an export: what import needs to make the collection
-- again, and the count, so that a file cut short at a line end is noticed.
local function header_line(c)
  local i = cli.ok(c:info())
  return cli.json({omen_collection = {
    name = i.name, dim = i.dim, metric = i.metric, m = i.m,
    ef_construction = i.ef_construction, ef_search = i.ef_search,
    quantization = i.quantization, count = i.count,
  }}) .. "\n"
end

-- -- Output files -----------------------------------------------------------------

-- An output written under path .. ".tmp" and renamed over path once done.
local outputs = {}

local function open_out(path)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error(err, 0) end
  local o = {path = path, tmp = tmp, f = f}
  outputs[#outputs + 1] = o
  return o
end

local function put(o, s)
  local ok, err = o.f:write(s)
  if not ok then error(("%s: %s"):format(o.tmp, err), 0) end
end

local function finish(o)
  local ok, err = o.f:close()
  o.f = nil
  if not ok then error(("%s: %s"):format(o.tmp, err), 0) end
  ok, err = os.rename(o.tmp, o.path)
  if not ok then error(err, 0) end
end

-- After a failure: no partial file is left under any name.
local function discard_outputs()
  for _, o in ipairs(outputs) do
    if o.f then o.f:close() end
    os.remove(o.tmp)
  end
end

-- -- Export -----------------------------------------------------------------------

local function export(c, format, progress)
  local count = cli.ok(c:count())
  local vec_out = open_out(a.out)
  local side_out = format == "fvecs" and open_out(a.out .. ".jsonl") or nil
  put(side_out or vec_out, header_line(c))
  local n = 0
  local ok, err = pcall(function()
    for id, vec, meta in c:each({with_meta = true, with_vectors = true}) do
      n = n + 1
      if side_out then
        put(vec_out, cli.fvecs_record(vec))
        put(side_out, ('{"id":%s,"meta":%s}\n'):format(cli.json_bytes(id), json_meta(meta)))
      else
        put(vec_out, ('{"id":%s,"vector":%s,"meta":%s}\n'):format(
          cli.json_bytes(id), cli.json_vector(vec), json_meta(meta)))
      end
      progress:update(n)
    end
  end)
  if not ok then
    error(("%s: collection %s, record %d: %s"):format(a.db, a.collection, n + 1, err), 0)
  end
  if n ~= count then
    error(("%s: collection %s listed %d records, its count is %d"):format(
      a.db, a.collection, n, count), 0)
  end
  -- the sidecar first: an interrupted pair then has an fvecs file whose
  -- record count disagrees with its sidecar's header, which import refuses
  if side_out then finish(side_out) end
  finish(vec_out)
  return n
end

local fmt_ok, format = pcall(cli.format_of, a.out, a.format, {"jsonl", "fvecs"})
if not fmt_ok then cli.die("export", format, 2) end
if format ~= "jsonl" and format ~= "fvecs" then
  cli.die("export", ("%s: export writes jsonl or fvecs, not %s (give --format)"):format(
    a.out, format), 2)
end

local db = cli.open_db("export", a.db, {readonly = true})
local c, cerr = db:collection(a.collection)
if not c then cli.die("export", ("%s: %s"):format(a.db, cerr)) end

local progress = cli.progress("export")
local ok, n = pcall(export, c, format, progress)
if not ok then
  discard_outputs()
  db:close()
  cli.die("export", n)
end
progress:finish(n, ("of %s to %s%s"):format(a.collection, a.out,
  format == "fvecs" and (" and " .. a.out .. ".jsonl") or ""))
db:close()
