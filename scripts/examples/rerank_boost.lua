-- rerank_boost.lua: move new and popular products up the results.
--
--   omen-lua scripts/examples/rerank_boost.lua
--
-- Vector distance knows what a product is like, not whether it is this
-- season's or anyone buys it. A rerank hook can fold that in: omen finds the
-- 40 nearest candidates, the hook scores each one from its distance and its
-- metadata, and the search returns the 10 best scores.
--
--   score = similarity + w_new * freshness + w_pop * popularity
--
-- similarity = 1 - distance (the collection is cosine; 1 is identical);
-- freshness  = 0.5 ^ (days since added / 60): 1 today, 0.5 two months on;
-- popularity = the share of the other candidates that sold fewer units.
-- Sales have a long tail; a rank among the candidates needs no guess at
-- what "many" is, and one bestseller cannot bury everything else.
--
-- The weights are in units of similarity: with w_new = 0.08, a product
-- added today beats an old one that is up to 0.08 closer to the query.
-- Keep them small next to the spread of the candidates' similarities, or
-- the boost, not the query, decides what is shown.

local catalog = dofile((arg[0]:match("^(.*[/\\])") or "") .. "catalog.lua")
catalog.cli [[
usage: omen-lua scripts/examples/rerank_boost.lua

Searches a synthetic product catalog, then reranks the candidates with a
boost for recently added and for often sold products, and shows the top 10
before and after.
]]

local function freshness(meta) return 0.5 ^ (meta.added / 60) end

-- Popularity of each hit as the share of the other candidates that sold
-- fewer units: 1 for the best seller here, 0 for the worst.
local function popularity(hits)
  local p = {}
  for i, h in ipairs(hits) do
    local fewer = 0
    for _, other in ipairs(hits) do
      if other.meta.sold < h.meta.sold then fewer = fewer + 1 end
    end
    p[i] = fewer / math.max(1, #hits - 1)
  end
  return p
end

-- A rerank hook: score every candidate, best first. Each hit keeps its
-- plain rank and its score: fields the hook adds come back from search.
local function boost(w_new, w_pop)
  return function(hits)
    local pop = popularity(hits)
    for i, h in ipairs(hits) do
      h.rank = i
      h.score = (1 - h.distance) + w_new * freshness(h.meta) + w_pop * pop[i]
    end
    table.sort(hits, function(a, b)
      if a.score ~= b.score then return a.score > b.score end
      return a.rank < b.rank -- table.sort is not stable; ties keep the plain order
    end)
    return hits
  end
end

local db, c, data = catalog.load(3000)
local query = catalog.query(data, {bags = 1})

local function top10(w_new, w_pop)
  return c:search(query, {k = 10, candidates = 40, rerank = boost(w_new, w_pop)})
end

-- One line per hit; with `boosted`, also its plain rank and its score.
local function list(title, hits, boosted)
  print(title)
  print("      product                          sim  days  sold"
        .. (boosted and "  was  score" or ""))
  for i, h in ipairs(hits) do
    local line = ("  %2d  %-30s %5.3f  %4d  %4d"):format(i, h.meta.name,
      1 - h.distance, h.meta.added, h.meta.sold)
    if boosted then line = line .. ("  %3s  %5.3f"):format("#" .. h.rank, h.score) end
    print(line)
  end
end

-- Zero weights score by similarity alone: the plain ranking.
local W_NEW, W_POP = 0.08, 0.05
local plain, boosted = top10(0, 0), top10(W_NEW, W_POP)
list("bags, nearest first:", plain)
list(("\nbags, boosted for new (w %.2f) and popular (w %.2f):"):format(W_NEW, W_POP),
  boosted, true)

-- Which products the boost brought into the top 10, and from how far down.
-- It can only promote what is among the candidates: if products come up
-- from near the last candidate, ask for more candidates.
local in_plain = {}
for _, h in ipairs(plain) do in_plain[h.id] = true end
local entered = {}
for _, h in ipairs(boosted) do
  if not in_plain[h.id] then
    entered[#entered + 1] = ("%s from #%d"):format(h.meta.name, h.rank)
  end
end
print("\nentered the top 10: " .. (#entered > 0 and table.concat(entered, ", ") or "none"))

-- Checks: with zero weights the candidates keep the search's own order, and
-- the boosted list is sorted by score.
local nearest = c:search(query, {k = 40})
for i = 1, 10 do
  catalog.check(plain[i].id == nearest[i].id, "zero weights changed rank %d", i)
  catalog.check(i == 1 or boosted[i - 1].score >= boosted[i].score,
    "boosted hits out of order at %d", i)
end
db:close()
print("rerank_boost: all checks passed")
