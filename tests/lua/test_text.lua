-- Full-text search through Lua: BM25 rankings and scores against a
-- reference computed here (SQLite FTS5's bm25, sign flipped), +required and
-- -excluded words, updates and deletes, RRF and linear fusion, filters and
-- hooks, tokenizers (built in, stemmer, stopwords, Lua functions and their
-- failures), persistence through the file and the log, and bad options.
local H = require("helpers")
local eq, ok, raises, near = H.eq, H.ok, H.raises, H.near

local T = {}
local DIM = 4

-- -- A corpus and a reference -----------------------------------------------------

-- 80 distinct lower-case words, drawn log-uniformly (a few common, many rare).
local VOCAB = {}
do
  local r, seen, syl = H.rng(5), {}, {"ba", "ke", "lo", "mi", "nu", "ra", "so", "ti", "vu", "ze"}
  while #VOCAB < 80 do
    local w = ""
    for _ = 1, r.int(2, 3) do w = w .. syl[r.int(1, #syl)] end
    if not seen[w] then seen[w] = true; VOCAB[#VOCAB + 1] = w end
  end
end

local function sentence(r, lo, hi)
  local words = {}
  for i = 1, r.int(lo or 3, hi or 30) do
    words[i] = VOCAB[math.floor(math.exp(r.uniform(0, math.log(#VOCAB + 1))))]
  end
  return table.concat(words, " ")
end

-- n records {id, vec, meta}: meta.body is text, except every 25th record
-- (no body), every 40th (a number) and every 50th + 7 (an array of strings).
local function corpus(n, seed, prefix)
  local r, vecs, recs = H.rng(seed), H.random_vectors(n, DIM, seed), {}
  for i = 1, n do
    local meta = {cat = ({"x", "y", "z"})[i % 3 + 1], n = i}
    if i % 50 == 7 then meta.body = {sentence(r, 1, 5), sentence(r, 1, 5)}
    elseif i % 40 == 0 then meta.body = i
    elseif i % 25 ~= 0 then meta.body = sentence(r) end
    recs[i] = {id = (prefix or "d") .. i, vec = vecs[i], meta = meta}
  end
  return recs
end

local function load(c, recs)
  local ids, vecs, metas = {}, {}, {}
  for i, rec in ipairs(recs) do ids[i], vecs[i], metas[i] = rec.id, rec.vec, rec.meta end
  eq(c:upsert_batch(ids, vecs, metas), #recs)
end

-- The terms of a body as unicode61 reads lower-case ASCII; nil without text.
local function tokens(body)
  if type(body) == "table" then body = table.concat(body, " ") end
  if type(body) ~= "string" then return nil end
  local out = {}
  for w in body:gmatch("%w+") do out[#out + 1] = w:lower() end
  return out
end

-- docs: id -> tokens. The records matching query, BM25 best first.
local function bm25(docs, query, k1, b)
  k1, b = k1 or 1.2, b or 0.75
  local N, total, df, tfs = 0, 0, {}, {}
  for id, toks in pairs(docs) do
    N, total = N + 1, total + #toks
    local f = {}
    for _, w in ipairs(toks) do f[w] = (f[w] or 0) + 1 end
    for w in pairs(f) do df[w] = (df[w] or 0) + 1 end
    tfs[id] = f
  end
  local any, must, never = {}, {}, {}
  for word in query:gmatch("%S+") do
    local mode, w = word:match("^([+-]?)(.*)$")
    w = w:lower()
    if mode == "-" then never[w] = true else any[w] = (any[w] or 0) + 1 end
    if mode == "+" then must[w] = true end
  end
  local out = {}
  for id, f in pairs(tfs) do
    local pass, hit, s = true, false, 0
    for w in pairs(must) do pass = pass and f[w] ~= nil end
    for w in pairs(never) do pass = pass and f[w] == nil end
    for w, times in pairs(any) do
      if f[w] then
        local idf = math.log((N - df[w] + 0.5) / (df[w] + 0.5))
        if idf <= 0 then idf = 1e-6 end
        hit = true
        s = s + times * idf * f[w] * (k1 + 1) /
                (f[w] + k1 * (1 - b + b * #docs[id] / (total / N)))
      end
    end
    if pass and hit then out[#out + 1] = {id = id, score = s} end
  end
  table.sort(out, function(x, y)
    if x.score ~= y.score then return x.score > y.score end
    return x.id < y.id
  end)
  return out
end

local function docs_of(recs, pred)
  local docs = {}
  for _, rec in pairs(recs) do
    if not pred or pred(rec) then docs[rec.id] = tokens(rec.meta.body) end
  end
  return docs
end

-- hits ranked as want ({id, score} best first): min(k, #want) hits, each
-- score within 1e-6 relative (or abs, absolute) of the expected one at its
-- place, ids differing only among ties.
local function same_ranking(hits, want, k, label, abs)
  eq(#hits, math.min(k, #want), label .. ": number of hits")
  local function close(a, b, what)
    local d = math.abs(a - b)
    ok(d <= (abs or 1e-6 * math.max(math.abs(a), math.abs(b))),
       ("%s: score %.9g, expected %.9g"):format(what, a, b))
  end
  local by_id, seen = {}, {}
  for _, w in ipairs(want) do by_id[w.id] = w.score end
  for i, h in ipairs(hits) do
    local where = label .. ": hit " .. i .. " (" .. h.id .. ")"
    ok(not seen[h.id], where .. " repeats")
    seen[h.id] = true
    close(h.score, want[i].score, where)
    ok(by_id[h.id], where .. " should not be a hit")
    close(by_id[h.id], want[i].score, where .. " in the place of " .. want[i].id)
  end
end

-- A query as the reference reads it: without punctuation.
local function plain(q) return (q:gsub('[!"]', "")) end

-- fn(...) raises, or returns nil and a message, matching pattern (plain).
local function refuses(pattern, label, fn, ...)
  local okc, res, err = pcall(fn, ...)
  local msg = okc and err or res
  ok(not okc or res == nil, label .. ": succeeded")
  ok(type(msg) == "string" and msg:find(pattern, 1, true) ~= nil,
     label .. ": message " .. H.fmt(msg) .. " does not say " .. H.fmt(pattern))
  return msg
end

local function text_search(c, q, k, extra)
  local o = {text = q, k = k}
  for key, v in pairs(extra or {}) do o[key] = v end
  return H.must(c:search(nil, o))
end

local function setup(n, seed)
  local db = omen.open()
  local c = assert(db:create_collection("t", {dim = DIM, text = "body"}))
  local recs = corpus(n or 500, seed or 1)
  load(c, recs)
  return c, recs, db
end

local W = VOCAB -- shorthand in queries
local QUERIES = {W[1], W[3], W[12], W[45], W[80], W[2] .. " " .. W[30],
                 W[7] .. " " .. W[7] .. " " .. W[60], W[4] .. " " .. W[20] .. " " .. W[50] .. " " .. W[70],
                 W[9]:upper() .. "!", '"' .. W[5] .. " " .. W[33] .. '"'}

-- -- Text alone -----------------------------------------------------------------------

T["text alone: BM25 rankings and scores as FTS5's, only records with text"] = function()
  local c, recs = setup()
  local docs = docs_of(recs)
  for _, q in ipairs(QUERIES) do
    local want = bm25(docs, plain(q))
    ok(#want > 0, q .. " matches")
    for _, k in ipairs({1, 5, 50, 500}) do
      local hits = text_search(c, q, k)
      same_ranking(hits, want, k, q .. ", k=" .. k)
      for _, h in ipairs(hits) do
        eq(h.distance, nil, "no distance in a text search")
        eq(h.meta, recs[tonumber(h.id:sub(2))].meta, "meta")
      end
    end
  end
  local info = c:info().text
  local n, terms = 0, {}
  for _, toks in pairs(docs) do
    n = n + 1
    for _, w in ipairs(toks) do terms[w] = true end
  end
  local n_terms = 0
  for _ in pairs(terms) do n_terms = n_terms + 1 end
  eq({info.field, info.docs, info.terms}, {"body", n, n_terms}, "info().text")
  ok(info.bytes > 0, "info().text.bytes")
  eq(#text_search(c, "", 10), 0, "empty query")
  eq(#text_search(c, "  \t ", 10), 0, "blank query")
  eq(#text_search(c, "qqqq zzzz", 10), 0, "unknown words")
  same_ranking(text_search(c, "qqqq " .. W[3], 20), bm25(docs, W[3]), 20, "unknown + known")
  eq(#text_search(c, "40", 10), 0, "a number field is not text")
end

T["+required and -excluded words"] = function()
  local c, recs = setup()
  local docs = docs_of(recs)
  for _, q in ipairs({"+" .. W[2] .. " " .. W[10], "+" .. W[2] .. " +" .. W[5],
                      W[1] .. " -" .. W[2], "+" .. W[3] .. " -" .. W[4] .. " " .. W[25],
                      W[6] .. " -qqqq", "-" .. W[1] .. " " .. W[8] .. " " .. W[15]}) do
    local want = bm25(docs, q)
    ok(#want > 0, q .. " matches")
    same_ranking(text_search(c, q, 500), want, 500, q)
  end
  eq(#text_search(c, "-" .. W[1], 10), 0, "only an excluded word")
  eq(#text_search(c, "+qqqq " .. W[1], 10), 0, "a required word no record holds")
end

T["updates and deletes show at once, info().text.docs follows"] = function()
  local c, recs = setup(300, 3)
  local r = H.rng(33)
  local function check(label)
    local docs = docs_of(recs)
    local n = 0
    for _ in pairs(docs) do n = n + 1 end
    eq(c:info().text.docs, n, label .. ": docs")
    for _, q in ipairs(QUERIES) do
      same_ranking(text_search(c, q, 300), bm25(docs, plain(q)), 300,
                   label .. ": " .. q)
    end
  end
  check("loaded")
  for i = 1, 300, 7 do -- same id, new text (and a new vector)
    recs[i].meta = {cat = "x", n = i, body = "fresh " .. sentence(r)}
    recs[i].vec = H.random_vectors(1, DIM, i)[1]
    c:upsert(recs[i].id, recs[i].vec, recs[i].meta)
  end
  check("texts replaced")
  eq(text_search(c, "fresh", 1)[1] ~= nil, true, "a new word is found")
  for i = 2, 300, 11 do -- same vector, new text; or the field gone; or a number
    local meta = {cat = "y", n = i, body = (i % 3 == 0) and 7 or (i % 3 == 1) and sentence(r) or nil}
    recs[i].meta = meta
    c:upsert(recs[i].id, recs[i].vec, meta)
  end
  check("same vectors")
  for i = 3, 300, 13 do
    eq(c:delete(recs[i].id), true)
    recs[i] = nil
  end
  check("deleted")
  local n = c:delete_where({cat = "x"})
  ok(n > 0, "delete_where deleted")
  for i, rec in pairs(recs) do if rec.meta.cat == "x" then recs[i] = nil end end
  check("delete_where")
  eq(#text_search(c, "fresh", 10), 0, "the fresh texts went with cat x")
end

-- -- Fusion --------------------------------------------------------------------------

-- The fused ranking computed here from the two halves (see omen_fusion).
local function fuse(vh, th, f)
  local all, order = {}, {}
  local function entry(id)
    if not all[id] then all[id] = {id = id}; order[#order + 1] = all[id] end
    return all[id]
  end
  for i, h in ipairs(vh) do local e = entry(h.id); e.vr, e.d = i, h.distance end
  for i, h in ipairs(th) do local e = entry(h.id); e.tr, e.s = i, h.score end
  local dmin, dmax = vh[1] and vh[1].distance, vh[#vh] and vh[#vh].distance
  local smin, smax = th[#th] and th[#th].score, th[1] and th[1].score
  local function scaled(v, lo, hi) return hi > lo and (v - lo) / (hi - lo) or 1 end
  for _, e in ipairs(order) do
    if f.method == "linear" then
      local v = e.vr and 1 - scaled(e.d, dmin, dmax) or 0
      local t = e.tr and scaled(e.s, smin, smax) or 0
      e.score = f.alpha * v + (1 - f.alpha) * t
    else
      e.score = (e.vr and f.vector / (f.k + e.vr) or 0) + (e.tr and f.text / (f.k + e.tr) or 0)
    end
  end
  table.sort(order, function(a, b) return a.score > b.score end)
  return order
end

T["fusion: rrf and linear from the two halves"] = function()
  local c, recs = setup()
  local queries = H.random_vectors(3, DIM, 99)
  local cases = {
    {nil, {method = "rrf", k = 60, vector = 1, text = 1}},
    {"rrf", {method = "rrf", k = 60, vector = 1, text = 1}},
    {{method = "rrf", k = 5, vector = 2, text = 0.5}, {method = "rrf", k = 5, vector = 2, text = 0.5}},
    {"linear", {method = "linear", alpha = 0.5}},
    {{method = "linear", alpha = 0.8}, {method = "linear", alpha = 0.8}},
    {{method = "linear", alpha = 0}, {method = "linear", alpha = 0}},
  }
  for qi, q in ipairs(queries) do
    for _, text in ipairs({W[2] .. " " .. W[40], W[70], "qqqq"}) do
      for ci, case in ipairs(cases) do
        for _, kd in ipairs({{10, nil}, {10, 20}, {60, 80}}) do
          local k, depth = kd[1], kd[2]
          local d = depth or math.max(k, 50)
          local label = ("query %d, %q, case %d, k=%d, depth=%s"):format(qi, text, ci, k, tostring(depth))
          local vh = H.must(c:search(q, {k = d, exact = true}))
          local th = text_search(c, text, d)
          local want = fuse(vh, th, case[2])
          local hits = H.must(c:search(q, {text = text, k = k, depth = depth, exact = true,
                                           fusion = case[1]}))
          same_ranking(hits, want, k, label, 1e-5)
          for _, h in ipairs(hits) do
            near(h.distance, H.distance("l2", q, recs[tonumber(h.id:sub(2))].vec), 1e-4,
                 label .. ": distance of " .. h.id)
          end
        end
      end
    end
  end
end

T["fusion: bad options are refused with clear messages"] = function()
  local c = setup(50)
  local q = {0, 0, 0, 0}
  local function bad(o, pattern)
    o.text = o.text or W[1]
    raises(function() c:search(q, o) end, pattern, H.lit(o))
  end
  bad({fusion = "borda"}, "unknown fusion method 'borda' (rrf or linear)")
  bad({fusion = {method = "max"}}, "unknown fusion method 'max'")
  bad({fusion = 3}, 'fusion must be "rrf", "linear" or a table (got number)')
  bad({fusion = {method = "linear", alpha = 2}}, "alpha 0 to 1")
  bad({fusion = {method = "linear", alpha = -0.1}}, "alpha 0 to 1")
  bad({fusion = {method = "rrf", k = -1}}, "rrf_k >= 0")
  bad({fusion = {vector = 1 / 0}}, "finite weights")
  bad({fusion = {alpha = "high"}}, "alpha must be a number")
  bad({fusion = {methd = "rrf"}}, "unknown fusion option 'methd'")
  bad({depth = 0}, "depth must be an integer between 1")
  bad({text = 5}, "text must be a string")
  local db = omen.open()
  local plain = db:create_collection("plain", {dim = DIM})
  raises(function() plain:search(nil, {text = "x"}) end, "collection 'plain' has no text index")
  raises(function() plain:search(q, {text = "x"}) end, "collection 'plain' has no text index")
  raises(function() c:search(nil, {k = 3}) end, "search needs a query vector, or text")
end

-- -- Filters and hooks --------------------------------------------------------------

T["filters, where and rerank apply to text and fused searches"] = function()
  local c, recs = setup()
  local docs = docs_of(recs)
  local q = H.random_vectors(1, DIM, 7)[1]
  for _, text in ipairs({W[1], W[3] .. " " .. W[30], "+" .. W[2] .. " -" .. W[6]}) do
    local all = bm25(docs, text) -- the statistics stay the collection's
    local function only(pred)
      local out = {}
      for _, w in ipairs(all) do
        if pred(recs[tonumber(w.id:sub(2))].meta) then out[#out + 1] = w end
      end
      return out
    end
    local is_x = function(m) return m.cat == "x" end
    local even = function(m) return m.n % 2 == 0 end
    same_ranking(text_search(c, text, 40, {filter = {cat = "x"}}), only(is_x), 40,
                 text .. " filter")
    local calls = 0
    same_ranking(text_search(c, text, 40, {where = function(id, m)
      calls = calls + 1
      eq(m, recs[tonumber(id:sub(2))].meta, "where gets the meta")
      return even(m)
    end}), only(even), 40, text .. " where")
    ok(calls > 0, "where called")
    same_ranking(text_search(c, text, 40, {filter = {cat = "x"}, where = function(_, m) return even(m) end}),
                 only(function(m) return is_x(m) and even(m) end), 40, text .. " both")
    local seen
    local hits = text_search(c, text, 5, {candidates = 20, rerank = function(cands, query, k)
      eq(query, nil, "a text search has no query vector")
      eq(k, 5)
      seen = cands
      local rev = {}
      for i = #cands, 1, -1 do rev[#rev + 1] = cands[i] end
      return rev
    end})
    same_ranking(seen, all, 20, text .. " rerank candidates")
    for i, h in ipairs(hits) do eq(h.id, seen[#seen + 1 - i].id, "reranked order") end
    -- fused: both halves see the filter
    local vh = H.must(c:search(q, {k = 50, exact = true, filter = {cat = "y"}}))
    local th = text_search(c, text, 50, {filter = {cat = "y"}})
    local fused = H.must(c:search(q, {text = text, k = 20, exact = true, filter = {cat = "y"}}))
    same_ranking(fused, fuse(vh, th, {k = 60, vector = 1, text = 1}), 20, text .. " fused filter", 1e-5)
    hits = H.must(c:search(q, {text = text, k = 20, where = function(_, m) return even(m) end}))
    eq(#hits, 20, text .. " fused where")
    for i, h in ipairs(hits) do
      ok(even(h.meta) and h.score and h.distance, text .. " fused where: hit " .. i)
      ok(i == 1 or h.score <= hits[i - 1].score, "best first")
    end
  end
end

-- -- Tokenizers -----------------------------------------------------------------------

local function found(c, text)
  local ids = {}
  for _, h in ipairs(text_search(c, text, 100)) do ids[#ids + 1] = h.id end
  table.sort(ids)
  return ids
end

T["tokenizers: diacritics, porter, trigram, stopwords"] = function()
  local db = omen.open()
  local function coll(name, text, bodies)
    local c = assert(db:create_collection(name, {dim = 1, text = text}))
    for id, body in pairs(bodies) do c:upsert(id, {0}, {body = body}) end
    return c
  end
  local u = coll("u", "body", {fr = "Café RÉSUMÉ naïve", ru = "Привет Мир", en = "plain words"})
  eq(found(u, "cafe resume"), {"fr"})
  eq(found(u, "NAÏVE"), {"fr"})
  eq(found(u, "привет"), {"ru"})
  local keep = coll("keep", {field = "body", remove_diacritics = 0}, {fr = "Café", en = "cafe"})
  eq(found(keep, "CAFÉ"), {"fr"})
  eq(found(keep, "cafe"), {"en"})
  local p = coll("p", {field = "body", stemmer = "porter"},
                 {r = "running quickly", c = "connections connected", o = "other"})
  eq(found(p, "run"), {"r"})
  eq(found(p, "RUNS"), {"r"})
  eq(found(p, "connect"), {"c"})
  local t = coll("t", {field = "body", tokenizer = "trigram"}, {k = "Wireless KEYBOARD", m = "mouse"})
  eq(found(t, "yboa"), {"k"})
  eq(found(t, "KEYBOARD"), {"k"})
  eq(found(t, "ouse"), {"m"})
  eq(found(t, "yb"), {}, "shorter than a trigram")
  local tc = coll("tc", {field = "body", tokenizer = "trigram", case_sensitive = true}, {k = "KEYBOARD"})
  eq(found(tc, "YBOA"), {"k"})
  eq(found(tc, "yboa"), {})
  local s = coll("s", {field = "body", stopwords = {"the", "of"}},
                 {a = "the lord of the rings", b = "the hobbit"})
  eq(found(s, "the"), {})
  eq(found(s, "THE rings"), {"a"})
  eq(s:info().text.terms, 3, "stopwords are not terms")
  refuses("porter stemmer goes with the unicode61 tokenizer", "trigram and porter",
          db.create_collection, db, "bad", {dim = 1, text = {field = "b", tokenizer = "trigram",
                                                            stemmer = "porter"}})
end

local function split_commas(s)
  local out = {}
  for w in s:gmatch("[^,]+") do out[#out + 1] = w end
  return out
end

T["a Lua tokenizer, and its failures change nothing"] = function()
  local db = omen.open()
  local c = assert(db:create_collection("tags", {dim = 1, text = {field = "t", tokenizer = split_commas}}))
  c:upsert("a", {0}, {t = "red wine,cheese,bread"})
  c:upsert("b", {0}, {t = "red,wine"})
  c:upsert("c", {0}, {t = "cheese"})
  eq(found(c, '"red wine"'), {"a"}, "a quoted run is one text for the tokenizer")
  eq(found(c, "red wine"), {"b"})
  same_ranking(text_search(c, "cheese red", 5),
               bm25({a = {"red wine", "cheese", "bread"}, b = {"red", "wine"}, c = {"cheese"}},
                    "cheese red"), 5, "scores")
  -- the registered one, by name
  eq(db:register_tokenizer("words", function(s) return tokens(s) end), true)
  local w = assert(db:create_collection("w", {dim = 1, text = {field = "t", tokenizer = "words"}}))
  w:upsert("x", {0}, {t = "Hello World"})
  eq(found(w, "hello"), {"x"})
  -- failures
  local mode
  local bad = assert(db:create_collection("bad", {dim = 1, text = {field = "t", tokenizer = function(s)
    if mode == "error" then error("boom") end
    if mode == "table" then return "not a table" end
    if mode == "strings" then return {"fine", 42} end
    if mode == "reenter" then c:count() end
    return tokens(s)
  end}}))
  bad:upsert("a", {0}, {t = "alpha beta"})
  bad:upsert("b", {0}, {t = "beta gamma"})
  local before = {count = bad:count(), docs = bad:info().text.docs, hits = text_search(bad, "beta", 10),
                  a = {bad:get("a")}}
  local function unchanged(label)
    mode = nil
    eq({count = bad:count(), docs = bad:info().text.docs, hits = text_search(bad, "beta", 10),
        a = {bad:get("a")}}, before, label .. " changed nothing")
    eq(bad:get("new"), nil, label)
  end
  for m, why in pairs({error = "boom", table = "must return an array of strings",
                       strings = "must return an array of strings",
                       reenter = "a tokenizer may not call omen"}) do
    local function fails(label, fn)
      mode = m
      local err = raises(fn, "tokenizer 'bad' failed", m .. ": " .. label)
      ok(err:find(why, 1, true), m .. ": " .. label .. ": " .. err)
      unchanged(m .. ": " .. label)
    end
    fails("new record", function() bad:upsert("new", {0}, {t = "delta"}) end)
    fails("replaced", function() bad:upsert("a", {1}, {t = "delta"}) end)
    fails("batch", function()
      bad:upsert_batch({"new", "a"}, {{0}, {1}}, {{t = "delta"}, {t = "epsilon"}})
    end)
    fails("search", function() bad:search(nil, {text = "beta"}) end)
    mode = m
    if not pcall(bad.delete, bad, "a") then unchanged(m .. ": delete") end
    mode = nil
    if not bad:get("a") then bad:upsert("a", {0}, {t = "alpha beta"}) end
  end
  bad:upsert("x", {0}, {other = 1}) -- records without the field never call it
  eq(bad:count(), 3)
end

-- -- Persistence ----------------------------------------------------------------------

local function results(c, queries)
  local out = {}
  for _, q in ipairs(queries) do out[#out + 1] = text_search(c, q, 50) end
  return out
end

T["persistence: reopened, and written to the log only by a process that died"] = function()
  local path = H.tmpfile()
  local recs = corpus(300, 8)
  local db = assert(omen.open(path))
  local c = assert(db:create_collection("t", {dim = DIM, text = {field = "body", k1 = 1.5, b = 0.5}}))
  load(c, recs)
  local before = results(c, QUERIES)
  db:close()
  db = assert(omen.open(path))
  c = db:collection("t")
  eq(c:info().text.field, "body")
  for i, q in ipairs(QUERIES) do
    local want = bm25(docs_of(recs), plain(q), 1.5, 0.5)
    same_ranking(results(c, {q})[1], want, 50, "reopened: " .. q)
    same_ranking(results(c, {q})[1], before[i], 50, "as before: " .. q)
  end
  db:close()
  -- a child writes, replaces and deletes, then exits without closing
  local more = corpus(60, 9, "m")
  local changes = {}
  for _, rec in ipairs(more) do changes[#changes + 1] = {"upsert", rec.id, rec.vec, rec.meta} end
  for i = 1, 300, 17 do
    recs[i].meta = {body = "changed " .. W[i % 80 + 1]}
    changes[#changes + 1] = {"upsert", recs[i].id, recs[i].vec, recs[i].meta}
  end
  for i = 5, 300, 23 do
    changes[#changes + 1] = {"delete", recs[i].id}
    recs[i] = nil
  end
  for _, rec in ipairs(more) do recs[rec.id] = rec end
  H.child_ok(([[
    local db = assert(omen.open(%q))
    local c = db:collection("t")
    for _, ch in ipairs(%s) do
      if ch[1] == "upsert" then c:upsert(ch[2], ch[3], ch[4]) else assert(c:delete(ch[2])) end
    end
    io.write("written\n")
    os.exit(0)
  ]]):format(path, H.lit(changes)), "written", "writer", H.NO_LEAK_CHECK)
  ok(#H.read_file(path .. "-wal") > 0, "the child's writes are in the log")
  db = assert(omen.open(path))
  c = db:collection("t")
  local docs = docs_of(recs)
  for _, q in ipairs(QUERIES) do
    same_ranking(results(c, {q})[1], bm25(docs, plain(q), 1.5, 0.5), 50,
                 "after the log: " .. q)
  end
  ok(#text_search(c, "changed", 50) > 0, "changed texts")
  db:close()
end

T["persistence: a Lua tokenizer's collection reopened without it, then with it"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = assert(db:create_collection("tags", {dim = 2, text = {field = "t", tokenizer = split_commas}}))
  c:upsert("a", {1, 0}, {t = "red wine,cheese"})
  c:upsert("b", {0, 1}, {t = "bread"})
  db:close()
  db = assert(omen.open(path))
  c = db:collection("tags")
  eq(c:search({1, 0}, 1)[1].id, "a", "vector search works")
  local named = "tokenizer 'tags' is not registered"
  raises(function() c:search(nil, {text = "bread"}) end, named)
  raises(function() c:search({1, 0}, {text = "bread"}) end, named)
  raises(function() c:upsert("c", {1, 1}, {t = "butter"}) end, named)
  raises(function() c:upsert("a", {1, 1}, {t = "butter"}) end, named)
  eq(c:count(), 2)
  eq(c:upsert("d", {1, 1}, {other = "no text"}), true, "a record without the field")
  db:close()
  db = assert(omen.open(path, {tokenizers = {tags = split_commas}}))
  c = db:collection("tags")
  eq(found(c, '"red wine"'), {"a"})
  c:upsert("c", {1, 1}, {t = "butter,bread"})
  eq(found(c, "bread"), {"b", "c"})
  db:close()
end

-- -- Bad input ------------------------------------------------------------------------

T["bad text options: a clear error and no collection"] = function()
  local db = omen.open()
  local function refused(name, text, pattern)
    refuses(pattern, name, db.create_collection, db, name, {dim = 2, text = text})
    local none, err = db:collection(name)
    H.fails(none, err, "no collection named '" .. name .. "'")
  end
  refused("num", 5, "text must be a field name or a table of options (got number)")
  refused("bool", true, "text must be a field name or a table of options (got boolean)")
  refused("nofield", {tokenizer = "trigram"}, "text.field must be a string")
  refused("empty", "", "the text field needs a name of 1 to 255 bytes")
  refused("key", {field = "b", tokenizr = "trigram"}, "unknown text option 'tokenizr'")
  refused("tok", {field = "b", tokenizer = "nope"}, "tokenizer 'nope' is not registered")
  refused("tok5", {field = "b", tokenizer = 5}, "tokenizer must be a string")
  refused("stem", {field = "b", stemmer = "snowball"}, "unknown stemmer (none or porter)")
  refused("diac", {field = "b", remove_diacritics = 4}, "remove_diacritics must be an integer between 0 and 3")
  refused("k1", {field = "b", k1 = -1}, "k1 must be a number from 0 to 1000")
  refused("b", {field = "b", b = 2}, "b must be a number from 0 to 1")
  refused("stop", {field = "b", stopwords = {"a", 1}}, "stopword 2 is not a string")
  eq(db:collections(), {})
  local c = db:create_collection("c", {dim = 1})
  c:upsert("a", {0}, {body = "hello world"})
  raises(function() c:text_index({field = "body", tokenizer = split_commas}) end,
         "register the function with db:register_tokenizer(name, fn)")
  eq(c:text_index("body"), true, "indexes the records there")
  eq(found(c, "hello"), {"a"})
  H.fails(c:text_index("other"))
  raises(function() db:register_tokenizer("trigram", split_commas) end, "not a built-in one's")
  raises(function() db:register_tokenizer("x", 5) end, "tokenizer 'x' must be a function")
end

return T
