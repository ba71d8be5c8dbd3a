-- Search hooks: `where`, a Lua predicate on candidates, and `rerank`, which
-- reorders a larger candidate list; with and without filters, their
-- errors, and their argument checks.
local ffi = require("ffi")
local H = require("helpers")
local eq, ok, raises = H.eq, H.ok, H.raises

local T = {}

-- A collection of n random records (dim 8) with metadata; returns the
-- collection, the records ({id, vec, meta}) and a map id -> record.
local function setup(n, seed, name)
  local dim = 8
  local db = omen.open()
  local c = db:create_collection(name or "h", {dim = dim})
  local vecs = H.random_vectors(n, dim, seed or 1)
  local ids, metas, recs, by_id = {}, {}, {}, {}
  for i = 1, n do
    ids[i] = "id" .. i
    metas[i] = {i = i, g = i % 7, tags = {"t" .. i % 3}, even = i % 2 == 0}
    recs[i] = {id = ids[i], vec = vecs[i], meta = metas[i]}
    by_id[ids[i]] = recs[i]
  end
  c:upsert_batch(ids, vecs, metas)
  return c, recs, by_id, db
end

local function select_recs(recs, pred)
  local out = {}
  for _, r in ipairs(recs) do
    if pred(r.id, r.meta) then out[#out + 1] = r end
  end
  return out
end

local function ids_of(hits)
  local out = {}
  for i, h in ipairs(hits) do out[i] = h.id end
  return out
end

-- Every hit passes pred, no id repeats, closest first, min(k, n_pass) hits.
local function check_shape(hits, by_id, pred, k, n_pass, label)
  eq(#hits, math.min(k, n_pass), label .. ": number of hits")
  local seen = {}
  for i, h in ipairs(hits) do
    ok(not seen[h.id], label .. ": duplicate " .. h.id)
    seen[h.id] = true
    ok(pred(h.id, by_id[h.id].meta), label .. ": " .. h.id .. " does not pass")
    if i > 1 then ok(h.distance >= hits[i - 1].distance, label .. ": sorted at " .. i) end
  end
end

-- -- where -------------------------------------------------------------------------------

T["where: the k closest records it accepts, against brute force"] = function()
  local c, recs, by_id = setup(3000, 11)
  local preds = {
    {"half", function(_, m) return m.even end},
    {"a seventh", function(_, m) return m.g == 3 end},
    {"by id", function(id) return id:sub(-1) == "7" end},
    {"0.2%", function(_, m) return m.i % 500 == 0 end},  -- 6 records: fewer than k
    {"one", function(id) return id == "id1234" end},
    {"none", function() return false end},
    {"all", function() return true end},
    {"truthy values", function(_, m) return m.g == 1 and m.i or nil end},
  }
  local queries = H.random_vectors(5, 8, 12)
  for _, p in ipairs(preds) do
    local name, pred = p[1], p[2]
    local pass = select_recs(recs, pred)
    for qi, q in ipairs(queries) do
      for _, k in ipairs({1, 10, 37}) do
        local label = string.format("%s, query %d, k=%d", name, qi, k)
        local exact = c:search(q, {k = k, exact = true, where = pred})
        check_shape(exact, by_id, pred, k, #pass, label .. " exact")
        H.same_hits(exact, H.brute("l2", pass, q, k), 1e-4, label .. " exact")
        local graph = c:search(q, {k = k, where = pred})
        check_shape(graph, by_id, pred, k, #pass, label .. " graph")
      end
    end
  end
end

T["where: graph search finds the true nearest accepted records (recall)"] = function()
  local data, queries = H.clustered(6000, 16, 15, 77, 40)
  local db = omen.open()
  local c = db:create_collection("w", {dim = 16})
  local metas, recs = {}, {}
  for i = 1, #data do
    metas[i] = {b = (i - 1) % 100}
    recs[i] = {id = "id" .. i, vec = data[i], meta = metas[i]}
  end
  H.load(c, data, "id", metas)
  for _, lim in ipairs({50, 10, 1}) do
    local pred = function(_, m) return m.b < lim end
    local pass = select_recs(recs, pred)
    local found, total = 0, 0
    for _, q in ipairs(queries) do
      local hits = c:search(q, {k = 10, where = pred})
      eq(#hits, 10)
      local want = {}
      for _, h in ipairs(H.brute("l2", pass, q, 10)) do want[h.id] = true end
      for _, h in ipairs(hits) do
        ok(pred(h.id, metas[tonumber(h.id:sub(3))]), "passes")
        if want[h.id] then found = found + 1 end
      end
      total = total + 10
    end
    ok(found / total >= 0.95, string.format("recall@10 %.3f with where b < %d",
                                            found / total, lim))
  end
  db:close()
end

T["where: rejecting the nearest records makes the search fetch further"] = function()
  local c, recs = setup(2000, 21)
  local q = H.random_vectors(1, 8, 22)[1]
  local order = H.brute("l2", recs, q, 2000)
  for _, skip in ipairs({0, 9, 10, 30, 200, 1995, 2000}) do
    -- reject exactly the `skip` nearest records
    local rejected = {}
    for i = 1, skip do rejected[order[i].id] = true end
    local want = {}
    for i = skip + 1, math.min(skip + 10, 2000) do want[#want + 1] = order[i] end
    local where = function(id) return not rejected[id] end
    local hits = c:search(q, {k = 10, exact = true, where = where})
    H.same_hits(hits, want, 1e-4, "skip " .. skip .. " exact")
    -- the graph (built by several threads, so not reproducible): right size,
    -- nothing rejected, and nearly the true answer
    hits = c:search(q, {k = 10, where = where})
    eq(#hits, #want, "skip " .. skip .. " graph")
    local good = {}
    for _, h in ipairs(want) do good[h.id] = true end
    local found = 0
    for _, h in ipairs(hits) do
      ok(not rejected[h.id], "skip " .. skip .. ": rejected " .. h.id .. " returned")
      if good[h.id] then found = found + 1 end
    end
    ok(found >= #want - 1, "skip " .. skip .. ": graph found " .. found .. " of " .. #want)
  end
end

T["where gets each candidate's id and metadata, also with with_meta = false"] = function()
  local c, _, by_id = setup(500, 31)
  local q = H.random_vectors(1, 8, 32)[1]
  local calls = 0
  local hits = c:search(q, {k = 5, with_meta = false, with_vectors = true,
                            where = function(id, meta)
    calls = calls + 1
    eq(type(id), "string")
    eq(meta, by_id[id].meta, "the record's metadata")
    return meta.g ~= 0
  end})
  ok(calls >= 5, "called for every hit at least")
  eq(#hits, 5)
  for _, h in ipairs(hits) do
    eq(h.meta, nil, "with_meta = false leaves meta out of the result")
    eq(h.vector, by_id[h.id].vec, "with_vectors still applies")
    ok(by_id[h.id].meta.g ~= 0)
  end
  -- records without metadata give an empty table
  c:upsert("bare", q)
  local seen
  c:search(q, {k = 1, where = function(id, meta)
    if id == "bare" then seen = meta end
    return true
  end})
  eq(seen, {})
  -- where sees nothing a filter excludes
  c:search(q, {k = 20, filter = {g = 2}, where = function(id, meta)
    eq(meta.g, 2, "where called for " .. id .. ", which the filter excludes")
    return true
  end})
end

T["where combines with filter: brute force of both"] = function()
  local c, recs, by_id = setup(3000, 41)
  local cases = {
    {{g = {["$lt"] = 4}}, function(_, m) return m.even end},
    {{tags = {["$contains"] = "t1"}}, function(id) return #id == 5 end},
    {{g = 6}, function(_, m) return m.i % 10 == 3 end},       -- 43 pass both
    {{g = 6}, function(_, m) return m.i % 100 == 13 end},     -- fewer than k
    {{even = true}, function(_, m) return not m.even end},    -- none
    {{g = {["$in"] = {}}}, function() return true end},       -- filter: none
  }
  local filter_ok = {
    function(m) return m.g < 4 end,
    function(m) return m.tags[1] == "t1" end,
    function(m) return m.g == 6 end,
    function(m) return m.g == 6 end,
    function(m) return m.even end,
    function() return false end,
  }
  local queries = H.random_vectors(5, 8, 42)
  for ci, case in ipairs(cases) do
    local F, where = case[1], case[2]
    local both = function(id, m) return filter_ok[ci](m) and where(id, m) end
    local pass = select_recs(recs, both)
    for qi, q in ipairs(queries) do
      for _, k in ipairs({1, 10, 40}) do
        local label = string.format("case %d query %d k=%d", ci, qi, k)
        local exact = c:search(q, {k = k, exact = true, filter = F, where = where})
        check_shape(exact, by_id, both, k, #pass, label .. " exact")
        H.same_hits(exact, H.brute("l2", pass, q, k), 1e-4, label)
        local graph = c:search(q, {k = k, filter = F, where = where})
        check_shape(graph, by_id, both, k, #pass, label .. " graph")
      end
    end
  end
end

-- -- rerank ------------------------------------------------------------------------------

T["rerank gets 4*k candidates (or `candidates`) with id, distance and meta, and the query"] = function()
  local c, recs, by_id = setup(1000, 51)
  local q = H.random_vectors(1, 8, 52)[1]
  for _, case in ipairs({{10, nil, 40}, {3, nil, 12}, {5, 25, 25}, {5, 5, 5},
                         {5, 2, 2}, {300, nil, 1000}, {10, 5000, 1000}}) do
    local k, cand, n_expected = case[1], case[2], case[3]
    local label = "k=" .. k .. " candidates=" .. tostring(cand)
    local got, got_q, calls
    local hits = c:search(q, {k = k, candidates = cand, exact = true, rerank = function(h, query)
      calls = (calls or 0) + 1
      got, got_q = h, query
      return h
    end})
    eq(calls, 1, label .. ": rerank runs once")
    eq(got_q, q, label .. ": the query")
    eq(#got, n_expected, label .. ": candidates")
    H.same_hits(got, H.brute("l2", recs, q, n_expected), 1e-4, label .. ": the nearest")
    for _, h in ipairs(got) do
      eq(h.meta, by_id[h.id].meta, label .. ": meta of " .. h.id)
      eq(h.vector, nil, label .. ": no vector unless asked")
      eq(type(h.distance), "number")
    end
    -- returned as it came: the first k
    eq(#hits, math.min(k, n_expected), label .. ": hits")
    for i = 1, #hits do eq(hits[i].id, got[i].id, label .. ": hit " .. i) end
  end
end

T["rerank decides the order and the search returns its first k"] = function()
  local c, recs, by_id = setup(800, 61)
  local q = H.random_vectors(1, 8, 62)[1]
  local near40 = H.brute("l2", recs, q, 40)
  -- reversed: the farthest of the 40 candidates come first
  local hits = c:search(q, {k = 10, exact = true, rerank = function(h)
    local out = {}
    for i = #h, 1, -1 do out[#out + 1] = h[i] end
    return out
  end})
  eq(#hits, 10)
  for i = 1, 10 do eq(hits[i].id, near40[41 - i].id, "reversed, hit " .. i) end
  -- a score of the rerank's own, kept on the hits it returns
  hits = c:search(q, {k = 7, rerank = function(h)
    for _, x in ipairs(h) do x.score = by_id[x.id].meta.i end
    table.sort(h, function(a, b) return a.score > b.score end)
    return h
  end})
  eq(#hits, 7)
  for i = 2, 7 do ok(hits[i - 1].score > hits[i].score, "rerank order kept at " .. i) end
  -- fewer than k returned: that many; an empty list: none
  hits = c:search(q, {k = 10, exact = true, rerank = function(h) return {h[3], h[1]} end})
  eq(ids_of(hits), {near40[3].id, near40[1].id})
  eq(c:search(q, {k = 10, rerank = function() return {} end}), {})
  -- more than k returned (entries beyond the candidates): the first k
  hits = c:search(q, {k = 2, candidates = 3, exact = true, rerank = function(h)
    return {h[2], h[2], h[1], h[3], h[1]}
  end})
  eq(ids_of(hits), {near40[2].id, near40[2].id})
  -- with_meta = false drops meta from the result, not from the rerank
  hits = c:search(q, {k = 3, with_meta = false, rerank = function(h)
    for _, x in ipairs(h) do ok(x.meta ~= nil, "rerank sees meta") end
    return h
  end})
  eq(#hits, 3)
  for _, h in ipairs(hits) do eq(h.meta, nil) end
end

T["rerank with with_vectors sees the vectors; combines with where and filter"] = function()
  local c, recs, by_id = setup(1500, 71)
  local q = H.random_vectors(1, 8, 72)[1]
  local seen
  local hits = c:search(q, {k = 4, with_vectors = true, rerank = function(h)
    seen = h
    return h
  end})
  eq(#seen, 16)
  for _, h in ipairs(seen) do eq(h.vector, by_id[h.id].vec, "vector of " .. h.id) end
  for _, h in ipairs(hits) do eq(h.vector, by_id[h.id].vec) end
  -- candidates pass both the filter and where, and are the nearest such
  local where = function(_, m) return m.i % 3 == 0 end
  local both = function(_, m) return m.even and m.i % 3 == 0 end
  local pass = select_recs(recs, both)
  hits = c:search(q, {k = 5, candidates = 30, exact = true, filter = {even = true},
                      where = where, rerank = function(h)
    seen = h
    return h
  end})
  eq(#seen, 30)
  H.same_hits(seen, H.brute("l2", pass, q, 30), 1e-4, "candidates of filter and where")
  eq(#hits, 5)
  -- a query given as an FFI array reaches rerank as a 1-based Lua table
  local fq = ffi.new("float[8]", q)
  local calls = 0
  hits = c:search(fq, {k = 3, exact = true,
                       where = function() calls = calls + 1 return true end,
                       rerank = function(h, query, k)
    eq(type(query), "table")
    eq(k, 3)
    for i = 1, 8 do eq(H.f32(query[i]), H.f32(q[i]), "query component " .. i) end
    return h
  end})
  eq(#hits, 3)
  ok(calls >= 12, "where saw the candidates")
  H.same_hits(hits, H.brute("l2", recs, q, 3), 1e-4, "FFI query")
end

-- -- Errors --------------------------------------------------------------------------------

-- After a hook failed: searches, writes and counts work as before.
local function still_works(c, recs, label)
  local q = recs[1].vec
  eq(c:search(q, 1)[1].id, recs[1].id, label .. ": search")
  eq(c:search(q, {k = 1, where = function() return true end})[1].id, recs[1].id,
     label .. ": search with where")
  eq(c:search(q, {k = 1, rerank = function(h) return h end})[1].id, recs[1].id,
     label .. ": search with rerank")
  local n = c:count()
  eq(c:upsert("after-" .. label, q, {g = 99}), true, label .. ": upsert")
  eq(c:count(), n + 1, label .. ": count")
  eq(c:count({g = 99}), 1, label .. ": count with a filter")
  eq(c:delete_where({g = 99}), 1, label .. ": delete_where")
  eq(c:count(), n)
end

T["an error in a hook propagates with its text and traceback; the collection works on"] = function()
  local c, recs = setup(600, 81)
  local q = recs[5].vec
  local function thrower_where(id, meta) error("where-boom " .. id) end
  local err = raises(function() return c:search(q, {k = 3, where = thrower_where}) end,
                     "where hook failed")
  ok(err:find("where-boom id5", 1, true), "the hook's message: " .. err)
  ok(err:find("stack traceback", 1, true), "a traceback: " .. err)
  ok(err:find("test_hooks.lua", 1, true), "the traceback names the hook's file: " .. err)
  still_works(c, recs, "where error")
  -- failing after some candidates passed, in the middle of a later round
  local calls = 0
  err = raises(function()
    return c:search(q, {k = 10, where = function(_, m)
      calls = calls + 1
      if calls == 25 then local t = nil; return t.field end
      return m.g == 0
    end})
  end, "where hook failed")
  ok(err:find("attempt to index", 1, true), "runtime error text: " .. err)
  eq(calls, 25)
  still_works(c, recs, "late where error")
  -- rerank
  err = raises(function()
    return c:search(q, {k = 3, rerank = function(h) error("rerank-bang " .. #h) end})
  end, "rerank hook failed")
  ok(err:find("rerank-bang 12", 1, true), "the hook's message: " .. err)
  ok(err:find("stack traceback", 1, true), "a traceback: " .. err)
  still_works(c, recs, "rerank error")
  -- an error value that is not a string still says which hook failed
  raises(function() return c:search(q, {where = function() error({code = 1}) end}) end,
         "where hook failed")
  raises(function() return c:search(q, {rerank = function() error(42) end}) end,
         "rerank hook failed")
  -- with a filter and exact search too
  raises(function()
    return c:search(q, {filter = {g = 1}, exact = true, where = function() error("x") end})
  end, "where hook failed")
  still_works(c, recs, "filtered where error")
end

T["a hook error on a file database leaves it writable and reopenable"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = db:create_collection("f", {dim = 2})
  for i = 1, 100 do c:upsert("r" .. i, {i, 0}, {g = i % 4}) end
  raises(function()
    return c:search({1, 0}, {filter = {g = 1}, where = function() error("nope") end})
  end, "nope")
  raises(function()
    return c:search({1, 0}, {rerank = function() error("nope2") end})
  end, "nope2")
  eq(c:delete_where({g = 1}), 25)
  c:upsert("r1000", {0, 0}, {g = 1})
  eq(db:close(), true)
  db = assert(omen.open(path, {verify = true}))
  c = db:collection("f")
  eq(c:count(), 76)
  eq(c:count({g = 1}), 1)
  eq(c:search({0, 0}, {k = 1, where = function(_, m) return m.g == 1 end})[1].id, "r1000")
  db:close()
end

T["hooks may use the collection themselves"] = function()
  local c, recs, by_id = setup(400, 91)
  local q = recs[10].vec
  local hits = c:search(q, {k = 5, where = function(id, meta)
    local v, m = c:get(id)
    eq(v, by_id[id].vec)
    eq(m, meta)
    ok(c:count({g = meta.g}) > 0)
    local inner = c:search(v, {k = 1, with_meta = false})
    eq(inner[1].id, id, "nested search")
    return meta.g == 2
  end, rerank = function(h)
    c:upsert("added-by-rerank", q, {g = -1})
    return h
  end})
  eq(#hits, 5)
  for _, h in ipairs(hits) do eq(h.meta.g, 2) end
  eq(c:count({g = -1}), 1, "the rerank's write happened")
  eq(c:search(q, {k = 2, where = function(id) return id ~= recs[10].id end})[1].id,
     "added-by-rerank")
end

T["bad hook arguments raise"] = function()
  local c, recs = setup(300, 101)
  local q = recs[1].vec
  local before = c:count()
  for _, bad in ipairs({5, "f", {}, true}) do
    raises(function() return c:search(q, {where = bad}) end, "where must be a function")
    raises(function() return c:search(q, {rerank = bad}) end, "rerank must be a function")
  end
  raises(function() return c:search(q, {candidates = 20}) end, "candidates goes with rerank")
  raises(function() return c:search(q, {candidates = 20, where = function() return true end}) end,
         "candidates goes with rerank")
  for _, ret in ipairs({5, "hits", true}) do
    raises(function() return c:search(q, {rerank = function() return ret end}) end,
           "rerank must return")
  end
  raises(function() return c:search(q, {rerank = function() end}) end, "rerank must return")
  for _, k in ipairs({0, -1, 1.5, 2 ^ 21}) do
    raises(function() return c:search(q, {k = k, where = function() return true end}) end,
           "k must be")
    raises(function() return c:search(q, {k = k, rerank = function(h) return h end}) end,
           "k must be")
  end
  -- a bad filter raises its own error with a hook too
  raises(function()
    return c:search(q, {filter = {g = {["$between"] = 1}}, where = function() return true end})
  end, "unknown filter operator '$between'")
  raises(function()
    return c:search(q, {filter = {g = {["$lt"] = true}}, rerank = function(h) return h end})
  end, "$lt needs a number or a string")
  -- the hooks never ran and nothing changed
  eq(c:count(), before)
end

T["hooks on an empty collection, and on a filter nothing matches"] = function()
  local db = omen.open()
  local c = db:create_collection("e", {dim = 3})
  local calls = 0
  local function where() calls = calls + 1 return true end
  local function rerank(h) calls = calls + 1; eq(h, {}) return h end
  eq(c:search({1, 2, 3}, {k = 5, where = where}), {})
  eq(c:search({1, 2, 3}, {k = 5, exact = true, where = where}), {})
  eq(calls, 0, "where is not called without candidates")
  eq(c:search({1, 2, 3}, {k = 5, rerank = rerank}), {})
  eq(calls, 1, "rerank is called with no candidates")
  c:upsert("a", {1, 2, 3}, {g = 1})
  eq(c:search({1, 2, 3}, {k = 5, filter = {g = 2}, where = where}), {})
  eq(calls, 1)
  eq(ids_of(c:search({1, 2, 3}, {k = 5, filter = {g = 1}, where = where})), {"a"})
  eq(calls, 2)
end

-- Found by this suite: a bad `candidates` is reported as a bad k.
T["a bad candidates count is reported as candidates"] = function()
  local c, recs = setup(100, 111)
  for _, n in ipairs({0, 2.5, -3}) do
    raises(function()
      return c:search(recs[1].vec, {k = 5, candidates = n, rerank = function(h) return h end})
    end, "candidates", "candidates = " .. n)
  end
end

-- Found by this suite: the default candidates, 4*k, is checked against the
-- limit for k, so a search with rerank and a valid k above 262144 raises
-- "k must be an integer between 1 and 1048576 (got <4*k>)".
T["rerank takes every valid k"] = function()
  local db = omen.open()
  local c = db:create_collection("x", {dim = 2})
  for i = 1, 50 do c:upsert("r" .. i, {i, 0}) end
  for _, k in ipairs({262144, 262145, 1048576}) do
    local ok_, res = pcall(function()
      return c:search({0, 0}, {k = k, rerank = function(h) return h end})
    end)
    ok(ok_, "k = " .. k .. " with rerank: " .. tostring(res))
    eq(#res, 50, "k = " .. k)
  end
end

-- Found by this suite: with a hook, the search options are not checked as a
-- search without hooks checks them: a misspelt option (here `filtre`) is
-- silently ignored, so the filter does not apply, and a with_meta that is
-- not a boolean passes.
T["a search with hooks checks its options like one without"] = function()
  local c, recs = setup(200, 121)
  local q = recs[1].vec
  raises(function() return c:search(q, {filtre = {g = 1}}) end, "unknown search option")
  raises(function()
    return c:search(q, {filtre = {g = 1}, where = function() return true end})
  end, "unknown search option 'filtre'")
  raises(function()
    return c:search(q, {filtre = {g = 1}, rerank = function(h) return h end})
  end, "unknown search option 'filtre'")
  raises(function() return c:search(q, {with_meta = 5}) end, "with_meta must be a boolean")
  raises(function()
    return c:search(q, {with_meta = 5, where = function() return true end})
  end, "with_meta must be a boolean")
end

T["where judges each record once per search, over every round"] = function()
  local db = omen.open()
  local c = db:create_collection("w", {dim = 2})
  local ids, vecs = {}, {}
  for i = 1, 1000 do ids[i], vecs[i] = "r" .. i, {i, 0} end
  c:upsert_batch(ids, vecs)
  local calls, seen, dup = 0, {}, 0
  local hits = c:search({0, 0}, {k = 10, where = function(id)
    calls = calls + 1
    if seen[id] then dup = dup + 1 end
    seen[id] = true
    return id:sub(-1) == "7" -- one in ten passes
  end})
  eq(#hits, 10)
  eq(dup, 0, "judged again")
  ok(calls <= 1000, calls .. " calls for 1000 records")
end

return T
