-- Persistence: the database file, checkpoints, locking, read-only opens and
-- damaged files.
local H = require("helpers")
local eq, ok, raises, fails = H.eq, H.ok, H.raises, H.fails

local T = {}

-- Close a database after releasing every collection handle it gave out, so
-- that nothing keeps it (and its file lock) alive.
local function close(db)
  H.gc()
  local r = db:close()
  H.gc()
  return r
end

-- Open path, run fn(db) where no handle can outlive it, close the database
-- (asserting that close succeeds) and return fn's results.
local function with_db(path, opts, fn)
  return H.isolate(function()
    local db = assert(omen.open(path, opts))
    local res = {fn(db)}
    eq(close(db), true, "close " .. path)
    return unpack(res, 1, table.maxn(res))
  end)
end

-- Fill a database with a bit of everything; returns the queries to compare.
local function populate(db, opts)
  opts = opts or {}
  local specs = {
    {"l2", {dim = 16, metric = "l2"}, 900},
    {"cos", {dim = 8, metric = "cosine", m = 8, ef_construction = 64}, 700},
    {"ip", {dim = 5, metric = "ip", ef_search = 32}, 40},
    {"sq8", {dim = 12, metric = "l2", quantization = "sq8"}, 600},
    {"pca8", {dim = 20, metric = "cosine", quantization = "pca8"}, 500},
  }
  for si, spec in ipairs(specs) do
    local name, cfg, n = spec[1], spec[2], spec[3]
    local c = db:create_collection(name, cfg)
    local vecs = H.random_vectors(n, cfg.dim, 100 + si)
    local metas
    if opts.meta ~= false then
      metas = {}
      for i = 1, n do
        metas[i] = i % 4 ~= 0 and {i = i, name = name .. i, odd = i % 2 == 1, half = i / 2,
                                   tags = {"t" .. (i % 3), "all"},
                                   bin = "\0" .. string.char(i % 256)}
      end
    end
    H.load(c, vecs, "r", metas)
    for i = 3, n, 10 do c:delete("r" .. i) end
    for i = 1, 5 do c:upsert("extra" .. i, vecs[i], {extra = true}) end
  end
  return {
    l2 = H.random_vectors(8, 16, 201), cos = H.random_vectors(8, 8, 202),
    ip = H.random_vectors(8, 5, 203), sq8 = H.random_vectors(8, 12, 204),
  }
end

local function searches(db, queries)
  local out = {}
  for name, qs in pairs(queries) do
    local c = db:collection(name)
    out[name] = {}
    for i, q in ipairs(qs) do
      out[name][i] = {
        graph = c:search(q, {k = 20, with_vectors = true}),
        exact = c:search(q, {k = 20, exact = true}),
        lowef = c:search(q, {k = 5, ef = 5}),
      }
    end
  end
  return out
end

T["close writes the file; reopening gives identical collections, records and searches"] = function()
  local path = H.tmpfile()
  local queries, before_dump, before_search = with_db(path, nil, function(db)
    local q = populate(db)
    return q, H.dump(db), searches(db, q)
  end)
  ok(H.exists(path), "the file exists")
  eq(H.exists(path .. "-tmp"), false, "no side file is left")
  local db2 = assert(omen.open(path))
  eq(db2:collections(), {"cos", "ip", "l2", "pca8", "sq8"})
  local after_dump = H.dump(db2)
  ok(after_dump == before_dump, "records differ after reopening")
  eq(searches(db2, queries), before_search, "search results after reopening")
  -- info survives too
  eq(db2:collection("cos"):info().m, 8)
  eq(db2:collection("cos"):info().ef_construction, 64)
  eq(db2:collection("ip"):info().ef_search, 32)
  close(db2)
end

T["metadata round-trips through the file byte for byte"] = function()
  local path = H.tmpfile()
  local want = with_db(path, nil, function(db)
  local c = db:create_collection("m", {dim = 2})
  local metas = {
    {s = "text", empty = "", bin = "a\0b\255", num = 42, neg = -7.25, big = 2 ^ 53,
     tiny = 1e-300, t = true, f = false, tags = {"red", "", "x\0y"}, none = {}},
    {a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8, i = 9, j = 10},
    {["key with spaces"] = "v", [("k"):rep(255)] = ("v"):rep(5000)},
    {},
  }
  for i = 1, 200 do
    local m = metas[(i - 1) % #metas + 1]
    if i % 7 == 0 then m = {["only" .. i] = i, shared = "s" .. i} end
    c:upsert("r" .. i, {i, -i}, m)
  end
  return H.all_records(c)
  end)
  local db2, err = omen.open(path)
  ok(db2, "reopen: " .. tostring(err))
  local got = H.all_records(db2:collection("m"))
  for id, rec in pairs(want) do
    eq(got[id], rec, "record " .. id)
  end
  eq(db2:collection("m"):count(), 200)
  close(db2)
end

T["checkpoint writes now; a read-only open sees it while the writer is open"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = db:create_collection("c", {dim = 2})
  c:upsert("a", {1, 2}, {n = 1})
  eq(db:checkpoint(), true)
  eq(H.exists(path .. "-tmp"), false)
  local r1 = assert(omen.open(path, {readonly = true}))
  eq(r1:collections(), {"c"})
  eq({r1:collection("c"):get("a")}, {{1, 2}, {n = 1}})
  -- later changes are in the log, which readers apply as they open
  c:upsert("b", {3, 4})
  db:create_collection("later", {dim = 1}):upsert("z", {1})
  local r2 = assert(omen.open(path, {readonly = true}))
  eq(r2:collection("c"):count(), 2)
  eq(r2:collections(), {"c", "later"})
  eq(r1:collection("c"):count(), 2) -- an open reader follows (test_follow.lua)
  eq(db:checkpoint(), true)
  eq(db:checkpoint(), true, "a checkpoint with nothing new")
  local r3 = assert(omen.open(path, {readonly = true}))
  eq(r3:collection("c"):count(), 2)
  eq(r3:collections(), {"c", "later"})
  close(r1)
  close(r2)
  close(r3)
  close(db)
end

T["several generations of reopen, change, close"] = function()
  local path = H.tmpfile()
  local model = {}
  local r = H.rng(77)
  for gen = 1, 6 do
    with_db(path, nil, function(db)
    local c = db:collection("c") or db:create_collection("c", {dim = 3})
    for _ = 1, 60 do
      local id = "k" .. r.int(1, 80)
      if r.int(1, 3) == 1 then
        c:delete(id)
        model[id] = nil
      else
        local v = {H.f32(r.uniform()), H.f32(r.uniform()), H.f32(r.uniform())}
        local m = {gen = gen}
        c:upsert(id, v, m)
        model[id] = {vec = v, meta = m}
      end
    end
    end)
    local check = assert(omen.open(path, {readonly = true}))
    local got = H.all_records(check:collection("c"))
    eq(got, model, "generation " .. gen)
    -- (up to 64 deleted slots wait for consolidation before reuse)
    ok(check:collection("c"):info().slots <= 80 + 64, "slots are reused across reopenings")
    close(check)
  end
end

T["deleted slots survive reopening and are reused afterwards"] = function()
  local path = H.tmpfile()
  local vecs = H.random_vectors(600, 4, 3)
  with_db(path, nil, function(db)
    local c = db:create_collection("c", {dim = 4})
    H.load(c, vecs)
    for i = 1, 100 do c:delete("id" .. i) end
  end)
  local db = assert(omen.open(path))
  local c = db:collection("c")
  local info = c:info()
  eq({info.count, info.slots, info.deleted}, {500, 600, 100})
  eq(c:get("id1"), nil)
  for i = 1, 100 do c:upsert("new" .. i, vecs[i]) end
  info = c:info()
  -- 64 deletes made consolidation due and freed their slots; the last 36
  -- still wait, so 36 of the new records took new slots
  eq({info.count, info.slots, info.deleted}, {600, 636, 36})
  eq(c:search(vecs[1], 1)[1].id, "new1")
  c = nil
  close(db)
end

T["dropped collections stay dropped"] = function()
  local path = H.tmpfile()
  with_db(path, nil, function(db)
    db:create_collection("a", {dim = 2}):upsert("x", {1, 1})
    db:create_collection("b", {dim = 2}):upsert("y", {2, 2})
  end)
  with_db(path, nil, function(db) eq(db:drop_collection("a"), true) end)
  local db = assert(omen.open(path))
  eq(db:collections(), {"b"})
  eq(db:collection("a"), nil)
  close(db)
end

T["a database whose collections were all dropped reopens empty"] = function()
  local path = H.tmpfile()
  with_db(path, nil, function(db)
    db:create_collection("gone", {dim = 2}):upsert("x", {1, 1})
  end)
  with_db(path, nil, function(db) eq(db:drop_collection("gone"), true) end)
  local db = assert(omen.open(path))
  eq(db:collections(), {})
  db:create_collection("new", {dim = 1}):upsert("y", {1})
  close(db)
  db = assert(omen.open(path))
  eq(db:collections(), {"new"})
  close(db)
end

T["a database after random churn saves and reopens identically"] = function()
  local path = H.tmpfile()
  local dim = 6
  local queries = H.random_vectors(15, dim, 99)
  local before = with_db(path, nil, function(db)
    local r = H.rng(8)
    local c = db:create_collection("x", {dim = dim, metric = "cosine"})
    local live, seq = {}, 0
    local function vec()
      local v = {}
      for j = 1, dim do v[j] = r.uniform(-1, 1) end
      return v
    end
    for _ = 1, 25 do
      local op = r.int(1, 4)
      if op == 1 then
        local ids, vs = {}, {}
        for i = 1, r.int(1, 700) do
          seq = seq + 1
          ids[i], vs[i] = "r" .. seq, vec()
        end
        c:upsert_batch(ids, vs, nil, {threads = 2})
        for i = 1, #ids do live[ids[i]] = true end
      elseif op == 2 then
        for _ = 1, r.int(1, 80) do
          seq = seq + 1
          c:upsert("r" .. seq, vec(), {s = seq})
          live["r" .. seq] = true
        end
      else
        local ids = {}
        for id in pairs(live) do ids[#ids + 1] = id end
        table.sort(ids)
        local frac = r.uniform() ^ 2
        for _, id in ipairs(ids) do
          if r.uniform() < frac then
            c:delete(id)
            live[id] = nil
          end
        end
      end
    end
    local out = {dump = H.dump(db)}
    for i, q in ipairs(queries) do out[i] = c:search(q, 10) end
    return out
  end)
  local db, err = omen.open(path)
  ok(db, "reopen: " .. tostring(err))
  ok(H.dump(db) == before.dump, "records differ after reopening")
  H.isolate(function()
    local c = db:collection("x")
    for i, q in ipairs(queries) do eq(c:search(q, 10), before[i], "query " .. i) end
  end)
  close(db)
end

T["an empty collection is saved and reopened"] = function()
  -- in a child process, since saving used to crash
  local path = H.tmpfile()
  H.child_ok(string.format([[
    local db = assert(omen.open(%q))
    db:create_collection("empty", {dim = 4})
    local c = db:create_collection("emptied", {dim = 2})
    c:upsert("x", {1, 1})
    c:delete("x")
    assert(db:checkpoint())
    assert(db:close())
    print("child done")
  ]], path), "child done")
  local db, err = omen.open(path)
  ok(db, "reopen: " .. tostring(err))
  eq(db:collections(), {"emptied", "empty"}) -- byte order: "i" < "y"
  eq(db:collection("empty"):count(), 0)
  eq(db:collection("empty"):dim(), 4)
  eq(db:collection("emptied"):count(), 0)
  db:collection("empty"):upsert("a", {1, 2, 3, 4})
  eq(db:collection("empty"):search({1, 2, 3, 4}, 1)[1].id, "a")
  close(db)
end

T["a second writer gets nil, 'locked' (same process and another process)"] = function()
  local path = H.tmpfile()
  H.isolate(function()
  local db = assert(omen.open(path))
  db:create_collection("c", {dim = 2}):upsert("a", {1, 1})
  db:checkpoint()
  local v, err = omen.open(path)
  fails(v, err, "locked")
  v, err = omen.open(path, {readonly = false})
  fails(v, err, "locked")
  local out = H.child_ok(string.format([[
    local db, err = omen.open(%q)
    print(db == nil, err)
    local ro = assert(omen.open(%q, {readonly = true}))
    print("ro", ro:collection("c"):count())
  ]], path, path), "ro\t1")
  ok(out:find("^true\t[^\n]*locked"), "another process: " .. out)
  -- the first writer is unaffected
  db:collection("c"):upsert("b", {2, 2})
  eq(close(db), true)
  end)
  -- and after it is closed, a writer can open
  local db2, err2 = omen.open(path)
  ok(db2, "open after close: " .. tostring(err2))
  eq(db2:collection("c"):count(), 2)
  close(db2)
end

T["the lock holds for another spelling of the same path"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local dir, base = path:match("^(.*)/([^/]*)$")
  local v, err = omen.open(dir .. "/./" .. base)
  fails(v, err, "locked")
  local ro = assert(omen.open(dir .. "//" .. base, {readonly = true}))
  close(ro)
  close(db)
end

T["read-only opens work concurrently and reject every write ('read-only')"] = function()
  local path = H.tmpfile()
  with_db(path, nil, function(db)
    db:create_collection("c", {dim = 2}):upsert("a", {1, 1}, {k = 1})
  end)
  local size = #H.read_file(path)
  local ros = {}
  for i = 1, 4 do ros[i] = assert(omen.open(path, {readonly = true})) end
  local writer = assert(omen.open(path))
  for _, ro in ipairs(ros) do
    local c = ro:collection("c")
    eq({c:get("a")}, {{1, 1}, {k = 1}})
    eq(c:search({1, 1}, 1)[1].id, "a")
    raises(function() c:upsert("b", {2, 2}) end, "read%-only")
    raises(function() c:upsert("a", {2, 2}) end, "read%-only")
    raises(function() c:upsert_batch({"b"}, {{2, 2}}) end, "read%-only")
    raises(function() c:delete("a") end, "read%-only")
    raises(function() ro:drop_collection("c") end, "read%-only")
    eq(c:count(), 1)
    eq(ro:checkpoint(), true, "checkpoint of a read-only db does nothing")
    eq(ro:path(), path)
  end
  for _, ro in ipairs(ros) do eq(close(ro), true) end
  eq(#H.read_file(path), size, "read-only opens do not write")
  close(writer)
end

T["create_collection on a read-only database raises 'read-only'"] = function()
  local path = H.tmpfile()
  with_db(path, nil, function(db)
    db:create_collection("c", {dim = 2}):upsert("a", {1, 1})
  end)
  local ro = assert(omen.open(path, {readonly = true}))
  raises(function() ro:create_collection("new", {dim = 2}) end, "read%-only")
  eq(ro:collections(), {"c"})
  close(ro)
end

T["files that are not omen databases return nil, 'not an omen database'"] = function()
  local path = H.tmpfile()
  local contents = {
    "hello, this is a text file and certainly not a database\n",
    "x", "\137OMEN\r\n", ("\0"):rep(4096), ("\255"):rep(10000),
    "SQLite format 3\0" .. ("\0"):rep(4080),
  }
  for i, data in ipairs(contents) do
    H.write_file(path, data)
    local v, err = omen.open(path)
    fails(v, err, "not an omen database", "content #" .. i)
    v, err = omen.open(path, {readonly = true})
    fails(v, err, "not an omen database", "read-only, content #" .. i)
    H.gc()
    eq(H.read_file(path), data, "a failed open leaves the file alone (#" .. i .. ")")
  end
end

-- -- Damaged files, checked in a child process so a crash fails one test ----------------

-- A pristine database file (no lock held) and its dump.
local function pristine()
  local path = H.tmpfile()
  with_db(path, nil, populate)
  local ro = assert(omen.open(path, {readonly = true}))
  local dump = H.dump(ro)
  close(ro)
  return path, H.read_file(path), dump
end

-- Run the damage cases in a child. cases: array of {name, kind, a, b}
-- (kind "cut": keep the first a bytes; "flip": xor byte a (1-based) with b).
-- Returns a map name -> {status = "nil"|"same"|"different", msg = ...}.
-- Statuses: "nil" (open refused), "same" (opened, every record intact),
-- "damaged" (opened, and reading found the damage and raised), "different"
-- (a record read back wrong: never acceptable). With verify, opening checks
-- every checksum, so damage must be refused at once.
local function damage(base, dump, cases, verify)
  local work = H.tmpfile()
  local lines = {}
  for _, c in ipairs(cases) do
    lines[#lines + 1] = string.format("{%q, %q, %d, %d}", c[1], c[2], c[3], c[4] or 0)
  end
  local code = string.format([[
    package.path = "tests/lua/?.lua;" .. package.path
    local H = require("helpers")
    local bit = require("bit")
    io.stdout:setvbuf("no")
    local base, work, dump, verify = %q, %q, %q, %s
    local data = H.read_file(base)
    local cases = {%s}
    for _, c in ipairs(cases) do
      local name, kind, a, b = c[1], c[2], c[3], c[4]
      local bytes
      if kind == "cut" then
        bytes = data:sub(1, a)
      else
        bytes = data:sub(1, a - 1) .. string.char(bit.bxor(data:byte(a), b)) .. data:sub(a + 1)
      end
      H.write_file(work, bytes)
      io.write("BEGIN ", name, "\n")
      local db, err = omen.open(work, {readonly = true, verify = verify})
      local status, msg
      if not db then
        status, msg = "nil", tostring(err)
      else
        local ok, d = pcall(H.dump, db)
        status = (ok and d == dump) and "same" or "different"
        if not ok and tostring(d):find("is damaged", 1, true) then status = "damaged" end
        msg = ok and "" or tostring(d)
        db:close()
      end
      io.write("CASE\t", name, "\t", status, "\t", (msg:gsub("[\t\n]", " ")), "\n")
      os.remove(work)
    end
    io.write("child done\n")
  ]], base, work, dump, tostring(verify == true), table.concat(lines, ",\n"))
  local passed, status, output = H.run_child(code)
  local results = {}
  for name, st, msg in output:gmatch("CASE\t([^\t]*)\t([^\t]*)\t([^\n]*)") do
    results[name] = {status = st, msg = msg}
  end
  if not passed or not output:find("child done", 1, true) then
    local last = nil
    for name in output:gmatch("BEGIN ([^\n]*)") do last = name end
    error(string.format("the child crashed or failed (status %s) on case %s: %s",
                        tostring(status), tostring(last), output:sub(-400)), 2)
  end
  return results
end

T["truncated files return nil, message"] = function()
  local path, data, dump = pristine()
  local n = #data
  local cases = {}
  for _, size in ipairs({1, 4, 7, 8, 9, 16, 32, 63, 64, 65, 100, 1000, 4095, 4096, 4097,
                         4160, 5000, 8192, math.floor(n * 0.25), math.floor(n / 2),
                         math.floor(n * 0.75), n - 4096, n - 100, n - 64, n - 2, n - 1}) do
    if size > 0 and size < n then cases[#cases + 1] = {"cut" .. size, "cut", size} end
  end
  local res = damage(path, dump, cases)
  for _, c in ipairs(cases) do
    local r = res[c[1]]
    ok(r, "no result for " .. c[1])
    eq(r.status, "nil", c[1] .. " (" .. r.msg .. ")")
    ok(#r.msg > 0, c[1] .. ": a message")
  end
  -- the untouched file still opens
  local db = assert(omen.open(path, {readonly = true}))
  eq(H.dump(db), dump)
  close(db)
end

T["flipped bytes in the header return nil, message"] = function()
  local path, data, dump = pristine()
  local cases = {}
  for pos = 1, 64 do
    cases[#cases + 1] = {"flip" .. pos .. "/1", "flip", pos, 1}
    cases[#cases + 1] = {"flip" .. pos .. "/x80", "flip", pos, 0x80}
  end
  cases[#cases + 1] = {"flip1/xff", "flip", 1, 0xff}
  cases[#cases + 1] = {"flip9/xff", "flip", 9, 0xff}
  local res = damage(path, dump, cases)
  for _, c in ipairs(cases) do
    local r = res[c[1]]
    ok(r, "no result for " .. c[1])
    eq(r.status, "nil", c[1] .. " (" .. r.msg .. ")")
  end
  ok(res["flip1/1"].msg:find("not an omen database"), res["flip1/1"].msg)
end

T["flipped bytes in the middle: refused at open with verify, else when read"] = function()
  local path, data, dump = pristine()
  local n = #data
  local mid = math.floor(n / 2)
  local cases = {}
  for _, pos in ipairs({4097, 4100, 6000, mid - 7, mid, mid + 1, mid + 333,
                        math.floor(n * 0.3), math.floor(n * 0.7), n - 20}) do
    cases[#cases + 1] = {"flip" .. pos .. "/4", "flip", pos, 4}
    cases[#cases + 1] = {"flip" .. pos .. "/xff", "flip", pos, 0xff}
  end
  local verified = damage(path, dump, cases, true)
  local lazy = damage(path, dump, cases)
  for _, c in ipairs(cases) do
    local r, l = verified[c[1]], lazy[c[1]]
    ok(r and l, "no result for " .. c[1])
    eq(r.status, "nil", c[1] .. " with verify (" .. r.msg .. ")")
    ok(l.status == "nil" or l.status == "damaged",
       c[1] .. ": " .. l.status .. " (" .. l.msg .. ")")
  end
end

T["a byte sweep over the whole file never crashes or loads wrong data"] = function()
  local path, data, dump = pristine()
  local n = #data
  local cases = {}
  local stride = math.max(1, math.floor(n / 400))
  for pos = 1, n, stride do
    cases[#cases + 1] = {"flip" .. pos, "flip", pos, 0x10}
  end
  for size = 17, n - 1, math.max(1, math.floor(n / 60)) do
    cases[#cases + 1] = {"cut" .. size, "cut", size}
  end
  local res = damage(path, dump, cases)
  for _, c in ipairs(cases) do
    local r = res[c[1]]
    ok(r, "no result for " .. c[1])
    ok(r.status == "nil" or r.status == "same" or r.status == "damaged",
       c[1] .. ": opened with different content (" .. r.status .. " " .. r.msg .. ")")
  end
end

T["a failed checkpoint returns nil, message and keeps the data"] = function()
  local path = H.tmpfile()
  H.isolate(function()
  local db = assert(omen.open(path))
  local c = db:create_collection("c", {dim = 2})
  c:upsert("a", {1, 1})
  eq(db:checkpoint(), true)
  c:upsert("b", {2, 2})
  -- a directory where the side file goes makes the write fail
  assert(os.execute("mkdir " .. H.shq(path .. "-tmp")) == 0)
  local v, err = db:checkpoint()
  fails(v, err, nil, "checkpoint")
  v, err = db:close()
  fails(v, err, nil, "close")
  eq(c:count(), 2, "the database stays open and keeps its data")
  os.execute("rmdir " .. H.shq(path .. "-tmp"))
  c = nil
  eq(close(db), true)
  end)
  local db = assert(omen.open(path))
  eq(db:collection("c"):count(), 2)
  close(db)
end

T["a bigger database round-trips (3000 x 64, graph and exact search)"] = function()
  local path = H.tmpfile()
  local data, queries = H.clustered(3000, 64, 10, 404, 20)
  local before, r = with_db(path, nil, function(db)
    local c = db:create_collection("big", {dim = 64, metric = "cosine"})
    H.load(c, data, "id", nil, {threads = 2})
    local out = {}
    for i, q in ipairs(queries) do out[i] = c:search(q, 10) end
    return out, H.recall(c, queries, 10)
  end)
  local db = assert(omen.open(path))
  local c = db:collection("big")
  for i, q in ipairs(queries) do eq(c:search(q, 10), before[i], "query " .. i) end
  eq(H.recall(c, queries, 10), r, "recall after reopening")
  for i = 1, 3000, 211 do eq((c:get("id" .. i)), data[i]) end
  c = nil
  close(db)
end

return T
