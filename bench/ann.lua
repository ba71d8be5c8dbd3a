-- ann.lua: omen through its Lua API, the way a user's script calls it, for
-- the benchmark (bench/run.sh). Same CLI and JSON as bench/ann.c (omen-c)
-- and bench/hnswlib.cpp, with "system": "omen-lua".
--
--   omen-lua bench/ann.lua --name NAME --base F --queries F --dim D --truth T
--       [--m 16] [--efc 200] [--threads 1] --ef 10,20,... [--k 10]
--       [--quant none|sq8|pca8] [--repeat 3] --out FILE
--
-- The float32 files are read into FFI float buffers. The build, timed whole
-- (collection creation included), is one c:upsert_batch of every base row
-- (id = the row number as a decimal string) read in place from the flat
-- buffer. Then for each ef every query is answered one at a time by
-- c:search on a `float *` into the query buffer, the call and the reading
-- of the hit ids (tonumber(hit.id)) inside the timed loop; recall@k is
-- scored against the truth file (int32 rows of k exact neighbours) after.

local ffi = require("ffi")
local omen = require("omen")

local function die(msg)
  io.stderr:write("ann.lua: ", msg, "\n")
  os.exit(1)
end

local USAGE = "usage: omen-lua bench/ann.lua --name NAME --base F --queries F --dim D " ..
              "--truth T [--m 16] [--efc 200] [--threads 1] --ef 10,20,... [--k 10] " ..
              "[--quant none|sq8|pca8] [--repeat 3] --out FILE"

local a = {name = "data", m = 16, efc = 200, threads = 1, k = 10, quant = "none", ["repeat"] = 3}
do
  local numeric = {dim = true, m = true, efc = true, threads = true, k = true, ["repeat"] = true}
  local text = {name = true, base = true, queries = true, truth = true, out = true, ef = true,
                quant = true}
  local i = 1
  while i <= #arg do
    local o, v = arg[i], arg[i + 1]
    local key = o:match("^%-%-(.+)$")
    if not key or not (numeric[key] or text[key]) then die("unknown option " .. o .. "\n" .. USAGE) end
    if v == nil then die("missing value for " .. o) end
    if numeric[key] then
      a[key] = tonumber(v)
      if not a[key] or a[key] < 1 or a[key] % 1 ~= 0 then die("bad value for " .. o .. ": " .. v) end
    else
      a[key] = v
    end
    i = i + 2
  end
  if not (a.base and a.queries and a.truth and a.out and a.dim and a.ef) then die(USAGE) end
  local efs = {}
  for e in a.ef:gmatch("[^,]+") do
    efs[#efs + 1] = tonumber(e) or die("bad --ef list: " .. a.ef)
  end
  a.ef = efs
end

ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } omen_bench_timespec;
  int clock_gettime(int clk, omen_bench_timespec *ts);
]]
local ts = ffi.new("omen_bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- VmRSS or VmHWM of this process, in MiB.
local function mem_mb(field)
  local f = io.open("/proc/self/status", "r")
  if not f then return 0 end
  local s = f:read("*a")
  f:close()
  return (tonumber(s:match(field .. ":%s*(%d+)")) or 0) / 1024
end

-- A whole file of rows of `width` items of C type `ctype` into a new buffer.
local function load(path, ctype, width)
  local f = io.open(path, "rb") or die("cannot open " .. path)
  local s = f:read("*a")
  f:close()
  local size = ffi.sizeof(ctype)
  if #s == 0 or #s % (width * size) ~= 0 then die(path .. ": not whole rows of " .. width) end
  local buf = ffi.new(ctype .. "[?]", #s / size)
  ffi.copy(buf, s, #s)
  return buf, #s / (width * size)
end

local dim, k = a.dim, a.k
local base, n = load(a.base, "float", dim)
local q, nq = load(a.queries, "float", dim)
local truth, nt = load(a.truth, "int32_t", k)
if nt ~= nq then die("truth file does not have one row of k per query") end
local system = a.quant == "none" and "omen-lua" or "omen-lua-" .. a.quant
local ids = {}
for i = 1, n do ids[i] = tostring(i - 1) end
collectgarbage()
collectgarbage()

local db = assert(omen.open())
local rss0 = mem_mb("VmRSS")
local t = now()
local c = assert(db:create_collection("b", {dim = dim, metric = "l2", m = a.m,
                                             ef_construction = a.efc, quantization = a.quant}))
c:upsert_batch(ids, base, nil, {threads = a.threads})
local build_s = now() - t
local rss = mem_mb("VmRSS") - rss0
io.stderr:write(("%s %s: built %d x %d in %.2f s (%.0f vectors/s, %d threads)\n"):format(
  system, a.name, n, dim, build_s, n / build_s, a.threads))

-- The same collection through the C API, called through the FFI (omen-lua
-- exports the library's symbols): the Lua binding's cost is the difference
-- between the two loops, measured in the same process, round by round. The
-- declarations below copy omen.h's: keep them in step with it.
ffi.cdef [[
  typedef struct omen_db omen_db;
  typedef struct omen_coll omen_coll;
  typedef struct omen_result omen_result;
  typedef struct omen_filter omen_filter;
  typedef struct { const char *ptr; size_t len; } omen_str;
  typedef struct { omen_str id; float distance, score; const float *vec; const void *meta;
                   size_t n_meta; } omen_hit;
  typedef struct { uint32_t k, ef; int exact; unsigned with; const omen_filter *filter;
                   int plan; const char *text; size_t text_len; int fusion; float rrf_k,
                   vector_weight, text_weight, alpha; uint32_t depth; } omen_search_opts;
  omen_db *omen_coll_db(omen_coll *coll);
  int omen_result_new(omen_db *db, omen_result **result);
  void omen_result_free(omen_result *result);
  size_t omen_result_count(const omen_result *result);
  const omen_hit *omen_result_hit(const omen_result *result, size_t i);
  void omen_search_opts_init(omen_search_opts *opts, uint32_t k);
  int omen_search(omen_coll *coll, const float *query, const omen_search_opts *opts,
                  omen_result *result);
]]
local C = ffi.C
local raw = ffi.cast("omen_coll **", ffi.cast("void *", c))[0] -- lua/binding.c's lcoll
local res_box = ffi.new("omen_result *[1]")
assert(C.omen_result_new(C.omen_coll_db(raw), res_box) == 0)
local res = ffi.gc(res_box[0], C.omen_result_free)
local opts = ffi.new("omen_search_opts")
C.omen_search_opts_init(opts, k)
opts.with = 0

local function id_number(str)
  local v = 0
  for b = 0, tonumber(str.len) - 1 do v = v * 10 + str.ptr[b] - 48 end
  return v
end

-- One pass over the queries at ef: its seconds and the true neighbours
-- found, through the Lua API or (`via_c`) the C API.
local got = ffi.new("int32_t[?]", nq * k)
local function pass(ef, via_c)
  ffi.fill(got, ffi.sizeof(got), 0xff) -- -1: no hit
  opts.ef = ef
  local t0 = now()
  if via_c then
    for i = 0, nq - 1 do
      assert(C.omen_search(raw, q + i * dim, opts, res) == 0)
      local row = i * k
      for j = 0, tonumber(C.omen_result_count(res)) - 1 do
        got[row + j] = id_number(C.omen_result_hit(res, j).id)
      end
    end
  else
    for i = 0, nq - 1 do
      local hits = c:search(q + i * dim, {k = k, ef = ef, with_meta = false})
      local row = i * k
      for j = 1, #hits do got[row + j - 1] = tonumber(hits[j].id) end
    end
  end
  local secs = now() - t0
  local found = 0
  for i = 0, nq - 1 do
    local row = i * k
    for j = 0, k - 1 do
      local id = got[row + j]
      if id >= 0 then
        for l = 0, k - 1 do
          if truth[row + l] == id then
            found = found + 1
            break
          end
        end
      end
    end
  end
  return secs, found
end

-- Rounds of the whole sweep, each ef keeping its best time (as bench/ann.c),
-- the Lua pass and the C pass of each ef back to back.
local best, best_c, found = {}, {}, {}
for _ = 1, a["repeat"] do
  for e, ef in ipairs(a.ef) do
    local secs, f = pass(ef, false)
    if not best[e] or secs < best[e] then best[e] = secs end
    found[e] = f
    local secs_c, f_c = pass(ef, true)
    if f_c ~= f then die(("ef %d: the C API found %d, the Lua API %d"):format(ef, f_c, f)) end
    if not best_c[e] or secs_c < best_c[e] then best_c[e] = secs_c end
  end
end
local points, c_points = {}, {}
for e, ef in ipairs(a.ef) do
  local recall = found[e] / (nq * k)
  points[e] = ('{"ef": %d, "recall": %.4f, "qps": %.0f}'):format(ef, recall, nq / best[e])
  c_points[e] = ('{"ef": %d, "recall": %.4f, "qps": %.0f}'):format(ef, recall, nq / best_c[e])
  io.stderr:write(("%s %s ef %d: recall %.4f, %.0f queries/s (C API in this process: %.0f)\n")
    :format(system, a.name, ef, recall, nq / best[e], nq / best_c[e]))
end

local out = io.open(a.out, "w") or die("cannot write " .. a.out)
out:write(('{"system": "%s", "quantization": "%s", "dataset": "%s", "n": %d, "nq": %d, "dim": %d, ' ..
           '"m": %d, "ef_construction": %d, "threads": %d, "build_seconds": %.3f, ' ..
           '"build_vectors_per_second": %.0f, "rss_mb": %.1f, "peak_rss_mb": %.1f, ' ..
           '"points": [%s], "c_api_points": [%s]}\n'):format(system, a.quant, a.name, n, nq, dim, a.m, a.efc, a.threads, build_s,
           n / build_s, rss, mem_mb("VmHWM"), table.concat(points, ", "),
           table.concat(c_points, ", ")))
if not out:close() then die("cannot write " .. a.out) end
db:close()
