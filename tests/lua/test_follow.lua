-- Live readers through Lua: a database opened {readonly = true} follows the
-- writer (another handle here, or another process) at each call;
-- refresh_ms and db:refresh(); the options' errors.
local H = require("helpers")
local eq, ok, raises = H.eq, H.ok, H.raises

local T = {}

local function writer_with(path, n)
  local w = assert(omen.open(path))
  local c = assert(w:create_collection("c", {dim = 3}))
  for i = 1, n do c:upsert("k" .. i, {i, i + 1, i + 2}, {i = i}) end
  return w, c
end

T["a reader sees each write, checkpoint and compaction at its next call"] = function()
  local path = H.tmpfile()
  local w, c = writer_with(path, 10)
  local r = assert(omen.open(path, {readonly = true}))
  local rc = assert(r:collection("c"))
  eq(rc:count(), 10)
  c:upsert("k11", {1, 1, 1}, {i = 11})
  eq(rc:count(), 11)
  eq({rc:get("k11")}, {{1, 1, 1}, {i = 11}})
  c:delete("k1")
  eq(rc:get("k1"), nil)
  assert(w:checkpoint())
  c:upsert_batch({"b1", "b2"}, {{0, 0, 1}, {0, 0, 2}})
  eq(rc:count(), 12)
  for i = 2, 11, 2 do c:delete("k" .. i) end
  assert(w:compact())
  eq(rc:count(), 7)
  local hits = rc:search({0, 0, 1}, 2)
  eq(hits[1].id, "b1")
  eq(hits[2].id, "b2")
  w:create_collection("d", {dim = 2})
  eq(r:collections(), {"c", "d"})
  w:drop_collection("d")
  eq(r:collections(), {"c"})
  raises(function() rc:upsert("x", {1, 2, 3}) end, "read%-only")
  r:close()
  w:close()
end

T["refresh_ms spaces the looks out; manual waits for db:refresh()"] = function()
  local path = H.tmpfile()
  local w, c = writer_with(path, 3)
  local manual = assert(omen.open(path, {readonly = true, refresh_ms = "manual"}))
  local spaced = assert(omen.open(path, {readonly = true, refresh_ms = 3600000}))
  local m, s = manual:collection("c"), spaced:collection("c")
  eq(s:count(), 3)
  c:upsert("k4", {4, 4, 4})
  eq(m:count(), 3)
  eq(s:count(), 3)
  eq(manual:refresh(), true)
  eq(spaced:refresh(), true)
  eq(m:count(), 4)
  eq(s:count(), 4)
  eq(w:refresh(), true) -- a writer: nothing to follow
  manual:close()
  spaced:close()
  w:close()
end

T["a reader follows a writer in another process, and outlives it"] = function()
  local path = H.tmpfile()
  local w = writer_with(path, 1)
  w:close()
  local r = assert(omen.open(path, {readonly = true}))
  local rc = assert(r:collection("c"))
  eq(rc:count(), 1)
  H.child_ok(string.format([[
    local db = assert(omen.open(%q, {checkpoint_bytes = 4096}))
    local c = db:collection("c")
    for i = 2, 200 do c:upsert("k" .. i, {i, i, i}, {i = i}) end
    c:delete("k1")
    io.write("written\n")
    os.exit(0) -- without closing, like kill -9 after the last call returned
  ]], path), "written", "writer", H.NO_LEAK_CHECK)
  eq(rc:count(), 199)
  eq(rc:get("k1"), nil)
  eq({rc:get("k200")}, {{200, 200, 200}, {i = 200}})
  r:close()
end

T["refresh_ms is checked"] = function()
  raises(function() omen.open(nil, {readonly = true, refresh_ms = -1}) end,
         "refresh_ms must be an integer")
  raises(function() omen.open(nil, {readonly = true, refresh_ms = 1.5}) end,
         "refresh_ms must be an integer")
  raises(function() omen.open(nil, {readonly = true, refresh_ms = "soon"}) end,
         "refresh_ms must be a number of milliseconds or \"manual\"")
  local db = assert(omen.open(nil, {refresh_ms = 10}))
  eq(db:refresh(), true) -- in memory: nothing to follow
  db:close()
end

return T
