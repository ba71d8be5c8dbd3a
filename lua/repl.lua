-- omen-lua's printer: how values entered at the prompt are shown. Search
-- hits come out as aligned rows (rank, id, distance, metadata); other tables
-- as nested literals, with cycles and long tables cut short.

local M = {}

local MAX_ITEMS, MAX_DEPTH, MAX_CELL = 40, 4, 60

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if t == "number" then
    if v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
    return ("%.7g"):format(v)
  end
  return tostring(v)
end

-- Table keys in a stable order: array part first, then the rest sorted.
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

local function literal(v, indent, seen, out)
  if type(v) ~= "table" then
    out[#out + 1] = scalar(v)
    return
  end
  if seen[v] then
    out[#out + 1] = "<cycle>"
    return
  end
  if #indent / 2 >= MAX_DEPTH then
    out[#out + 1] = "{...}"
    return
  end
  seen[v] = true
  local n, keys = sorted_keys(v)
  if n == 0 and #keys == 0 then
    out[#out + 1] = "{}"
    seen[v] = nil
    return
  end
  -- Short flat tables stay on one line.
  local flat = true
  for i = 1, n do if type(v[i]) == "table" then flat = false end end
  for _, k in ipairs(keys) do if type(v[k]) == "table" then flat = false end end
  local inner = indent .. "  "
  local sep = flat and ", " or (",\n" .. inner)
  out[#out + 1] = flat and "{" or ("{\n" .. inner)
  local count = 0
  local function item(key, value)
    if count > 0 then out[#out + 1] = sep end
    count = count + 1
    if count > MAX_ITEMS then
      out[#out + 1] = "..."
      return false
    end
    if key ~= nil then
      out[#out + 1] = is_identifier(key) and key or ("[" .. scalar(key) .. "]")
      out[#out + 1] = " = "
    end
    literal(value, inner, seen, out)
    return true
  end
  local going = true
  for i = 1, n do
    going = item(nil, v[i])
    if not going then break end
  end
  for _, k in ipairs(going and keys or {}) do
    if not item(k, v[k]) then break end
  end
  out[#out + 1] = flat and "}" or ("\n" .. indent .. "}")
  seen[v] = nil
end

function M.literal(v)
  local out = {}
  literal(v, "", {}, out)
  return table.concat(out)
end

-- A hit list: an array of tables with a string id and a number distance.
local function is_hits(t)
  if type(t) ~= "table" or #t == 0 then return false end
  for i = 1, #t do
    local h = t[i]
    if type(h) ~= "table" or type(h.id) ~= "string" or type(h.distance) ~= "number" then
      return false
    end
  end
  return true
end

local function cell(s, width)
  if #s > width then s = s:sub(1, width - 3) .. "..." end
  return s
end

local function meta_line(meta)
  if type(meta) ~= "table" then return "" end
  local _, keys = sorted_keys(meta)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = meta[k]
    parts[#parts + 1] = tostring(k) .. "=" ..
      (type(v) == "table" and "[" .. table.concat(v, ",") .. "]" or tostring(v))
  end
  return table.concat(parts, " ")
end

function M.hits(t)
  local rows, w = {}, {1, 2, 8}
  for i, h in ipairs(t) do
    local r = {tostring(i), cell(h.id, MAX_CELL), ("%.6g"):format(h.distance),
               cell(meta_line(h.meta), 2 * MAX_CELL)}
    for c = 1, 3 do w[c] = math.max(w[c], #r[c]) end
    rows[i] = r
  end
  local fmt = ("%%%ds  %%-%ds  %%%ds  %%s"):format(w[1], w[2], w[3])
  local out = {(fmt:format("#", "id", "distance", "meta")):gsub("%s+$", "")}
  for _, r in ipairs(rows) do
    out[#out + 1] = (fmt:format(r[1], r[2], r[3], r[4])):gsub("%s+$", "")
  end
  return table.concat(out, "\n")
end

function M.format(v)
  if is_hits(v) then return M.hits(v) end
  return M.literal(v)
end

-- Print every value of a call's results, as the prompt does.
function M.show(...)
  local n = select("#", ...)
  for i = 1, n do
    io.write(M.format((select(i, ...))), "\n")
  end
  io.flush()
end

return M
