-- rerank_mmr.lua: diversify results with maximal marginal relevance (MMR).
--
--   omen-lua scripts/examples/rerank_mmr.lua
--
-- The ten nearest products are often the same thing ten times: colour
-- variants of one model, or one category crowding out the rest of what the
-- shopper asked for. MMR (Carbonell and Goldstein, 1998) picks results one at
-- a time, each time taking the candidate that best trades relevance for
-- novelty:
--
--   mmr(d) = lambda * sim(d, query) - (1 - lambda) * max sim(d, c) over chosen c
--
-- lambda = 1 is the plain ranking; lower lambdas buy variety with relevance.
--
-- It runs as a rerank hook: omen finds `candidates` nearest products (with
-- their vectors, which MMR needs to compare hits with each other), the hook
-- puts them in MMR order, and the search returns the first k.

local catalog = dofile((arg[0]:match("^(.*[/\\])") or "") .. "catalog.lua")
catalog.cli [[
usage: omen-lua scripts/examples/rerank_mmr.lua

Searches a synthetic product catalog for a broad query and shows the plain
top 10 next to a top 10 diversified by MMR, with how many distinct models and
categories each covers.
]]

local cosine = catalog.cosine

-- A rerank hook ordering the candidates by MMR. It orders all of them (the
-- hook is not told k, and the first k of the greedy order are what a greedy
-- pick of k would choose anyway): 50 candidates cost 50 * 49 / 2 cosines.
--
-- Relevance is 1 - distance: in a cosine collection that is the similarity
-- to the query, already computed by omen. (Under l2 or ip, compute
-- cosine(h.vector, query) instead: the hook's second argument is the query.)
local function mmr(lambda)
  return function(hits)
    local relevance, nearest = {}, {} -- nearest: highest sim to a chosen hit
    for i, h in ipairs(hits) do
      relevance[i], nearest[i] = 1 - h.distance, -1
    end
    local order, taken = {}, {}
    for _ = 1, #hits do
      local best, best_score
      for i = 1, #hits do
        if not taken[i] then
          local penalty = #order > 0 and nearest[i] or 0
          local score = lambda * relevance[i] - (1 - lambda) * penalty
          if not best or score > best_score then best, best_score = i, score end
        end
      end
      taken[best], order[#order + 1] = true, hits[best]
      for i = 1, #hits do -- the new pick raises the penalty of its look-alikes
        if not taken[i] then
          nearest[i] = math.max(nearest[i], cosine(hits[i].vector, hits[best].vector))
        end
      end
    end
    return order
  end
end

local db, c, data = catalog.load(3000)

-- A broad intent, "a day in the mountains": a jacket, a hat, sunglasses.
local query = catalog.query(data, {jackets = 1, hats = 1, sunglasses = 1})

local function top10(lambda)
  if lambda == nil then return c:search(query, {k = 10}) end
  return c:search(query, {k = 10, candidates = 50, with_vectors = true,
                          rerank = mmr(lambda)})
end

local plain, diverse = top10(), top10(0.5)

print("mountain day: plain top 10 | MMR top 10 (lambda 0.5, from 50 candidates)")
for i = 1, 10 do
  local a, b = plain[i].meta, diverse[i].meta
  print(("%2d  %-30s %-10s | %-30s %s"):format(i, a.name, a.cat, b.name, b.cat))
end
print(("models:     plain %d, MMR %d"):format(
  catalog.distinct(plain, "model"), catalog.distinct(diverse, "model")))
print(("categories: plain %d (%s), MMR %d (%s)"):format(
  catalog.distinct(plain, "cat"), catalog.tally(plain, "cat"),
  catalog.distinct(diverse, "cat"), catalog.tally(diverse, "cat")))

-- How lambda trades relevance (mean similarity to the query) for variety.
print("\nlambda  models  categories  mean sim")
for _, lambda in ipairs({1, 0.7, 0.5, 0.3}) do
  local hits = top10(lambda)
  local sum = 0
  for _, h in ipairs(hits) do sum = sum + (1 - h.distance) end
  print(("%6.1f  %6d  %10d  %8.3f"):format(lambda, catalog.distinct(hits, "model"),
    catalog.distinct(hits, "cat"), sum / #hits))
end

-- lambda = 1 ignores novelty, so it must keep the candidates' own order;
-- and the diversified list must not cover fewer models than the plain one.
local same, candidates = top10(1), c:search(query, {k = 50})
for i = 1, 10 do
  catalog.check(same[i].id == candidates[i].id, "lambda 1 reordered hit %d", i)
end
catalog.check(catalog.distinct(diverse, "model") >= catalog.distinct(plain, "model"),
  "MMR covers fewer models than plain search")
db:close()
print("rerank_mmr: all checks passed")
