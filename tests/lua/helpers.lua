-- Assertion helpers, temporary files, deterministic data and brute force
-- search for the omen Lua test suite (see tests/lua/run.lua).
local ffi = require("ffi")
local bit = require("bit")

local H = {}

-- -- Assertions ---------------------------------------------------------------

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end
H.fmt = fmt

local function fail(msg, level)
  error(msg, (level or 1) + 2)
end

local function deep_eq(a, b, path, seen)
  if a == b then return true end
  if type(a) == "number" and type(b) == "number" and a ~= a and b ~= b then
    return true -- both NaN
  end
  if type(a) ~= "table" or type(b) ~= "table" then
    return false, path .. ": expected " .. fmt(b) .. ", got " .. fmt(a)
  end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(b) do
    local ok, why = deep_eq(a[k], v, path .. "[" .. fmt(k) .. "]", seen)
    if not ok then return false, why end
  end
  for k, v in pairs(a) do
    if b[k] == nil then
      return false, path .. "[" .. fmt(k) .. "]: unexpected value " .. fmt(v)
    end
  end
  return true
end

-- eq(actual, expected, msg): deep equality for tables, == otherwise.
function H.eq(a, b, msg)
  local ok, why = deep_eq(a, b, "value")
  if not ok then fail((msg and msg .. ": " or "") .. why) end
end

function H.neq(a, b, msg)
  if deep_eq(a, b, "value") then
    fail((msg and msg .. ": " or "") .. "values should differ, both are " .. fmt(a))
  end
end

function H.ok(cond, msg)
  if not cond then fail(msg or "assertion failed") end
  return cond
end

-- near(a, b, tol): |a - b| <= tol (default 1e-6) or relative tol.
function H.near(a, b, tol, msg)
  tol = tol or 1e-6
  if type(a) ~= "number" or type(b) ~= "number" then
    fail((msg and msg .. ": " or "") .. "near: not numbers: " .. fmt(a) .. ", " .. fmt(b))
  end
  local d = math.abs(a - b)
  if not (d <= tol or d <= tol * math.max(math.abs(a), math.abs(b))) then
    fail((msg and msg .. ": " or "") .. string.format(
      "expected %.9g, got %.9g (tolerance %g)", b, a, tol))
  end
end

-- raises(fn, pattern, msg): fn() must raise an error whose message matches
-- the Lua pattern (plain find if the pattern does not match as a pattern).
-- Returns the message.
function H.raises(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then
    fail((msg and msg .. ": " or "") .. "expected an error matching " .. fmt(pattern)
         .. ", but the call succeeded")
  end
  err = tostring(err)
  if pattern and not err:find(pattern) and not err:find(pattern, 1, true) then
    fail((msg and msg .. ": " or "") .. "error " .. fmt(err) .. " does not match "
         .. fmt(pattern))
  end
  return err
end

-- fails(v, err, pattern): a nil, message return whose message matches.
function H.fails(v, err, pattern, msg)
  if v ~= nil then
    fail((msg and msg .. ": " or "") .. "expected nil, message; got " .. fmt(v))
  end
  if type(err) ~= "string" or err == "" then
    fail((msg and msg .. ": " or "") .. "expected an error message, got " .. fmt(err))
  end
  if pattern and not err:find(pattern) and not err:find(pattern, 1, true) then
    fail((msg and msg .. ": " or "") .. "message " .. fmt(err) .. " does not match "
         .. fmt(pattern))
  end
  return err
end

-- -- Files --------------------------------------------------------------------

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
H.shq = shq

function H.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function H.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function H.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local cleanups = {}

-- A fresh database path (no file yet) and a function that removes it and
-- its side files (checkpoint, log). The runner also cleans up after each test.
function H.tmpfile()
  local path = os.tmpname()
  os.remove(path)
  local function cleanup()
    os.remove(path)
    os.remove(path .. "-tmp")
    os.remove(path .. "-wal")
  end
  cleanups[#cleanups + 1] = cleanup
  return path, cleanup
end

-- A unique empty directory and a function that removes it with its content.
function H.tmpdir()
  local base = os.tmpname()
  os.remove(base)
  local dir = base .. ".d"
  assert(os.execute("mkdir -p " .. shq(dir)) == 0 or H.exists(dir .. "/."),
         "cannot make " .. dir)
  local function cleanup() os.execute("rm -rf " .. shq(dir)) end
  cleanups[#cleanups + 1] = cleanup
  return dir, cleanup
end

function H.run_cleanups()
  for i = #cleanups, 1, -1 do pcall(cleanups[i]) end
  cleanups = {}
end

-- -- Child processes -----------------------------------------------------------

H.interp = (arg and arg[-1]) or "build/omen-lua"
H.NO_LEAK_CHECK = 'ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"'

-- Run a Lua chunk in a fresh omen-lua process, so that a crash fails one test
-- instead of the whole suite. `env` is an optional shell prefix of variable
-- assignments. Returns ok (exit status 0), status, output (stdout and stderr).
function H.run_child(code, env)
  local script, cleanup = H.tmpfile()
  H.write_file(script, code)
  local out = os.tmpname()
  local status = os.execute((env and env .. " " or "") .. shq(H.interp) .. " "
                            .. shq(script) .. " >" .. shq(out) .. " 2>&1")
  local output = H.read_file(out)
  os.remove(out)
  cleanup()
  return status == 0, status, output
end

-- Run a script of scripts/ with arguments (each shell-quoted) in a fresh
-- omen-lua. Returns ok (exit status 0), status, stdout, stderr.
function H.run_script(name, ...)
  local words = {shq(H.interp), shq("scripts/" .. name .. ".lua")}
  for _, w in ipairs({...}) do words[#words + 1] = shq(tostring(w)) end
  local out, err = os.tmpname(), os.tmpname()
  local status = os.execute(table.concat(words, " ") .. " >" .. shq(out) .. " 2>" .. shq(err)
                            .. " </dev/null")
  local stdout, stderr = H.read_file(out), H.read_file(err)
  os.remove(out)
  os.remove(err)
  return status == 0, status, stdout, stderr
end

-- Check a child's result; `marker` must appear in its output.
-- A child that leaves on purpose without closing (os.exit) should pass
-- H.NO_LEAK_CHECK as env, so that a sanitizer build does not count its leaks.
function H.child_ok(code, marker, msg, env)
  local ok, status, output = H.run_child(code, env)
  if not ok or (marker and not output:find(marker, 1, true)) then
    fail((msg and msg .. ": " or "") .. "child process failed (status "
         .. tostring(status) .. "; a crash shows as a signal): " .. output:sub(1, 800))
  end
  return output
end

-- -- Garbage collection ---------------------------------------------------------

-- Run fn(...) in a coroutine of its own and return its results. Once it has
-- finished, nothing on its stack can keep a handle alive (a plain call can
-- leave dead values in stack slots that the collector still sees).
function H.isolate(fn, ...)
  local co = coroutine.create(fn)
  local res = {coroutine.resume(co, ...)}
  if not res[1] then error(debug.traceback(co, tostring(res[2])), 2) end
  co = nil
  H.gc()
  return unpack(res, 2, table.maxn(res))
end

function H.gc(times)
  for _ = 1, times or 3 do collectgarbage("collect") end
end

-- -- Deterministic data -------------------------------------------------------------

-- xorshift32; independent of math.random so tests do not disturb each other.
function H.rng(seed)
  local s = bit.tobit(seed or 12345)
  if s == 0 then s = 1 end
  local r = {}
  function r.u32()
    s = bit.bxor(s, bit.lshift(s, 13))
    s = bit.bxor(s, bit.rshift(s, 17))
    s = bit.bxor(s, bit.lshift(s, 5))
    return s % 4294967296
  end
  function r.uniform(lo, hi) -- [lo, hi)
    local u = r.u32() / 4294967296
    lo, hi = lo or 0, hi or 1
    return lo + (hi - lo) * u
  end
  function r.int(lo, hi) return lo + r.u32() % (hi - lo + 1) end
  function r.normal()
    local u1 = (r.u32() + 1) / 4294967297
    local u2 = r.u32() / 4294967296
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
  end
  for _ = 1, 8 do r.u32() end
  return r
end

-- Round to float32, as omen stores.
local f1 = ffi.new("float[1]")
function H.f32(x)
  f1[0] = x
  return f1[0]
end

-- n random vectors (components uniform in [-1, 1), rounded to float32).
function H.random_vectors(n, dim, seed)
  local r = H.rng(seed or 1)
  local out = {}
  for i = 1, n do
    local v = {}
    for j = 1, dim do v[j] = H.f32(r.uniform(-1, 1)) end
    out[i] = v
  end
  return out
end

-- n points around `clusters` Gaussian centres, and `nq` queries drawn from
-- the same distribution (not in the data).
function H.clustered(n, dim, clusters, seed, nq, spread)
  local r = H.rng(seed or 7)
  spread = spread or 0.15
  local centres = {}
  for c = 1, clusters do
    local v = {}
    for j = 1, dim do v[j] = r.uniform(-1, 1) end
    centres[c] = v
  end
  local function point()
    local c = centres[r.int(1, clusters)]
    local v = {}
    for j = 1, dim do v[j] = H.f32(c[j] + spread * r.normal()) end
    return v
  end
  local data, queries = {}, {}
  for i = 1, n do data[i] = point() end
  for i = 1, nq or 0 do queries[i] = point() end
  return data, queries
end

function H.ids(n, prefix)
  local out = {}
  for i = 1, n do out[i] = (prefix or "id") .. i end
  return out
end

-- A flat FFI float buffer holding the vectors one after another.
function H.flat(vecs, dim)
  local buf = ffi.new("float[?]", #vecs * dim)
  for i, v in ipairs(vecs) do
    for j = 1, dim do buf[(i - 1) * dim + j - 1] = v[j] end
  end
  return buf
end

-- -- Brute force --------------------------------------------------------------------

function H.distance(metric, a, b)
  local dim = #a
  if metric == "l2" then
    local s = 0
    for i = 1, dim do local d = a[i] - b[i]; s = s + d * d end
    return s
  elseif metric == "ip" then
    local s = 0
    for i = 1, dim do s = s + a[i] * b[i] end
    return -s
  elseif metric == "cosine" then
    local s, na, nb = 0, 0, 0
    for i = 1, dim do
      s = s + a[i] * b[i]
      na = na + a[i] * a[i]
      nb = nb + b[i] * b[i]
    end
    return 1 - s / math.sqrt(na * nb)
  end
  error("unknown metric " .. tostring(metric))
end

-- The k nearest of `records` ({id=..., vec=...} array, or a map id -> vec)
-- to q: array of {id=, distance=}, closest first (ties by id).
function H.brute(metric, records, q, k)
  local all = {}
  if records[1] == nil and next(records) ~= nil then
    for id, v in pairs(records) do
      all[#all + 1] = {id = id, distance = H.distance(metric, q, v)}
    end
  else
    for _, r in ipairs(records) do
      all[#all + 1] = {id = r.id, distance = H.distance(metric, q, r.vec)}
    end
  end
  table.sort(all, function(x, y)
    if x.distance ~= y.distance then return x.distance < y.distance end
    return x.id < y.id
  end)
  local out = {}
  for i = 1, math.min(k, #all) do out[i] = all[i] end
  return out
end

-- Assert that hits equal the brute force answer: same length, distances
-- within tol (relative, or absolute for small values), and the same ids,
-- allowing swaps only between near-equal distances.
function H.same_hits(hits, expected, tol, msg)
  tol = tol or 1e-4
  local pre = msg and msg .. ": " or ""
  if #hits ~= #expected then
    fail(pre .. "expected " .. #expected .. " hits, got " .. #hits)
  end
  local function close(a, b)
    local d = math.abs(a - b)
    return d <= tol or d <= tol * math.max(math.abs(a), math.abs(b))
  end
  for i = 1, #hits do
    local h, e = hits[i], expected[i]
    if not close(h.distance, e.distance) then
      fail(pre .. string.format("hit %d: distance %.9g, expected %.9g (id %s, expected %s)",
                                i, h.distance, e.distance, fmt(h.id), fmt(e.id)))
    end
    if h.id ~= e.id then
      -- acceptable only when the expected distance of h.id ties with e.
      local tie = false
      for j = 1, #expected do
        if expected[j].id == h.id and close(expected[j].distance, e.distance) then
          tie = true
        end
      end
      if not tie then
        fail(pre .. string.format("hit %d: id %s, expected %s (distance %.9g)",
                                  i, fmt(h.id), fmt(e.id), e.distance))
      end
    end
  end
  for i = 2, #hits do
    if hits[i].distance < hits[i - 1].distance then
      fail(pre .. "hits are not sorted by distance at " .. i)
    end
  end
end

-- Recall@k of graph search against exact search, averaged over queries.
function H.recall(coll, queries, k, opts)
  local found, total = 0, 0
  for _, q in ipairs(queries) do
    local o = {k = k, with_meta = false}
    for key, v in pairs(opts or {}) do o[key] = v end
    local approx = coll:search(q, o)
    o.exact = true
    local exact = coll:search(q, o)
    local want = {}
    for _, h in ipairs(exact) do want[h.id] = true end
    for _, h in ipairs(approx) do if want[h.id] then found = found + 1 end end
    total = total + #exact
  end
  return total > 0 and found / total or 1
end

-- Load vectors (and optional metas) with upsert_batch; returns the ids.
function H.load(coll, vecs, prefix, metas, opts)
  local ids = H.ids(#vecs, prefix)
  local n = coll:upsert_batch(ids, vecs, metas, opts)
  assert(n == #ids, "upsert_batch returned " .. tostring(n))
  return ids
end

-- -- Whole-database snapshots ----------------------------------------------------------

-- A Lua literal of a value, keys sorted: deterministic text to compare,
-- and code a child process can read back.
local function lit(v)
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) < type(b)
    end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = "[" .. lit(k) .. "]=" .. lit(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return (string.format("%q", v):gsub("\n", "n"))
  elseif t == "number" then
    if v == math.huge then return "(1/0)" end
    if v == -math.huge then return "(-1/0)" end
    return string.format("%.17g", v)
  end
  return tostring(v)
end
H.lit = lit

-- The results of an omen call; its nil, message raised as the error.
function H.must(v, err, ...)
  if v == nil and err ~= nil then error(err, 2) end
  return v, err, ...
end

-- Every record of a collection: map id -> {vec = ..., meta = ...}, read with
-- an exact search for all of them.
-- (A failure returned as nil, message is raised with that message.)
function H.all_records(c)
  local n = H.must(c:count())
  local out = {}
  if n == 0 then return out end
  local q = {}
  for i = 1, c:dim() do q[i] = (i == 1) and 1 or 0 end
  local hits = H.must(c:search(q, {k = n, exact = true, with_vectors = true}))
  assert(#hits == n, "all_records: " .. #hits .. " hits for " .. n .. " records")
  for _, h in ipairs(hits) do out[h.id] = {vec = h.vector, meta = h.meta} end
  return out
end

-- A deterministic text of everything a database holds: collections, their
-- settings and counters, and every record (vector and meta).
function H.dump(db)
  local parts = {}
  for _, name in ipairs(H.must(db:collections())) do
    local c = H.must(db:collection(name))
    local i = H.must(c:info())
    parts[#parts + 1] = lit({name = name, dim = i.dim, metric = i.metric, m = i.m,
                             efc = i.ef_construction, efs = i.ef_search, count = i.count,
                             slots = i.slots, deleted = i.deleted})
    local recs = H.all_records(c)
    local ids = {}
    for id in pairs(recs) do ids[#ids + 1] = id end
    table.sort(ids)
    for _, id in ipairs(ids) do
      parts[#parts + 1] = lit(id) .. ":" .. lit(recs[id].vec) .. ":" .. lit(recs[id].meta)
    end
  end
  return table.concat(parts, "\n")
end

return H
