-- ingest.lua: load a vector file into a collection, in batches.
local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")

local USAGE = [[
usage: omen-lua scripts/ingest.lua DB COLLECTION FILE [options]

Load the records of FILE into COLLECTION of the database DB (both made when
missing; a new collection takes its dimension from the file). Records go in
through c:upsert_batch, BATCH at a time; a record whose id is already there
is replaced.

FILE formats (by extension, or --format):
  .fvecs .bvecs .ivecs  int32 dim + components per record; ids: row numbers
  .npy                  2-D array (float32/64, uint8, int32/64); ids: rows
  .csv                  id,x1,x2,...  (a non-numeric first line is a header)
  .jsonl                {"id": ..., "vector": [...], "meta": {...}} per line
Row-number ids start at 0, after --id-prefix.

A bad record (wrong dimension, not a number, NaN, malformed line, a
truncated binary file) stops the load with FILE:line or FILE:record and the
reason; the batches before it are stored (the message says how many
records), nothing of the bad batch is.

options:
  --format F            fvecs, bvecs, ivecs, npy, csv or jsonl
  --id-prefix P         put P in front of row-number ids
  --batch N             records per batch (10000)
  --threads N           build threads (default: one per core)
  --limit N             stop after N records
  --metric M            for a new collection: l2, cosine or ip (l2)
  --quantization Q      for a new collection: auto, none, sq8 or pca8 (auto)
  --m N                 for a new collection: graph degree (16)
  --ef-construction N   for a new collection: build breadth (200)
  --text FIELD          index the metadata field FIELD for full-text search
                        (a new collection is made with it; an existing one
                        without an index gets one over its records first)
  --tokenizer T         with --text: unicode61 (default) or trigram
  --stemmer S           with --text: none (default) or porter
  --sync MODE           the database's sync mode while loading: normal
                        (each batch reaches the file as it is stored, so
                        after a failure the count of records stored before
                        it is what the database holds), full, or off
                        (batches buffered, one flush at the end)
Progress goes to stderr: a live line on a terminal, else one summary line.
]]

local a = cli.parse({
  name = "ingest", usage = USAGE, positional = {"db", "collection", "file"},
  options = {
    format = {kind = "string", choices = cli.formats},
    id_prefix = {kind = "string", default = ""},
    batch = {kind = "int", min = 1, default = 10000},
    threads = {kind = "int", min = 1},
    limit = {kind = "int", min = 1},
    metric = {kind = "string", choices = {"l2", "cosine", "ip"}},
    quantization = {kind = "string", choices = {"auto", "none", "sq8", "pca8"}},
    m = {kind = "int", min = 2},
    ef_construction = {kind = "int", min = 1},
    sync = {kind = "string", choices = {"normal", "full", "off"}, default = "normal"},
    text = {kind = "string"},
    tokenizer = {kind = "string", choices = {"unicode61", "trigram"}},
    stemmer = {kind = "string", choices = {"none", "porter"}},
  },
}, arg)
if (a.tokenizer or a.stemmer) and not a.text then
  cli.die("ingest", "--tokenizer and --stemmer go with --text FIELD", 2)
end
local text = a.text and {field = a.text, tokenizer = a.tokenizer, stemmer = a.stemmer}

local r, err = cli.read_vectors(a.file, a.format, {id_prefix = a.id_prefix})
if not r then cli.die("ingest", err) end

local db = cli.open_db("ingest", a.db, {sync = a.sync})
local c = db:collection(a.collection)
if c then
  if c:dim() ~= r.dim then
    cli.die("ingest", ("%s has %d components per record, collection %s has dimension %d"):format(
      a.file, r.dim, a.collection, c:dim()))
  end
  local info = cli.ok(c:info())
  for _, o in ipairs({"metric", "quantization", "m", "ef_construction"}) do
    if a[o] ~= nil and a[o] ~= info[o] then
      cli.die("ingest", ("collection %s exists with %s %s; --%s %s cannot apply"):format(
        a.collection, o, tostring(info[o]), o:gsub("_", "-"), tostring(a[o])))
    end
  end
  if text and info.text and info.text.field ~= text.field then
    cli.die("ingest", ("collection %s indexes the field %s already; --text %s cannot "
                       .. "apply"):format(a.collection, info.text.field, text.field))
  elseif text and not info.text then
    local ok, terr = pcall(function() return cli.ok(c:text_index(text)) end)
    if not ok then cli.die("ingest", tostring(terr):gsub("^[^:]*:%d+: ", "")) end
  end
end
local created = not c
if created then
  c, err = db:create_collection(a.collection, {dim = r.dim, metric = a.metric,
    quantization = a.quantization, m = a.m, ef_construction = a.ef_construction,
    text = text})
  if not c then cli.die("ingest", err) end
end

local stored = 0

-- Stop on a bad record or a failed write: what was stored before stays
-- (made durable first, and said so only if that worked); a collection this
-- run created and could not fill goes again.
local function stop(msg)
  local saved, ferr = db:flush()
  if created and stored == 0 then
    db:drop_collection(a.collection)
    msg = msg .. " (nothing stored; collection " .. a.collection .. " not created)"
  elseif saved then
    msg = msg .. (" (%d records stored before %s)"):format(stored, msg:find("records %d+ to")
                                                                     and "them" or "it")
  else
    msg = msg .. (" (%d records were taken before it, but the log could not be " ..
                  "written, so they may be lost: %s)"):format(stored, ferr)
  end
  db:close()
  cli.die("ingest", msg)
end

local progress = cli.progress("ingest", r.size)
while not a.limit or stored < a.limit do
  local want = a.limit and math.min(a.batch, a.limit - stored) or a.batch
  local ok, n, ids, vecs, metas = pcall(r.next, r, want)
  if not ok then stop(tostring(n)) end
  if n == 0 then break end
  local done, uerr = pcall(function()
    cli.ok(c:upsert_batch(ids, vecs, metas, {threads = a.threads}))
  end)
  if not done then
    stop(("%s: records %d to %d: %s"):format(a.file, stored + 1, stored + n,
                                             tostring(uerr):gsub("^[^:]*:%d+: ", "")))
  end
  stored = stored + n
  progress:update(stored, r:offset())
end
r:close()
local ok, ferr = db:flush()
if not ok then cli.die("ingest", ferr) end
progress:finish(stored, ("into %s (%d in all)"):format(a.collection, c:count() or stored))
db:close()
