-- hybrid_score.lua: blend vector similarity with a keyword match, and use a
-- `where` predicate for a condition filters cannot express.
--
--   omen-lua scripts/examples/hybrid_score.lua
--
-- A shopper types "storm waterproof jacket". The embedding of that text (here
-- the jackets direction stands in for one) finds jackets in general; the
-- words name a product line and a property the shopper insists on. A hybrid
-- score weighs both:
--
--   score = (1 - alpha) * similarity + alpha * keywords
--
-- keywords   = the share of the query's words found in the product's name or
--              tags: 0, 1/2 or 1 for two words;
-- similarity = the candidate's cosine similarity rescaled over the
--              candidates to [0, 1] (the nearest 1, the farthest 0).
-- Rescaling matters: the raw similarities of 40 candidates bunch within a few
-- hundredths of each other, so next to a 0..1 keyword score even a small
-- alpha would let the keywords decide alone.
--
-- Then a `where` predicate: the engine's filters compare a field with a
-- constant, so "costs under $80 after its discount" (price and discount
-- together) is a Lua function on each candidate's metadata.

local catalog = dofile((arg[0]:match("^(.*[/\\])") or "") .. "catalog.lua")
catalog.cli [[
usage: omen-lua scripts/examples/hybrid_score.lua

Searches a synthetic product catalog with a score mixing vector similarity
and a keyword match, for several weights; then narrows a search with a Lua
`where` predicate over two fields (price after discount).
]]

local db, c, data = catalog.load(3000)
local query = catalog.query(data, {jackets = 1}) -- "the embedding of the text"
local WORDS = {"storm", "waterproof"}             -- the words of the text

-- The share of `words` among the product's name words and tags.
local function keyword_score(meta, words)
  local have = {}
  for w in meta.name:lower():gmatch("%a+") do have[w] = true end
  for _, t in ipairs(meta.tags) do have[t] = true end
  local found = 0
  for _, w in ipairs(words) do
    if have[w] then found = found + 1 end
  end
  return found / #words
end

-- A rerank hook ordering by the hybrid score; each hit keeps its parts.
local function hybrid(alpha, words)
  return function(hits)
    local lo, hi = math.huge, -math.huge
    for _, h in ipairs(hits) do
      lo, hi = math.min(lo, h.distance), math.max(hi, h.distance)
    end
    for i, h in ipairs(hits) do
      h.rank = i
      h.sim = hi > lo and (hi - h.distance) / (hi - lo) or 1 -- closest 1, farthest 0
      h.keywords = keyword_score(h.meta, words)
      h.score = (1 - alpha) * h.sim + alpha * h.keywords
    end
    table.sort(hits, function(a, b)
      if a.score ~= b.score then return a.score > b.score end
      return a.rank < b.rank
    end)
    return hits
  end
end

local function show(title, hits)
  print(title)
  for i, h in ipairs(hits) do
    print(("  %d. %-30s %-22s sim %.2f  words %.1f  was #%d"):format(i,
      h.meta.name, table.concat(h.meta.tags, ","), h.sim, h.keywords, h.rank))
  end
end

-- -- Hybrid scoring, for a few weights -------------------------------------------

print(('query: the jackets direction and the words "%s"'):format(table.concat(WORDS, " ")))
print("(sim: similarity rescaled over the 40 candidates; was: rank by distance)")
local last
for _, alpha in ipairs({0, 0.3, 0.7}) do
  last = c:search(query, {k = 5, candidates = 40, rerank = hybrid(alpha, WORDS)})
  show(("\nalpha %.1f%s:"):format(alpha, alpha == 0 and " (vector only)" or ""), last)
end
-- With the keywords weighing most, a product with both words leads.
catalog.check(last[1].keywords == 1, "alpha 0.7: the first hit lacks a query word")

-- -- A where predicate ------------------------------------------------------------

local BUDGET = 80
local function final_price(meta)
  return meta.price * (1 - (meta.discount or 0) / 100)
end

local function show_deal(i, h)
  print(("  %d. %s  -%d%% = $%.2f%s"):format(i, catalog.describe(h.meta),
    h.meta.discount, final_price(h.meta),
    h.keywords and ("  words %.1f"):format(h.keywords) or ""))
  catalog.check(final_price(h.meta) < BUDGET, "%s is over budget", h.id)
end

-- The filter does what it can in the engine: jackets that are on sale. The
-- predicate, called on the candidates that pass it, does the arithmetic.
local on_sale = {cat = "jackets", discount = {["$exists"] = true}}
local function affordable(id, meta) return final_price(meta) < BUDGET end

local deals = c:search(query, {k = 5, filter = on_sale, where = affordable})
print(("\njackets under $%d after the discount (filter + where):"):format(BUDGET))
for i, h in ipairs(deals) do show_deal(i, h) end
catalog.check(#deals == 5, "expected 5 deals, found %d", #deals)

-- where and rerank compose: the filter, then where, then the hybrid order
-- over the candidates that passed both.
local both = c:search(query, {k = 3, filter = on_sale, where = affordable,
                              candidates = 40, rerank = hybrid(0.5, WORDS)})
print("\nthe same deals in hybrid order (alpha 0.5):")
for i, h in ipairs(both) do show_deal(i, h) end
db:close()
print("hybrid_score: all checks passed")
