-- hybrid_search.lua: full-text search with BM25, and text fused with vector
-- search, on the engine's own index.
--
--   omen-lua scripts/examples/hybrid_search.lua
--
-- The catalog's product names ("Storm Shell 07 (navy)") get a text index.
-- Then:
--  1. text alone: c:search(nil, {text = ...}) ranks by BM25, as SQLite FTS5's
--     bm25() does (higher is better here);
--  2. required and excluded words: "+storm shell -navy", and a phrase:
--     "storm shell" in quotes matches the two words one after the other;
--  3. a shopper's intent as a vector (jackets) and as words ("storm"): the
--     vector alone finds jackets of every line, the words alone Storm
--     products of every kind, and the two fused (reciprocal rank fusion, or
--     a weighted sum) put Storm jackets first;
--  4. a filter and a `where` hook apply to text and fused searches alike.
-- Every step checks its answers and exits non-zero on a surprise.
--
-- Compare hybrid_score.lua, which mixes a keyword match into a rerank hook
-- by hand: it only sees the candidates the vector search brought, where the
-- text index finds every record holding the words.

local catalog = dofile((arg[0]:match("^(.*[/\\])") or "") .. "catalog.lua")
catalog.cli [[
usage: omen-lua scripts/examples/hybrid_search.lua

Indexes the product names of a synthetic catalog for full-text search, then
searches by text alone (BM25), with required and excluded words, and fused
with a vector query (RRF and linear), with a filter and a where hook.
]]
local check = catalog.check

local db, c, data = catalog.load(3000)
assert(c:text_index("name")) -- every record's name; later writes keep it exact
local info = c:info().text
print(("text index on %s: %d records, %d terms, %d bytes"):format(info.field, info.docs,
                                                                   info.terms, info.bytes))

local function show(title, hits)
  print(title)
  for i, h in ipairs(hits) do
    print(("  %d. %s  score %.4f%s"):format(i, catalog.describe(h.meta), h.score,
      h.distance and ("  distance %.3f"):format(h.distance) or ""))
  end
end

-- 1. Text alone: every hit holds a word of the query; the rarer the word
-- and the shorter the name, the higher the score.
local hits = c:search(nil, {text = "storm shell navy", k = 5})
show("text: storm shell navy", hits)
check(#hits == 5 and hits[1].meta.name:match("^Storm Shell %d+ %(navy%)$"),
      "a navy Storm Shell comes first, got %s", hits[1] and hits[1].meta.name)
for i = 2, #hits do check(hits[i].score <= hits[i - 1].score, "best first") end

-- 2. "+word" must be there, "-word" must not.
hits = c:search(nil, {text = "+storm shell -navy", k = 50})
for _, h in ipairs(hits) do
  local name = h.meta.name:lower()
  check(name:find("storm") and not name:find("navy"), "+storm -navy broken by %s", name)
end
print(("+storm shell -navy: %d hits, Storm and not navy, Shells first: %s"):format(#hits,
  hits[1].meta.name))
local loose = c:search(nil, {text = "+storm +shell", k = 1000})
local phrase = c:search(nil, {text = '"storm shell"', k = 1000})
local reversed = c:search(nil, {text = '"shell storm"', k = 1000})
for _, h in ipairs(phrase) do
  check(h.meta.name:match("^Storm Shell "), "the phrase matched %s", h.meta.name)
end
check(#phrase == #loose and #phrase > 0 and #reversed == 0,
      "names read 'Storm Shell', never 'Shell Storm'")
print(('phrases: "storm shell" %d records, "shell storm" %d'):format(#phrase, #reversed))

-- 3. Intent as a vector and as words.
local jackets = catalog.query(data, {jackets = 1})
local by_vector = c:search(jackets, {k = 10})
local by_text = c:search(nil, {text = "storm", k = 10})
local rrf = c:search(jackets, {text = "storm", k = 10})
local linear = c:search(jackets, {text = "storm", k = 10,
                                  fusion = {method = "linear", alpha = 0.5}})
local function storm_jackets(list)
  local n = 0
  for _, h in ipairs(list) do
    if h.meta.cat == "jackets" and h.meta.name:match("^Storm") then n = n + 1 end
  end
  return n
end
show("vector and text, fused by RRF", rrf)
print(("Storm jackets in the top 10: vector %d, text %d, RRF %d, linear %d"):format(
  storm_jackets(by_vector), storm_jackets(by_text), storm_jackets(rrf), storm_jackets(linear)))
check(storm_jackets(rrf) > storm_jackets(by_vector) and
      storm_jackets(rrf) > storm_jackets(by_text), "RRF should beat both halves")
check(storm_jackets(linear) >= storm_jackets(rrf) - 2, "linear fusion close to RRF")
for _, h in ipairs(rrf) do check(h.distance ~= nil, "fused hits carry their distance") end

-- 4. A filter and a where hook narrow text and fused searches the same way.
local cheap = c:search(jackets, {text = "storm", k = 10, filter = {price = {["$lt"] = 100}},
                                 where = function(_, meta) return meta.in_stock end})
for _, h in ipairs(cheap) do
  check(h.meta.price < 100 and h.meta.in_stock, "filter and where hold")
end
print(("under $100 and in stock: %d hits, first %s"):format(#cheap,
  cheap[1] and cheap[1].meta.name or "none"))

-- Writes keep the index exact: a renamed product is found by its new name.
local id = rrf[1].id
local vec, meta = c:get(id)
meta.name = "Storm Shell 99 (glacier)"
c:upsert(id, vec, meta)
hits = c:search(nil, {text = "glacier", k = 3})
check(#hits == 1 and hits[1].id == id, "the renamed product is found by its new name")
print("renamed " .. id .. ": found by 'glacier'")
db:close()
