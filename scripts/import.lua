-- import.lua: load an export of scripts/export.lua back into a database,
-- making the collection again with its exported settings.
local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")

local USAGE = [[
usage: omen-lua scripts/import.lua DB FILE [options]

Load an export written by scripts/export.lua into the database DB (made
when missing): the collection is created with the exported settings (dim,
metric, m, ef_construction, ef_search, quantization) and the records go in
through c:upsert_batch, BATCH at a time, in the exported order.

FILE formats (by extension, or --format):
  .jsonl   the settings line, then {"id", "vector", "meta"} per line
  .fvecs   the vectors; the ids and metadata are read from FILE.jsonl

The collection takes the exported name, or --collection NAME. If it exists
the import stops, unless --replace: then it is dropped and made again.

A bad input changes nothing: the whole input is checked before the
database is touched (a malformed line, a wrong dimension, a truncated
fvecs file, a missing sidecar, fewer or more records than the header
says), and the error names FILE:line N or FILE:record N. If storing fails
after that (a full disk), the half-loaded collection is dropped; with
--replace the old one is then gone as well.

options:
  --collection NAME   load into NAME instead of the exported name
  --replace           drop an existing collection of that name first
  --format F          jsonl or fvecs
  --batch N           records per batch (10000)
  --threads N         build threads (default: one per core)
Progress goes to stderr: a live line on a terminal, else one summary line.
]]

local a = cli.parse({
  name = "import", usage = USAGE, positional = {"db", "file"},
  options = {
    collection = {kind = "string"},
    replace = {kind = "flag"},
    format = {kind = "string", choices = {"jsonl", "fvecs"}},
    batch = {kind = "int", min = 1, default = 10000},
    threads = {kind = "int", min = 1},
  },
}, arg)

local cjson_ok, cjson = pcall(require, "cjson.safe")
if not cjson_ok then cli.die("import", "reading an export needs lua-cjson (Debian: lua-cjson)") end
-- A private instance: its settings do not leak into cli.lua's reader.
local json = cjson.new()
json.decode_invalid_numbers(false) -- NaN, Infinity and hex are not JSON

local MAX_ID, MAX_KEY = 1024, 255 -- bytes, as omen.h and meta.h allow

local fail, finite = cli.fail, cli.finite
local function count_int(x, min)
  return type(x) == "number" and x % 1 == 0 and x >= min
end

-- -- Reading an export's JSON Lines ---------------------------------------------------

-- The first line: {"omen_collection": {settings}}.
local function parse_header(path, line)
  local obj = line and json.decode(line)
  local h = type(obj) == "table" and obj.omen_collection
  if type(h) ~= "table" then
    fail(path, "line", 1, 'not an export: the first line must be {"omen_collection": {...}}')
  end
  if type(h.name) ~= "string" or h.name == "" then fail(path, "line", 1, "no collection name") end
  if not count_int(h.dim, 1) then fail(path, "line", 1, "no dimension (a positive integer)") end
  for _, k in ipairs({"metric", "quantization"}) do
    if type(h[k]) ~= "string" then fail(path, "line", 1, ("no %s (a string)"):format(k)) end
  end
  for _, k in ipairs({"m", "ef_construction", "ef_search"}) do
    if not count_int(h[k], 1) then
      fail(path, "line", 1, ("no %s (a positive integer)"):format(k))
    end
  end
  if h.count ~= nil and not count_int(h.count, 0) then
    fail(path, "line", 1, "count must be an integer >= 0")
  end
  return h
end

-- A metadata value as upsert takes it: a number (not NaN), a boolean, or
-- bytes (a string, or {"base64": ...}) or an array of them. Checked here so
-- that the error names the line.
local function meta_value(path, n, k, v)
  local t, bytes = type(v), cli.from_json_bytes(v)
  if bytes then return bytes end
  if t == "table" and v.base64 ~= nil then
    fail(path, "line", n, ("meta field %s: bad base64"):format(k))
  end
  if t == "table" then
    local items = 0
    for _ in pairs(v) do items = items + 1 end
    if items ~= #v then
      fail(path, "line", n, ("meta field %s is an object (only arrays of strings)"):format(k))
    end
    local out = {}
    for j = 1, #v do
      out[j] = cli.from_json_bytes(v[j])
      if not out[j] then
        fail(path, "line", n, ("meta field %s: item %d is not a string"):format(k, j))
      end
    end
    return out
  end
  if t ~= "boolean" and not (t == "number" and v == v) then
    fail(path, "line", n, ("meta field %s is %s"):format(k, v == json.null and "null" or t))
  end
  return v
end

-- A metadata object (or {"$pairs": [[key, value], ...]} for keys that are
-- not UTF-8) as upsert takes it.
local function check_meta(path, n, meta)
  if meta == nil or meta == json.null then return {} end
  if type(meta) ~= "table" then fail(path, "line", n, '"meta" must be an object') end
  local pairs_form = meta["$pairs"]
  if type(pairs_form) == "table" and type(pairs_form[1]) == "table" then
    local out = {}
    for j, kv in ipairs(pairs_form) do
      local k = type(kv) == "table" and cli.from_json_bytes(kv[1])
      if not k or #k < 1 or #k > MAX_KEY or kv[3] ~= nil then
        fail(path, "line", n, ("meta pair %d is not [key, value]"):format(j))
      end
      out[k] = meta_value(path, n, k, kv[2])
    end
    return out
  end
  local out = {}
  for k, v in pairs(meta) do
    if type(k) ~= "string" or #k < 1 or #k > MAX_KEY then
      fail(path, "line", n, ("meta keys must be strings of 1 to %d bytes"):format(MAX_KEY))
    end
    out[k] = meta_value(path, n, k, v)
  end
  return out
end

-- One record line: id, vector (when the line must hold one), meta.
local function parse_record(path, n, line, dim, with_vector)
  local obj, err = json.decode(line)
  if type(obj) ~= "table" then
    fail(path, "line", n, "not a JSON object" .. (err and (": " .. err) or ""))
  end
  local id = obj.id
  if type(id) == "number" and id % 1 == 0 then id = ("%d"):format(id) end
  id = cli.from_json_bytes(id)
  if type(id) ~= "string" or #id < 1 or #id > MAX_ID then
    fail(path, "line", n, ('no "id" (a string of 1 to %d bytes)'):format(MAX_ID))
  end
  local vec = obj.vector
  if with_vector then
    if type(vec) ~= "table" then fail(path, "line", n, 'no "vector" (an array of numbers)') end
    if #vec ~= dim then
      fail(path, "line", n, ("%d vector components, the collection has dimension %d"):format(
        #vec, dim))
    end
    for j = 1, dim do
      if type(vec[j]) ~= "number" or not finite(vec[j]) then
        fail(path, "line", n, ("vector component %d is not a finite number"):format(j))
      end
    end
  end
  return id, vec, check_meta(path, n, obj.meta)
end

-- Reader of an export's JSON Lines (the records or, beside an fvecs file,
-- the sidecar): r.header, r:next(n) -> count, ids, vectors (Lua arrays;
-- none for a sidecar), metas, and r.lines their line numbers; r:offset();
-- r:close(). Errors name the line.
local function export_reader(path, with_vectors)
  local f, err = io.open(path, "rb")
  if not f then error(err, 0) end
  local r = {line = 1}
  local ok, h = pcall(parse_header, path, f:read("*l"))
  if not ok then
    f:close()
    error(h, 0)
  end
  r.header = h
  function r.next(_, want)
    local ids, vecs, metas = {}, {}, {}
    r.lines = {} -- the line of each record of the batch
    while #ids < want do
      local line = f:read("*l")
      if not line then break end
      r.line = r.line + 1
      if line:find("%S") then -- a blank line (an edited file's last) is no record
        local i = #ids + 1
        ids[i], vecs[i], metas[i] = parse_record(path, r.line, line, h.dim, with_vectors)
        r.lines[i] = r.line
      end
    end
    return #ids, ids, with_vectors and vecs or nil, metas
  end
  function r.offset() return f:seek() end
  function r.close() f:close() end
  return r
end

-- -- Reading an export: batches of both formats ----------------------------------------

-- Batches of records: src:next() -> count, ids, vecs (Lua arrays or an FFI
-- float buffer), metas; src.header; src:offset(); src:close(). For fvecs,
-- the vectors and the sidecar's lines are read in step, and each must end
-- where the other does.
local function open_export(path, format, batch)
  if format == "jsonl" then
    local r = export_reader(path, true)
    return {header = r.header, offset = r.offset, close = r.close,
            next = function() return r:next(batch) end}
  end
  local size = cli.file_size(path)
  if not size then
    local _, err = io.open(path, "rb")
    error(err, 0)
  end
  local side_path = path .. ".jsonl"
  if not cli.file_size(side_path) then
    error(("%s: no sidecar %s (an fvecs export keeps its ids and metadata there)"):format(
      path, side_path), 0)
  end
  local side = export_reader(side_path, false)
  local h = side.header
  local vecs, err
  if size > 0 then -- an empty collection exports an empty fvecs file
    vecs, err = cli.read_vectors(path, "fvecs")
    if not vecs then
      side:close()
      error(err, 0)
    end
    if vecs.dim ~= h.dim then
      vecs:close()
      side:close()
      fail(path, "record", 1, ("dimension %d, %s says %d"):format(vecs.dim, side_path, h.dim))
    end
  end
  local done = 0
  local src = {header = h}
  function src.next()
    local n, _, v = 0, nil, nil
    if vecs then n, _, v = vecs:next(batch) end
    local m, ids, _, metas = side:next(batch)
    if n > m then
      fail(path, "record", done + m + 1, ("no line for it in %s, which ends at line %d"):format(
        side_path, side.line))
    elseif m > n then
      fail(side_path, "line", side.lines[n + 1], ("no vector for it in %s (%d records)"):format(
        path, done + n))
    end
    done = done + n
    return n, ids, v, metas
  end
  function src.offset() return vecs and vecs:offset() or 0 end
  function src.close()
    if vecs then vecs:close() end
    side:close()
  end
  return src
end

-- The whole input, read once without storing anything: every record well
-- formed and as many as the header says. Returns the header.
local function check_input(path, format)
  local src = open_export(path, format, a.batch)
  local ok, err = pcall(function()
    local total = 0
    while true do
      local n = src.next()
      if n == 0 then break end
      total = total + n
    end
    local h = src.header
    if h.count and total ~= h.count then
      local text = format == "fvecs" and path .. ".jsonl" or path
      error(("%s: %d records, the header (line 1) says %d: a truncated or edited file?"):format(
        text, total, h.count), 0)
    end
  end)
  src.close()
  if not ok then error(err, 0) end
  return src.header
end

-- The exported settings must make a collection: tried on a database in
-- memory, so that a bad header is refused before DB is changed.
local function check_settings(path, name, settings)
  local mem = omen.open()
  local ok, c, err = pcall(mem.create_collection, mem, name, settings)
  mem:close()
  if not ok or not c then
    fail(path, "line", 1, ("cannot make collection '%s': %s"):format(name, tostring(err or c)))
  end
end

-- -- Loading ------------------------------------------------------------------------------

local function load(c, src, progress)
  local stored = 0
  while true do
    local n, ids, vecs, metas = src.next()
    if n == 0 then break end
    local ok, err = pcall(function()
      cli.ok(c:upsert_batch(ids, vecs, metas, {threads = a.threads}))
    end)
    if not ok then
      error(("%s: records %d to %d: %s"):format(a.file, stored + 1, stored + n,
        (tostring(err):gsub("^[^:]*:%d+: ", ""))), 0)
    end
    stored = stored + n
    progress:update(stored, src.offset())
  end
  return stored
end

-- The collection must be new unless --replace: asked first, read-only, so
-- that a long check of the input is not wasted.
local function refuse_existing(name)
  if a.replace or not cli.file_size(a.db) then return end
  local db = omen.open(a.db, {readonly = true})
  if not db then return end -- opening for writing below says why
  local exists = db:collection(name) ~= nil
  db:close()
  if exists then
    cli.die("import", ("%s: collection %s exists (--replace drops it first)"):format(a.db, name))
  end
end

local fmt_ok, format = pcall(cli.format_of, a.file, a.format)
if not fmt_ok then cli.die("import", format, 2) end
if format ~= "jsonl" and format ~= "fvecs" then
  cli.die("import", ("%s: an export is jsonl or fvecs, not %s (give --format)"):format(
    a.file, format), 2)
end

-- Everything that can be found wrong is found before DB is opened for
-- writing (which would make the file if missing).
local text_path = format == "fvecs" and a.file .. ".jsonl" or a.file
local hok, first = pcall(open_export, a.file, format, a.batch)
if not hok then cli.die("import", first) end
first.close()
local name = a.collection or first.header.name
refuse_existing(name)
local ok, header = pcall(check_input, a.file, format)
if not ok then cli.die("import", header) end
local settings = {dim = header.dim, metric = header.metric, m = header.m,
                  ef_construction = header.ef_construction, ef_search = header.ef_search,
                  quantization = header.quantization}
local sok, serr = pcall(check_settings, text_path, name, settings)
if not sok then cli.die("import", serr) end

local db = cli.open_db("import", a.db, {sync = "off"})
local replaced = false
if db:collection(name) then
  if not a.replace then
    db:close()
    cli.die("import", ("%s: collection %s exists (--replace drops it first)"):format(a.db, name))
  end
  db:drop_collection(name)
  replaced = true
end
local c, cerr = db:create_collection(name, settings)
if not c then
  db:close()
  cli.die("import", ("%s: %s"):format(a.db, cerr))
end

local progress = cli.progress("import", cli.file_size(a.file))
local src
local lok, stored = pcall(function()
  src = open_export(a.file, format, a.batch)
  return load(c, src, progress)
end)
if src then src.close() end
if not lok then
  -- the input changed since the check, or storing failed: leave no half
  db:drop_collection(name)
  db:flush()
  db:close()
  cli.die("import", ("%s (nothing stored: collection %s dropped%s)"):format(
    stored, name, replaced and ", and the one it replaced is gone" or ""))
end
local fok, ferr = db:flush()
if not fok then cli.die("import", ferr) end
local repeated = stored - cli.ok(c:count())
progress:finish(stored, ("into %s%s"):format(name,
  repeated > 0 and (" (%d records had ids repeated later in the file)"):format(repeated) or ""))
db:close()
