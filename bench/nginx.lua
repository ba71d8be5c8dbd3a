-- nginx.lua: the data side of bench/nginx.sh.
--
--   omen-lua bench/nginx.lua load DB BASE.f32 QUERIES.f32 DIM WRK_SCRIPT
--       a database with collection "synth" of the base vectors (one
--       upsert_batch, then closed: checkpointed), and a wrk script that
--       POSTs the first 1,000 queries to /search in turn (k 10)
--   omen-lua bench/nginx.lua ingest DB BASE.f32 DIM SECONDS RATE
--       upsert new vectors (base rows, shifted) one call at a time, RATE a
--       second, for SECONDS; prints how many
local ffi = require("ffi")
local cmd = arg[1]

local function load(path, dim)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  local n = #s / (4 * dim)
  local buf = ffi.new("float[?]", n * dim)
  ffi.copy(buf, s, #s)
  return buf, n
end

ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_ts;
  int clock_gettime(int clk, bench_ts *ts);
  int usleep(unsigned usec);
]]
local ts = ffi.new("bench_ts")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

if cmd == "load" then
  local db_path, base_path, query_path, dim, script = arg[2], arg[3], arg[4], tonumber(arg[5]), arg[6]
  local base, n = load(base_path, dim)
  local ids = {}
  for i = 1, n do ids[i] = tostring(i - 1) end
  local db = assert(omen.open(db_path))
  local c = assert(db:create_collection("synth", {dim = dim}))
  assert(c:upsert_batch(ids, base))
  assert(db:close())
  local q, nq = load(query_path, dim)
  local out = {"-- made by bench/nginx.lua: POST the queries to /search in turn\n",
               "local bodies = {\n"}
  for i = 0, math.min(nq, 1000) - 1 do
    local parts = {}
    for d = 0, dim - 1 do parts[#parts + 1] = ("%.6g"):format(q[i * dim + d]) end
    out[#out + 1] = ('  [[{"k": 10, "vector": [%s]}]],\n'):format(table.concat(parts, ","))
  end
  out[#out + 1] = [[
}
local i = 0
local headers = {["Content-Type"] = "application/json"}
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/search", headers, bodies[i])
end
]]
  local f = assert(io.open(script, "w"))
  f:write(table.concat(out))
  f:close()
  print(("loaded %d x %d; wrote %s"):format(n, dim, script))
elseif cmd == "ingest" then
  local db_path, base_path, dim, seconds, rate = arg[2], arg[3], tonumber(arg[4]),
                                                 tonumber(arg[5]), tonumber(arg[6])
  local base, n = load(base_path, dim)
  local db = assert(omen.open(db_path))
  local c = assert(db:collection("synth"))
  local v, written, t0 = {}, 0, now()
  while now() - t0 < seconds do
    local row = written % n
    for d = 1, dim do v[d] = base[row * dim + d - 1] + 0.01 end
    c:upsert("new" .. written, v)
    written = written + 1
    local ahead = written / rate - (now() - t0) -- keep to the rate
    if ahead > 0 then ffi.C.usleep(math.floor(ahead * 1e6)) end
  end
  assert(db:close())
  print(("ingested %d in %.1f s"):format(written, now() - t0))
else
  error("usage: omen-lua bench/nginx.lua load|ingest ...")
end
