-- Misuse raises a Lua error with a clear message and changes nothing.
local H = require("helpers")
local eq, ok, raises = H.eq, H.ok, H.raises

local T = {}

-- A collection with known records, and a check that a call raises (message
-- matching pattern) and leaves every record as it was.
local function fixture(dim, metric)
  local db = omen.open()
  local c = db:create_collection("e", {dim = dim or 4, metric = metric})
  local ids = {"a", "b", "c"}
  for i, id in ipairs(ids) do
    local v = {}
    for j = 1, c:dim() do v[j] = i + j end
    c:upsert(id, v, {n = i})
  end
  local function snapshot()
    local s = {count = c:count(), slots = c:info().slots, recs = {}}
    for _, id in ipairs({"a", "b", "c", "x", "new", ""}) do
      if id ~= "" then
        local v, m = c:get(id)
        s.recs[id] = v and {v = v, m = m} or false
      end
    end
    return s
  end
  local function rejects(fn, pattern, msg)
    local before = snapshot()
    local err = raises(fn, pattern, msg)
    eq(snapshot(), before, (msg or "") .. " (state after the error)")
    return err
  end
  return c, rejects, db
end

T["wrong dimension names the expected and given dim"] = function()
  local c, rejects = fixture(4)
  local err = rejects(function() c:upsert("x", {1, 2, 3}) end,
                      "wrong dimension for vector: expected 4, got 3")
  rejects(function() c:upsert("a", {1, 2, 3, 4, 5}) end, "expected 4, got 5")
  rejects(function() c:upsert("a", {}) end, "expected 4, got 0")
  rejects(function() c:search({1, 2, 3}, 1) end, "wrong dimension for query: expected 4, got 3")
  rejects(function() c:search({}, 1) end, "wrong dimension")
  rejects(function() c:upsert_batch({"x"}, {{1, 2}}) end, "expected 4, got 2")
  ok(err:find("expected 4, got 3", 1, true), err)
end

T["NaN and infinite components raise, naming the component"] = function()
  local c, rejects = fixture(4)
  local nan, inf = 0 / 0, math.huge
  rejects(function() c:upsert("x", {1, 2, nan, 4}) end, "component 3 is NaN")
  rejects(function() c:upsert("a", {nan, 2, 3, 4}) end, "component 1 is NaN")
  rejects(function() c:upsert("x", {1, inf, 3, 4}) end, "component 2 is infinite")
  rejects(function() c:upsert("a", {1, 2, 3, -inf}) end, "component 4 is infinite")
  rejects(function() c:search({1, 2, nan, 4}, 1) end, "component 3 is NaN")
  rejects(function() c:search({inf, 2, 3, 4}, 1) end, "component 1 is infinite")
  rejects(function() c:upsert_batch({"x", "y"}, {{1, 2, 3, 4}, {1, nan, 3, 4}}) end,
          "component 2 is NaN")
end

T["non-number components raise"] = function()
  local c, rejects = fixture(3)
  rejects(function() c:upsert("x", {1, "2", 3}) end, "component 2 is not a number")
  rejects(function() c:upsert("x", {1, 2, true}) end, "component 3 is not a number")
  rejects(function() c:upsert("x", {{}, 2, 3}) end, "component 1 is not a number")
  rejects(function() c:upsert("a", {1, 2, nil}) end, nil)
  rejects(function() c:search({1, "x", 3}, 1) end, "not a number")
  rejects(function() c:upsert("x", "1,2,3") end, "vector")
  rejects(function() c:upsert("x", 5) end, "vector")
  rejects(function() c:upsert("x") end, "vector")
  rejects(function() c:upsert("x", {[1] = 1, [2] = 2, [4] = 4}) end, nil)
  rejects(function() c:search(nil, 1) end, "query")
  rejects(function() c:search(42, 1) end, "query")
end

T["bad ids raise for upsert, get and delete"] = function()
  local c, rejects = fixture(2)
  local v = {1, 2}
  local bad = {
    {1, "id must be a string"}, {true, "id must be a string"}, {{}, "id must be a string"},
    {nil, "id must be a string"}, {"", "empty"}, {("x"):rep(1025), "1025"},
    {("\0"):rep(2000), "at most 1024"},
  }
  for i, case in ipairs(bad) do
    local id, pat = case[1], case[2]
    rejects(function() c:upsert(id, v) end, pat, "upsert bad id #" .. i)
    rejects(function() c:get(id) end, pat, "get bad id #" .. i)
    rejects(function() c:delete(id) end, pat, "delete bad id #" .. i)
    rejects(function() c:upsert_batch({"ok", id}, {v, v}) end, nil, "batch bad id #" .. i)
  end
  -- an id of exactly 1024 bytes is fine
  eq(c:upsert(("x"):rep(1024), v), true)
end

T["bad k raises"] = function()
  local c, rejects = fixture(2)
  local q = {1, 1}
  for _, k in ipairs({0, -1, 1.5, 0.5, 1048577, math.huge, -math.huge, 0 / 0}) do
    rejects(function() c:search(q, k) end, "k must be", "k = " .. tostring(k))
    rejects(function() c:search(q, {k = k}) end, "k must be", "{k = " .. tostring(k) .. "}")
  end
  rejects(function() c:search(q, "10") end, nil)
  rejects(function() c:search(q, {k = "10"}) end, "k must be")
  rejects(function() c:search(q, true) end, nil)
end

T["bad search options raise"] = function()
  local c, rejects = fixture(2)
  local q = {1, 1}
  rejects(function() c:search(q, {kk = 1}) end, "unknown search option 'kk'")
  rejects(function() c:search(q, {k = 1, with_vector = true}) end, "unknown search option")
  rejects(function() c:search(q, {[1] = 5}) end, "unknown search option")
  rejects(function() c:search(q, {ef = 0}) end, "ef must be")
  rejects(function() c:search(q, {ef = 1.5}) end, "ef must be")
  rejects(function() c:search(q, {ef = 65537}) end, "ef must be")
  rejects(function() c:search(q, {exact = 1}) end, "exact must be a boolean")
  rejects(function() c:search(q, {with_meta = "no"}) end, "with_meta must be a boolean")
  rejects(function() c:search(q, {with_vectors = 0}) end, "with_vectors must be a boolean")
  eq(#c:search(q, {ef = 1}), 3, "ef = 1 is allowed")
  eq(#c:search(q, {ef = 65536}), 3, "ef = 65536 is allowed")
end

T["cosine zero vectors raise"] = function()
  local c, rejects = fixture(3, "cosine")
  rejects(function() c:upsert("x", {0, 0, 0}) end, "zero")
  rejects(function() c:upsert("a", {0, 0, 0}) end, "zero")
  rejects(function() c:search({0, 0, 0}, 1) end, "zero")
  rejects(function() c:upsert_batch({"x", "y"}, {{1, 0, 0}, {0, 0, 0}}) end, "zero")
  -- tiny but non-zero is fine for storage
  eq(c:upsert("tiny", {1e-20, 0, 0}), true)
  eq(c:search({1, 0, 0}, 1)[1].id ~= nil, true)
end

T["l2 and ip accept zero vectors"] = function()
  for _, metric in ipairs({"l2", "ip"}) do
    local c = fixture(3, metric)
    eq(c:upsert("zero", {0, 0, 0}), true)
    eq(#c:search({0, 0, 0}, 10), 4)
  end
end

T["bad meta raises"] = function()
  local c, rejects = fixture(2)
  local v = {9, 9}
  local bad = {
    {{[1] = "x"}, "keys must be strings"},
    {{"x", "y"}, "keys must be strings"},
    {{[true] = 1}, "keys must be strings"},
    {{[1.5] = 1}, "keys must be strings"},
    {{a = {b = 1}}, "array of strings"},
    {{a = {"x", {"nested"}}}, "not a string"},
    {{a = {1, 2}}, "not a string"},
    {{a = {"x", true}}, "not a string"},
    {{a = {"x", n = "y"}}, "array of strings"},
    {{a = {[1] = "x", [3] = "z"}}, nil},
    {{a = print}, "unsupported type"},
    {{a = coroutine.create(print)}, "unsupported type"},
    {{a = io.stdout}, "unsupported type"},
    {{a = 0 / 0}, "NaN"},
    {{ok = 1, bad = 0 / 0}, "NaN"},
    {{[""] = 1}, "key"},
    {{[("k"):rep(256)] = 1}, "key"},
    {"string meta", "meta must be a table"},
    {42, "meta must be a table"},
    {true, "meta must be a table"},
  }
  for i, case in ipairs(bad) do
    rejects(function() c:upsert("x", v, case[1]) end, case[2], "new record, meta #" .. i)
    rejects(function() c:upsert("a", v, case[1]) end, case[2], "existing record, meta #" .. i)
    rejects(function() c:upsert_batch({"x", "a"}, {v, v}, {{}, case[1]}) end, case[2],
            "batch, meta #" .. i)
  end
end

T["meta with a userdata or cdata value raises"] = function()
  local c, rejects, db = fixture(2)
  rejects(function() c:upsert("x", {1, 1}, {handle = db}) end, "unsupported type")
  rejects(function() c:upsert("x", {1, 1}, {handle = c}) end, "unsupported type")
  rejects(function() c:upsert("x", {1, 1}, {n = require("ffi").new("int", 1)}) end, nil)
end

T["methods called on the wrong object raise"] = function()
  local c, rejects, db = fixture(2)
  rejects(function() c.count(db) end, "omen.collection")
  rejects(function() c.count(nil) end, nil)
  rejects(function() c.upsert({}, "x", {1, 1}) end, nil)
  rejects(function() c.search("c", {1, 1}, 1) end, nil)
  rejects(function() db.collections(c) end, "omen.db")
  rejects(function() db.close(c) end, nil)
  rejects(function() db.create_collection(c, "x", {dim = 2}) end, nil)
  eq(db:collections(), {"e"})
end

T["handles are protected from scripts"] = function()
  local c, _, db = fixture(2)
  eq(getmetatable(db), "omen handle")
  eq(getmetatable(c), "omen handle")
  raises(function() setmetatable(db, {}) end, nil)
  raises(function() db.newfield = 1 end, nil)
  eq(type(db.close), "function")
  eq(type(c.search), "function")
  eq(c.not_a_method, nil)
end

T["errors leave the handle usable"] = function()
  local c = fixture(3)
  for _ = 1, 50 do
    pcall(c.upsert, c, "x", {1, 2})
    pcall(c.search, c, {0 / 0, 1, 1}, 1)
    pcall(c.upsert, c, "y", {1, 1, 1}, {bad = print})
  end
  eq(c:upsert("x", {1, 1, 1}, {fine = true}), true)
  eq(c:count(), 4)
  eq(select(2, c:get("x")), {fine = true})
  eq(c:search({1, 1, 1}, 1)[1].id, "x")
end

T["errors point at the caller's line, not into omen"] = function()
  local db = omen.open()
  local c = db:create_collection("e", {dim = 2})
  c:upsert("a", {1, 2})
  local here = debug.getinfo(1, "S").short_src
  for _, f in ipairs({
    function() for _ in c:each({page = 0}) do end end,
    function() for _ in c:each({pgae = 10}) do end end,
    function() c:search({1, 2}, {k = 0, where = function() return true end}) end,
    function() c:search({1}, 1) end,
    function() c:upsert_batch({"x"}, {{1}}) end,
    function() c:search_batch({{1}}, 1) end,
  }) do
    local err = raises(f)
    ok(err:find(here, 1, true) and not err:find("omen.lua", 1, true), err)
  end
end

T["unknown each options, metas cut short and n with a table raise"] = function()
  local db = omen.open()
  local c = db:create_collection("e", {dim = 2})
  raises(function() c:each({pgae = 1}) end, "unknown each option 'pgae'")
  raises(function() c:each({page = 0}) end, "page must be an integer between 1 and")
  raises(function() c:each({with_meta = 1}) end, "with_meta must be a boolean")
  raises(function() c:upsert_batch({"a", "b"}, {{1, 2}, {3, 4}}, {{x = 1}}) end,
         "got 2 ids but metas up to %[1%]")
  raises(function() c:search_batch({{1, 2}}, {k = 1, n = 1}) end, "n goes with a float buffer")
  eq(c:count(), 0)
  -- a hole is a record without metadata; so is false at the end
  eq(c:upsert_batch({"a", "b", "c"}, {{1, 2}, {3, 4}, {5, 6}}, {[2] = {x = 2}, [3] = false}), 3)
  eq(select(2, c:get("b")), {x = 2})
end

T["batch errors name the record and its id"] = function()
  local db = omen.open()
  local c = db:create_collection("e", {dim = 2})
  local ids, vecs, metas = {}, {}, {}
  for i = 1, 5000 do ids[i], vecs[i], metas[i] = "r" .. i, {i, i}, {n = i} end
  vecs[3117] = {1}
  raises(function() c:upsert_batch(ids, vecs) end,
         "record 3117 (id 'r3117'): wrong dimension for vector: expected 2, got 1")
  vecs[3117] = {1, 1}
  metas[4001] = {n = function() end}
  raises(function() c:upsert_batch(ids, vecs, metas) end,
         "record 4001 (id 'r4001'): meta field 'n' has unsupported type function")
  metas[4001] = {n = 0 / 0}
  raises(function() c:upsert_batch(ids, vecs, metas) end, "record 4001 (id 'r4001')")
  ids[12] = "bin\0\255"
  vecs[12] = {0 / 0, 1}
  raises(function() c:upsert_batch(ids, vecs) end, "record 12 (id 'bin\\x00\\xff')")
  eq(c:count(), 0)
end

T["$not needs a condition; collection names must be UTF-8"] = function()
  local db = omen.open()
  local c = db:create_collection("e", {dim = 2})
  raises(function() c:search({1, 2}, {filter = {["$not"] = {}}}) end, "$not needs a condition")
  raises(function() db:create_collection("bad\255name", {dim = 2}) end, "not valid UTF-8")
  raises(function() db:create_collection("\192\128", {dim = 2}) end, "not valid UTF-8")
  ok(db:create_collection("naïve ✓", {dim = 2}))
end

T["a second writer is told who holds the lock"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  H.fails(omen.open(path), "is already open for writing in this process")
  local out = H.child_ok(("print(omen.open(%q))"):format(path), "locked")
  ok(out:find("is open for writing by process %d+"), out)
  db:close()
end

T["one rule: misuse raises, the environment returns nil, message"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = db:create_collection("c", {dim = 4})
  local ids, vecs = {}, {}
  for i = 1, 3000 do ids[i], vecs[i] = "r" .. i, {i, i % 7, i % 11, 1} end
  c:upsert_batch(ids, vecs)
  db:close()
  -- damage the vectors of the first chunk: found when first read
  local data = H.read_file(path)
  H.write_file(path, data:sub(1, 4100) .. string.char((data:byte(4101) + 1) % 256) .. data:sub(4102))
  local ro = assert(omen.open(path, {readonly = true}))
  local rc = assert(ro:collection("c"))
  H.fails(rc:get("r1"), "is damaged")
  H.fails(rc:search({1, 1, 1, 1}, {k = 5, exact = true}), "is damaged")
  H.fails(rc:search({1, 1, 1, 1}, {k = 5, where = function() return true end}), "is damaged")
  raises(function() rc:upsert("x", {1, 2, 3, 4}) end, "read%-only") -- misuse
  raises(function() for _ in rc:each() do end end, "is damaged") -- a loop raises
  local file, log = ro:file_sizes()
  eq(file, #data)
  eq(log, 0)
  ro:close()
  H.fails(omen.open(path, {verify = true}), "is damaged")
  -- sizes in memory
  local mem = omen.open()
  eq({mem:file_sizes()}, {0, 0})
  mem:close()
end

return T
