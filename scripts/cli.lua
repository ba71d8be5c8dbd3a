-- cli.lua: what the batch-job scripts share (ingest, search, eval, export,
-- import, stats, check): options, errors, progress, vector files in and out.
--
--   local cli = dofile((arg[0]:match("^(.*[/\\])") or "") .. "cli.lua")
--
-- Vector files, by extension or --format:
--   fvecs / bvecs / ivecs   per record: int32 dim, then dim float32 / uint8 /
--                           int32 (the TEXMEX formats); ids are row numbers
--   npy                     a 2-D NumPy array, C order, of <f4 <f8 |u1 <i4
--                           or <i8; ids are row numbers
--   csv                     one record per line: id, then the components
--                           (a first line whose components are not all
--                           numbers is a header and skipped)
--   jsonl                   one JSON object per line: "id" (string or
--                           number), "vector" (array of numbers), and
--                           optionally "meta" (object)
-- Row-number ids start at 0 and take --id-prefix in front.
-- A bad record stops the read with FILE:line N or FILE:record N and what is
-- wrong; nothing of it is returned.

local ffi = require("ffi")

local cli = {}

pcall(ffi.cdef, [[
  int isatty(int fd);
  typedef struct { long tv_sec; long tv_nsec; } omen_cli_timespec;
  int clock_gettime(int clk, omen_cli_timespec *ts);
]])

local ts = ffi.new("omen_cli_timespec")
function cli.now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- -- Options ------------------------------------------------------------------

-- Leave with a status, closing the Lua state first (os.exit's `true`): its
-- handles are released and nothing is left to leak checkers.
local function leave(status)
  io.stdout:flush()
  os.exit(status, true)
end
cli.exit = leave

-- The results of a call into omen, passed through; when it failed with
-- nil, message (a failure of the environment: I/O, a full disk, damage),
-- the message is raised instead, for the script's handler to report.
function cli.ok(...)
  local v, err = ...
  if v == nil and err ~= nil then error(err, 0) end
  return ...
end

-- Stop with a message on stderr (status 1; 2 for usage errors).
function cli.die(name, msg, status)
  io.stderr:write(name, ": ", tostring(msg), "\n")
  leave(status or 1)
end

-- spec = {name =, usage = text, positional = {names...}, optional = {names...},
--         options = {name = {kind = "string" | "int" | "number" | "flag" |
--                    "list", default =, choices = {...}, min =}}}
-- Option --some-name fills field some_name. --help prints the usage.
function cli.parse(spec, argv)
  local out, pos = {}, {}
  local function usage_error(msg)
    io.stderr:write(spec.name, ": ", msg, "\n", spec.usage:match("^[^\n]*"), "\n",
                    "(--help for more)\n")
    leave(2)
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      io.stdout:write(spec.usage)
      leave(0)
    end
    local key = a:match("^%-%-([%w-]+)$")
    if key then
      local field = key:gsub("-", "_")
      local o = spec.options[field]
      if not o then usage_error("unknown option " .. a) end
      if o.kind == "flag" then
        out[field] = true
      else
        local v = argv[i + 1]
        if v == nil then usage_error("missing value for " .. a) end
        i = i + 1
        if o.kind == "int" or o.kind == "number" then
          local n = tonumber(v)
          if not n or (o.kind == "int" and n % 1 ~= 0) or (o.min and n < o.min) then
            usage_error(("bad value for %s: %s"):format(a, v))
          end
          v = n
        elseif o.kind == "list" then
          local list = {}
          for item in v:gmatch("[^,]+") do
            local n = tonumber(item)
            if not n or n < 1 or n % 1 ~= 0 then usage_error("bad list for " .. a .. ": " .. v) end
            list[#list + 1] = n
          end
          if #list == 0 then usage_error("empty list for " .. a) end
          v = list
        elseif o.choices then
          local ok = false
          for _, c in ipairs(o.choices) do ok = ok or c == v end
          if not ok then
            usage_error(("%s must be one of %s (got %s)"):format(a, table.concat(o.choices, ", "), v))
          end
        end
        out[field] = v
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      usage_error("unknown option " .. a)
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  local optional = spec.optional or {}
  if #pos < #spec.positional or #pos > #spec.positional + #optional then
    local names = table.concat(spec.positional, " ")
    if #optional > 0 then names = names .. " [" .. table.concat(optional, " ") .. "]" end
    usage_error(("expected %s%d arguments (%s), got %d"):format(#optional > 0 and "at least " or "",
                #spec.positional, names, #pos))
  end
  for j, name in ipairs(spec.positional) do out[name] = pos[j] end
  for j, name in ipairs(optional) do out[name] = pos[#spec.positional + j] end
  for field, o in pairs(spec.options) do
    if out[field] == nil then out[field] = o.default end
  end
  return out
end

-- Open a database or stop with its message.
function cli.open_db(name, path, opts)
  local db, err = omen.open(path, opts)
  if not db then cli.die(name, err) end
  return db
end

-- -- Progress -------------------------------------------------------------------

-- On a terminal, a line on stderr redrawn a few times a second (records,
-- rate, and the time left when the total bytes are known); always a
-- summary line at the end.
function cli.progress(name, total_bytes, unit)
  unit = unit or "records"
  local p = {start = cli.now(), shown = 0, tty = ffi.C.isatty(2) == 1}
  function p.update(_, records, bytes)
    if not p.tty then return end
    local t = cli.now()
    if t - p.shown < 0.25 then return end
    p.shown = t
    local rate = records / math.max(t - p.start, 1e-9)
    local eta = ""
    if total_bytes and total_bytes > 0 and bytes and bytes > 0 then
      local left = (t - p.start) * (total_bytes - bytes) / bytes
      eta = ("  %3d%%  %.0f s left"):format(math.floor(100 * bytes / total_bytes), left)
    end
    io.stderr:write(("\r%s: %d %s  %.0f/s%s  "):format(name, records, unit, rate, eta))
  end
  function p.finish(_, records, what)
    local secs = cli.now() - p.start
    if p.tty then io.stderr:write("\r\27[K") end
    io.stderr:write(("%s: %d %s %s in %.2f s (%.0f/s)\n"):format(
      name, records, unit, what or "done", secs, records / math.max(secs, 1e-9)))
  end
  return p
end

-- -- Reading vector files ------------------------------------------------------

local EXT = {fvecs = "fvecs", bvecs = "bvecs", ivecs = "ivecs", npy = "npy", csv = "csv",
             jsonl = "jsonl", ndjson = "jsonl", json = "jsonl"}
cli.formats = {"fvecs", "bvecs", "ivecs", "npy", "csv", "jsonl"}

-- The format of path, from `given` or its extension; `choices` lists the
-- formats the caller handles (cli.formats when nil).
function cli.format_of(path, given, choices)
  if given then return given end
  local f = EXT[(path:match("%.([%w]+)$") or ""):lower()]
  if not f then
    error(("%s: cannot tell the format from the name; give --format (%s)"):format(
      path, table.concat(choices or cli.formats, ", ")), 0)
  end
  return f
end

local function file_size(f)
  local here = f:seek()
  local size = f:seek("end")
  f:seek("set", here)
  return size
end

-- The size of the file at path, or nil when it cannot be opened.
function cli.file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = file_size(f)
  f:close()
  return size
end

-- A reader: r.dim, r.size (bytes), r:next(n) -> count, ids, vecs (FFI
-- float buffer of count * dim), metas (array or nil); count 0 at the end;
-- r:offset() bytes read so far; r:close(). Errors are raised as strings
-- naming the file and record or line.
local readers = {}

-- Raise the error of a bad record: FILE:line N or FILE:record N, and why.
local function fail(path, unit, n, msg)
  error(("%s:%s %d: %s"):format(path, unit, n, msg), 0)
end
cli.fail = fail

local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end
cli.finite = finite

-- Row i of a batch (dim items of a C number type) into vecs, checked, with
-- its row-number id.
local function take_row(path, unit, r, i, items, dim, vecs, ids, opts)
  for j = 0, dim - 1 do
    local x = tonumber(items[j])
    if not finite(x) then
      fail(path, unit, r.row + i + 1, ("component %d is %s"):format(j + 1, tostring(x)))
    end
    vecs[i * dim + j] = x
  end
  ids[i + 1] = opts.id_prefix .. (r.row + i)
end

-- The TEXMEX formats: int32 dim then dim items of `size` bytes each.
local function texmex(item_type, item_size)
  return function(path, f, opts)
    local r = {size = file_size(f), row = 0}
    local head = f:read(4)
    if not head then r.dim = nil return r end
    if #head < 4 then fail(path, "record", 1, "truncated (no room for its dimension)") end
    local dim = ffi.cast("const int32_t *", head)[0]
    if dim < 1 or dim > 65536 then fail(path, "record", 1, "bad dimension " .. dim) end
    r.dim = dim
    f:seek("set", 0)
    local rec = 4 + dim * item_size
    function r.next(_, n)
      local data = f:read(n * rec)
      if not data then return 0 end
      local count = math.floor(#data / rec)
      if count * rec ~= #data then
        fail(path, "record", r.row + count + 1, ("truncated: %d of its %d bytes"):format(
          #data - count * rec, rec))
      end
      local bytes = ffi.cast("const uint8_t *", data)
      local vecs, ids = ffi.new("float[?]", count * dim), {}
      for i = 0, count - 1 do
        local at = bytes + i * rec
        local d = ffi.cast("const int32_t *", at)[0]
        if d ~= dim then
          fail(path, "record", r.row + i + 1,
               ("dimension %d, the file's first record has %d"):format(d, dim))
        end
        take_row(path, "record", r, i, ffi.cast(item_type, at + 4), dim, vecs, ids, opts)
      end
      r.row = r.row + count
      return count, ids, vecs
    end
    return r
  end
end

readers.fvecs = texmex("const float *", 4)
readers.bvecs = texmex("const uint8_t *", 1)
readers.ivecs = texmex("const int32_t *", 4)

local NPY_TYPES = {["<f4"] = {"const float *", 4}, ["<f8"] = {"const double *", 8},
                   ["|u1"] = {"const uint8_t *", 1}, ["<u1"] = {"const uint8_t *", 1},
                   ["<i4"] = {"const int32_t *", 4}, ["<i8"] = {"const int64_t *", 8}}

function readers.npy(path, f, opts)
  local r = {size = file_size(f), row = 0}
  local magic = f:read(8)
  if not magic or magic:sub(1, 6) ~= "\147NUMPY" then
    error(path .. ": not a .npy file (no \\x93NUMPY magic)", 0)
  end
  local major = magic:byte(7)
  local lenbytes = major == 1 and 2 or 4
  local lb = f:read(lenbytes)
  if not lb or #lb < lenbytes then error(path .. ": truncated .npy header", 0) end
  local hlen = lb:byte(1) + lb:byte(2) * 256
  if lenbytes == 4 then hlen = hlen + lb:byte(3) * 65536 + lb:byte(4) * 16777216 end
  local header = f:read(hlen)
  if not header or #header < hlen then error(path .. ": truncated .npy header", 0) end
  local descr = header:match("'descr':%s*'([^']+)'")
  local fortran = header:match("'fortran_order':%s*(%a+)")
  local n, dim = header:match("'shape':%s*%(%s*(%d+)%s*,%s*(%d+)%s*,?%s*%)")
  local t = NPY_TYPES[descr or ""]
  if not t then error(("%s: unsupported dtype %s (float32/64, uint8, int32/64)"):format(path, tostring(descr)), 0) end
  if fortran ~= "False" then error(path .. ": Fortran-order arrays are not supported", 0) end
  if not n then error(path .. ": the array must be 2-D (rows x dim)", 0) end
  n, dim = tonumber(n), tonumber(dim)
  if dim < 1 then error(path .. ": dimension 0", 0) end
  local data_start = f:seek()
  local row_bytes = dim * t[2]
  if r.size - data_start < n * row_bytes then
    error(("%s: truncated: the header says %d rows of %d bytes, the file holds %d"):format(
      path, n, row_bytes, math.floor((r.size - data_start) / row_bytes)), 0)
  end
  r.dim = n > 0 and dim or nil
  function r.next(_, want)
    local count = math.min(want, n - r.row)
    if count <= 0 then return 0 end
    local data = f:read(count * row_bytes)
    local items = ffi.cast(t[1], data)
    local vecs, ids = ffi.new("float[?]", count * dim), {}
    for i = 0, count - 1 do
      take_row(path, "row", r, i, items + i * dim, dim, vecs, ids, opts)
    end
    r.row = r.row + count
    return count, ids, vecs
  end
  return r
end

-- Text formats share the line loop; parse(line, n) -> id, numbers, meta.
local function text_reader(path, f, parse, opts)
  local r = {size = file_size(f), line = 0}
  local pending -- the first record, read to learn the dimension
  local function read_record()
    while true do
      local line = f:read("*l")
      if not line then return nil end
      r.line = r.line + 1
      line = line:gsub("\r$", "")
      if line:find("%S") then
        local id, nums, meta = parse(line, r.line)
        if id then return {id, nums, meta} end
      end
    end
  end
  pending = read_record()
  r.dim = pending and #pending[2]
  function r.next(_, want)
    local recs = {}
    while #recs < want do
      local rec = pending or read_record()
      pending = nil
      if not rec then break end
      if #rec[2] ~= r.dim then
        fail(path, "line", r.line, ("%d components, the first record has %d"):format(#rec[2], r.dim))
      end
      recs[#recs + 1] = rec
    end
    local count = #recs
    if count == 0 then return 0 end
    local vecs, ids, metas = ffi.new("float[?]", count * r.dim), {}, {}
    local any_meta = false
    for i, rec in ipairs(recs) do
      ids[i] = rec[1]
      for j = 1, r.dim do vecs[(i - 1) * r.dim + j - 1] = rec[2][j] end
      metas[i] = rec[3] or {}
      any_meta = any_meta or rec[3] ~= nil
    end
    return count, ids, vecs, any_meta and metas or nil
  end
  function r.offset() return f:seek() end
  return r
end

-- One CSV field from position i: its text and the position after the comma.
local function csv_field(line, i)
  if line:sub(i, i) == '"' then
    local out, j = {}, i + 1
    while true do
      local q = line:find('"', j, true)
      if not q then return nil, "unterminated quoted field" end
      out[#out + 1] = line:sub(j, q - 1)
      if line:sub(q + 1, q + 1) == '"' then
        out[#out + 1] = '"'
        j = q + 2
      else
        local after = line:sub(q + 1, q + 1)
        if after ~= "," and after ~= "" then return nil, "text after a closing quote" end
        return table.concat(out), q + 2
      end
    end
  end
  local comma = line:find(",", i, true)
  if comma then return line:sub(i, comma - 1), comma + 1 end
  return line:sub(i), #line + 2
end

function readers.csv(path, f, opts)
  local header_checked = false
  local function parse(line, n)
    local fields, i = {}, 1
    while i <= #line + 1 do
      local v, nxt = csv_field(line, i)
      if not v then fail(path, "line", n, nxt) end
      fields[#fields + 1] = v
      i = nxt
    end
    if #fields < 2 then fail(path, "line", n, "expected an id and at least one component") end
    local nums = {}
    for j = 2, #fields do nums[j - 1] = tonumber(fields[j]) end
    if not header_checked then
      header_checked = true
      local all = true
      for j = 2, #fields do all = all and nums[j - 1] ~= nil end
      if not all then return nil end -- a header line
    end
    for j = 2, #fields do
      local x = nums[j - 1]
      if not x then fail(path, "line", n, ("component %d is not a number: %q"):format(j - 1, fields[j])) end
      if not finite(x) then fail(path, "line", n, ("component %d is %s"):format(j - 1, fields[j])) end
    end
    if fields[1] == "" then fail(path, "line", n, "empty id") end
    return fields[1], nums
  end
  return text_reader(path, f, parse, opts)
end

local cjson_ok, cjson = pcall(require, "cjson.safe")

function readers.jsonl(path, f, opts)
  if not cjson_ok then error("reading JSON Lines needs lua-cjson (Debian: lua-cjson)", 0) end
  local null = cjson.null
  local function parse(line, n)
    local obj, err = cjson.decode(line)
    if type(obj) ~= "table" then fail(path, "line", n, "not a JSON object" .. (err and (": " .. err) or "")) end
    local id = obj.id
    if type(id) == "number" and id % 1 == 0 then id = ("%d"):format(id) end
    if type(id) ~= "string" or id == "" then fail(path, "line", n, "no \"id\" (a non-empty string or an integer)") end
    local vec = obj.vector
    if type(vec) ~= "table" or #vec == 0 then fail(path, "line", n, "no \"vector\" (an array of numbers)") end
    for j = 1, #vec do
      if type(vec[j]) ~= "number" or not finite(vec[j]) then
        fail(path, "line", n, ("vector component %d is not a finite number"):format(j))
      end
    end
    local meta = obj.meta
    if meta == null then meta = nil end
    if meta ~= nil and type(meta) ~= "table" then fail(path, "line", n, "\"meta\" must be an object") end
    if meta then
      for k, v in pairs(meta) do
        if v == null then fail(path, "line", n, ("meta field %s is null"):format(tostring(k))) end
      end
    end
    return id, vec, meta
  end
  return text_reader(path, f, parse, opts)
end

-- Open a vector file: a reader (see above) or an error string.
function cli.read_vectors(path, format, opts)
  opts = opts or {}
  opts.id_prefix = opts.id_prefix or ""
  local ok, fmt = pcall(cli.format_of, path, format)
  if not ok then return nil, fmt end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local ok2, r = pcall(readers[fmt], path, f, opts)
  if not ok2 then
    f:close()
    return nil, r
  end
  r.format = fmt
  r.offset = r.offset or function() return f:seek() end
  r.close = function() f:close() end
  if not r.dim then
    f:close()
    return nil, path .. ": no records"
  end
  return r
end

-- -- Writing -------------------------------------------------------------------

-- JSON text of a Lua value: strings, numbers (%.17g: doubles read back
-- exactly; infinities as 1e999, which parsers read back as infinity),
-- booleans, arrays (tables with [1], or any table when as_array is set)
-- and objects with string keys, sorted so output is stable.
local ESC = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
             ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function json(v, as_array)
  local t = type(v)
  if t == "string" then return json_string(v) end
  if t == "number" then
    if v ~= v then error("cannot write NaN as JSON") end
    if v == math.huge or v == -math.huge then return v > 0 and "1e999" or "-1e999" end
    if v == 0 and 1 / v < 0 then return "-0" end -- keeps its sign
    if v % 1 == 0 and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  end
  if t == "boolean" then return tostring(v) end
  if t == "table" then
    local parts = {}
    if as_array or v[1] ~= nil then
      for i = 1, #v do parts[i] = json(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do parts[i] = json_string(k) .. ":" .. json(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot write a " .. t .. " as JSON")
end
cli.json = json

-- -- Bytes in JSON ----------------------------------------------------------------
-- Ids and metadata strings are any bytes, JSON strings are UTF-8 text: a
-- string that is not valid UTF-8 is written as {"base64": "..."}, which
-- cli.from_json_bytes reads back. (Metadata values are never objects, and
-- ids never are, so the form cannot be mistaken for anything else.)

-- Whether s is well-formed UTF-8 (no overlong forms, surrogates or values
-- above U+10FFFF), as omen's own check.
function cli.utf8_valid(s)
  if not s:find("[\128-\255]") then return true end
  local i, n, byte = 1, #s, string.byte
  while i <= n do
    local c = byte(s, i)
    if c < 0x80 then
      i = i + 1
    else
      local more = c >= 0xf0 and 3 or c >= 0xe0 and 2 or c >= 0xc0 and 1 or 0
      if more == 0 or c > 0xf4 or i + more > n then return false end
      local cp = c % (2 ^ (6 - more))
      for k = 1, more do
        local b = byte(s, i + k)
        if b < 0x80 or b > 0xbf then return false end
        cp = cp * 64 + b % 64
      end
      local least = more == 1 and 0x80 or more == 2 and 0x800 or 0x10000
      if cp < least or cp > 0x10ffff or (cp >= 0xd800 and cp <= 0xdfff) then return false end
      i = i + more + 1
    end
  end
  return true
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function cli.base64(s)
  local out, byte, sub = {}, string.byte, B64.sub
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 4, 1, -1 do
      q[k] = sub(B64, v % 64 + 1, v % 64 + 1)
      v = math.floor(v / 64)
    end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

local B64_VALUE = {}
for i = 1, 64 do B64_VALUE[B64:byte(i)] = i - 1 end

-- The bytes of base64 text, or nil if it is not base64.
function cli.unbase64(t)
  if #t % 4 ~= 0 or t:find("[^%w+/=]") or t:find("=[^=]") or t:find("===") then return nil end
  local out, char = {}, string.char
  for i = 1, #t, 4 do
    local v, pad = 0, 0
    for k = 0, 3 do
      local ch = t:byte(i + k)
      if ch == 61 then pad = pad + 1 end
      v = v * 64 + (B64_VALUE[ch] or 0)
    end
    local a, b, c = math.floor(v / 65536), math.floor(v / 256) % 256, v % 256
    out[#out + 1] = pad == 0 and char(a, b, c) or pad == 1 and char(a, b) or char(a)
  end
  return table.concat(out)
end

-- JSON for bytes: a string when they are UTF-8, else {"base64": ...}.
function cli.json_bytes(s)
  if cli.utf8_valid(s) then return json(s) end
  return '{"base64":"' .. cli.base64(s) .. '"}'
end

-- Bytes from what cli.json_bytes wrote (as decoded): a string, or a table
-- holding only base64 text. Returns nil for anything else.
function cli.from_json_bytes(v)
  if type(v) == "string" then return v end
  if type(v) ~= "table" or type(v.base64) ~= "string" or next(v, next(v)) ~= nil then
    return nil
  end
  return cli.unbase64(v.base64)
end

-- A float32 vector as JSON: %.9g is enough for any float32 to read back
-- bit for bit.
function cli.json_vector(v)
  local parts = {}
  for i = 1, #v do parts[i] = ("%.9g"):format(v[i]) end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- One fvecs record.
function cli.fvecs_record(v)
  local n = #v
  local buf = ffi.new("int32_t[?]", n + 1)
  buf[0] = n
  local fl = ffi.cast("float *", buf + 1)
  for i = 1, n do fl[i - 1] = v[i] end
  return ffi.string(buf, 4 * (n + 1))
end

return cli
