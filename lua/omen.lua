-- omen: the Lua face of the omen vector database.
--
-- lua/binding.c hands this chunk its handle types and raw methods. Here the
-- methods that take vectors learn to read FFI float buffers in place: a
-- `float[n]` array, a VLA or a `float *` is turned into one `const float *`
-- cdata, the only cdata the C side accepts, after checking its length where
-- the FFI knows it. Every vector argument passes through here, alone or in
-- a table, so no other cdata reaches C (which reads any cdata as that
-- pointer). And search gains its Lua hooks: `where`, a predicate on each
-- candidate, and `rerank`, which reorders a larger candidate list. Both run
-- here, on batches the engine hands over, not called back from C.
--
-- Errors point at the caller of the method: level 2 from the method, 3 from
-- a helper it calls, and so on.

local core = ...
local ffi = require("ffi")

local type, error, tonumber, tostring = type, error, tonumber, tostring
local min, max, floor, traceback = math.min, math.max, math.floor, debug.traceback
local const_float_ptr = ffi.typeof("const float *")
local sizeof, typeof, istype, cast = ffi.sizeof, ffi.typeof, ffi.istype, ffi.cast

-- Per C type id: 1 float array, 2 float pointer, false anything else.
local kinds = {}

local function kind_of(v)
  local ct = typeof(v)
  local id = tonumber(ct)
  local k = kinds[id]
  if k == nil then
    local name = tostring(ct)
    if istype(const_float_ptr, v) then
      k = 2
    elseif name:find("^ctype<const float %[") or name:find("^ctype<float %[")
        or name:find("^ctype<float %(&%)%[") or name:find("^ctype<const float %(&%)%[") then
      k = 1
    else
      k = false
    end
    kinds[id] = k
  end
  return k, ct
end

-- A vector argument as the C side reads it: tables pass through; FFI float
-- arrays (checked against `floats`) and pointers become `const float *`.
-- `level` is where errors point (3 when the method calls this directly).
local function vec_arg(v, floats, what, level)
  if type(v) ~= "cdata" then return v end
  level = level or 3
  local k, ct = kind_of(v)
  if not k then
    error(what .. " must be a float array or pointer (got " .. tostring(ct) .. ")", level)
  end
  if k == 2 then
    if v == nil then error(what .. " is a NULL pointer", level) end
    return v -- a float pointer: the C side reads it as it is
  end
  if sizeof(v) ~= floats * 4 then
    error(("wrong dimension for %s: expected %d floats, got %d"):format(
      what, floats, sizeof(v) / 4), level)
  end
  return cast(const_float_ptr, v)
end

-- A table of vectors with every cdata item checked and converted (a new
-- table if there is one); `name(i)` names item i in messages.
local function vec_list(vs, dim, name)
  for i = 1, #vs do
    if type(vs[i]) == "cdata" then
      local conv = {}
      for j = 1, #vs do conv[j] = vec_arg(vs[j], dim, name(j), 4) end
      return conv
    end
  end
  return vs
end

local C = core.coll_methods
local raw_upsert, raw_batch, raw_search = C.upsert, C.upsert_batch, C.search
local raw_dim = core.coll_dim

function C.upsert(self, id, vec, meta)
  if type(vec) == "cdata" then vec = vec_arg(vec, raw_dim(self), "vector") end
  return raw_upsert(self, id, vec, meta)
end

-- Call a hook; an error inside it comes out with the hook's traceback.
local function call_hook(name, fn, ...)
  local ok, res = xpcall(fn, traceback, ...)
  if not ok then error(name .. " hook failed: " .. tostring(res), 0) end
  return res
end

local MAX_K = core.max_k

local function check_count(name, v, level)
  if type(v) ~= "number" or v < 1 or v > MAX_K or v ~= floor(v) then
    error(name .. " must be an integer between 1 and " .. MAX_K .. " (got " .. tostring(v) .. ")",
          level or 4)
  end
  return v
end

-- The options a hooked search takes; the others are checked by the engine.
local HOOK_OPTIONS = {k = true, ef = true, exact = true, filter = true, with_meta = true,
                      with_vectors = true, where = true, rerank = true, candidates = true,
                      text = true, fusion = true, depth = true}

-- The `want` closest records that pass `where`: ask for more candidates,
-- four times as many each round, until enough pass or none are left (a
-- search returning fewer than asked has returned every candidate). Each
-- record is judged once: later rounds keep the verdicts, by id.
local function search_where(self, q, o, want, where)
  local fetch, judged = want, {}
  while true do
    o.k = min(fetch, MAX_K)
    local got, err = raw_search(self, q, o)
    if not got then return nil, err end
    local hits = {}
    for _, h in ipairs(got) do
      local pass = judged[h.id]
      if pass == nil then
        pass = call_hook("where", where, h.id, h.meta) and true or false
        judged[h.id] = pass
      end
      if pass then
        hits[#hits + 1] = h
        if #hits == want then return hits end
      end
    end
    if #got < o.k or o.k == MAX_K then return hits end
    fetch = fetch * 4
  end
end

local function hooked_search(self, q, opts)
  for key in pairs(opts) do
    if not HOOK_OPTIONS[key] then error("unknown search option '" .. tostring(key) .. "'", 3) end
  end
  local k = check_count("k", opts.k or 10)
  if opts.with_meta ~= nil and type(opts.with_meta) ~= "boolean" then
    error("with_meta must be a boolean", 3)
  end
  local where, rerank = opts.where, opts.rerank
  if where ~= nil and type(where) ~= "function" then
    error("where must be a function (got " .. type(where) .. ")", 3)
  end
  if rerank ~= nil and type(rerank) ~= "function" then
    error("rerank must be a function (got " .. type(rerank) .. ")", 3)
  end
  if opts.candidates ~= nil and not rerank then error("candidates goes with rerank", 3) end
  local want = rerank and check_count("candidates", opts.candidates or min(4 * k, MAX_K)) or k
  local o = {ef = opts.ef, exact = opts.exact, filter = opts.filter,
             with_meta = true, with_vectors = opts.with_vectors, text = opts.text,
             fusion = opts.fusion, depth = opts.depth}
  local hits, err
  if where then
    hits, err = search_where(self, q, o, want, where)
  else
    o.k = want
    hits, err = raw_search(self, q, o)
  end
  if not hits then return nil, err end
  if rerank then
    if q ~= nil and type(q) == "cdata" then -- hand the hook a plain 1-based table
      local t = {}
      for i = 1, raw_dim(self) do t[i] = q[i - 1] end
      q = t
    end
    local out = call_hook("rerank", rerank, hits, q, k)
    if type(out) ~= "table" then
      error("rerank must return an array of hits (got " .. type(out) .. ")", 3)
    end
    hits = {}
    for i = 1, min(k, #out) do hits[i] = out[i] end
  end
  if opts.with_meta == false then
    for _, h in ipairs(hits) do h.meta = nil end
  end
  return hits
end

function C.search(self, q, opts)
  if type(q) == "cdata" then q = vec_arg(q, raw_dim(self), "query") end
  if type(opts) == "table" and (opts.where ~= nil or opts.rerank ~= nil or
                                opts.candidates ~= nil) then
    local hits, err = hooked_search(self, q, opts) -- not a tail call: error levels count it
    return hits, err
  end
  return raw_search(self, q, opts)
end

function C.upsert_batch(self, ids, vecs, metas, opts)
  if type(ids) ~= "table" then
    error("ids must be an array of strings (got " .. type(ids) .. ")", 2)
  end
  local dim = raw_dim(self)
  if type(vecs) == "cdata" then
    vecs = vec_arg(vecs, #ids * dim, "vectors")
  elseif type(vecs) == "table" then
    vecs = vec_list(vecs, dim, function(i)
      return ("record %d (id '%s'): vector"):format(i, tostring(ids[i]))
    end)
  end
  return raw_batch(self, ids, vecs, metas, opts)
end

-- search_batch(queries, k or opts): queries is an array of vectors or one
-- flat FFI float buffer (an array holds its own count; a pointer needs
-- opts.n).
local raw_search_batch = C.search_batch
function C.search_batch(self, qs, opts)
  local n = type(opts) == "table" and opts.n or nil
  local dim = raw_dim(self)
  if type(qs) ~= "cdata" then
    if n ~= nil then error("n goes with a float buffer of queries, not with a table", 2) end
    if type(qs) == "table" then
      qs = vec_list(qs, dim, function(i) return "query " .. i end)
    end
    return raw_search_batch(self, qs, opts)
  end
  local k, ct = kind_of(qs)
  if n ~= nil and (type(n) ~= "number" or n < 0 or n ~= floor(n)) then
    error("n must be a whole number of queries (got " .. tostring(n) .. ")", 2)
  end
  if k == 1 then
    local floats = sizeof(qs) / 4
    if n and n * dim > floats then
      error(("queries: n = %d needs %d floats, the array holds %d"):format(n, n * dim, floats), 2)
    end
    if not n and floats % dim ~= 0 then
      error(("queries: %d floats are not whole vectors of %d"):format(floats, dim), 2)
    end
    n = n or floats / dim
  elseif k then
    if not n then error("queries given as a pointer need opts.n, the number of queries", 2) end
    if qs == nil and n > 0 then error("queries is a NULL pointer", 2) end
  else
    error("queries must be an array of vectors or a float buffer (got " .. tostring(ct) .. ")", 2)
  end
  return raw_search_batch(self, cast(const_float_ptr, qs), opts, n)
end

-- c:each(opts): every record, as id, vector, meta, read a page (opts.page,
-- default 1000) at a time through c:list.
local EACH_OPTIONS = {page = true, with_meta = true, with_vectors = true}

function C.each(self, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("each takes an options table (got " .. type(opts) .. ")", 2)
  end
  for key in pairs(opts or {}) do
    if not EACH_OPTIONS[key] then error("unknown each option '" .. tostring(key) .. "'", 2) end
  end
  local page = check_count("page", opts and opts.page or 1000, 3)
  for _, key in ipairs({"with_meta", "with_vectors"}) do
    if opts and opts[key] ~= nil and type(opts[key]) ~= "boolean" then
      error(key .. " must be a boolean", 2)
    end
  end
  local list_opts = opts and {with_meta = opts.with_meta, with_vectors = opts.with_vectors}
  local hits, cursor, i = {}, 0, 0
  return function()
    i = i + 1
    if i > #hits then
      if not cursor then return nil end
      local err
      hits, err = self:list(cursor, page, list_opts)
      if not hits then error(err, 2) end -- a loop cannot take nil, message
      cursor = err
      i = 1
      if #hits == 0 then return nil end
    end
    local h = hits[i]
    return h.id, h.vector, h.meta
  end
end

-- db:info(): the database at a glance: its file and log sizes, and each
-- collection's info (c:info()) with the totals of their counts and memory;
-- nil, message if one of them cannot be read.
function core.db_methods.info(self)
  local path = self:path()
  local info = {path = path, isa = self:isa(), collections = {}, count = 0, memory = 0}
  local names, err = self:collections()
  if not names then return nil, err end
  for i, name in ipairs(names) do
    local c, cerr = self:collection(name)
    if not c then return nil, cerr end
    local ci, ierr = c:info()
    c:close()
    if not ci then return nil, ierr end
    info.collections[i] = ci
    info.count = info.count + ci.count
    info.memory = info.memory + ci.memory
  end
  if path ~= ":memory:" then
    local file, log = self:file_sizes()
    if not file then return nil, log end
    info.file_bytes, info.log_bytes = file, log
  end
  return info
end

local omen = {
  version = core.version,
  open = core.open,
  metrics = core.metrics,             -- {"l2", "cosine", "ip"}
  quantizations = core.quantizations, -- {"none", "sq8", ...}: the code kinds built in
}

return omen
