-- tarantool_smoke.lua: omen's Lua module inside Tarantool, a LuaJIT
-- application server whose LuaJIT refuses other builds' bytecode (the
-- module embeds its Lua as text for that reason). Run by
-- tests/hosts/tarantool_test.sh with OMEN_MODULE_DIR and OMEN_TMP set.
package.cpath = os.getenv("OMEN_MODULE_DIR") .. "/?.so;" .. package.cpath
local omen = require("omen")
local path = os.getenv("OMEN_TMP") .. "/t.omen"
local db = assert(omen.open(path))
local c = assert(db:create_collection("c", {dim = 3}))
c:upsert("a", {1, 0, 0}, {tag = "x"})
c:upsert_batch({"b", "c"}, {{0, 1, 0}, {0, 0, 1}})
local reader = assert(omen.open(path, {readonly = true}))
local rc = assert(reader:collection("c"))
c:delete("c")
local hits = rc:search({0.9, 0.1, 0}, 3)
assert(#hits == 2 and hits[1].id == "a" and hits[1].meta.tag == "x", "search through a reader")
assert(db:close() and reader:close())
local again = assert(omen.open(path, {readonly = true}))
assert(again:collection("c"):count() == 2, "count after reopening")
print("tarantool " .. _TARANTOOL .. ": omen " .. omen.version .. " opened, upserted, followed, searched")
os.exit(0)
