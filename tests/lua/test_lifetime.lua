-- Handle lifetimes: collections keep their database alive, __gc is safe in
-- any order (also at lua_close), closing a database invalidates its
-- collection handles.
local H = require("helpers")
local eq, ok, raises, fails = H.eq, H.ok, H.raises, H.fails

local T = {}

T["a collection handle keeps its database alive"] = function()
  local c
  do
    local db = omen.open()
    c = db:create_collection("c", {dim = 2})
    c:upsert("a", {1, 2}, {k = "v"})
  end
  H.gc(5)
  eq(c:count(), 1)
  c:upsert("b", {3, 4})
  eq({c:get("a")}, {{1, 2}, {k = "v"}})
  eq(c:search({3, 4}, 1)[1].id, "b")
  eq(c:info().count, 2)
  c = nil
  H.gc(5)
end

T["handles from db:collection also keep it alive"] = function()
  local handles = {}
  do
    local db = omen.open()
    db:create_collection("x", {dim = 1}):upsert("one", {1})
    for i = 1, 10 do handles[i] = db:collection("x") end
  end
  H.gc()
  for i = 1, 10 do eq(handles[i]:count(), 1) end
  for i = 1, 10, 2 do handles[i] = nil end
  H.gc()
  for i = 2, 10, 2 do eq(handles[i]:count(), 1) end
  handles = nil
  H.gc()
end

-- Build a database with several collections and handles, then drop the
-- references in `order` with collections between each step.
local function drop_in_order(order)
  local refs = {}
  refs.db = omen.open()
  refs.a = refs.db:create_collection("a", {dim = 3})
  refs.b = refs.db:create_collection("b", {dim = 3, metric = "cosine"})
  refs.a2 = refs.db:collection("a")
  for i = 1, 20 do
    refs.a:upsert("r" .. i, {i, 1, 1})
    refs.b:upsert("r" .. i, {1, i, 1})
  end
  for _, name in ipairs(order) do
    refs[name] = nil
    H.gc()
    for _, other in ipairs({"a", "b", "a2"}) do
      if refs[other] then eq(refs[other]:count(), 20, other .. " after dropping " .. name) end
    end
    if refs.db then eq(#refs.db:collections(), 2) end
  end
end

T["__gc in any order: db first, collections first, interleaved"] = function()
  drop_in_order({"db", "a", "b", "a2"})
  drop_in_order({"a", "a2", "b", "db"})
  drop_in_order({"b", "db", "a2", "a"})
  drop_in_order({"a2", "db", "b", "a"})
  drop_in_order({"a", "b", "a2", "db"})
end

T["closing the database invalidates collection handles ('closed')"] = function()
  local db = omen.open()
  local c = db:create_collection("c", {dim = 2})
  local c2 = db:collection("c")
  c:upsert("a", {1, 1})
  eq(db:close(), true)
  for _, h in ipairs({c, c2}) do
    raises(function() h:count() end, "closed")
    raises(function() h:upsert("b", {1, 2}) end, "closed")
    raises(function() h:upsert_batch({"b"}, {{1, 2}}) end, "closed")
    raises(function() h:get("a") end, "closed")
    raises(function() h:delete("a") end, "closed")
    raises(function() h:search({1, 1}, 1) end, "closed")
    raises(function() h:info() end, "closed")
  end
  -- then collect in both orders
  c = nil
  H.gc()
  raises(function() c2:count() end, "closed")
  db = nil
  H.gc()
  raises(function() c2:count() end, "closed")
  c2 = nil
  H.gc()
end

T["close with live collection handles, then collect the db before them"] = function()
  local colls = {}
  local db = omen.open()
  for i = 1, 5 do
    colls[i] = db:create_collection("c" .. i, {dim = 2})
    colls[i]:upsert("x", {i, i})
  end
  db:close()
  db = nil
  H.gc()
  for i = 1, 5 do raises(function() colls[i]:search({1, 1}, 1) end, "closed") end
  for i = 5, 1, -1 do
    colls[i] = nil
    H.gc()
  end
end

T["dropped collection handles outlive the database"] = function()
  local db = omen.open()
  local c = db:create_collection("c", {dim = 2})
  c:upsert("x", {1, 1})
  db:drop_collection("c")
  db:close()
  db = nil
  H.gc()
  raises(function() c:count() end, "dropped")
  c = nil
  H.gc()
end

T["many short-lived handles"] = function()
  local db = omen.open()
  db:create_collection("c", {dim = 2}):upsert("x", {1, 1})
  for i = 1, 2000 do
    local h = db:collection("c")
    if i % 100 == 0 then H.gc(1) end
    eq(h:dim(), 2)
  end
  for i = 1, 200 do
    local tmp = omen.open()
    tmp:create_collection("t", {dim = 3}):upsert("y", {i, 0, 0})
    if i % 3 == 0 then tmp:close() end
    if i % 50 == 0 then H.gc() end
  end
  H.gc()
  eq(db:collection("c"):count(), 1)
end

T["closing a file database releases its lock even while collection handles live"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = db:create_collection("c", {dim = 2})
  c:upsert("x", {1, 2})
  eq(db:close(), true)
  -- c is still referenced: the database is closed, so the file must be free
  local db2, err = omen.open(path)
  ok(db2, "reopen after close while a collection handle lives: " .. tostring(err))
  if db2 then
    eq(db2:collection("c"):count(), 1)
    db2:close()
  end
  raises(function() c:count() end, "closed")
end

T["a file database collected through its last handle unlocks"] = function()
  local path = H.tmpfile()
  local box = {}
  H.isolate(function()
    local db = assert(omen.open(path))
    box.c = db:create_collection("c", {dim = 2})
    box.c:upsert("x", {1, 2})
    assert(db:checkpoint())
  end)
  -- the db is referenced only through box.c, so the file is still locked
  local v, err = omen.open(path)
  fails(v, err, "locked")
  H.isolate(function() box.c:upsert("y", {3, 4}) end)
  eq(H.isolate(function() return box.c:count() end), 2)
  box.c = nil
  H.gc()
  local db, err2 = omen.open(path)
  ok(db, "open after the last handle was collected: " .. tostring(err2))
  H.isolate(function() ok(db:collection("c"):count() >= 1, "the checkpoint is there") end)
  db:close()
end

T["lua_close with live handles in many shapes does not crash"] = function()
  local path = H.tmpfile()
  H.child_ok("local path = " .. string.format("%q", path) .. "\n" .. [[
    local keep = {}
    -- in-memory: db and collections alive at exit
    for i = 1, 10 do
      local db = omen.open()
      local c = db:create_collection("c", {dim = 4})
      c:upsert("x", {1, 2, 3, 4}, {i = i})
      keep[#keep + 1] = db
      keep[#keep + 1] = c
      keep[#keep + 1] = db:collection("c")
    end
    -- collection handles only (db unreferenced)
    for i = 1, 10 do
      keep[#keep + 1] = omen.open():create_collection("only", {dim = 2})
    end
    -- closed db with live collections
    local db = omen.open()
    keep[#keep + 1] = db:create_collection("z", {dim = 2})
    db:close()
    -- dropped collection with a live handle
    local db2 = omen.open()
    keep[#keep + 1] = db2:create_collection("d", {dim = 2})
    db2:drop_collection("d")
    keep[#keep + 1] = db2
    -- a file database left open
    local f = assert(omen.open(path))
    keep[#keep + 1] = f:create_collection("file", {dim = 3})
    keep[#keep]:upsert("x", {1, 2, 3})
    keep[#keep + 1] = f
    _G.KEEP = keep
    io.write("child done\n")
    -- the state is closed by omen-lua on return: every __gc runs now
  ]], "child done")
end

T["os.exit without closing leaves no damaged file"] = function()
  local path = H.tmpfile()
  H.child_ok(string.format([[
    local db = assert(omen.open(%q))
    local c = db:create_collection("c", {dim = 2})
    c:upsert("a", {1, 1})
    assert(db:checkpoint())
    c:upsert("b", {2, 2})
    io.write("child done\n")
    io.stdout:flush()
    os.exit(0) -- no lua_close: like a crash after the checkpoint
  ]], path), "child done", nil, H.NO_LEAK_CHECK)
  local db, err = omen.open(path)
  ok(db, "reopen after an unclean exit: " .. tostring(err))
  local c = db:collection("c")
  eq(c:count(), 2, "the checkpoint and the log after it")
  eq((c:get("a")), {1, 1})
  eq((c:get("b")), {2, 2})
  c = nil
  H.gc()
  db:close()
end

T["c:close releases a collection handle; later calls raise"] = function()
  local db = omen.open()
  local c = db:create_collection("c", {dim = 2})
  c:upsert("a", {1, 2})
  eq(c:close(), true)
  eq(c:close(), true) -- idempotent
  eq(tostring(c), "omen.collection(closed)")
  raises(function() c:count() end, "collection is closed")
  raises(function() c:search({1, 2}, 1) end, "collection is closed")
  local again = db:collection("c") -- the collection itself is still there
  eq(again:count(), 1)
  db:close()
end

return T
