-- Durability through Lua: what survives a process that dies without
-- closing, per sync mode; flush, checkpoint, compact, verify.
local H = require("helpers")
local eq, ok, raises = H.eq, H.ok, H.raises

local T = {}

-- A child writes n records with the given open options, optionally
-- flushes, then leaves without closing anything (like kill -9 after its
-- last call returned).
local function write_and_die(path, opts, n, flush)
  H.child_ok(string.format([[
    local db = assert(omen.open(%q, %s))
    local c = db:collection("c") or db:create_collection("c", {dim = 3})
    for i = 1, %d do c:upsert("k" .. i, {i, i + 1, i + 2}, {i = i}) end
    c:upsert_batch({"b1", "b2"}, {{1, 1, 1}, {2, 2, 2}})
    c:delete("k1")
    if %s then assert(db:flush()) end
    io.write("written\n")
    os.exit(0)
  ]], path, opts, n, tostring(flush)), "written", "writer", H.NO_LEAK_CHECK)
end

local function count_of(path)
  local db = assert(omen.open(path, {readonly = true}))
  local n = db:collection("c") and db:collection("c"):count() or 0
  db:close()
  return n
end

T["every write that returned survives the process dying (normal, full)"] = function()
  for _, mode in ipairs({"normal", "full"}) do
    local path = H.tmpfile()
    write_and_die(path, ('{sync = %q}'):format(mode), 50, false)
    eq(count_of(path), 51, mode)
    local db = assert(omen.open(path))
    local c = db:collection("c")
    eq({c:get("k7")}, {{7, 8, 9}, {i = 7}}, mode)
    eq(c:get("k1"), nil, mode)
    eq((c:get("b2")), {2, 2, 2}, mode)
    db:close()
  end
end

T["sync off keeps a prefix, and everything up to a flush"] = function()
  local path = H.tmpfile()
  write_and_die(path, '{sync = "off"}', 30, true)
  eq(count_of(path), 31)
  local path2 = H.tmpfile()
  write_and_die(path2, '{sync = "off"}', 30, false)
  local n = count_of(path2)
  ok(n >= 0 and n <= 31, "a prefix: " .. n)
end

T["the log goes away at close and after a checkpoint only its header is left"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = db:create_collection("c", {dim = 2})
  c:upsert("a", {1, 2})
  ok(H.exists(path .. "-wal"), "log while writes are pending")
  eq(db:checkpoint(), true)
  eq(#H.read_file(path .. "-wal"), 0, "the log is empty after a checkpoint")
  c:upsert("b", {3, 4})
  eq(db:close(), true)
  eq(H.exists(path .. "-wal"), false)
  db = assert(omen.open(path))
  eq(db:collection("c"):count(), 2)
  db:close()
end

T["compact gives deleted slots back and keeps the rest"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path))
  local c = db:create_collection("c", {dim = 4})
  local ids, vecs = {}, {}
  for i = 1, 2000 do ids[i], vecs[i] = "r" .. i, {i, -i, i % 7, 1} end
  c:upsert_batch(ids, vecs)
  eq(db:checkpoint(), true)
  local before = #H.read_file(path)
  for i = 1, 2000 do if i % 4 ~= 0 then c:delete("r" .. i) end end
  eq(c:info().deleted, 1500)
  eq(db:compact(), true)
  eq(c:info().deleted, 0)
  eq(c:info().slots, 500)
  ok(#H.read_file(path) < before / 2, "the file shrank")
  eq((c:get("r400")), {400, -400, 400 % 7, 1})
  eq(c:search({400, -400, 400 % 7, 1}, 1)[1].id, "r400")
  db:close()
  db = assert(omen.open(path, {verify = true}))
  eq(db:collection("c"):count(), 500)
  db:close()
end

T["open options are checked"] = function()
  raises(function() omen.open(nil, {sync = "sometimes"}) end, "unknown sync mode")
  raises(function() omen.open(nil, {sync = 1}) end, "unknown sync mode")
  raises(function() omen.open(nil, {checkpoint_bytes = -1}) end, "checkpoint_bytes")
  local db = assert(omen.open(nil, {sync = "full", verify = true}))
  eq(db:flush(), true) -- nothing to do in memory
  eq(db:compact(), true)
  db:close()
end

T["a small checkpoint size folds the log as it grows"] = function()
  local path = H.tmpfile()
  local db = assert(omen.open(path, {checkpoint_bytes = 4096}))
  local c = db:create_collection("c", {dim = 8})
  local v = {1, 2, 3, 4, 5, 6, 7, 8}
  local biggest = 0
  for i = 1, 300 do
    c:upsert("k" .. i, v, {i = i})
    biggest = math.max(biggest, #H.read_file(path .. "-wal"))
  end
  ok(biggest < 4096 + 1024, "log stayed small: " .. biggest)
  db:close()
  db = assert(omen.open(path))
  eq(db:collection("c"):count(), 300)
  db:close()
end

return T
