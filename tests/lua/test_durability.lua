-- Durability through Lua: what survives a process that dies without
-- closing, per sync mode; flush, checkpoint, compact, verify; a full disk;
-- read-only opens beside a writer; a damaged log.
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

T["a full disk with sync off loses nothing acknowledged; writes go on once there is room"] = function()
  local dir = H.tmpdir()
  if os.execute("mount -t tmpfs -o size=5m tmpfs " .. H.shq(dir) .. " 2>/dev/null") ~= 0 then
    io.write("  skipped: a full disk needs a tmpfs mount, which is not allowed here\n")
    return
  end
  local ok_run, err = pcall(function()
    local path = dir .. "/full.omen"
    local out = H.child_ok(string.format([[
      local db = assert(omen.open(%q, {sync = "off"}))
      local c = db:create_collection("c", {dim = 32})
      local v = {}
      local function vec(i)
        for j = 1, 32 do v[j] = math.sin(i * 32 + j) end
        return v
      end
      local n, err = 0, nil
      while not err and n < 200000 do -- a full disk is a failure: nil, message
        local ok, e = c:upsert("k" .. (n + 1), vec(n + 1))
        if ok then n = n + 1 else err = e end
      end
      assert(err:find("No space left"), err)
      local flushed, ferr = db:flush() -- what waits in the buffer cannot go out
      assert(flushed == nil and ferr:find("No space left"), tostring(ferr))
      assert(os.execute("mount -o remount,size=40m %s") == 0)
      assert(db:flush())
      for i = 1, 1000 do c:upsert("more" .. i, vec(-i)) end
      assert(db:flush())
      io.write("acknowledged ", n + 1000, "\n")
      os.exit(0)
    ]], path, H.shq(dir)), "acknowledged", "writer", H.NO_LEAK_CHECK)
    local acked = tonumber(out:match("acknowledged (%d+)"))
    ok(acked > 20000, "filled 5 MB: " .. tostring(acked))
    local db = assert(omen.open(path, {readonly = true}))
    eq(db:collection("c"):count(), acked, "every acknowledged write")
    db:close()
    db = assert(omen.open(path))
    eq((db:collection("c"):get("more1000"))[1], H.f32(math.sin(-1000 * 32 + 1)))
    eq(db:close(), true)
    os.remove(path)
    os.remove(path .. "-wal")
    -- ingest (sync off) onto the full disk: the count it reports is the count
    -- a reopen finds
    assert(os.execute("mount -o remount,size=5m " .. H.shq(dir)) == 0)
    local src = H.tmpfile() .. ".fvecs"
    local ffi = require("ffi")
    local row = ffi.new("struct { int32_t dim; float v[32]; }")
    row.dim = 32
    local parts = {}
    for i = 1, 40000 do
      for j = 0, 31 do row.v[j] = math.sin(i * 32 + j) end
      parts[i] = ffi.string(row, ffi.sizeof(row))
    end
    H.write_file(src, table.concat(parts))
    local passed, _, _, err = H.run_script("ingest", path, "c", src, "--batch", "1000")
    os.remove(src)
    ok(not passed and err:find("No space left"), err)
    local said = tonumber(err:match("%((%d+) records stored before them%)"))
    ok(said and said > 10000, err)
    assert(os.execute("mount -o remount,size=40m " .. H.shq(dir)) == 0)
    db = assert(omen.open(path, {readonly = true}))
    eq(db:collection("c"):count(), said, "what ingest reported stored")
    db:close()
  end)
  os.execute("umount " .. H.shq(dir))
  if not ok_run then error(err, 0) end
end

T["read-only opens beside a writer that checkpoints see every acknowledged write"] = function()
  local path = H.tmpfile()
  local acks = path .. ".acks"
  local db = assert(omen.open(path))
  db:create_collection("c", {dim = 8})
  db:close()
  local script = H.tmpfile()
  H.write_file(script, string.format([[
    local db = assert(omen.open(%q))
    local c = db:collection("c")
    for round = 1, 30 do
      local ids, vecs = {}, {}
      for i = 1, 500 do ids[i], vecs[i] = round .. ":" .. i, {round, i, 1, 2, 3, 4, 5, 6} end
      c:upsert_batch(ids, vecs, nil, {threads = 1})
      local f = assert(io.open(%q, "w")) -- acknowledged: say so, atomically
      f:write(round * 500)
      f:close()
      assert(os.rename(%q, %q))
      assert(db:checkpoint())
    end
    db:close()
  ]], path, acks .. ".tmp", acks .. ".tmp", acks))
  local writer = io.popen(H.NO_LEAK_CHECK .. " " .. H.shq(H.interp) .. " " .. H.shq(script) .. " 2>&1")
  local opens, short = 0, 0
  local deadline = os.time() + 300 -- a writer that died never writes 15000
  while os.time() < deadline do
    local f = io.open(acks, "r")
    local before = f and tonumber(f:read("*a")) or 0
    if f then f:close() end
    local ro, err = omen.open(path, {readonly = true})
    assert(ro, err)
    local n = ro:collection("c"):count()
    ro:close()
    opens = opens + 1
    if n < before then short = short + 1 end
    if before == 15000 then break end
  end
  local out = writer:read("*a")
  writer:close()
  eq(out, "", "the writer said nothing")
  eq(short, 0, "opens that missed acknowledged writes, of " .. opens)
  ok(os.time() < deadline, "the writer did not finish")
  ok(opens >= 5, opens .. " opens")
  os.remove(acks)
end

-- A log with a byte flipped in its middle: records before and after it
-- are whole, so it is damage, not a torn tail.
local function damage_log(path)
  write_and_die(path, "nil", 50, false)
  local log = H.read_file(path .. "-wal")
  local at = math.floor(#log / 2)
  local bad = log:sub(1, at) .. string.char((log:byte(at + 1) + 1) % 256) .. log:sub(at + 2)
  H.write_file(path .. "-wal", bad)
  return bad
end

T["a log damaged before its end is refused and kept until the user cuts it"] = function()
  local path = H.tmpfile()
  local bad = damage_log(path)
  for _, opts in ipairs({{}, {readonly = true}, {readonly = true, verify = true}, {verify = true}}) do
    H.fails(omen.open(path, opts), "the log of '.*' is damaged: record %d+ %(at byte %d+ of '.*%-wal'%)")
  end
  eq(H.read_file(path .. "-wal"), bad, "nothing was changed")
  local good, status, out = H.run_script("check", path)
  ok(not good and status ~= 0, "check.lua fails")
  ok(out:find("FAILED: .*the log of .* is damaged: record %d+"), out)
  raises(function() omen.open(path, {recover = "maybe"}) end, "unknown recover mode")
  local ro = assert(omen.open(path, {readonly = true, recover = "truncate"}))
  local kept = ro:collection("c"):count()
  ro:close()
  ok(kept > 0 and kept < 51, "the records before the damage: " .. kept)
  eq(H.read_file(path .. "-wal"), bad, "a read-only open cut nothing")
  local db = assert(omen.open(path, {recover = "truncate"}))
  eq(db:collection("c"):count(), kept)
  eq(db:close(), true)
  db = assert(omen.open(path))
  eq(db:collection("c"):count(), kept)
  db:close()
end

return T
