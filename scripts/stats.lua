-- stats.lua: what a database holds, at a glance: its sizes and a table of
-- its collections with their settings and counters.
local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")

local USAGE = [[
usage: omen-lua scripts/stats.lua DB [options]

Print the database DB (opened read-only; the writes in its log are
counted): its path, the sizes of its file and log, and one row per
collection: name, records, dimension, metric, quantization, m,
ef_construction, ef_search, memory and deleted slots (left by deletes
for new records to reuse; db:compact() gives them back).

options:
  --json   print db:info() as one JSON object instead
]]

local a = cli.parse({
  name = "stats", usage = USAGE, positional = {"db"},
  options = {json = {kind = "flag"}},
}, arg)

-- 1536 -> "1.5 KiB"; bytes below 1 KiB are written whole.
local function human(bytes)
  if bytes < 1024 then return ("%d B"):format(bytes) end
  local units = {"KiB", "MiB", "GiB", "TiB", "PiB"}
  local i = 0
  repeat
    bytes = bytes / 1024
    i = i + 1
  until bytes < 1024 or i == #units
  return ("%.1f %s"):format(bytes, units[i])
end

-- db:info() as JSON; "collections" stays an array when there are none
-- (cli.json writes an empty table as {}).
local function info_json(info)
  local keys = {}
  for k in pairs(info) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    parts[i] = cli.json(k) .. ":" .. cli.json(info[k], k == "collections")
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local COLUMNS = {
  {"name", "name"}, {"count", "count"}, {"dim", "dim"}, {"metric", "metric"},
  {"quantization", "quantization"}, {"m", "m"}, {"ef_construction", "ef_construction"},
  {"ef_search", "ef_search"}, {"memory", "memory", human}, {"deleted", "deleted"},
}

-- Rows of cells padded to each column's width: text to the left, numbers
-- (and sizes) to the right, so that digits line up.
local function table_text(infos)
  local rows = {{}}
  for j, col in ipairs(COLUMNS) do rows[1][j] = col[1] end
  for i, ci in ipairs(infos) do
    local row = {}
    for j, col in ipairs(COLUMNS) do
      local v = ci[col[2]]
      row[j] = col[3] and col[3](v) or tostring(v)
    end
    rows[i + 1] = row
  end
  local width, right = {}, {}
  for j, col in ipairs(COLUMNS) do
    width[j] = 0
    for _, row in ipairs(rows) do width[j] = math.max(width[j], #row[j]) end
    right[j] = type(infos[1] and infos[1][col[2]]) == "number"
  end
  local lines = {}
  for i, row in ipairs(rows) do
    local cells = {}
    for j, cell in ipairs(row) do
      local pad = (" "):rep(width[j] - #cell)
      cells[j] = right[j] and pad .. cell or cell .. pad
    end
    lines[i] = (table.concat(cells, "  "):gsub("%s+$", ""))
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The text form: sizes, then the table of collections.
local function report(i)
  local out = {
    ("database  %s\n"):format(i.path),
    ("file      %s (%d bytes)\n"):format(human(i.file_bytes), i.file_bytes),
    ("log       %s (%d bytes)\n"):format(human(i.log_bytes), i.log_bytes),
    ("records   %d in %d collection%s, %s in memory\n"):format(i.count, #i.collections,
      #i.collections == 1 and "" or "s", human(i.memory)),
  }
  if #i.collections > 0 then out[#out + 1] = "\n" .. table_text(i.collections) end
  return table.concat(out)
end

local db = cli.open_db("stats", a.db, {readonly = true})
local info = cli.ok(db:info())
db:close()

io.stdout:write(a.json and info_json(info) .. "\n" or report(info))
