-- omen: the Lua face of the omen vector database.
--
-- lua/binding.c hands this chunk its handle types and raw methods. Here the
-- methods that take vectors learn to read FFI float buffers in place: a
-- `float[n]` array, a VLA or a `float *` is turned into one `const float *`
-- cdata, the only cdata the C side accepts, after checking its length where
-- the FFI knows it.

local core = ...
local ffi = require("ffi")

local type, error, tonumber, tostring = type, error, tonumber, tostring
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
local function vec_arg(v, floats, what)
  if type(v) ~= "cdata" then return v end
  local k, ct = kind_of(v)
  if not k then
    error(what .. " must be a float array or pointer (got " .. tostring(ct) .. ")", 3)
  end
  if k == 1 and sizeof(v) ~= floats * 4 then
    error(("wrong dimension for %s: expected %d floats, got %d"):format(
      what, floats, sizeof(v) / 4), 3)
  end
  return cast(const_float_ptr, v)
end

local C = core.coll_methods
local raw_upsert, raw_batch, raw_search = C.upsert, C.upsert_batch, C.search
local raw_dim = core.coll_dim

function C.upsert(self, id, vec, meta)
  if type(vec) == "cdata" then vec = vec_arg(vec, raw_dim(self), "vector") end
  return raw_upsert(self, id, vec, meta)
end

function C.search(self, q, opts)
  if type(q) == "cdata" then q = vec_arg(q, raw_dim(self), "query") end
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
    for i = 1, #vecs do
      if type(vecs[i]) == "cdata" then -- copy the array with converted items
        local conv = {}
        for j = 1, #vecs do conv[j] = vec_arg(vecs[j], dim, "vector") end
        vecs = conv
        break
      end
    end
  end
  return raw_batch(self, ids, vecs, metas, opts)
end

local omen = {
  version = core.version,
  open = core.open,
}

return omen
