-- catalog.lua: a synthetic product catalog shared by the example scripts
-- (filter_products, rerank_mmr, rerank_boost, hybrid_score).
--
-- Not an example itself: load it from a script next to it with
--
--   local catalog = dofile((arg[0]:match("^(.*[/\\])") or "") .. "catalog.lua")
--
-- It stands in for an embedding model and a product table. Every category
-- has a direction in a 16-dimensional space; a product model sits near its
-- category's direction, and its colour variants sit almost on top of the
-- model (near-duplicates, as real catalogs have). So a query built from a
-- category's direction finds that category first, and nearby products are
-- similar in a way one can check by reading their names.
--
-- Each product's metadata:
--   name      "Storm Shell 07 (navy)": style, kind, model number, colour
--   cat       one of CATEGORIES below
--   model     "jackets-7", shared by the colour variants of one model
--   price     dollars, ending in .99
--   in_stock  boolean
--   tags      array of strings ("waterproof", "eco", ...; "sale", "new")
--   added     days since it entered the catalog, 0 to 730
--   sold      units sold last month
--   discount  percent off; only on products on sale
--   reviews, rating (1 to 5)   only on products someone has reviewed
--
-- Everything comes from one seeded generator of our own, so every run builds
-- the same catalog.

local sqrt, log, exp, cos, floor = math.sqrt, math.log, math.exp, math.cos, math.floor
local min, max, pi = math.min, math.max, math.pi

local M = {}

M.DIM = 16
M.CATEGORIES = {"shoes", "shirts", "jackets", "bags", "hats", "watches", "socks",
                "sunglasses"}

-- Product nouns and the price range (dollars) of each category.
local KINDS = {
  shoes      = {{"Runner", "Sneaker", "Boot", "Loafer", "Sandal"}, 25, 160},
  shirts     = {{"Tee", "Oxford", "Polo", "Henley", "Flannel"}, 12, 70},
  jackets    = {{"Parka", "Shell", "Bomber", "Blazer", "Fleece"}, 40, 300},
  bags       = {{"Backpack", "Tote", "Duffel", "Messenger", "Sling"}, 20, 220},
  hats       = {{"Beanie", "Cap", "Fedora", "Bucket Hat", "Sun Hat"}, 10, 60},
  watches    = {{"Diver", "Chrono", "Field Watch", "Smartwatch", "Dress Watch"}, 60, 600},
  socks      = {{"Crew Socks", "Ankle Socks", "Wool Socks", "Trail Socks", "Dress Socks"},
                4, 25},
  sunglasses = {{"Aviator", "Wayfarer", "Round Frame", "Sport Shades", "Cat Eye"}, 15, 180},
}
local STYLES = {"Trail", "Urban", "Classic", "Alpine", "Coastal", "Storm", "Metro",
                "Summit"}
local COLOURS = {"black", "navy", "red", "olive", "grey", "tan", "white", "blue"}
local TAGS = {"waterproof", "leather", "eco", "sport", "kids", "unisex", "wool",
              "limited"}

-- -- A seeded generator ---------------------------------------------------------
-- Park and Miller's minimal standard generator: the product stays below 2^53,
-- so plain Lua numbers compute it exactly.

function M.rng(seed)
  local s = floor(seed) % 2147483647
  if s == 0 then s = 1 end
  local r = {}
  function r.uniform() -- in (0, 1)
    s = s * 16807 % 2147483647
    return s / 2147483647
  end
  function r.int(lo, hi) return lo + floor(r.uniform() * (hi - lo + 1)) end
  function r.pick(list) return list[r.int(1, #list)] end
  function r.normal() -- Box-Muller
    return sqrt(-2 * log(r.uniform())) * cos(2 * pi * r.uniform())
  end
  return r
end

-- -- Vectors ----------------------------------------------------------------------

function M.normalize(v)
  local n = 0
  for i = 1, #v do n = n + v[i] * v[i] end
  n = sqrt(n)
  local out = {}
  for i = 1, #v do out[i] = v[i] / n end
  return out
end

-- Cosine similarity of two vectors (1 same direction, 0 unrelated).
function M.cosine(a, b)
  local ab, aa, bb = 0, 0, 0
  for i = 1, #a do
    ab, aa, bb = ab + a[i] * b[i], aa + a[i] * a[i], bb + b[i] * b[i]
  end
  return ab / sqrt(aa * bb)
end

-- base + scale * (a random vector of length about 1).
local function jitter(r, base, scale)
  local out = {}
  for i = 1, #base do out[i] = base[i] + scale * r.normal() / sqrt(#base) end
  return out
end

-- -- The catalog ------------------------------------------------------------------

local function price_in(r, lo, hi) -- log-uniform, ending in .99
  return floor(exp(log(lo) + r.uniform() * (log(hi) - log(lo)))) + 0.99
end

local function pick_tags(r)
  local tags = {}
  for _ = 1, r.int(0, 2) do
    local t = r.pick(TAGS)
    if tags[#tags] ~= t then tags[#tags + 1] = t end
  end
  return tags
end

-- One product model and its colour variants, appended to `out`.
local function add_model(r, out, cat, center, number)
  local kind = KINDS[cat]
  local name = ("%s %s %02d"):format(r.pick(STYLES), r.pick(kind[1]), number)
  -- the model near the category, its variants (below) nearer still to it
  local model_vec = jitter(r, center, 0.6)
  local price = price_in(r, kind[2], kind[3])
  local added = r.int(0, 730) -- days since it entered the catalog
  local tags = pick_tags(r)
  local discount = r.uniform() < 0.2 and 5 * r.int(2, 10) or nil -- percent off
  if discount then tags[#tags + 1] = "sale" end
  if added <= 30 then tags[#tags + 1] = "new" end
  local first = r.int(1, #COLOURS)
  for v = 1, r.int(1, 4) do
    local sold = floor(exp(3 + 1.3 * r.normal())) -- a long tail: most sell a few
    local reviews = floor(sold * r.uniform() * 0.5)
    local meta = {
      name = ("%s (%s)"):format(name, COLOURS[(first + v - 2) % #COLOURS + 1]),
      cat = cat, model = cat .. "-" .. number, price = price, added = added,
      tags = tags, discount = discount, sold = sold,
      -- out of stock more often the older the model
      in_stock = r.uniform() < (added > 365 and 0.6 or 0.9),
    }
    if reviews > 0 then -- no reviews, no rating field at all
      meta.reviews = reviews
      meta.rating = min(5, max(1, floor(10 * (3.8 + 0.6 * r.normal())) / 10))
    end
    out[#out + 1] = {vec = M.normalize(jitter(r, model_vec, 0.12)), meta = meta}
  end
end

-- n products as the arrays upsert_batch takes, and each category's direction:
-- {ids = {...}, vecs = {...}, metas = {...}, centers = {shoes = {...}, ...}}.
-- Same seed, same catalog.
function M.generate(n, seed)
  local r = M.rng(seed or 42)
  local centers = {}
  for _, cat in ipairs(M.CATEGORIES) do
    local zero = {}
    for i = 1, M.DIM do zero[i] = 0 end
    centers[cat] = M.normalize(jitter(r, zero, 1))
  end
  local made, number = {}, 0
  while #made < n do
    number = number + 1
    local cat = M.CATEGORIES[(number - 1) % #M.CATEGORIES + 1]
    add_model(r, made, cat, centers[cat], floor((number - 1) / #M.CATEGORIES) + 1)
  end
  local data = {ids = {}, vecs = {}, metas = {}, centers = centers}
  for i = 1, n do
    data.ids[i] = ("p%04d"):format(i)
    data.vecs[i], data.metas[i] = made[i].vec, made[i].meta
  end
  return data
end

-- An in-memory database with the catalog in a cosine collection "products".
-- Returns db, collection, catalog.
--
-- The batch is built by one thread: several threads link the graph in an
-- order that varies from run to run, and with it, now and then, the last
-- hits of an approximate search. One thread keeps the examples' output the
-- same on every run, and at 3,000 vectors costs a fraction of a second.
-- For real batches leave `threads` out (one per core).
function M.load(n, seed)
  local omen = require("omen")
  local data = M.generate(n or 3000, seed)
  local db = assert(omen.open())
  local c = db:create_collection("products", {dim = M.DIM, metric = "cosine"})
  c:upsert_batch(data.ids, data.vecs, data.metas, {threads = 1})
  return db, c, data
end

-- A query vector standing for a shopper's intent, as a mix of categories:
-- query(data, {jackets = 1, hats = 0.5}).
function M.query(data, weights)
  local q = {}
  for i = 1, M.DIM do q[i] = 0 end
  for cat, w in pairs(weights) do
    local c = assert(data.centers[cat], "unknown category " .. cat)
    for i = 1, M.DIM do q[i] = q[i] + w * c[i] end
  end
  return M.normalize(q)
end

-- -- Output and checks ----------------------------------------------------------

-- "Storm Shell 07 (navy)          jackets     $129.99", for one line of a listing.
function M.describe(meta)
  return ("%-30s %-10s %8s"):format(meta.name, meta.cat, ("$%.2f"):format(meta.price))
end

-- Number of distinct values of meta[field] among hits.
function M.distinct(hits, field)
  local seen, n = {}, 0
  for _, h in ipairs(hits) do
    local v = h.meta[field]
    if not seen[v] then seen[v], n = true, n + 1 end
  end
  return n
end

-- "shirts 6, hats 4": how many hits have each value of meta[field], most first.
function M.tally(hits, field)
  local n, values = {}, {}
  for _, h in ipairs(hits) do
    local v = h.meta[field]
    if not n[v] then n[v], values[#values + 1] = 0, v end
    n[v] = n[v] + 1
  end
  table.sort(values, function(a, b)
    return n[a] > n[b] or (n[a] == n[b] and a < b)
  end)
  for i, v in ipairs(values) do values[i] = v .. " " .. n[v] end
  return table.concat(values, ", ")
end

-- Stop with a message and a non-zero exit status unless ok.
function M.check(ok, fmt, ...)
  if not ok then
    io.stderr:write(arg[0], ": check failed: ", fmt:format(...), "\n")
    os.exit(1)
  end
end

-- The scripts take no arguments but --help: print the usage and exit 0;
-- anything else is a usage error.
function M.cli(usage)
  local a = arg[1]
  if a == "--help" or a == "-h" then
    io.write(usage)
    os.exit(0)
  elseif a ~= nil then
    io.stderr:write(usage)
    os.exit(2)
  end
end

return M
