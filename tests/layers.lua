-- layers.lua: core/'s modules call only down. Reads which functions each
-- object file of BUILD/core defines and uses (nm) and fails, naming the
-- call, when a module calls one it may not: the table below is the one
-- README's "How it works" draws. A new module must be placed in it.
--
--   omen-lua tests/layers.lua BUILD/core

local dir = assert(arg[1], "usage: layers.lua BUILD/core")

-- Every module may also call error and mem (messages, allocation).
local may = {
  -- the calls on a database, loading and following, recovery
  db         = {"catalog", "checkpoint", "coll", "distance", "follow", "registry",
                "storage", "wal"},
  follow     = {"catalog", "coll", "recover", "registry", "storage"},
  recover    = {"catalog", "crc32c", "registry", "storage", "text", "wal", "write"},
  registry   = {"text"},
  -- writes, and what runs after them
  write      = {"checkpoint", "codes", "coll", "hnsw", "idmap", "link", "meta",
                "records", "registry", "storage", "text", "wal"},
  checkpoint = {"compact", "storage", "wal"},
  compact    = {"codes", "coll", "hnsw", "link", "search", "storage", "text"},
  storage    = {"catalog", "codes", "coll", "crc32c", "meta", "search", "sys", "text"},
  -- queries, the catalog, linking
  query      = {"codes", "coll", "exact", "fcache", "follow", "fuse", "hnsw", "idmap",
                "result", "search", "text"},
  catalog    = {"codes", "coll", "utf8", "wal"},
  link       = {"coll", "hnsw", "search"},
  -- a collection as a container
  coll       = {"codes", "distance", "fcache", "filter", "hnsw", "idmap", "meta",
                "metric", "records", "search", "text"},
  -- full text: the index, its lists, tokenizers; fusion of rankings
  text       = {"meta", "postings", "tokenize"},
  postings   = {},
  tokenize   = {"porter", "unicode"},
  porter     = {}, unicode = {},
  fuse       = {},
  -- the log, results, filters and their cache
  wal        = {"crc32c", "sys"},
  result     = {"meta"},
  filter     = {"meta"},
  fcache     = {},
  -- kernels and codes
  hnsw       = {"search"},
  exact      = {"search"},
  search     = {"crc32c", "distance"},
  codes      = {"distance", "kinds"},
  kinds      = {"kind_none", "kind_sq8", "kind_pca8"},
  kind_none  = {}, kind_sq8 = {}, kind_pca8 = {"distance", "kind_sq8"},
  distance   = {}, metric = {}, idmap = {}, records = {}, meta = {},
  -- leaves
  crc32c = {}, sys = {}, utf8 = {}, error = {}, mem = {},
}

local function nm(obj)
  local p = assert(io.popen("nm " .. obj .. " 2>/dev/null"))
  local defined, used = {}, {}
  for line in p:lines() do
    local kind, name = line:match("^%x*%s+(%a)%s+(omen%S+)$")
    if kind == "U" then used[#used + 1] = name
    elseif kind and kind:match("[TDRB]") then defined[#defined + 1] = name end
  end
  p:close()
  return defined, used
end

local owner, uses, modules = {}, {}, {}
local list = assert(io.popen("ls " .. dir .. "/*.o 2>/dev/null"))
for obj in list:lines() do
  local m = obj:match("([%w_]+)%.o$")
  modules[#modules + 1] = m
  local defined, used = nm(obj)
  for _, name in ipairs(defined) do owner[name] = m end
  uses[m] = used
end
list:close()
assert(#modules > 0, "no object files in " .. dir .. ": build first")

local bad = {}
for _, m in ipairs(modules) do
  local allowed = {error = true, mem = true, [m] = true}
  if not may[m] then
    bad[#bad + 1] = "core/" .. m .. ".c is not placed in tests/layers.lua"
  else
    for _, callee in ipairs(may[m]) do allowed[callee] = true end
    for _, name in ipairs(uses[m]) do
      local o = owner[name]
      if o and not allowed[o] then
        bad[#bad + 1] = string.format("%s.c calls %s (%s.c), which it may not", m, name, o)
      end
    end
  end
end
if #bad > 0 then
  io.stderr:write("layers: " .. table.concat(bad, "\nlayers: ") .. "\n")
  os.exit(1)
end
print(string.format("layers: %d modules, every call goes down", #modules))
