-- filter_products.lua: vector search narrowed by metadata filters.
--
--   omen-lua scripts/examples/filter_products.lua
--
-- A shop's questions against a synthetic catalog of 3,000 products
-- (scripts/examples/catalog.lua): the query vector says what the shopper is
-- after, the filter says what the shop may show. Filters run inside the
-- engine, so k = 10 means ten products that pass, however rare they are.
--
-- Every filter is written twice: as the filter table omen evaluates, and as a
-- plain Lua function that says the same thing. The script checks each hit and
-- each count against the Lua version, so it is also a statement of what the
-- operators mean, and it exits non-zero if omen disagrees.

local catalog = dofile((arg[0]:match("^(.*[/\\])") or "") .. "catalog.lua")
catalog.cli [[
usage: omen-lua scripts/examples/filter_products.lua

Builds a synthetic product catalog in memory and searches it with filters:
a field match with $lt, $in, $or, $contains and $exists; then counts and
deletes by filter. Checks every answer; exits non-zero on a mismatch.
]]

local db, c, data = catalog.load(3000)
print(("catalog: %d products in %d categories"):format(c:count(), #catalog.CATEGORIES))

local function has_tag(meta, tag)
  for _, t in ipairs(meta.tags) do
    if t == tag then return true end
  end
  return false
end

-- The field names a filter mentions, at any depth, except cat and price
-- (every listing shows those): the fields worth printing next to a hit.
local function fields_of(filter, out)
  out = out or {}
  for key, value in pairs(filter) do
    if key:sub(1, 1) == "$" then -- $or, $and: a list of filters; $not: one
      for _, f in ipairs(key == "$not" and {value} or value) do fields_of(f, out) end
    elseif key ~= "cat" and key ~= "price" then
      out[key] = true
    end
  end
  return out
end

local function show_fields(meta, fields)
  local parts = {}
  for key in pairs(fields) do
    local v = meta[key]
    if type(v) == "table" then v = table.concat(v, ",") end
    parts[#parts + 1] = key .. "=" .. (v == nil and "-" or tostring(v))
  end
  table.sort(parts)
  return table.concat(parts, " ")
end

-- The ten products closest to a query that pass `filter`. Prints the first
-- three and checks that every hit satisfies `holds`, the filter in Lua, and
-- that the filter cost no hits: ten, or all there are if fewer pass.
local function search(title, intent, filter, holds)
  local hits = c:search(catalog.query(data, intent), {k = 10, filter = filter})
  local pass = c:count(filter)
  print(("\n%s: %d products pass, the nearest:"):format(title, pass))
  catalog.check(#hits == math.min(10, pass), "%s: %d hits", title, #hits)
  local fields = fields_of(filter)
  for i, h in ipairs(hits) do
    catalog.check(holds(h.meta), "%s: %s does not pass the filter", title, h.meta.name)
    if i <= 3 then
      print((("  %d. %s  %s"):format(i, catalog.describe(h.meta),
                                     show_fields(h.meta, fields)):gsub("%s+$", "")))
    end
  end
  return hits
end

-- c:count(filter) scans the metadata in the engine; the same count in Lua
-- walks the catalog we generated.
local function count(title, filter, holds)
  local n, expect = c:count(filter), 0
  for _, meta in ipairs(data.metas) do
    if holds(meta) then expect = expect + 1 end
  end
  catalog.check(n == expect, "count %s: omen says %d, Lua says %d", title, n, expect)
  print(("  %-34s %5d"):format(title, n))
  return n
end

-- -- Searches ---------------------------------------------------------------------

-- Several fields in one table must all hold; an operator table compares.
search("shoes under $50", {shoes = 1},
  {cat = "shoes", price = {["$lt"] = 50}},
  function(m) return m.cat == "shoes" and m.price < 50 end)

-- $in: the field equals one of a list (here: either of two categories).
search("summer accessories in stock", {hats = 1, sunglasses = 1},
  {cat = {["$in"] = {"hats", "sunglasses"}}, in_stock = true},
  function(m) return (m.cat == "hats" or m.cat == "sunglasses") and m.in_stock end)

-- $or takes a list of filters, any one of which may hold: here cheap bags
-- and deeply discounted ones. A missing discount field fails $gte.
search("bags: under $25 or 30% off", {bags = 1},
  {cat = "bags", ["$or"] = {{price = {["$lt"] = 25}}, {discount = {["$gte"] = 30}}}},
  function(m)
    return m.cat == "bags" and (m.price < 25 or (m.discount or 0) >= 30)
  end)

-- $contains: an array-of-strings field (tags) holds the given string.
search("waterproof jackets in stock", {jackets = 1},
  {tags = {["$contains"] = "waterproof"}, in_stock = true},
  function(m) return has_tag(m, "waterproof") and m.in_stock end)

-- $exists: whether the field is there at all. Products without reviews have
-- no rating field, so this finds recent arrivals nobody has rated yet.
search("new and not yet rated", {watches = 1},
  {rating = {["$exists"] = false}, added = {["$lte"] = 90}},
  function(m) return m.rating == nil and m.added <= 90 end)

-- -- Counting and deleting ------------------------------------------------------

print("\ncounts:")
count("all products", nil, function() return true end)
count("shoes", {cat = "shoes"}, function(m) return m.cat == "shoes" end)
count("on sale ($exists discount)", {discount = {["$exists"] = true}},
  function(m) return m.discount ~= nil end)
count("rated 4.5+ with 20+ reviews", {rating = {["$gte"] = 4.5}, reviews = {["$gte"] = 20}},
  function(m) return m.rating ~= nil and m.rating >= 4.5 and m.reviews >= 20 end)
count("not clothing ($not $in)",
  {["$not"] = {cat = {["$in"] = {"shirts", "jackets", "socks"}}}},
  function(m) return m.cat ~= "shirts" and m.cat ~= "jackets" and m.cat ~= "socks" end)

-- Discontinue what has been out of stock and in the catalog for over a year.
-- delete_where returns how many records it removed.
local stale = {in_stock = false, added = {["$gt"] = 365}}
local before = c:count()
local expect = count("out of stock, over a year old", stale,
  function(m) return not m.in_stock and m.added > 365 end)
local removed = c:delete_where(stale)
catalog.check(removed == expect, "delete_where removed %d, expected %d", removed, expect)
catalog.check(c:count(stale) == 0, "stale products left after delete_where")
catalog.check(#c:search(catalog.query(data, {shoes = 1}), {k = 5, filter = stale}) == 0,
  "a search still finds deleted products")
print(("\ndeleted %d stale products: %d -> %d"):format(removed, before, c:count()))

db:close()
print("filter_products: all checks passed")
