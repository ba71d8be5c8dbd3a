-- quickstart.lua: the README's Lua quick start, runnable.
--   omen-lua scripts/examples/quickstart.lua [path]   (no path: in memory)
local omen = require("omen")

local db = assert(omen.open(arg[1]))
local docs = db:collection("docs")
  or db:create_collection("docs", {dim = 3, metric = "cosine"})

docs:upsert("apple",  {0.9, 0.1, 0.0}, {kind = "fruit", colour = "red"})
docs:upsert("banana", {0.1, 0.9, 0.1}, {kind = "fruit", colour = "yellow"})
docs:upsert_batch({"cherry", "kale"},
                  {{0.8, 0.0, 0.3}, {0.0, 0.2, 0.9}},
                  {{kind = "fruit", colour = "red"}, {kind = "leaf", tags = {"green"}}})

for i, hit in ipairs(docs:search({1.0, 0.0, 0.1}, 2)) do
  print(i, hit.id, ("%.4f"):format(hit.distance), hit.meta.colour)
end
print("count", docs:count(), "get", docs:get("kale")[3])
db:close()
