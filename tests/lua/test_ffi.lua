-- FFI float buffers as vectors: read in place, checked for size and type.
local ffi = require("ffi")
local H = require("helpers")
local eq, ok, raises = H.eq, H.ok, H.raises

local T = {}

local function coll(dim, metric)
  local db = omen.open()
  return db:create_collection("f", {dim = dim or 4, metric = metric}), db
end

T["upsert accepts float[n], float[?], float * and const float *"] = function()
  local c = coll(4)
  eq(c:upsert("fixed", ffi.new("float[4]", 1, 2, 3, 4)), true)
  eq(c:upsert("vla", ffi.new("float[?]", 4, {5, 6, 7, 8})), true)
  local buf = ffi.new("float[4]", 9, 10, 11, 12)
  eq(c:upsert("ptr", ffi.cast("float *", buf)), true)
  eq(c:upsert("cptr", ffi.cast("const float *", buf)), true)
  eq(c:upsert("zeroed", ffi.new("float[4]")), true)
  local ct = ffi.typeof("float[4]")
  eq(c:upsert("ctype", ct(-1, -2, -3, -4)), true)
  eq((c:get("fixed")), {1, 2, 3, 4})
  eq((c:get("vla")), {5, 6, 7, 8})
  eq((c:get("ptr")), {9, 10, 11, 12})
  eq((c:get("cptr")), {9, 10, 11, 12})
  eq((c:get("zeroed")), {0, 0, 0, 0})
  eq((c:get("ctype")), {-1, -2, -3, -4})
  eq(c:count(), 6)
end

T["a pointer is read in place at its offset"] = function()
  local c = coll(3)
  local big = ffi.new("float[12]")
  for i = 0, 11 do big[i] = i * 1.5 end
  local p = ffi.cast("float *", big)
  for r = 0, 3 do eq(c:upsert("row" .. r, p + r * 3), true) end
  for r = 0, 3 do eq((c:get("row" .. r)), {r * 4.5, r * 4.5 + 1.5, r * 4.5 + 3}) end
  local hits = c:search(p + 6, 1)
  eq(hits[1].id, "row2")
  eq(hits[1].distance, 0)
end

T["the stored vector is a copy: later writes to the buffer do not change it"] = function()
  local c = coll(2)
  local buf = ffi.new("float[2]", 1, 2)
  c:upsert("a", buf)
  buf[0], buf[1] = 100, 200
  eq((c:get("a")), {1, 2})
  local hits = c:search({1, 2}, 1)
  eq(hits[1].distance, 0)
  c:upsert("b", buf)
  eq((c:get("b")), {100, 200})
end

T["search takes FFI queries with the same results as tables"] = function()
  local dim = 8
  local c = coll(dim)
  local vecs = H.random_vectors(700, dim, 71)
  H.load(c, vecs)
  for i, q in ipairs(H.random_vectors(10, dim, 72)) do
    local want = c:search(q, 15)
    local arr = ffi.new("float[?]", dim)
    for j = 1, dim do arr[j - 1] = q[j] end
    eq(c:search(arr, 15), want, "float[?] query " .. i)
    eq(c:search(ffi.cast("float *", arr), 15), want, "float * query " .. i)
    eq(c:search(ffi.cast("const float *", arr), {k = 15}), want, "const float * query " .. i)
    local fixed = ffi.new("float[8]")
    ffi.copy(fixed, arr, dim * 4)
    eq(c:search(fixed, {k = 15, exact = true}), c:search(q, {k = 15, exact = true}))
  end
end

T["FFI arrays of the wrong size raise 'wrong dimension' and store nothing"] = function()
  local c = coll(4)
  c:upsert("keep", {1, 1, 1, 1})
  for _, bad in ipairs({ffi.new("float[3]"), ffi.new("float[5]"), ffi.new("float[?]", 3),
                        ffi.new("float[?]", 8), ffi.new("float[1]")}) do
    raises(function() c:upsert("x", bad) end, "wrong dimension")
    raises(function() c:search(bad, 1) end, "wrong dimension")
  end
  local msg = raises(function() c:upsert("x", ffi.new("float[3]")) end, "wrong dimension")
  ok(msg:find("4") and msg:find("3"), "message names expected and given sizes: " .. msg)
  eq(c:count(), 1)
  eq(c:get("x"), nil)
end

T["other cdata types raise and store nothing"] = function()
  local c = coll(4)
  local bad = {
    ffi.new("double[4]", 1, 2, 3, 4),
    ffi.new("int32_t[4]", 1, 2, 3, 4),
    ffi.new("uint8_t[16]"),
    ffi.new("double *"),
    ffi.cast("double *", ffi.new("double[4]")),
    ffi.new("struct { float v[4]; }"),
    ffi.cast("void *", ffi.new("float[4]")),
    ffi.new("int64_t", 5),
    ffi.new("float", 1),
    ffi.new("float *[4]"),
    ffi.cast("float **", ffi.new("float *[4]")),
  }
  for i, v in ipairs(bad) do
    raises(function() c:upsert("x" .. i, v) end, nil, "upsert cdata #" .. i)
    raises(function() c:search(v, 1) end, nil, "search cdata #" .. i)
    raises(function() c:upsert_batch({"y" .. i}, v) end, nil, "batch cdata #" .. i)
    raises(function() c:upsert_batch({"z" .. i}, {v}) end, nil, "batch item cdata #" .. i)
  end
  raises(function() c:upsert("d", ffi.new("double[4]")) end, "float")
  eq(c:count(), 0)
end

T["NaN and infinite components in FFI buffers raise"] = function()
  local c = coll(3)
  local nan = ffi.new("float[3]", 1, 0 / 0, 3)
  raises(function() c:upsert("x", nan) end, "component 2 is NaN")
  raises(function() c:search(nan, 1) end, "component 2 is NaN")
  local inf = ffi.new("float[3]", 1, 2, -1 / 0)
  raises(function() c:upsert("x", inf) end, "component 3 is infinite")
  raises(function() c:upsert("x", ffi.cast("float *", inf)) end, "infinite")
  raises(function() c:upsert_batch({"a", "b"}, ffi.new("float[6]", 1, 2, 3, 4, 0 / 0, 6)) end,
         "NaN")
  eq(c:count(), 0)
end

T["cosine zero vectors in FFI buffers raise"] = function()
  local c = coll(3, "cosine")
  raises(function() c:upsert("z", ffi.new("float[3]")) end, "zero")
  c:upsert("a", ffi.new("float[3]", 1, 0, 0))
  raises(function() c:search(ffi.new("float[3]"), 1) end, "zero")
  eq(c:count(), 1)
end

T["a NULL float pointer raises instead of crashing"] = function()
  -- in a child process: a crash here must fail one test, not the suite
  H.child_ok([[
    local ffi = require("ffi")
    local db = omen.open()
    local c = db:create_collection("f", {dim = 3})
    local null = ffi.cast("float *", nil)
    assert(not pcall(c.upsert, c, "x", null), "upsert NULL")
    assert(not pcall(c.search, c, null, 1), "search NULL")
    assert(not pcall(c.upsert_batch, c, {"a"}, null), "batch NULL")
    assert(c:count() == 0)
    print("child done")
  ]], "child done")
end

T["upsert_batch takes one flat float buffer of #ids * dim"] = function()
  local dim = 5
  local c = coll(dim)
  local vecs = H.random_vectors(300, dim, 81)
  local ids = H.ids(300)
  local flat = H.flat(vecs, dim)
  eq(c:upsert_batch(ids, flat), 300)
  eq(c:count(), 300)
  for i = 1, 300, 17 do eq((c:get(ids[i])), vecs[i], ids[i]) end
  -- as a pointer, with metas
  local metas = {}
  for i = 1, 300 do metas[i] = {i = i} end
  local ids2 = H.ids(300, "p")
  eq(c:upsert_batch(ids2, ffi.cast("float *", flat), metas), 300)
  for i = 1, 300, 23 do
    local v, m = c:get(ids2[i])
    eq(v, vecs[i])
    eq(m, {i = i})
  end
  -- a fixed-size array of exactly the right size
  eq(c:upsert_batch({"f1", "f2"}, ffi.new("float[10]", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)), 2)
  eq((c:get("f2")), {6, 7, 8, 9, 10})
  eq(c:count(), 602)
end

T["upsert_batch rejects a flat buffer of the wrong size and stores nothing"] = function()
  local c = coll(4)
  raises(function() c:upsert_batch({"a", "b"}, ffi.new("float[7]")) end, "wrong dimension")
  raises(function() c:upsert_batch({"a", "b"}, ffi.new("float[9]")) end, "wrong dimension")
  raises(function() c:upsert_batch({"a", "b"}, ffi.new("float[4]")) end, "wrong dimension")
  raises(function() c:upsert_batch({"a", "b"}, ffi.new("double[8]")) end, "float")
  eq(c:count(), 0)
end

T["upsert_batch takes a table of FFI vectors, also mixed with tables"] = function()
  local c = coll(3)
  local a = ffi.new("float[3]", 1, 2, 3)
  local b = ffi.new("float[?]", 3, {4, 5, 6})
  local buf = ffi.new("float[6]", 7, 8, 9, 10, 11, 12)
  local p = ffi.cast("float *", buf)
  eq(c:upsert_batch({"a", "b", "t", "p1", "p2"}, {a, b, {0, 0, 1}, p, p + 3}), 5)
  eq((c:get("a")), {1, 2, 3})
  eq((c:get("b")), {4, 5, 6})
  eq((c:get("t")), {0, 0, 1})
  eq((c:get("p1")), {7, 8, 9})
  eq((c:get("p2")), {10, 11, 12})
  -- a wrong-sized member anywhere fails the whole batch
  raises(function()
    c:upsert_batch({"x", "y", "z"}, {{1, 1, 1}, ffi.new("float[3]"), ffi.new("float[4]")})
  end, "wrong dimension")
  raises(function()
    c:upsert_batch({"x", "y"}, {ffi.new("float[2]"), {1, 1, 1}})
  end, "wrong dimension")
  eq(c:count(), 5)
  eq(c:get("x"), nil)
end

-- Every method that takes vectors refuses any cdata that is not a float
-- array or pointer of the right size, alone or inside a table: a float[3]
-- inside search_batch's table once went through unchecked and crashed.
T["cdata of the wrong kind or size raise in every call that takes vectors"] = function()
  local c = coll(3)
  c:upsert("keep", {1, 2, 3})
  local bad = {
    {ffi.new("double[3]", 1, 2, 3), "must be a float array or pointer"},
    {ffi.new("struct { float a, b, c; }"), "must be a float array or pointer"},
    {ffi.new("int32_t[3]"), "must be a float array or pointer"},
    {ffi.new("float[2]"), "wrong dimension"},
    {ffi.new("float[4]"), "wrong dimension"},
    {ffi.cast("float *", nil), "NULL pointer"},
  }
  for _, b in ipairs(bad) do
    local v, want = b[1], b[2]
    local what = tostring(ffi.typeof(v))
    raises(function() c:upsert("x", v) end, want, "upsert " .. what)
    raises(function() c:search(v, 1) end, want, "search " .. what)
    raises(function() c:search(v, {k = 1, where = function() return true end}) end, want,
           "hooked search " .. what)
    raises(function() c:upsert_batch({"x", "y"}, {{1, 2, 3}, v}) end, want,
           "upsert_batch item " .. what)
    raises(function() c:search_batch({{1, 2, 3}, v}, 1) end, want, "search_batch item " .. what)
  end
  -- a table item names its record, or its query
  raises(function() c:upsert_batch({"x", "y"}, {{1, 2, 3}, ffi.new("double[3]")}) end,
         "record 2 %(id 'y'%): vector must be")
  raises(function() c:search_batch({{1, 2, 3}, ffi.new("float[2]")}, 1) end,
         "wrong dimension for query 2")
  eq(c:count(), 1)
  eq((c:get("keep")), {1, 2, 3})
  -- right ones still work, inside tables too
  local q = ffi.new("float[3]", 1, 2, 3)
  eq(#c:search_batch({q, {1, 2, 3}}, 1), 2)
  eq(c:search_batch({q}, 1)[1][1].id, "keep")
end

T["search_batch with a buffer: n and the buffer must agree"] = function()
  local c = coll(4)
  c:upsert("a", {1, 2, 3, 4})
  raises(function() c:search_batch(ffi.new("float[4]"), {n = 2}) end,
         "queries: n = 2 needs 8 floats, the array holds 4")
  raises(function() c:search_batch(ffi.new("float[6]"), 1) end,
         "6 floats are not whole vectors of 4")
  raises(function() c:search_batch(ffi.cast("float *", nil), {n = 2}) end,
         "queries is a NULL pointer")
  raises(function() c:search_batch(ffi.cast("float *", ffi.new("float[4]"))) end,
         "need opts.n")
  raises(function() c:search_batch({{1, 2, 3, 4}}, {n = 1}) end,
         "n goes with a float buffer")
  raises(function() c:search_batch(ffi.new("float[8]"), {n = 1.5}) end, "whole number")
  eq(#c:search_batch(ffi.new("float[8]"), {k = 1, n = 1}), 1) -- fewer than it holds
  eq(#c:search_batch(ffi.cast("float *", nil), {k = 1, n = 0}), 0)
end

return T
