-- upsert_batch: results, duplicates, atomicity, threads.
local H = require("helpers")
local eq, ok, raises = H.eq, H.ok, H.raises

local T = {}

local function coll(dim, metric)
  local db = omen.open()
  return db:create_collection("b", {dim = dim or 3, metric = metric}), db
end

T["returns #ids and stores every record with its meta"] = function()
  local c = coll(3)
  local ids = {"a", "b", "c", "d"}
  local vecs = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}}
  local metas = {{n = 1}, {s = "two"}, {}, {tags = {"x", "y"}, t = true}}
  eq(c:upsert_batch(ids, vecs, metas), 4)
  eq(c:count(), 4)
  for i, id in ipairs(ids) do
    local v, m = c:get(id)
    eq(v, vecs[i], id)
    eq(m, metas[i], id)
  end
  -- without metas, with a nil metas, with opts
  eq(c:upsert_batch({"e", "f"}, {{2, 0, 0}, {0, 2, 0}}), 2)
  eq(c:upsert_batch({"g"}, {{3, 3, 3}}, nil, {threads = 1}), 1)
  eq(select(2, c:get("e")), {})
  eq(c:count(), 7)
end

T["metas may have holes"] = function()
  local c = coll(2)
  local metas = {}
  metas[2] = {only = "second"}
  metas[4] = {only = "fourth"}
  eq(c:upsert_batch({"a", "b", "c", "d"}, {{1, 1}, {2, 2}, {3, 3}, {4, 4}}, metas), 4)
  eq(select(2, c:get("a")), {})
  eq(select(2, c:get("b")), {only = "second"})
  eq(select(2, c:get("c")), {})
  eq(select(2, c:get("d")), {only = "fourth"})
end

T["an empty batch returns 0 and changes nothing"] = function()
  local c = coll(2)
  c:upsert("a", {1, 1})
  eq(c:upsert_batch({}, {}), 0)
  eq(c:upsert_batch({}, {}, {}), 0)
  eq(c:count(), 1)
end

T["a repeated id: the later record wins"] = function()
  local c = coll(2)
  c:upsert("old", {9, 9}, {was = "here"})
  local n = c:upsert_batch({"a", "b", "a", "old", "a", "old"},
                           {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {9, 9}},
                           {{v = 1}, {v = 2}, {v = 3}, {v = 4}, {v = 5}, false})
  eq(n, 6)
  eq(c:count(), 3)
  local v, m = c:get("a")
  eq(v, {5, 5})
  eq(m, {v = 5})
  v, m = c:get("old")
  eq(v, {9, 9})
  eq(m, {}, "the last 'old' has no meta")
  eq(#c:search({5, 5}, 10), 3)
  for _, h in ipairs(c:search({3, 3}, {k = 10, exact = true})) do
    ok(h.id == "a" or h.id == "b" or h.id == "old", "unexpected id " .. h.id)
  end
  eq(c:info().slots <= 4, true, "superseded records do not keep slots")
end

T["replacing existing ids in a batch: same vector, new vector, new meta"] = function()
  local c = coll(2)
  c:upsert_batch({"a", "b", "c"}, {{1, 1}, {2, 2}, {3, 3}}, {{m = 1}, {m = 2}, {m = 3}})
  local slots = c:info().slots
  c:upsert_batch({"a", "b", "c"}, {{1, 1}, {20, 20}, {3, 3}}, {{m = 10}, {m = 2}, false})
  eq(c:count(), 3)
  eq({c:get("a")}, {{1, 1}, {m = 10}})
  eq({c:get("b")}, {{20, 20}, {m = 2}})
  eq({c:get("c")}, {{3, 3}, {}})
  -- the replaced vector takes a new slot; the old one waits to be reused
  -- until 64 deleted slots have piled up
  eq(c:info().slots, slots + 1, "a replaced vector takes one new slot")
  eq(c:search({20, 20}, 1)[1].id, "b")
  local near2 = c:search({2, 2}, 1)[1]
  ok(near2.id ~= "b", "b moved away from {2, 2}")
  eq(near2.distance, 2)
end

T["atomic: an invalid record anywhere stores nothing"] = function()
  local c = coll(3)
  c:upsert("keep", {7, 7, 7}, {k = 1})
  local good = {{1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {4, 4, 4}}
  local ids = {"n1", "n2", "keep", "n4"}
  local cases = {
    {"NaN", function(v) v[3] = {1, 0 / 0, 1} end, nil, "NaN"},
    {"inf", function(v) v[4] = {1, 1, math.huge} end, nil, "infinite"},
    {"wrong dim", function(v) v[2] = {1, 1} end, nil, "wrong dimension"},
    {"non-number", function(v) v[1] = {1, "x", 1} end, nil, "not a number"},
    {"bad meta NaN", nil, {nil, nil, {x = 0 / 0}, false}, "NaN"},
    {"bad meta nested", nil, {{a = {b = 1}}, nil, nil, false}, "array of strings"},
    {"bad meta key", nil, {nil, nil, nil, {[1] = 1}}, "keys must be strings"},
    {"bad meta function", nil, {nil, {f = print}, nil, false}, "unsupported"},
    {"metas cut short", nil, {{a = 1}, {a = 2}}, "got 4 ids but metas up to %[2%]"},
    {"metas too long", nil, {false, false, false, false, {a = 5}}, "up to %[5%]"},
    {"metas not an array", nil, {false, false, false, false, x = 1}, "must be an array"},
  }
  for _, case in ipairs(cases) do
    local vecs = {}
    for i = 1, 4 do vecs[i] = good[i] end
    if case[2] then case[2](vecs) end
    raises(function() c:upsert_batch(ids, vecs, case[3]) end, case[4], case[1])
    eq(c:count(), 1, case[1])
    eq(c:get("n1"), nil, case[1])
    eq(c:get("n4"), nil, case[1])
    eq({c:get("keep")}, {{7, 7, 7}, {k = 1}}, case[1] .. ": existing record unchanged")
    eq(c:info().slots, 1, case[1])
  end
  -- bad ids
  raises(function() c:upsert_batch({"n1", ""}, {good[1], good[2]}) end, "empty")
  raises(function() c:upsert_batch({"n1", 5}, {good[1], good[2]}) end, "must be a string")
  raises(function() c:upsert_batch({"n1", ("x"):rep(1025)}, {good[1], good[2]}) end, "1025")
  eq(c:count(), 1)
end

T["atomic: a late invalid record in a large batch stores nothing"] = function()
  local c = coll(8)
  H.load(c, H.random_vectors(100, 8, 5), "pre")
  local vecs = H.random_vectors(2000, 8, 6)
  vecs[1999] = {1, 2, 3, 4, 5, 6, 7, 0 / 0}
  local err = raises(function() c:upsert_batch(H.ids(2000), vecs, nil, {threads = 2}) end,
                     "component 8 is NaN")
  ok(err:find("1999"), "the message names the record: " .. err)
  eq(c:count(), 100)
  eq(c:info().slots, 100)
  eq(c:get("id1"), nil)
  eq(c:get("id2000"), nil)
  eq(#c:search(vecs[1], 200), 100)
end

T["errors in arguments raise"] = function()
  local c = coll(2)
  raises(function() c:upsert_batch("a", {{1, 1}}) end, "ids")
  raises(function() c:upsert_batch(nil, {{1, 1}}) end, "ids")
  raises(function() c:upsert_batch({"a"}, nil) end, "vectors")
  raises(function() c:upsert_batch({"a"}, "v") end, "vectors")
  raises(function() c:upsert_batch({"a", "b"}, {{1, 1}}) end, "2 ids but 1 vectors")
  raises(function() c:upsert_batch({"a"}, {{1, 1}, {2, 2}}) end, "1 ids but 2 vectors")
  raises(function() c:upsert_batch({"a"}, {{1, 1}}, "meta") end, "table expected")
  raises(function() c:upsert_batch({"a"}, {{1, 1}}, {"meta"}) end, "meta must be a table")
  raises(function() c:upsert_batch({"a"}, {{1, 1}}, nil, {threads = -1}) end, "threads")
  raises(function() c:upsert_batch({"a"}, {{1, 1}}, nil, {threads = 1.5}) end, "threads")
  raises(function() c:upsert_batch({"a"}, {{1, 1}}, nil, {threads = 1025}) end, "threads")
  raises(function() c:upsert_batch({"a"}, {{1, 1}}, nil, {thread = 2}) end,
         "unknown upsert_batch option 'thread'")
  raises(function() c:upsert_batch({"a"}, {{1, 1}}, nil, 4) end, "table expected")
  eq(c:count(), 0)
end

T["threads: 0, 1, 2 and many give the same records and exact results"] = function()
  local dim = 12
  local vecs = H.random_vectors(2500, dim, 91)
  local metas = {}
  for i = 1, #vecs do metas[i] = {i = i, s = "m" .. i} end
  local queries = H.random_vectors(10, dim, 92)
  local results
  for _, threads in ipairs({0, 1, 2, 7, 1024}) do
    local c = coll(dim)
    eq(c:upsert_batch(H.ids(#vecs), vecs, metas, {threads = threads}), #vecs)
    eq(c:count(), #vecs)
    for i = 1, #vecs, 97 do eq({c:get("id" .. i)}, {vecs[i], metas[i]}, "threads=" .. threads) end
    local got = {}
    for qi, q in ipairs(queries) do got[qi] = c:search(q, {k = 10, exact = true}) end
    if results then eq(got, results, "threads=" .. threads) else results = got end
    -- the graph answers well too
    local r = H.recall(c, H.random_vectors(30, dim, 93), 10)
    ok(r >= 0.95, "recall@10 " .. r .. " with threads=" .. threads)
  end
end

T["batches after single upserts, and many small batches"] = function()
  local dim = 6
  local c = coll(dim)
  local vecs = H.random_vectors(1500, dim, 93)
  for i = 1, 100 do c:upsert("id" .. i, vecs[i]) end
  local i = 101
  while i <= 1500 do
    local ids, vs = {}, {}
    for j = i, math.min(i + 36, 1500) do ids[#ids + 1] = "id" .. j; vs[#vs + 1] = vecs[j] end
    eq(c:upsert_batch(ids, vs), #ids)
    i = i + #ids
  end
  eq(c:count(), 1500)
  local recs = {}
  for j, v in ipairs(vecs) do recs[j] = {id = "id" .. j, vec = v} end
  for qi, q in ipairs(H.random_vectors(5, dim, 94)) do
    H.same_hits(c:search(q, {k = 10, exact = true}), H.brute("l2", recs, q, 10), 1e-4,
                "query " .. qi)
  end
  ok(H.recall(c, H.random_vectors(30, dim, 95), 10) >= 0.95, "recall")
end

return T
