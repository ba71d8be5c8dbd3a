-- Records: upsert, get, delete, count, info, ids and metadata.
local H = require("helpers")
local eq, ok, raises, near = H.eq, H.ok, H.raises, H.near

local T = {}

local function coll(dim, metric, name)
  local db = omen.open()
  return db:create_collection(name or "c", {dim = dim or 4, metric = metric}), db
end

T["upsert returns true; get returns the vector and {} meta"] = function()
  local c = coll(4)
  eq(c:upsert("a", {1, 2, 3, 4}), true)
  eq(select("#", c:upsert("b", {0.5, -0.25, 1e-3, 100})), 1)
  local v, m = c:get("a")
  eq(v, {1, 2, 3, 4})
  eq(m, {})
  v = c:get("b")
  eq(v, {0.5, -0.25, H.f32(1e-3), 100}, "values come back as float32")
  eq(c:count(), 2)
end

T["get of a missing id returns nil"] = function()
  local c = coll(2)
  eq(c:get("nope"), nil)
  c:upsert("a", {1, 1})
  eq(c:get("b"), nil)
  eq(c:get("A"), nil, "ids are case sensitive")
  eq(c:get("a "), nil)
end

T["vectors are stored as float32, bit for bit"] = function()
  local c = coll(6)
  local v = {math.pi, -1 / 3, 1e-30, 3.4e18, -2.5e-20, 123456789}
  c:upsert("x", v)
  local got = c:get("x")
  for i = 1, 6 do eq(got[i], H.f32(v[i]), "component " .. i) end
end

T["vectors too long for float distances are refused"] = function()
  local c = coll(3)
  H.raises(function() c:upsert("x", {1e19, 0, 0}) end, "vector is too long")
  H.raises(function() c:search({1e19, 1e19, 0}, 1) end, "query is too long")
  c:upsert("y", {5e18, 5e18, 5e18}) -- 7.5e37: fits below FLT_MAX / 4
  eq(c:count(), 1)
end

T["get returns fresh tables the caller may modify"] = function()
  local c = coll(2)
  c:upsert("a", {1, 2}, {tags = {"x"}})
  local v, m = c:get("a")
  v[1] = 99
  m.tags[1] = "changed"
  m.extra = true
  local v2, m2 = c:get("a")
  eq(v2, {1, 2})
  eq(m2, {tags = {"x"}})
end

T["upsert of an existing id replaces vector and meta"] = function()
  local c = coll(3)
  c:upsert("a", {1, 1, 1}, {k = "old", n = 1})
  c:upsert("b", {2, 2, 2})
  c:upsert("a", {5, 6, 7}, {k = "new"})
  local v, m = c:get("a")
  eq(v, {5, 6, 7})
  eq(m, {k = "new"}, "old fields are gone")
  eq(c:count(), 2)
  -- replacing with no meta clears it
  c:upsert("a", {5, 6, 7})
  v, m = c:get("a")
  eq(m, {})
  -- the same vector with new meta (only the record changes)
  c:upsert("a", {5, 6, 7}, {only = "meta"})
  v, m = c:get("a")
  eq(v, {5, 6, 7})
  eq(m, {only = "meta"})
  -- new vector, same meta
  c:upsert("a", {8, 8, 8}, {only = "meta"})
  v, m = c:get("a")
  eq(v, {8, 8, 8})
  eq(m, {only = "meta"})
  eq(c:count(), 2)
  eq((c:get("b")), {2, 2, 2}, "other records untouched")
  -- search sees the new vector only
  local hits = c:search({8, 8, 8}, {k = 2, exact = true})
  eq(hits[1].id, "a")
  eq(hits[1].distance, 0)
  hits = c:search({1, 1, 1}, 1)
  eq(hits[1].id, "b")
end

T["ids may hold any bytes, up to 1024 of them"] = function()
  local c = coll(2)
  local ids = {"a", "a\0", "\0a", "\0", "a\0b", "\255\254", " ", "\n", "caf\195\169",
               ("x"):rep(1024), ("\0"):rep(1024), ("y"):rep(1023)}
  for i, id in ipairs(ids) do eq(c:upsert(id, {i, 0}), true, "id #" .. i) end
  eq(c:count(), #ids, "all ids are distinct")
  for i, id in ipairs(ids) do eq((c:get(id)), {i, 0}, "id #" .. i) end
  local hits = c:search({2, 0}, {k = #ids, exact = true})
  eq(hits[1].id, "a\0", "ids with NUL come back whole")
  eq(#hits, #ids)
  local seen = {}
  for _, h in ipairs(hits) do seen[h.id] = true end
  for _, id in ipairs(ids) do ok(seen[id], "search returns id " .. H.fmt(id:sub(1, 10))) end
  eq(c:delete("a\0b"), true)
  eq(c:get("a\0b"), nil)
  eq((c:get("a")), {1, 0})
end

T["metadata round-trips every supported type"] = function()
  local c = coll(2)
  local meta = {
    s = "text", empty = "", bin = "a\0b\255", num = 42, neg = -7.25, big = 2 ^ 53,
    tiny = 1e-300, zero = 0, t = true, f = false, tags = {"red", "green", ""},
    none = {}, one = {"x\0y"}, ["key with spaces"] = 1, [("k"):rep(255)] = "long key",
    ["\0nul key"] = "v",
  }
  eq(c:upsert("r", {1, 2}, meta), true)
  local _, m = c:get("r")
  eq(m, meta)
  -- and through search
  local hits = c:search({1, 2}, 1)
  eq(hits[1].meta, meta)
end

T["metadata with many fields"] = function()
  local c = coll(2)
  local meta = {}
  for i = 1, 300 do meta["field" .. i] = (i % 3 == 0) and ("v" .. i) or i end
  c:upsert("r", {1, 2}, meta)
  eq(select(2, c:get("r")), meta)
  -- different records use different keys
  for i = 1, 50 do c:upsert("q" .. i, {i, 0}, {["only" .. i] = i}) end
  for i = 1, 50 do eq(select(2, c:get("q" .. i)), {["only" .. i] = i}) end
end

T["delete: true when it existed, false otherwise; gone at once"] = function()
  local c = coll(2)
  for i = 1, 10 do c:upsert("r" .. i, {i, i}) end
  eq(c:delete("r3"), true)
  eq(c:delete("r3"), false)
  eq(c:delete("never"), false)
  eq(c:count(), 9)
  eq(c:get("r3"), nil)
  for _, h in ipairs(c:search({3, 3}, 10)) do ok(h.id ~= "r3", "deleted id in results") end
  eq(#c:search({3, 3}, 10), 9)
  eq(c:search({3, 3}, 1)[1].distance, 2, "nearest is now at distance 2 (r2 or r4)")
  -- re-insert after delete
  c:upsert("r3", {3, 3}, {back = true})
  eq(c:search({3, 3}, 1)[1].id, "r3")
  eq(select(2, c:get("r3")), {back = true})
end

T["delete then insert reuses slots (info.slots stays bounded)"] = function()
  local c = coll(4)
  local vecs = H.random_vectors(200, 4, 11)
  H.load(c, vecs)
  local i0 = c:info()
  eq(i0.count, 200)
  eq(i0.slots, 200)
  eq(i0.deleted, 0)
  for round = 1, 5 do
    for i = 1, 50 do eq(c:delete("id" .. ((round * 37 + i) % 200 + 1)), true) end
    local i1 = c:info()
    eq(i1.count, 150)
    eq(i1.deleted, i1.slots - 150)
    for i = 1, 50 do c:upsert("round" .. round .. "_" .. i, vecs[i]) end
    local i2 = c:info()
    eq(i2.count, 200, "round " .. round)
    eq(i2.deleted, i2.slots - 200)
    ok(i2.slots < 200 + 64, "slots grow by less than the 64 deletes that free them")
    -- put the deleted ids back under their old names, dropping the new ones
    for i = 1, 50 do c:delete("round" .. round .. "_" .. i) end
    for i = 1, 50 do
      local k = (round * 37 + i) % 200 + 1
      c:upsert("id" .. k, vecs[k])
    end
    ok(c:info().slots < 200 + 64)
  end
  -- the data is still right
  for i = 1, 200 do eq((c:get("id" .. i)), vecs[i], "id" .. i) end
end

T["replacing vectors reuses slots once 64 wait"] = function()
  local c = coll(3)
  for i = 1, 20 do c:upsert("r" .. i, {i, 0, 0}) end
  for round = 1, 3 do
    for i = 1, 20 do c:upsert("r" .. i, {i, round, 0}) end
  end
  local info = c:info()
  eq(info.count, 20)
  ok(info.slots < 20 + 64, "60 replacements, " .. info.slots .. " slots")
  for i = 1, 20 do eq((c:get("r" .. i)), {i, 3, 0}) end
end

T["info: counters, memory and levels"] = function()
  local c = coll(8)
  local empty = c:info()
  eq(empty.count, 0)
  eq(empty.slots, 0)
  eq(empty.levels, 0)
  ok(empty.memory > 0, "memory counts the collection itself")
  H.load(c, H.random_vectors(1000, 8, 5))
  local full = c:info()
  eq(full.count, 1000)
  eq(full.slots, 1000)
  eq(full.deleted, 0)
  ok(full.memory > empty.memory + 1000 * 8 * 4, "memory holds at least the vectors")
  ok(full.levels >= 1 and full.levels <= 16, "levels " .. full.levels)
  ok(full.levels >= 2, "1000 nodes with m=16 have an upper level")
  for i = 1, 10 do c:delete("id" .. i) end
  local after = c:info()
  eq({after.count, after.slots, after.deleted}, {990, 1000, 10})
  eq(c:count(), 990)
  -- info is a fresh table
  after.count = -1
  eq(c:info().count, 990)
end

T["count follows a random sequence of operations (model check)"] = function()
  local c = coll(3, "l2")
  local r = H.rng(99)
  local model = {}
  local n = 0
  for step = 1, 3000 do
    local id = "k" .. r.int(1, 120)
    local op = r.int(1, 10)
    if op <= 5 then
      local v = {H.f32(r.uniform(-5, 5)), H.f32(r.uniform(-5, 5)), H.f32(r.uniform(-5, 5))}
      local meta = (op == 1) and {step = step} or nil
      c:upsert(id, v, meta)
      if not model[id] then n = n + 1 end
      model[id] = {v = v, m = meta or {}}
    elseif op <= 8 then
      local existed = c:delete(id)
      eq(existed, model[id] ~= nil, "delete " .. id .. " at step " .. step)
      if model[id] then n = n - 1 end
      model[id] = nil
    else
      local v, m = c:get(id)
      if model[id] then
        eq(v, model[id].v, "get " .. id .. " at step " .. step)
        eq(m, model[id].m)
      else
        eq(v, nil, "get " .. id .. " at step " .. step)
      end
    end
    if step % 250 == 0 then
      eq(c:count(), n, "count at step " .. step)
      ok(c:info().slots < 120 + 64, "slots stay bounded by distinct ids")
      local q = {r.uniform(-5, 5), r.uniform(-5, 5), r.uniform(-5, 5)}
      local want = {}
      for id, rec in pairs(model) do want[id] = rec.v end
      H.same_hits(c:search(q, {k = 10, exact = true}), H.brute("l2", want, q, 10), 1e-4,
                  "search at step " .. step)
    end
  end
  for id, rec in pairs(model) do eq((c:get(id)), rec.v, id) end
end

T["dim 1 and a large dim work end to end"] = function()
  local c1 = coll(1)
  for i = 1, 600 do c1:upsert("p" .. i, {i}) end
  eq(c1:search({300.2}, 3)[1].id, "p300")
  eq(#c1:search({0}, {k = 5, exact = true}), 5)
  local big = coll(4096)
  local vecs = H.random_vectors(20, 4096, 9)
  for i, v in ipairs(vecs) do big:upsert("v" .. i, v) end
  eq((big:get("v7")), vecs[7])
  local h = big:search(vecs[13], 2)
  eq(h[1].id, "v13")
  eq(h[1].distance, 0)
end

T["tostring, name and dim of collections"] = function()
  local c, db = coll(17, "cosine", "my coll")
  eq(tostring(c), "omen.collection(my coll)")
  eq(c:name(), "my coll")
  eq(c:dim(), 17)
  eq(math.floor(c:dim()), 17)
  local c2 = db:collection("my coll")
  eq(tostring(c2), "omen.collection(my coll)")
end

T["list and each: every live record once, in pages, with what is asked"] = function()
  local c = coll(2)
  for i = 1, 2500 do c:upsert("k" .. i, {i, -i}, {n = i}) end
  for i = 10, 2500, 10 do c:delete("k" .. i) end
  c:upsert("k3", {3, 33}, {n = 3, again = true}) -- replaced
  local seen, n = {}, 0
  for id, vec, meta in c:each({page = 77}) do
    n = n + 1
    eq(seen[id], nil, "listed once: " .. id)
    seen[id] = true
    local i = tonumber(id:sub(2))
    eq({vec[1], meta.n}, {i, i})
  end
  eq(n, 2250)
  eq(n, c:count())
  eq(seen.k10, nil, "deleted records are not listed")
  local hits, cursor = c:list(0, 5, {with_meta = false, with_vectors = false})
  eq(#hits, 5)
  eq({hits[1].vector, hits[1].meta, hits[1].distance}, {nil, nil, nil})
  eq(type(hits[1].id), "string")
  local total = #hits
  while cursor do
    hits, cursor = c:list(cursor, 1000)
    total = total + #hits
  end
  eq(total, 2250)
  local empty = coll(3)
  eq({empty:list()}, {{}, nil})
  for _ in empty:each() do error("an empty collection lists nothing") end
  H.raises(function() c:list(-1) end, "cursor must be a non%-negative integer")
  H.raises(function() c:list(0, 0) end, "n must be an integer")
  H.raises(function() c:list(0, 10, {bogus = 1}) end, "unknown list option 'bogus'")
end

return T
