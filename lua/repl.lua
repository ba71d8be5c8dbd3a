-- omen-lua's side of the prompt: how results are shown (search hits as
-- aligned rows; other tables as nested literals, cut short at cycles, depth
-- and length), which names Tab completes, and the dot-commands (.help).
-- omen-lua.c calls show, complete, command and track.

local M = {}

local MAX_ITEMS, MAX_DEPTH, MAX_WIDTH, MAX_CELL = 40, 4, 78, 60

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local
            nil not or repeat return then true until while]]):gmatch("%a+") do
  keywords[w] = true
end

local function is_name(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not keywords[s]
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return (("%q"):format(v):gsub("\\\n", "\\n")) end
  if t == "number" and v == math.floor(v) and math.abs(v) < 2^53 then
    return ("%d"):format(v) -- integral floats without an exponent
  end
  if t == "number" then return ("%.14g"):format(v) end
  return tostring(v)
end

-- Keys in a stable order: the array part (returned as its length), then the
-- other keys sorted by type and value.
local function sorted_keys(t)
  local n, keys = #t, {}
  for k in pairs(t) do
    if not (type(k) == "number" and k >= 1 and k <= n and k == math.floor(k)) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return n, keys
end

-- Single-line items packed into lines of at most MAX_WIDTH columns.
local function pack(items, indent)
  local lines, line = {}, nil
  for i, s in ipairs(items) do
    if i < #items then s = s .. "," end
    if line and #indent + #line + 1 + #s > MAX_WIDTH then
      lines[#lines + 1], line = line, nil
    end
    line = line and line .. " " .. s or s
  end
  lines[#lines + 1] = line
  return lines
end

local literal

-- The rendered items of table t: array values, then `key = value`.
local function items_of(t, indent, seen)
  local n, keys = sorted_keys(t)
  local items, total = {}, n + #keys
  for i = 1, math.min(n, MAX_ITEMS) do items[i] = literal(t[i], indent, seen) end
  for i = 1, math.min(#keys, MAX_ITEMS - #items) do
    local k = keys[i]
    local key = is_name(k) and k or "[" .. literal(k, indent, seen) .. "]"
    items[#items + 1] = key .. " = " .. literal(t[k], indent, seen)
  end
  if total > #items then items[#items + 1] = ("... (%d more)"):format(total - #items) end
  return items
end

function literal(v, indent, seen)
  if type(v) ~= "table" then return scalar(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__tostring") then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if #indent >= 2 * MAX_DEPTH then return "{...}" end
  seen[v] = true -- only while inside v: a table met twice elsewhere is no cycle
  local inner = indent .. "  "
  local items = items_of(v, inner, seen)
  seen[v] = nil
  if #items == 0 then return "{}" end
  local all = table.concat(items, ", ")
  local nested = all:find("\n", 1, true)
  if not nested and #indent + #all + 2 <= MAX_WIDTH then return "{" .. all .. "}" end
  local lines = nested and items or pack(items, inner)
  local sep = nested and ",\n" .. inner or "\n" .. inner
  return "{\n" .. inner .. table.concat(lines, sep) .. "\n" .. indent .. "}"
end

function M.literal(v)
  return literal(v, "", {})
end

-- A hit list: a non-empty array of tables with a string id and a number
-- distance or score (text searches), as collection:search returns.
local function is_hits(t)
  if type(t) ~= "table" or #t == 0 then return false end
  for i = 1, #t do
    local h = t[i]
    if type(h) ~= "table" or type(h.id) ~= "string" or
       (type(h.distance) ~= "number" and type(h.score) ~= "number") then
      return false
    end
  end
  return true
end

local function cell(s, width)
  if #s > width then s = s:sub(1, width - 3) .. "..." end
  return s
end

-- A string bare, unless spaces or control characters would garble the row.
local function bare(s)
  return s:find("[%s%c=\"]") and scalar(s) or s
end

-- Metadata as `k=v` pairs.
local function meta_line(meta)
  if type(meta) ~= "table" then return "" end
  local _, keys = sorted_keys(meta)
  local parts = {}
  for i, k in ipairs(keys) do
    local v = meta[k]
    parts[i] = tostring(k) .. "=" .. (type(v) == "string" and bare(v) or literal(v, "", {}))
  end
  return table.concat(parts, " ")
end

-- A table of hits: rank, id, distance and score (the columns the hits
-- have: text searches have scores, vector searches distances, fused both),
-- metadata.
function M.hits(t)
  local has_d, has_s = false, false
  for _, h in ipairs(t) do
    has_d = has_d or h.distance ~= nil
    has_s = has_s or h.score ~= nil
  end
  local function num(v) return v and ("%.6g"):format(v) or "" end
  local head = {"#", "id"}
  if has_d then head[#head + 1] = "distance" end
  if has_s then head[#head + 1] = "score" end
  local rows, w = {}, {}
  for c, name in ipairs(head) do w[c] = #name end
  for i, h in ipairs(t) do
    local r = {tostring(i), cell(bare(h.id), MAX_CELL)}
    if has_d then r[#r + 1] = num(h.distance) end
    if has_s then r[#r + 1] = num(h.score) end
    for c = 1, #r do w[c] = math.max(w[c], #r[c]) end
    r[#r + 1] = cell(meta_line(h.meta), 2 * MAX_CELL)
    rows[i] = r
  end
  head[#head + 1] = "meta"
  local parts = {("%%%ds"):format(w[1]), ("%%-%ds"):format(w[2])}
  for c = 3, #head - 1 do parts[c] = ("%%%ds"):format(w[c]) end
  parts[#head] = "%s"
  local fmt = table.concat(parts, "  ")
  local out = {fmt:format(unpack(head))}
  for i, r in ipairs(rows) do out[i + 1] = fmt:format(unpack(r)) end
  return (table.concat(out, "\n"):gsub(" +\n", "\n"):gsub(" +$", ""))
end

function M.format(v)
  if is_hits(v) then return M.hits(v) end
  return M.literal(v)
end

-- Print each result of a chunk entered at the prompt on its own line.
function M.show(...)
  for i = 1, select("#", ...) do
    io.stdout:write(M.format((select(i, ...))), "\n")
  end
  io.stdout:flush()
end

-- -- Completion -----------------------------------------------------------------

-- Field `name` of v without running metamethods: raw fields, then those of
-- the metatables' __index tables (how userdata such as omen handles, whose
-- __metatable hides the real one, offer their methods).
local function field(v, name)
  for _ = 1, 10 do
    if type(v) == "table" then
      local x = rawget(v, name)
      if x ~= nil then return x end
    end
    local mt = debug.getmetatable(v)
    v = mt and rawget(mt, "__index")
    if type(v) ~= "table" then return nil end
  end
end

-- -- Dot-commands ---------------------------------------------------------------

-- A table of rows as aligned columns; rows are arrays of strings, the first
-- the header. Columns after the first are right-aligned (numbers) unless
-- `left` is set.
local function columns(rows, left)
  local w = {}
  for _, r in ipairs(rows) do
    for c, v in ipairs(r) do w[c] = math.max(w[c] or 0, #v) end
  end
  local out = {}
  for i, r in ipairs(rows) do
    local cells = {}
    for c, v in ipairs(r) do
      cells[c] = ((c == 1 or left) and "%-" .. w[c] .. "s" or "%" .. w[c] .. "s"):format(v)
    end
    out[i] = (table.concat(cells, "  "):gsub(" +$", ""))
  end
  return table.concat(out, "\n")
end

local function bytes(n)
  if n < 1024 then return ("%d B"):format(n) end
  if n < 1048576 then return ("%.1f KiB"):format(n / 1024) end
  if n < 1073741824 then return ("%.1f MiB"):format(n / 1048576) end
  return ("%.2f GiB"):format(n / 1073741824)
end

-- The databases opened at this prompt, noted by M.track (weakly: a database
-- nobody holds any more is gone from the list too).
local opened = setmetatable({}, {__mode = "k"})
local order = 0

function M.track(omen)
  local open = omen.open
  omen.open = function(...)
    local db, err = open(...)
    if db then
      order = order + 1
      opened[db] = order
    end
    return db, err
  end
end

-- The global that holds v, for naming it in listings.
local function global_name(v)
  for k, g in pairs(_G) do
    if rawequal(g, v) and type(k) == "string" then return k end
  end
  return nil
end

local function is_db(v) return type(v) == "userdata" and tostring(v):find("^omen%.db%(") end
local function is_coll(v)
  return type(v) == "userdata" and tostring(v):find("^omen%.collection%(")
end

-- The collections of a db:info() as a table.
local function collections_table(info)
  local rows = {{"collection", "count", "dim", "metric", "quant", "m", "ef_c", "ef",
                 "memory"}}
  for _, ci in ipairs(info.collections) do
    rows[#rows + 1] = {ci.name, tostring(ci.count), tostring(ci.dim), ci.metric,
                       ci.quantization, tostring(ci.m), tostring(ci.ef_construction),
                       tostring(ci.ef_search), bytes(ci.memory)}
  end
  return #rows > 1 and columns(rows) or "(no collections)"
end

-- One line on a db:info().
local function db_summary(i)
  local where = i.path == ":memory:" and "in memory" or
                ("%s, file %s, log %s"):format(i.path, bytes(i.file_bytes), bytes(i.log_bytes))
  return ("%s: %d collection(s), %d records, %s in memory"):format(
    where, #i.collections, i.count, bytes(i.memory))
end

-- The value a command argument names: a global, or a Lua expression.
local function value_of(expr, default_name)
  expr = expr ~= "" and expr or default_name
  local fn, err = loadstring("return " .. expr, "=" .. expr)
  if not fn then error(err, 0) end
  return fn(), expr
end

local commands, help_lines = {}, {}
local function command(name, args, help, fn)
  commands[name] = fn
  help_lines[#help_lines + 1] = {"." .. name .. (args ~= "" and " " .. args or ""), help}
end

command("help", "", "this list", function()
  local rows = {}
  for i, h in ipairs(help_lines) do rows[i] = h end
  print(columns(rows, true))
  print("Lua helpers: db:info(), c:info(), c:count(), db:collections(); " ..
        "=expr prints a value.")
end)

-- A result of an omen call, or its nil, message raised as the error.
local function must(v, err)
  if v == nil and err ~= nil then error(err, 0) end
  return v
end

command("open", "PATH [NAME]", "open a database (made if missing) as global NAME (db)",
  function(args)
    local path, name = args:match("^(%S+)%s*(%S*)$")
    if not path then error("usage: .open PATH [NAME]", 0) end
    name = name ~= "" and name or "db"
    local db, err = _G.omen.open(path ~= ":memory:" and path or nil)
    if not db then error(err, 0) end
    _G[name] = db
    print(name .. " = " .. db_summary(must(db:info())))
  end)

command("dbs", "", "the databases opened at this prompt", function()
  local list = {}
  for db, n in pairs(opened) do
    if pcall(db.path, db) then list[#list + 1] = {n, db} end -- skip closed ones
  end
  table.sort(list, function(x, y) return x[1] < y[1] end)
  if #list == 0 then print("(no open databases; .open PATH or omen.open(path))") end
  for _, e in ipairs(list) do
    local ok, info, err = pcall(e[2].info, e[2])
    print(("%-6s %s"):format(global_name(e[2]) or "?", not ok and "(closed)"
                             or info and db_summary(info) or "(" .. tostring(err) .. ")"))
  end
end)

command("colls", "[DB]", "the collections of a database (db) with their settings",
  function(args)
    local db, expr = value_of(args, "db")
    if not is_db(db) then error(expr .. " is not a database", 0) end
    print(collections_table(must(db:info())))
  end)

command("info", "[DB or COLLECTION]", "what a database or a collection holds",
  function(args)
    local v, expr = value_of(args, "db")
    if is_db(v) then
      local info = must(v:info())
      print(db_summary(info))
      print(collections_table(info))
    elseif is_coll(v) then
      local i = must(v:info())
      print(columns({{"name", "count", "dim", "metric", "quant", "m", "ef_c", "ef", "levels",
                      "deleted", "memory"},
                     {i.name, tostring(i.count), tostring(i.dim), i.metric, i.quantization,
                      tostring(i.m), tostring(i.ef_construction), tostring(i.ef_search),
                      tostring(i.levels), tostring(i.deleted), bytes(i.memory)}}))
    else
      error(expr .. " is neither a database nor a collection", 0)
    end
  end)

-- Run a line that starts with '.'; a mistake prints its message alone.
function M.command(line)
  local name, args = line:match("^%.(%S*)%s*(.-)%s*$")
  local fn = commands[name]
  local ok, err = true, nil
  if fn then ok, err = pcall(fn, args)
  else ok, err = false, ("unknown command .%s (.help lists them)"):format(name) end
  if not ok then io.stderr:write(tostring(err), "\n") end
end

-- The names field() can reach from v.
local function field_names(v)
  local names = {}
  for _ = 1, 10 do
    if type(v) == "table" then
      for k in pairs(v) do
        if is_name(k) then names[k] = true end
      end
    end
    local mt = debug.getmetatable(v)
    v = mt and rawget(mt, "__index")
    if type(v) ~= "table" then break end
  end
  return names
end

-- Completions of text, a name or a path such as `omen.op` or `db:col`: the
-- full texts, sorted. After ':' only methods are offered.
function M.complete(text)
  local path, sep, partial = text:match("^(.-)([.:]?)([%w_]*)$")
  local v, names = _G, nil
  if sep == "" then
    names = field_names(_G)
    for k in pairs(keywords) do names[k] = true end
  else
    for name in (path .. "."):gmatch("(.-)%.") do
      if not is_name(name) then return {} end
      v = field(v, name)
    end
    if v == nil then return {} end
    names = field_names(v)
  end
  local out = {}
  for k in pairs(names) do
    if k:sub(1, #partial) == partial and (sep ~= ":" or type(field(v, k)) == "function") then
      out[#out + 1] = path .. sep .. k
    end
  end
  table.sort(out)
  return out
end

return M
