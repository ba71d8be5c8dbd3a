-- check.lua: is a database file sound? Every checksum, every record
-- readable, the counts agreeing, and the graph finding what it holds.
local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")

local USAGE = [[
usage: omen-lua scripts/check.lua DB [options]

Check the database DB without changing it (it is opened read-only; the
writes in its log are applied in memory only):
  - every checksum of the file, up front (omen.open with verify = true): a
    damaged, truncated or foreign file fails to open, with the reason;
  - per collection, every record is listed (each must be readable) and the
    number listed must equal c:count() and the slots less the deleted ones;
  - a sample of records spread over the collection must be found by c:get
    with the vector listed; graph searches for their own vectors (k = 10)
    are compared with exact searches: the share of the exact hits the graph
    finds (ties by distance count) is the "graph recall". Below 0.9 is a
    warning (a poorly connected graph, or a tight ef_search); below 0.5 the
    graph has collapsed, and that is a failure;
  - a text index (the checksums and every postings list are checked on
    open): the records whose field holds text must be the records it has.
Prints one line per collection, then "ok" or "FAILED: ..." (the failures).
Exit status 0 when the file is sound, 1 otherwise.

options:
  --sample N   records per collection searched for (100; 0: none)
]]

local a = cli.parse({
  name = "check", usage = USAGE, positional = {"db"},
  options = {sample = {kind = "int", min = 0, default = 100}},
}, arg)

local K, LOW_RECALL, COLLAPSED = 10, 0.9, 0.5

local function same_vector(x, y)
  if #x ~= #y then return false end
  for i = 1, #x do
    if x[i] ~= y[i] then return false end
  end
  return true
end

-- Which listing positions (1-based) to sample: want of count, evenly
-- spread, so that every part of the slot range is looked at.
local function sample_positions(count, want)
  local at = {}
  local n = math.min(count, want)
  for i = 0, n - 1 do at[math.floor((i + 0.5) * count / n) + 1] = true end
  return at
end

-- Whether a field's value is text to a text index: a string, or an array
-- of strings.
local function is_text(v)
  if type(v) == "string" then return true end
  if type(v) ~= "table" then return false end
  for _, s in ipairs(v) do
    if type(s) ~= "string" then return false end
  end
  return true
end

-- List every record; returns how many, the sampled {id, vector}s, and how
-- many hold text in `field`.
local function list_all(c, count, field)
  local want = sample_positions(count, a.sample)
  local n, sampled, texts = 0, {}, 0
  for id, vec, meta in c:each({with_meta = true, with_vectors = true}) do
    n = n + 1
    if want[n] then sampled[#sampled + 1] = {id, vec} end
    if field and meta and is_text(meta[field]) then texts = texts + 1 end
  end
  return n, sampled, texts
end

-- Check one collection: raises a message for a failure; returns the
-- report line and a warning or nil.
local function check_collection(c)
  local info = cli.ok(c:info())
  local count = cli.ok(c:count())
  local n, sampled, texts = list_all(c, count, info.text and info.text.field)
  if n ~= count then error(("%d records listed, its count is %d"):format(n, count), 0) end
  if info.text and texts ~= info.text.docs then
    error(("%d records hold text in '%s', its text index has %d"):format(texts,
      info.text.field, info.text.docs), 0)
  end
  if info.slots - info.deleted ~= count then
    error(("%d slots less %d deleted is not its count %d"):format(
      info.slots, info.deleted, count), 0)
  end
  local found, wanted = 0, 0
  for _, s in ipairs(sampled) do
    local id, vec = s[1], s[2]
    local got = cli.ok(c:get(id))
    if not got or not same_vector(got, vec) then
      error(("record %s is listed, but get(id) %s"):format(cli.json(id),
        got and "gives another vector" or "finds nothing"), 0)
    end
    local exact = cli.ok(c:search(vec, {k = K, exact = true, with_meta = false}))
    local last = exact[#exact].distance
    for _, h in ipairs(cli.ok(c:search(vec, {k = K, with_meta = false}))) do
      if h.distance <= last then found = found + 1 end
    end
    wanted = wanted + #exact
  end
  local line = ("%s: %d records, dim %d, %s"):format(c:name(), count, info.dim, info.metric)
  if info.text then
    line = line .. (", text index on '%s' (%d records, %d terms)"):format(info.text.field,
      info.text.docs, info.text.terms)
  end
  if #sampled == 0 then return line .. ", no graph recall sample" end
  local recall = found / wanted
  line = line .. (", graph recall %.3f (searches for %d sampled records' own vectors, " ..
                  "k = %d, against exact search)"):format(recall, #sampled, K)
  if recall < COLLAPSED then
    error(("graph recall %.3f is below %.1f: the graph has collapsed"):format(
      recall, COLLAPSED), 0)
  end
  if recall < LOW_RECALL then
    return line, ("%s: graph recall %.3f is below %.1f"):format(c:name(), recall, LOW_RECALL)
  end
  return line
end

local function failed(msg)
  io.stdout:write("FAILED: ", msg, "\n")
  cli.exit(1)
end

local db, err = omen.open(a.db, {readonly = true, verify = true})
if not db then failed(tostring(err)) end

local failures = {}
local names, nerr = db:collections()
if not names then failed(nerr) end
for _, name in ipairs(names) do
  -- damage found past the up-front check (it should not be) comes here
  local ok, line, warning = pcall(function()
    return check_collection(cli.ok(db:collection(name)))
  end)
  if not ok then
    local why = tostring(line):gsub("^[^:]*:%d+: ", "") -- no "omen.lua:214: " in front
    failures[#failures + 1] = name .. ": " .. why
    line = ("%s: FAILED: %s"):format(name, why)
  end
  io.stdout:write(line, "\n")
  if warning then io.stdout:write("warning: ", warning, "\n") end
end
db:close()

if #failures > 0 then failed(table.concat(failures, "; ")) end
io.stdout:write("ok\n")
