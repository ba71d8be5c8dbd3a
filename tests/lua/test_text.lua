-- Full-text search through Lua: BM25 rankings and scores against a
-- reference computed here (SQLite FTS5's bm25, sign flipped), +required and
-- -excluded words, "quoted phrases" (scanned for in each string's words;
-- checked against FTS5 itself when the sqlite3 shell is installed), updates
-- and deletes, RRF and linear fusion, filters and hooks, tokenizers (built
-- in, stemmer, stopwords, Lua functions and their failures), persistence
-- through the file and the log, and bad options.
local H = require("helpers")
local eq, ok, raises, near = H.eq, H.ok, H.raises, H.near

local T = {}
local DIM = 4

-- -- A corpus and a reference -------------------------------------------------------

-- 80 distinct lower-case words, drawn log-uniformly: a few common, many rare.
local W, SYL = {}, {"ba", "ke", "lo", "mi", "nu", "ra", "so", "ti", "vu", "ze"}
for i = 1, 80 do W[i] = SYL[i % 10 + 1] .. SYL[math.floor(i / 10) + 1] .. SYL[i % 7 + 1] end

local function sentence(r, lo, hi)
  local words = {}
  for i = 1, r.int(lo or 3, hi or 30) do
    words[i] = W[math.floor(math.exp(r.uniform(0, math.log(81))))]
  end
  return table.concat(words, " ")
end

-- n records {id, vec, meta}: meta.body is text, except in every 25th record
-- (none), every 40th (a number) and every 50th + 7 (an array of strings).
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

-- The words of a string as unicode61 reads ASCII.
local function words_of(s)
  local out = {}
  for w in s:gmatch("%w+") do out[#out + 1] = w:lower() end
  return out
end

-- The words of a body, string by string (an array of strings keeps them
-- apart: a phrase does not run from one to the next); nil without text.
local function tokens(body)
  if type(body) == "string" then body = {body} end
  if type(body) ~= "table" then return nil end
  local out = {}
  for i, s in ipairs(body) do out[i] = words_of(s) end
  return out
end

local function docs_of(recs) -- id -> its strings' words, for the records with text
  local docs = {}
  for _, rec in pairs(recs) do docs[rec.id] = tokens(rec.meta.body) end
  return docs
end

-- The terms of a query as omen reads it: words ("+word" required, "-word"
-- excluded), and quoted runs (with "+" or "-" before them too), each the
-- phrase of its words, stopwords (the set stop) left out but keeping their
-- places; a run of one word is that word. Each term: {key, words, at
-- (each word's place from the first), mode ("", "+" or "-")}.
local function query_terms(query, stop)
  stop = stop or {}
  local terms, i, n = {}, 1, #query
  while true do
    i = query:match("^%s*()", i)
    if i > n then break end
    local mode = ""
    if query:find("^[+-]%S", i) then mode, i = query:sub(i, i), i + 1 end
    local text, quoted
    if query:sub(i, i) == '"' then
      local close = query:find('"', i + 1, true) or n + 1
      text, quoted, i = query:sub(i + 1, close - 1), true, close + 1
    else
      local stop_at = query:find("%s", i) or n + 1
      text, i = query:sub(i, stop_at - 1), stop_at
    end
    local words, at = {}, {}
    for place, w in ipairs(words_of(text)) do
      if not stop[w] then
        if quoted then
          words[#words + 1], at[#at + 1] = w, place
        else
          terms[#terms + 1] = {key = w, words = {w}, at = {0}, mode = mode}
        end
      end
    end
    if #words > 0 then
      local key = {}
      for k = #at, 1, -1 do at[k] = at[k] - at[1]; key[k] = words[k] .. "@" .. at[k] end
      terms[#terms + 1] = {key = table.concat(key, " "), words = words, at = at, mode = mode}
    end
  end
  return terms
end

-- How often term stands in doc (its strings' words), string by string: at
-- each place where its words are at their places (overlapping places count).
local function term_tf(doc, term)
  local tf = 0
  for _, toks in ipairs(doc) do
    for p = 1, #toks do
      local all = true
      for k, w in ipairs(term.words) do all = all and toks[p + term.at[k]] == w end
      if all then tf = tf + 1 end
    end
  end
  return tf
end

-- The records of docs (id -> strings' words) matching query, BM25 best
-- first: a term (word or phrase) counts as often as it stands in a
-- record, its df the records where it stands; stopwords are no terms and
-- count in no record's length.
local function bm25(docs, query, k1, b, stop)
  k1, b, stop = k1 or 1.2, b or 0.75, stop or {}
  local any, must, never, terms = {}, {}, {}, {}
  for _, t in ipairs(query_terms(query, stop)) do
    terms[t.key] = t
    if t.mode == "-" then never[t.key] = true else any[t.key] = (any[t.key] or 0) + 1 end
    if t.mode == "+" then must[t.key] = true end
  end
  local N, total, df, tfs, lens = 0, 0, {}, {}, {}
  for id, doc in pairs(docs) do
    local len = 0
    for _, toks in ipairs(doc) do
      for _, w in ipairs(toks) do if not stop[w] then len = len + 1 end end
    end
    N, total, lens[id], tfs[id] = N + 1, total + len, len, {}
    for key, t in pairs(terms) do
      local tf = term_tf(doc, t)
      if tf > 0 then tfs[id][key], df[key] = tf, (df[key] or 0) + 1 end
    end
  end
  local out = {}
  for id, f in pairs(tfs) do
    local pass, hit, s = true, false, 0
    for key in pairs(must) do pass = pass and f[key] ~= nil end
    for key in pairs(never) do pass = pass and f[key] == nil end
    for key, times in pairs(any) do
      if f[key] then
        local idf = math.log((N - df[key] + 0.5) / (df[key] + 0.5))
        if idf <= 0 then idf = 1e-6 end
        hit = true
        s = s + times * idf * f[key] * (k1 + 1) /
                (f[key] + k1 * (1 - b + b * lens[id] * N / total))
      end
    end
    if pass and hit then out[#out + 1] = {id = id, score = s} end
  end
  table.sort(out, function(x, y) return x.score > y.score end)
  return out
end

-- hits ranked as want ({id, score} best first): min(k, #want) hits, each
-- score within 1e-6 relative (or abs) of the one expected at its place;
-- ids may differ from want's only among equal scores.
local function same_ranking(hits, want, k, label, abs)
  eq(#hits, math.min(k, #want), label .. ": number of hits")
  local function close(a, b, what)
    ok(math.abs(a - b) <= (abs or 1e-6 * math.max(math.abs(a), math.abs(b))),
       ("%s: score %.9g, expected %.9g"):format(what, a, b))
  end
  local by_id, seen = {}, {}
  for _, w in ipairs(want) do by_id[w.id] = w.score end
  for i, h in ipairs(hits) do
    local where = label .. ": hit " .. i .. " (" .. h.id .. ")"
    ok(not seen[h.id] and by_id[h.id], where .. " repeats or should not be a hit")
    seen[h.id] = true
    close(h.score, want[i].score, where)
    close(by_id[h.id], want[i].score, where .. " in the place of " .. want[i].id)
  end
end

-- fn(...) raises, or returns nil and a message, saying `says`.
local function refuses(says, label, fn, ...)
  local okc, res, err = pcall(fn, ...)
  local msg = okc and err or res
  ok(not okc or res == nil, label .. ": succeeded")
  ok(type(msg) == "string" and msg:find(says, 1, true), label .. ": message " .. H.fmt(msg))
end

local function text_search(c, q, k, extra)
  local o = {text = q, k = k}
  for key, v in pairs(extra or {}) do o[key] = v end
  return H.must(c:search(nil, o))
end

local function found(c, text) -- the ids a text search finds, sorted
  local ids = {}
  for _, h in ipairs(text_search(c, text, 100)) do ids[#ids + 1] = h.id end
  table.sort(ids)
  return ids
end

local function load(c, recs)
  local ids, vecs, metas = {}, {}, {}
  for i, rec in ipairs(recs) do ids[i], vecs[i], metas[i] = rec.id, rec.vec, rec.meta end
  eq(c:upsert_batch(ids, vecs, metas), #recs)
end

local function setup(n, seed)
  local db = omen.open()
  local c = assert(db:create_collection("t", {dim = DIM, text = "body"}))
  local recs = corpus(n or 500, seed or 1)
  load(c, recs)
  return c, recs, db
end

local function rec_of(recs, id) return recs[tonumber(id:sub(2))] end

-- A query with each number n read as the word W[n].
local function Q(s) return (s:gsub("%d+", function(n) return W[tonumber(n)] end)) end

local QUERIES = {Q"1", Q"3", Q"12", Q"45", Q"80", Q"2 30", Q"7 7 60", Q"4 20 50 70",
                 Q"9":upper() .. "!", Q'"5 33"', Q'"1 1"', Q'+"1 2" 3', Q'"2 1 1" -"1 3" 4',
                 Q'"1 1 1" +"4"'}

-- -- Text alone ---------------------------------------------------------------------------

T["text alone: BM25 rankings and scores as FTS5's, only records with text"] = function()
  local c, recs = setup()
  local docs = docs_of(recs)
  for _, q in ipairs(QUERIES) do
    local want = bm25(docs, q)
    ok(#want > 0, q .. " matches")
    for _, k in ipairs({1, 5, 50, 500}) do
      local hits = text_search(c, q, k)
      same_ranking(hits, want, k, q .. ", k=" .. k)
      for _, h in ipairs(hits) do
        eq({h.distance, h.meta}, {nil, rec_of(recs, h.id).meta}, "no distance; meta")
      end
    end
  end
  local n, terms = {}, {}
  for _, doc in pairs(docs) do
    n[#n + 1] = 1
    for _, toks in ipairs(doc) do
      for _, w in ipairs(toks) do if not terms[w] then terms[w] = 1; terms[#terms + 1] = w end end
    end
  end
  local info = c:info().text
  eq({info.field, info.docs, info.terms, info.bytes > 0}, {"body", #n, #terms, true}, "info().text")
  for _, q in ipairs({"", "  \t ", "qqqq zzzz", "40"}) do
    eq(#text_search(c, q, 10), 0, H.fmt(q))
  end
  same_ranking(text_search(c, Q"qqqq 3", 20), bm25(docs, W[3]), 20, "unknown and known")
end

-- -- Phrases ----------------------------------------------------------------------------------

-- A random phrase (a quoted run) of 2 or 3 words: a run of a document
-- (maybe across two strings of an array), a word repeated, or words drawn
-- uniformly (rarely in a document in that order), some with a word in no
-- document.
local function random_phrase(r, docs, ids)
  local n, kind, words = r.int(2, 3), r.int(1, 10), {}
  if kind <= 5 then
    local flat = {}
    for _, toks in ipairs(docs[ids[r.int(1, #ids)]]) do
      for _, w in ipairs(toks) do flat[#flat + 1] = w end
    end
    local at = #flat >= n and r.int(1, #flat - n + 1)
    for k = 1, at and n or 0 do words[k] = flat[at + k - 1] end
  end
  if #words == 0 then
    local one = W[math.floor(math.exp(r.uniform(0, math.log(81))))]
    for k = 1, n do words[k] = kind <= 7 and one or W[r.int(1, #W)] end
    if kind == 10 then words[r.int(1, n)] = "qqqq" end
  end
  return '"' .. table.concat(words, " ") .. '"'
end

-- Random queries of words and phrases, some required or excluded (terms
-- the query names once), against bm25 with stopwords stop; returns how
-- many of their phrases match, of how many.
local function random_phrase_queries(c, docs, r, n, stop)
  local ids, matched, phrases = {}, 0, 0
  for id in pairs(docs) do ids[#ids + 1] = id end
  table.sort(ids)
  for _ = 1, n do
    local parts, signed, seen = {}, {}, {}
    for _ = 1, r.int(1, 5) do
      local term = r.int(1, 2) == 1 and random_phrase(r, docs, ids)
                   or W[math.floor(math.exp(r.uniform(0, math.log(81))))]
      local key = query_terms(term, stop)[1]
      key = key and key.key or term
      local sign = r.int(1, 6)
      sign = seen[key] and "" or sign == 1 and "+" or sign == 2 and "-" or ""
      if not signed[key] then parts[#parts + 1] = sign .. term end
      seen[key], signed[key] = true, signed[key] or sign ~= ""
      if term:find('"') then
        phrases = phrases + 1
        if #bm25(docs, term, nil, nil, stop) > 0 then matched = matched + 1 end
      end
    end
    local q = table.concat(parts, " ")
    local want = bm25(docs, q, nil, nil, stop)
    for _, k in ipairs({3, 500}) do
      same_ranking(text_search(c, q, k), want, k, q .. ", k=" .. k)
    end
  end
  return matched, phrases
end

T["phrases: random ones, required and excluded, against the reference"] = function()
  local c, recs, db = setup()
  local docs = docs_of(recs)
  local matched, phrases = random_phrase_queries(c, docs, H.rng(77), 150)
  ok(matched > phrases / 4 and matched < phrases * 0.9,
     ("%d of %d random phrases match"):format(matched, phrases))
  -- with stopwords, the commonest words: left out of phrases, keeping their places
  local stop = {[W[1]] = true, [W[3]] = true}
  local s = assert(db:create_collection("s", {dim = DIM, text = {field = "body",
                                                                 stopwords = {W[1], W[3]}}}))
  load(s, recs)
  random_phrase_queries(s, docs, H.rng(78), 150, stop)
  for _, q in ipairs({Q'"2 1 4"', Q'"1 2 3 4"', Q'"1 2" 2', Q'+"3 5" -"1 1"'}) do
    local want = bm25(docs, q, nil, nil, stop)
    ok(#want > 0, q .. " matches")
    same_ranking(text_search(s, q, 500), want, 500, "stopwords: " .. q)
  end
  eq(#text_search(s, Q'"1 3"', 10), 0, "a phrase of stopwords is nothing")
  -- repeated words: overlapping places count
  for _, q in ipairs({Q'"1 1"', Q'"1 1 1"', Q'"1 1" 1', Q'"1 1" "1 1 1"', Q'+"1 1" -"1 1 1"',
                      Q'"1 1 1" "1 1 1"', Q'"3 3"'}) do
    local want = bm25(docs, q)
    ok(#want > 0, q .. " matches")
    same_ranking(text_search(c, q, 500), want, 500, q)
  end
  -- a run across two strings of the corpus' arrays: only where it stands in one
  local across = 0
  for id, doc in pairs(docs) do
    if #doc == 2 then
      local q = '"' .. doc[1][#doc[1]] .. " " .. doc[2][1] .. '"'
      local hits = text_search(c, q, 500)
      same_ranking(hits, bm25(docs, q), 500, id .. ": " .. q)
      if term_tf(doc, query_terms(q)[1]) == 0 then -- not within one of its strings
        across = across + 1
        for _, h in ipairs(hits) do ok(h.id ~= id, q .. " found across the strings of " .. id) end
      end
    end
  end
  ok(across >= 5, across .. " phrases only across strings")
  local a = assert(db:create_collection("a", {dim = 1, text = "body"}))
  a:upsert("split", {0}, {body = {"alpha beta", "gamma delta"}})
  a:upsert("gap", {0}, {body = {"beta", "", "gamma"}})
  a:upsert("whole", {0}, {body = {"x", "beta gamma"}})
  a:upsert("rev", {0}, {body = "gamma beta"})
  a:upsert("twice", {0}, {body = "beta beta beta"})
  eq(found(a, '"beta gamma"'), {"whole"})
  eq(found(a, '"alpha beta gamma"'), {})
  eq(found(a, '+"beta gamma" alpha'), {"whole"})
  eq(found(a, '-"beta gamma" beta'), {"gap", "rev", "split", "twice"})
  eq(found(a, '"beta beta"'), {"twice"})
  eq(found(a, '"BETA, gamma!" "delta alpha"'), {"whole"})
  eq(found(a, '+"beta qqqq" beta'), {}, "a required phrase with a word in no record")
  eq(found(a, '-"beta qqqq" gamma'), {"gap", "rev", "split", "whole"}, "excluded, ignored")
  eq(found(a, '"beta qqqq" delta'), {"split"}, "optional, ignored")
  eq(found(a, '"gamma"'), found(a, "gamma"), "a quoted word")
end

-- The sqlite3 shell's output for sql, or nil when it is missing or lacks FTS5.
local function sqlite3(sql)
  local rc = os.execute("command -v sqlite3 >/dev/null 2>&1")
  if rc ~= 0 and rc ~= true then return nil end
  local path = H.tmpfile()
  H.write_file(path, sql)
  local p = assert(io.popen("sqlite3 < " .. H.shq(path) .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  if out:find("no such module: fts5", 1, true) then return nil end
  return out
end

T["phrases: scores as SQLite FTS5's (when sqlite3 is installed)"] = function()
  local db = omen.open()
  local c = assert(db:create_collection("f", {dim = DIM, text = "body"}))
  local recs, rows, docs = {}, {}, {}
  for i, rec in ipairs(corpus(300, 5)) do -- the records of one string
    if type(rec.meta.body) == "string" then
      recs[#recs + 1] = rec
      rows[#rows + 1] = ("(%d, '%s')"):format(i, rec.meta.body)
    end
  end
  load(c, recs)
  local queries = { -- omen's, FTS5's
    {Q'"1 2" 3', Q'"1 2" OR 3'}, {Q'"1 1"', Q'"1 1"'}, {Q'"1 1 1" 1', Q'"1 1 1" OR 1'},
    {Q'"2 1 1" "5 1" 7 "9 9"', Q'"2 1 1" OR "5 1" OR 7 OR "9 9"'},
    {Q'"1 2" 4 -"3 1"', Q'("1 2" OR 4) NOT "3 1"'},
  }
  local sql = {"CREATE VIRTUAL TABLE t USING fts5(body);",
               "INSERT INTO t(rowid, body) VALUES " .. table.concat(rows, ",\n") .. ";"}
  for i, q in ipairs(queries) do
    sql[#sql + 1] = ("SELECT %d, rowid, -bm25(t) FROM t WHERE t MATCH '%s';"):format(i, q[2])
  end
  local out = sqlite3(table.concat(sql, "\n") .. "\n")
  if not out then
    io.stderr:write("test_text: no sqlite3 with FTS5, FTS5's scores not compared\n")
    return
  end
  local want = {}
  for i = 1, #queries do want[i] = {} end
  for line in out:gmatch("[^\n]+") do
    local i, rowid, score = line:match("^(%d+)|(%d+)|(%S+)$")
    ok(i, "sqlite3 says " .. line)
    local w = want[tonumber(i)]
    w[#w + 1] = {id = "d" .. rowid, score = tonumber(score)}
  end
  for _, rec in ipairs(recs) do docs[rec.id] = tokens(rec.meta.body) end
  for i, q in ipairs(queries) do
    table.sort(want[i], function(x, y) return x.score > y.score end)
    ok(#want[i] > 0, q[2] .. " matches")
    same_ranking(text_search(c, q[1], 500), want[i], 500, "FTS5: " .. q[2])
    same_ranking(bm25(docs, q[1]), want[i], 500, "the reference, FTS5: " .. q[2])
  end
end

T["+required and -excluded words"] = function()
  local c, recs = setup()
  local docs = docs_of(recs)
  for _, q in ipairs({"+2 10", "+2 +5", "1 -2", "+3 -4 25", "6 -qqqq", "-1 8 15"}) do
    q = Q(q)
    local want = bm25(docs, q)
    ok(#want > 0, q .. " matches")
    same_ranking(text_search(c, q, 500), want, 500, q)
  end
  eq(#text_search(c, Q"-1", 10), 0, "only an excluded word")
  eq(#text_search(c, Q"+qqqq 1", 10), 0, "a required word no record holds")
end

T["updates and deletes show at once, info().text.docs follows"] = function()
  local c, recs = setup(300, 3)
  local r = H.rng(33)
  local function check(label)
    local docs, n = docs_of(recs), 0
    for _ in pairs(docs) do n = n + 1 end
    eq(c:info().text.docs, n, label .. ": docs")
    for _, q in ipairs(QUERIES) do
      same_ranking(text_search(c, q, 300), bm25(docs, q), 300, label .. ": " .. q)
    end
  end
  check("loaded")
  for i = 1, 300, 7 do -- same id, new vector and text
    recs[i].meta = {cat = "x", n = i, body = "fresh " .. sentence(r)}
    recs[i].vec = H.random_vectors(1, DIM, i)[1]
    c:upsert(recs[i].id, recs[i].vec, recs[i].meta)
  end
  check("replaced")
  eq(#text_search(c, "fresh", 100), 43, "a new word")
  for i = 2, 300, 11 do -- same vector; new text, a number, or no field
    recs[i].meta = {cat = "y", n = i, body = ({7, sentence(r)})[i % 3 + 1]}
    c:upsert(recs[i].id, recs[i].vec, recs[i].meta)
  end
  check("same vectors")
  for i = 3, 300, 13 do
    eq(c:delete(recs[i].id), true)
    recs[i] = nil
  end
  check("deleted")
  ok(c:delete_where({cat = "x"}) > 0, "delete_where deleted")
  for i, rec in pairs(recs) do if rec.meta.cat == "x" then recs[i] = nil end end
  check("delete_where")
  eq(#text_search(c, "fresh", 10), 0, "the fresh texts went with cat x")
end

-- -- Fusion ---------------------------------------------------------------------------------

-- The fused ranking of the two halves (vector hits, text hits), per omen_fusion.
local function fuse(vh, th, f)
  f = type(f) == "string" and {method = f} or f or {}
  local by, order = {}, {}
  local function entry(id)
    if not by[id] then by[id] = {id = id}; order[#order + 1] = by[id] end
    return by[id]
  end
  for i, h in ipairs(vh) do local e = entry(h.id); e.vr, e.d = i, h.distance end
  for i, h in ipairs(th) do local e = entry(h.id); e.tr, e.s = i, h.score end
  local function scaled(v, lo, hi) return hi > lo and (v - lo) / (hi - lo) or 1 end
  for _, e in ipairs(order) do
    if f.method == "linear" then
      local alpha = f.alpha or 0.5
      e.score = alpha * (e.vr and 1 - scaled(e.d, vh[1].distance, vh[#vh].distance) or 0)
              + (1 - alpha) * (e.tr and scaled(e.s, th[#th].score, th[1].score) or 0)
    else
      local k = f.k or 60
      e.score = (e.vr and (f.vector or 1) / (k + e.vr) or 0)
              + (e.tr and (f.text or 1) / (k + e.tr) or 0)
    end
  end
  table.sort(order, function(a, b) return a.score > b.score end)
  return order
end

T["fusion: rrf and linear from the two halves"] = function()
  local c, recs = setup()
  local fusions = {false, "rrf", {method = "rrf", k = 5, vector = 2, text = 0.5}, "linear",
                   {method = "linear", alpha = 0.8}, {method = "linear", alpha = 0}}
  for qi, q in ipairs(H.random_vectors(3, DIM, 99)) do
    for _, text in ipairs({Q"2 40", Q"70", "qqqq", Q'"1 2" 40'}) do
      for _, f in ipairs(fusions) do
        for _, kd in ipairs({{10}, {10, 20}, {60, 80}}) do
          local k, depth, fusion = kd[1], kd[2], f or nil
          local label = ("query %d, %q, %s, k=%d, depth=%s"):format(qi, text, H.lit(f), k,
                                                                   tostring(depth))
          local d = depth or math.max(k, 50)
          local want = fuse(H.must(c:search(q, {k = d, exact = true})), text_search(c, text, d),
                            fusion)
          local hits = H.must(c:search(q, {text = text, k = k, depth = depth, exact = true,
                                           fusion = fusion}))
          same_ranking(hits, want, k, label, 1e-5)
          for _, h in ipairs(hits) do
            near(h.distance, H.distance("l2", q, rec_of(recs, h.id).vec), 1e-4, label)
          end
        end
      end
    end
  end
end

T["fusion and search options: bad ones are refused with clear messages"] = function()
  local c, _, db = setup(50)
  local function bad(o, says)
    o.text = o.text or W[1]
    raises(function() c:search({0, 0, 0, 0}, o) end, says, H.lit(o))
  end
  bad({fusion = "borda"}, "unknown fusion method 'borda' (rrf or linear)")
  bad({fusion = {method = "max"}}, "unknown fusion method 'max'")
  bad({fusion = 3}, 'fusion must be "rrf", "linear" or a table (got number)')
  bad({fusion = {method = "linear", alpha = 2}}, "fusion settings out of range (rrf_k >= 0, alpha")
  bad({fusion = {method = "linear", alpha = -0.1}}, "alpha 0 to 1")
  bad({fusion = {method = "rrf", k = -1}}, "rrf_k >= 0")
  bad({fusion = {vector = 1 / 0}}, "finite weights")
  bad({fusion = {alpha = "high"}}, "alpha must be a number")
  bad({fusion = {methd = "rrf"}}, "unknown fusion option 'methd'")
  bad({depth = 0}, "depth must be an integer between 1")
  bad({text = 5}, "text must be a string")
  raises(function() c:search(nil, {k = 3}) end, "search needs a query vector, or text")
  local plain = db:create_collection("plain", {dim = DIM})
  for _, q in ipairs({false, {0, 0, 0, 0}}) do
    raises(function() plain:search(q or nil, {text = "x"}) end,
           "collection 'plain' has no text index")
  end
end

-- -- Filters and hooks ------------------------------------------------------------------------

T["filters, where and rerank apply to text and fused searches"] = function()
  local c, recs = setup()
  local docs = docs_of(recs)
  local q = H.random_vectors(1, DIM, 7)[1]
  local is_x = function(m) return m.cat == "x" end
  local even = function(m) return m.n % 2 == 0 end
  for _, text in ipairs({Q"1", Q"3 30", Q"+2 -6", Q'+"1 2" 30 -"4 1"'}) do
    local all = bm25(docs, text) -- BM25's statistics stay the collection's
    local function only(pred)
      local out = {}
      for _, w in ipairs(all) do if pred(rec_of(recs, w.id).meta) then out[#out + 1] = w end end
      return out
    end
    local x = {filter = {cat = "x"}}
    same_ranking(text_search(c, text, 40, x), only(is_x), 40, text .. " filter")
    local calls = 0
    same_ranking(text_search(c, text, 40, {where = function(id, m)
      calls = calls + 1
      eq(m, rec_of(recs, id).meta, "where gets the meta")
      return even(m)
    end}), only(even), 40, text .. " where")
    ok(calls > 0, "where called")
    x.where = function(_, m) return even(m) end
    same_ranking(text_search(c, text, 40, x), only(function(m) return is_x(m) and even(m) end),
                 40, text .. " filter and where")
    local seen
    local hits = text_search(c, text, 5, {candidates = 20, rerank = function(cands, query, k)
      eq({query, k}, {nil, 5}, "a text search has no query vector")
      seen = cands
      local rev = {}
      for i = #cands, 1, -1 do rev[#rev + 1] = cands[i] end
      return rev
    end})
    same_ranking(seen, all, 20, text .. " rerank's candidates")
    for i, h in ipairs(hits) do eq(h.id, seen[#seen + 1 - i].id, "reranked") end
    -- fused: both halves see the filter
    local want = fuse(H.must(c:search(q, {k = 50, exact = true, filter = {cat = "y"}})),
                      text_search(c, text, 50, {filter = {cat = "y"}}))
    hits = H.must(c:search(q, {text = text, k = 20, exact = true, filter = {cat = "y"}}))
    same_ranking(hits, want, 20, text .. " fused, filter", 1e-5)
    hits = H.must(c:search(q, {text = text, k = 20, where = function(_, m) return even(m) end}))
    eq(#hits, 20, text .. " fused, where")
    for i, h in ipairs(hits) do
      ok(even(h.meta) and h.distance and (i == 1 or h.score <= hits[i - 1].score),
         text .. " fused, where " .. i)
    end
  end
end

-- -- Tokenizers ---------------------------------------------------------------------------------

T["tokenizers: diacritics, porter, trigram, stopwords"] = function()
  local db = omen.open()
  local cases = {
    {"body", {fr = "Café RÉSUMÉ naïve", ru = "Привет Мир", en = "plain words"},
     {["cafe resume"] = {"fr"}, ["NAÏVE"] = {"fr"}, ["привет"] = {"ru"}}},
    {{field = "body", remove_diacritics = 0}, {fr = "Café", en = "cafe"},
     {["CAFÉ"] = {"fr"}, cafe = {"en"}}},
    {{field = "body", stemmer = "porter"}, {r = "running", c = "connections connected", o = "x"},
     {run = {"r"}, RUNS = {"r"}, connect = {"c"}}},
    {{field = "body", tokenizer = "trigram"}, {k = "Wireless KEYBOARD", m = "mouse"},
     {yboa = {"k"}, KEYBOARD = {"k"}, ouse = {"m"}, yb = {}}},
    {{field = "body", tokenizer = "trigram", case_sensitive = true}, {k = "KEYBOARD"},
     {YBOA = {"k"}, yboa = {}}},
    {{field = "body", stopwords = {"the", "of"}}, {a = "the lord of the rings", b = "the hobbit"},
     {the = {}, ["THE rings"] = {"a"}, ["+the hobbit"] = {"b"},
      ['"lord of the rings"'] = {"a"}, ['"lord of of rings"'] = {"a"}, ['"lord the rings"'] = {},
      ['"lord rings"'] = {}, ['"the hobbit of"'] = {"b"}, ['"of the"'] = {}}},
  }
  for i, case in ipairs(cases) do
    local c = assert(db:create_collection("c" .. i, {dim = 1, text = case[1]}))
    for id, body in pairs(case[2]) do c:upsert(id, {0}, {body = body}) end
    for query, ids in pairs(case[3]) do
      eq(found(c, query), ids, H.lit(case[1]) .. ": " .. query)
    end
  end
  eq(db:collection("c6"):info().text.terms, 3, "stopwords are not terms")
  refuses("the porter stemmer goes with the unicode61 tokenizer", "trigram and porter",
          db.create_collection, db, "bad",
          {dim = 1, text = {field = "b", tokenizer = "trigram", stemmer = "porter"}})
end

local function split_commas(s)
  local out = {}
  for w in s:gmatch("[^,]+") do out[#out + 1] = w end
  return out
end

T["a Lua tokenizer, and its failures change nothing"] = function()
  local db = omen.open()
  local c = assert(db:create_collection("tags", {dim = 1,
                                                 text = {field = "t", tokenizer = split_commas}}))
  c:upsert("a", {0}, {t = "red wine,cheese,bread"})
  c:upsert("b", {0}, {t = "red,wine"})
  c:upsert("c", {0}, {t = "cheese"})
  eq(found(c, '"red wine"'), {"a"}, "a quoted run is one text for the tokenizer")
  eq(found(c, "red wine"), {"b"})
  local docs = {a = {{"red wine", "cheese", "bread"}}, b = {{"red", "wine"}}, c = {{"cheese"}}}
  same_ranking(text_search(c, "cheese red", 5), bm25(docs, "cheese red"), 5, "scores")
  eq(db:register_tokenizer("words", function(s) return words_of(s) end), true)
  local w = assert(db:create_collection("w", {dim = 1, text = {field = "t", tokenizer = "words"}}))
  w:upsert("x", {0}, {t = "Hello World"})
  eq(found(w, "hello"), {"x"}, "a registered tokenizer, by name")
  local mode
  local bad = assert(db:create_collection("bad", {dim = 1, text = {field = "t",
                                                                   tokenizer = function(s)
    if mode == "error" then error("boom") end
    if mode == "table" then return "not a table" end
    if mode == "strings" then return {"fine", 42} end
    if mode == "reenter" then c:count() end
    return words_of(s)
  end}}))
  bad:upsert("a", {0}, {t = "alpha beta"})
  bad:upsert("b", {0}, {t = "beta gamma"})
  local function state()
    mode = nil
    return {bad:count(), bad:info().text.docs, text_search(bad, "beta", 10), {bad:get("a")},
            bad:get("new")}
  end
  local before = state()
  for m, why in pairs({error = "boom", table = "must return an array of strings",
                       strings = "must return an array of strings",
                       reenter = "a tokenizer may not call omen"}) do
    local function fails(label, fn)
      mode = m
      local err = raises(fn, "collection 'bad': tokenizer 'bad' failed: ", m .. ": " .. label)
      ok(err:find(why, 1, true), m .. ": " .. label .. ": " .. err)
      eq(state(), before, m .. ": " .. label .. " changed something")
    end
    fails("new record", function() bad:upsert("new", {0}, {t = "delta"}) end)
    fails("replaced", function() bad:upsert("a", {1}, {t = "delta"}) end)
    fails("batch", function()
      bad:upsert_batch({"new", "a"}, {{0}, {1}}, {{t = "delta"}, {t = "epsilon"}})
    end)
    fails("search", function() bad:search(nil, {text = "beta"}) end)
    fails("fused search", function() bad:search({0}, {text = "beta"}) end)
  end
  eq(bad:upsert("x", {0}, {other = 1}), true, "records without the field never call it")
end

-- -- Persistence --------------------------------------------------------------------------------

T["persistence: reopened; written to the log by a process that died; compacted"] = function()
  local path = H.tmpfile()
  local recs = corpus(300, 8)
  local db = assert(omen.open(path))
  load(assert(db:create_collection("t", {dim = DIM,
                                         text = {field = "body", k1 = 1.5, b = 0.5}})), recs)
  local function check(label)
    local c = db:collection("t")
    eq(c:info().text.field, "body")
    local docs = docs_of(recs)
    for _, q in ipairs(QUERIES) do
      same_ranking(text_search(c, q, 50), bm25(docs, q, 1.5, 0.5), 50, label .. q)
    end
  end
  check("before: ")
  db:close()
  db = assert(omen.open(path))
  check("reopened: ")
  db:close()
  -- a child writes, replaces and deletes, then exits without closing
  local changes = {}
  for _, rec in ipairs(corpus(60, 9, "m")) do
    changes[#changes + 1] = {rec.id, rec.vec, rec.meta}
    recs[rec.id] = rec
  end
  for i = 1, 300, 17 do
    recs[i].meta = {body = "changed " .. W[i % 80 + 1]}
    changes[#changes + 1] = {recs[i].id, recs[i].vec, recs[i].meta}
  end
  for i = 5, 300, 23 do
    changes[#changes + 1] = {recs[i].id}
    recs[i] = nil
  end
  H.child_ok(([[
    local c = assert(omen.open(%q)):collection("t")
    for _, ch in ipairs(%s) do
      if ch[2] then assert(c:upsert(ch[1], ch[2], ch[3])) else assert(c:delete(ch[1])) end
    end
    io.write("written\n")
    os.exit(0)
  ]]):format(path, H.lit(changes)), "written", "writer", H.NO_LEAK_CHECK)
  ok(#H.read_file(path .. "-wal") > 0, "the child's writes are in the log")
  db = assert(omen.open(path))
  check("after the log: ")
  eq(db:compact(), true)
  check("compacted: ")
  local changed = bm25(docs_of(recs), "changed")
  ok(#changed > 10, "changed texts")
  eq(#text_search(db:collection("t"), "changed", 50), #changed, "changed texts")
  db:close()
end

T["persistence: a Lua tokenizer's collection reopened without it, then with it"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = assert(db:create_collection("tags", {dim = 2,
                                                 text = {field = "t", tokenizer = split_commas}}))
  c:upsert("a", {1, 0}, {t = "red wine,cheese"})
  c:upsert("b", {0, 1}, {t = "bread"})
  db:close()
  db = assert(omen.open(path))
  c = db:collection("tags")
  eq(c:search({1, 0}, 1)[1].id, "a", "vector search works")
  local named = "collection 'tags': tokenizer 'tags' is not registered"
  raises(function() c:search(nil, {text = "bread"}) end, named)
  raises(function() c:search({1, 0}, {text = "bread"}) end, named)
  raises(function() c:upsert("c", {1, 1}, {t = "butter"}) end, named)
  raises(function() c:upsert("a", {1, 1}, {t = "butter"}) end, named)
  eq({c:count(), c:info().text.docs}, {2, 2})
  eq(c:upsert("d", {1, 1}, {other = "no text"}), true, "a record without the field")
  db:close()
  db = assert(omen.open(path, {tokenizers = {tags = split_commas}}))
  c = db:collection("tags")
  eq(found(c, '"red wine"'), {"a"})
  c:upsert("c", {1, 1}, {t = "butter,bread"})
  eq(found(c, "bread"), {"b", "c"})
  db:close()
end

-- -- Bad input ----------------------------------------------------------------------------------

T["bad text options: a clear error and no collection"] = function()
  local db = omen.open()
  local function refused(name, text, says)
    refuses(says, name, db.create_collection, db, name, {dim = 2, text = text})
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
  refused("diac", {field = "b", remove_diacritics = 4},
          "remove_diacritics must be an integer between 0 and 3")
  refused("k1", {field = "b", k1 = -1}, "k1 must be a number from 0 to 1000")
  refused("b", {field = "b", b = 2}, "b must be a number from 0 to 1")
  refused("stop", {field = "b", stopwords = {"a", 1}}, "stopword 2 is not a string")
  eq(db:collections(), {})
  local c = db:create_collection("c", {dim = 1})
  c:upsert("a", {0}, {body = "hello world"})
  raises(function() c:text_index({field = "body", tokenizer = split_commas}) end,
         "register the function with db:register_tokenizer(name, fn)")
  eq(c:text_index("body"), true)
  eq(found(c, "hello"), {"a"}, "text_index indexes the records there")
  refuses("collection 'c' has a text index already", "second index", c.text_index, c, "other")
  raises(function() db:register_tokenizer("trigram", split_commas) end, "not a built-in one's")
  raises(function() db:register_tokenizer("x", 5) end, "tokenizer 'x' must be a function")
end

return T
