-- Module, databases and the catalog of collections.
local H = require("helpers")
local eq, ok, raises, fails = H.eq, H.ok, H.raises, H.fails

local T = {}

T["module: require and global are the same table, version is a string"] = function()
  local omen = require("omen")
  eq(rawequal(omen, _G.omen), true, "global omen is require('omen')")
  eq(type(omen.version), "string")
  ok(omen.version:find("^%d+%.%d+%.%d+"), "version looks like x.y.z: " .. omen.version)
  eq(omen.version, "0.1.0")
  eq(type(omen.open), "function")
end

T["open: nil, no argument and ':memory:' are in-memory databases"] = function()
  for _, db in ipairs({omen.open(), omen.open(nil), omen.open(":memory:"),
                       omen.open(nil, {}), omen.open(":memory:", {readonly = false})}) do
    eq(db:path(), ":memory:")
    eq(tostring(db), "omen.db(:memory:)")
    eq(db:collections(), {})
    eq(db:checkpoint(), true, "checkpoint of an in-memory db")
    eq(db:close(), true)
  end
end

T["open: bad options raise"] = function()
  raises(function() omen.open(nil, {foo = 1}) end, "unknown open option 'foo'")
  raises(function() omen.open(nil, {readonly = true, x = 2}) end, "unknown open option")
  raises(function() omen.open(nil, {[1] = true}) end, "unknown open option")
  raises(function() omen.open(nil, "readonly") end, "table expected")
  raises(function() omen.open(nil, {readonly = "yes"}) end, "readonly must be a boolean")
  raises(function() omen.open(nil, {readonly = 1}) end, "readonly must be a boolean")
  local path = H.tmpfile()
  raises(function() omen.open(path, {bogus = true}) end, "unknown open option 'bogus'")
  eq(H.exists(path), false, "a rejected open creates no file")
end

T["open: unopenable paths return nil, message"] = function()
  fails(omen.open("/nonexistent-omen-dir/sub/x.db"))
  local v, err = omen.open("")
  fails(v, err, "empty")
  local dir = H.tmpdir()
  fails(omen.open(dir))
  fails(omen.open(dir, {readonly = true}))
  local missing = H.tmpfile()
  fails(omen.open(missing, {readonly = true}))
  eq(H.exists(missing), false, "a read-only open does not create the file")
end

T["open: a path holding NUL is not cut short"] = function()
  -- "x\0junk" is no file name; it must not silently open the file "x"
  local path = H.tmpfile()
  local ok_, db, err = pcall(omen.open, path .. "\0junk")
  if ok_ and db then db:close() end
  eq(H.exists(path), false, "omen.open(path .. '\\0junk') created " .. path)
  ok(not (ok_ and db), "opening a path with NUL should fail: " .. tostring(err))
end

T["close: idempotent, then every use raises 'database is closed'"] = function()
  local db = omen.open()
  db:create_collection("a", {dim = 2})
  eq(db:close(), true)
  eq(db:close(), true)
  eq(db:close(), true)
  eq(tostring(db), "omen.db(closed)")
  raises(function() db:path() end, "database is closed")
  raises(function() db:checkpoint() end, "database is closed")
  raises(function() db:collections() end, "database is closed")
  raises(function() db:collection("a") end, "database is closed")
  raises(function() db:create_collection("b", {dim = 2}) end, "database is closed")
  raises(function() db:drop_collection("a") end, "database is closed")
end

T["db:info: path, sizes, collections and totals"] = function()
  local omen = require("omen")
  local mem = omen.open()
  local i = mem:info()
  eq({i.path, i.count, i.memory, #i.collections, i.file_bytes}, {":memory:", 0, 0, 0, nil})
  local path = H.tmpfile()
  local d = assert(omen.open(path))
  local a = d:create_collection("a", {dim = 2})
  d:create_collection("b", {dim = 3, metric = "ip"})
  a:upsert("x", {1, 2})
  a:upsert("y", {3, 4})
  i = d:info()
  eq(i.path, path)
  eq(i.count, 2)
  eq({i.collections[1].name, i.collections[1].count, i.collections[2].name,
      i.collections[2].metric}, {"a", 2, "b", "ip"})
  eq(i.memory, i.collections[1].memory + i.collections[2].memory)
  eq(i.log_bytes > 0, true, "the writes are in the log")
  d:close()
  d = assert(omen.open(path))
  i = d:info()
  eq({i.count, i.log_bytes, i.file_bytes > 0}, {2, 0, true})
  d:close()
end

T["create_collection: defaults and given options show in info"] = function()
  local db = omen.open()
  local c = db:create_collection("docs", {dim = 384})
  eq(c:name(), "docs")
  eq(c:dim(), 384)
  eq(tostring(c), "omen.collection(docs)")
  local i = c:info()
  eq(i.name, "docs")
  eq(i.dim, 384)
  eq(i.metric, "l2")
  eq(i.quantization, "pca8") -- "auto": pca8 from 128 to 4,096 components
  eq(i.m, 16)
  eq(i.ef_construction, 200)
  eq(i.ef_search, 64)
  eq(i.count, 0)
  eq(i.slots, 0)
  eq(i.deleted, 0)
  eq(type(i.memory), "number")
  eq(type(i.levels), "number")
  local d = db:create_collection("d", {dim = 7, metric = "cosine", m = 8,
                                       ef_construction = 50, ef_search = 20})
  i = d:info()
  eq({i.dim, i.metric, i.m, i.ef_construction, i.ef_search}, {7, "cosine", 8, 50, 20})
  eq(db:create_collection("e", {dim = 3, metric = "ip"}):info().metric, "ip")
  eq(db:create_collection("f", {dim = 3, metric = "l2"}):info().metric, "l2")
  eq(db:create_collection("g", {dim = 1}):dim(), 1)
  eq(db:create_collection("h", {dim = 65536}):dim(), 65536)
  eq(db:create_collection("i", {dim = 2, m = 2}):info().m, 2)
  eq(db:create_collection("j", {dim = 2, m = 128}):info().m, 128)
  eq(db:create_collection("k", {dim = 2, quantization = "sq8"}):info().quantization, "sq8")
  eq(db:create_collection("l", {dim = 2, quantization = "none"}):info().quantization, "none")
  eq(db:create_collection("p", {dim = 2, quantization = "pca8"}):info().quantization, "pca8")
  eq(db:create_collection("q", {dim = 127}):info().quantization, "none")
  eq(db:create_collection("r", {dim = 128}):info().quantization, "pca8")
  eq(db:create_collection("s", {dim = 4097}):info().quantization, "none")
  eq(db:create_collection("t", {dim = 500, quantization = "auto"}):info().quantization, "pca8")
  eq(db:collections(), {"d", "docs", "e", "f", "g", "h", "i", "j", "k", "l", "p", "q", "r",
                        "s", "t"})
end

T["create_collection: bad options raise and create nothing"] = function()
  local db = omen.open()
  local bad = {
    {{}, "dim is required"},
    {{metric = "l2"}, "dim is required"},
    {{dim = 0}, "dim"},
    {{dim = -3}, "dim"},
    {{dim = 65537}, "dim"},
    {{dim = 2.5}, "dim"},
    {{dim = "8"}, "dim"},
    {{dim = 0 / 0}, "dim"},
    {{dim = 4, metric = "euclid"}, "unknown metric"},
    {{dim = 4, metric = "L2"}, "unknown metric"},
    {{dim = 4, metric = 2}, "unknown metric"},
    {{dim = 4, foo = 1}, "unknown collection option 'foo'"},
    {{dim = 4, M = 16}, "unknown collection option"},
    {{dim = 4, m = 1}, "m must be between 2 and 128"},
    {{dim = 4, m = 0}, "m must be"},
    {{dim = 4, m = 129}, "m must be between 2 and 128"},
    {{dim = 4, m = 3.5}, "m must be"},
    {{dim = 4, ef_search = 0}, "ef_search"},
    {{dim = 4, ef_construction = 0}, "ef_construction"},
    {{dim = 4, quantization = "pq"}, "unknown quantization 'pq'"},
    {{dim = 4, quantization = 8}, "unknown quantization"},
  }
  for i, case in ipairs(bad) do
    raises(function() db:create_collection("x", case[1]) end, case[2], "case " .. i)
  end
  raises(function() db:create_collection("x") end, "table expected")
  raises(function() db:create_collection("x", 4) end, "table expected")
  raises(function() db:create_collection(nil, {dim = 4}) end, "string expected")
  raises(function() db:create_collection("", {dim = 4}) end, "name")
  raises(function() db:create_collection(("n"):rep(256), {dim = 4}) end, "name")
  eq(db:collections(), {}, "nothing was created")
  eq(db:collection("x"), nil)
  local long = ("n"):rep(255)
  eq(db:create_collection(long, {dim = 4}):name(), long)
end

T["create_collection: an existing name returns nil, message and keeps the old one"] = function()
  local db = omen.open()
  local c = db:create_collection("a", {dim = 3})
  c:upsert("x", {1, 2, 3})
  local v, err = db:create_collection("a", {dim = 5})
  fails(v, err, "already exists")
  v, err = db:create_collection("a", {dim = 3})
  fails(v, err, "'a'")
  eq(c:dim(), 3)
  eq(c:count(), 1)
  eq(db:collection("a"):info().dim, 3)
  eq(db:collections(), {"a"})
end

T["collection names keep every byte (no silent truncation at NUL)"] = function()
  -- Names are documented as UTF-8 without NUL: a name holding "\0" must
  -- either be rejected or kept whole, never cut to a different name.
  local db = omen.open()
  local ok_, c = pcall(db.create_collection, db, "a\0b", {dim = 2})
  if ok_ and c then
    eq(c:name(), "a\0b", "name of the created collection")
    eq(db:collection("a"), nil, "'a' must not exist")
  end
  local a = db:create_collection("a", {dim = 2})
  ok(a, "'a' can still be created")
end

T["collection: opens a handle on the same data; missing returns nil, message"] = function()
  local db = omen.open()
  local c1 = db:create_collection("shared", {dim = 2})
  local c2 = assert(db:collection("shared"))
  ok(c1 ~= c2, "a new handle each time")
  c1:upsert("a", {1, 2}, {k = "v"})
  local v, m = c2:get("a")
  eq(v, {1, 2})
  eq(m, {k = "v"})
  c2:delete("a")
  eq(c1:count(), 0)
  eq(c2:info().name, "shared")
  local none, err = db:collection("nope")
  fails(none, err, "nope")
  eq(select("#", db:collection("nope")), 2)
end

T["collections: sorted by name (byte order)"] = function()
  local db = omen.open()
  local names = {"zeta", "alpha", "Beta", "a b", "a", "ab", "_x", "10", "9", "\195\169t\195\169"}
  for _, n in ipairs(names) do db:create_collection(n, {dim = 2}) end
  eq(db:collections(), {"10", "9", "Beta", "_x", "a", "a b", "ab", "alpha", "zeta",
                        "\195\169t\195\169"})
  -- the list is a fresh table each time
  local l = db:collections()
  l[1] = "changed"
  eq(db:collections()[1], "10")
end

T["drop_collection: true when dropped, false when absent, name can be reused"] = function()
  local db = omen.open()
  local c = db:create_collection("a", {dim = 2})
  c:upsert("x", {1, 1})
  db:create_collection("b", {dim = 2})
  eq(db:drop_collection("a"), true)
  eq(db:drop_collection("a"), false)
  eq(db:drop_collection("never"), false)
  eq(db:collections(), {"b"})
  eq(db:collection("a"), nil)
  local c2 = db:create_collection("a", {dim = 5, metric = "ip"})
  eq(c2:count(), 0, "a recreated collection starts empty")
  eq(c2:dim(), 5)
  eq(db:collections(), {"a", "b"})
  raises(function() db:drop_collection() end, "string expected")
end

T["drop_collection: open handles then raise an error mentioning 'dropped'"] = function()
  local db = omen.open()
  local c = db:create_collection("a", {dim = 2})
  c:upsert("x", {1, 1})
  local c2 = db:collection("a")
  eq(db:drop_collection("a"), true)
  for _, h in ipairs({c, c2}) do
    raises(function() h:count() end, "dropped")
    raises(function() h:upsert("y", {1, 2}) end, "dropped")
    raises(function() h:upsert_batch({"y"}, {{1, 2}}) end, "dropped")
    raises(function() h:search({1, 1}, 1) end, "dropped")
    raises(function() h:info() end, "dropped")
  end
  -- a new collection of that name does not revive old handles
  local fresh = db:create_collection("a", {dim = 2})
  fresh:upsert("z", {0, 1})
  raises(function() c:count() end, "dropped")
  eq(fresh:count(), 1)
end

local function dropped_handle()
  local db = omen.open()
  local c = db:create_collection("a", {dim = 2})
  c:upsert("x", {1, 1})
  db:drop_collection("a")
  return c, db
end

T["drop_collection: get on a dropped handle raises (not nil)"] = function()
  local c = dropped_handle()
  raises(function() c:get("x") end, "dropped", "get on a dropped collection")
  raises(function() c:get("missing") end, "dropped", "get on a dropped collection")
end

T["drop_collection: delete on a dropped handle raises (not false)"] = function()
  local c = dropped_handle()
  raises(function() c:delete("x") end, "dropped", "delete on a dropped collection")
end

T["collections of one database are independent"] = function()
  local db = omen.open()
  local a = db:create_collection("a", {dim = 2})
  local b = db:create_collection("b", {dim = 3, metric = "ip"})
  a:upsert("same", {1, 1}, {in_ = "a"})
  b:upsert("same", {1, 1, 1}, {in_ = "b"})
  a:upsert("only_a", {2, 2})
  eq({a:get("same")}, {{1, 1}, {in_ = "a"}})
  eq({b:get("same")}, {{1, 1, 1}, {in_ = "b"}})
  eq(b:get("only_a"), nil)
  eq(b:delete("only_a"), false)
  eq(a:count(), 2)
  eq(b:count(), 1)
  db:drop_collection("b")
  eq({a:get("same")}, {{1, 1}, {in_ = "a"}})
end

T["many in-memory databases are independent"] = function()
  local dbs, colls = {}, {}
  for i = 1, 25 do
    dbs[i] = omen.open()
    colls[i] = dbs[i]:create_collection("same", {dim = 3})
    for j = 1, i do colls[i]:upsert("r" .. j, {i, j, 0}, {db = i}) end
  end
  for i = 1, 25 do
    eq(colls[i]:count(), i, "db " .. i)
    local v, m = colls[i]:get("r1")
    eq(v, {i, 1, 0})
    eq(m, {db = i})
    eq(dbs[i]:collections(), {"same"})
    local hits = colls[i]:search({i, 1, 0}, 1)
    eq(hits[1].id, "r1")
    eq(hits[1].distance, 0)
  end
  -- dropping and closing some leaves the others untouched
  for i = 1, 25, 2 do dbs[i]:drop_collection("same") end
  for i = 1, 25, 3 do dbs[i]:close() end
  for i = 2, 25, 2 do
    if (i - 1) % 3 ~= 0 then eq(colls[i]:count(), i, "db " .. i .. " after others closed") end
  end
  for i = 1, 25 do dbs[i]:close() end
end

T["several file databases at once are independent"] = function()
  local paths, dbs = {}, {}
  for i = 1, 5 do
    paths[i] = H.tmpfile()
    dbs[i] = assert(omen.open(paths[i]))
    eq(dbs[i]:path(), paths[i])
    eq(tostring(dbs[i]), "omen.db(" .. paths[i] .. ")")
  end
  H.isolate(function()
    for i = 1, 5 do
      local c = dbs[i]:create_collection("c" .. i, {dim = 2})
      for j = 1, i * 3 do c:upsert("k" .. j, {i, j}) end
    end
    for i = 1, 5 do eq(dbs[i]:collection("c" .. i):count(), i * 3) end
  end)
  for i = 1, 5 do eq(dbs[i]:close(), true) end
  for i = 1, 5 do
    local db = assert(omen.open(paths[i]))
    H.isolate(function()
      eq(db:collections(), {"c" .. i})
      local c = db:collection("c" .. i)
      eq(c:count(), i * 3)
      eq((c:get("k2")), {i, 2})
    end)
    eq(db:close(), true)
  end
end

T["db:isa() names the kernels' instruction set, which OMEN_ISA caps at open"] = function()
  local db = omen.open()
  local best = db:isa()
  ok(best == "scalar" or best == "avx2" or best == "avx512", best)
  eq(db:info().isa, best)
  db:close()
  local out = H.child_ok([[
    local db = assert(omen.open())
    io.write("isa=", db:isa(), "\n")
    db:close()
  ]], "isa=scalar", "OMEN_ISA=scalar", "OMEN_ISA=scalar")
  ok(out:find("isa=scalar"), out)
  H.child_ok([[
    local db, err = omen.open()
    assert(not db and err:find("OMEN_ISA='avx9' is not an instruction set omen knows"), err)
    io.write("refused\n")
  ]], "refused", "OMEN_ISA=avx9", "OMEN_ISA=avx9")
end

return T
