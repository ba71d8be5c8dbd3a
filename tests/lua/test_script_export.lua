-- The batch jobs scripts/export.lua, import.lua, stats.lua and check.lua,
-- each run in a child omen-lua (H.run_script) on small databases.
local H = require("helpers")
local eq, ok = H.eq, H.ok
local json = require("cjson.safe")

local T = {}

local SCRIPTS = {"export", "import", "stats", "check"}

-- os.execute's status (LuaJIT: a wait status) as an exit code.
local function code(status)
  if type(status) ~= "number" then return status end
  return status >= 256 and math.floor(status / 256) or status
end

local function has(text, s, msg)
  ok(text:find(s, 1, true), (msg or "output") .. " should contain " .. H.fmt(s) .. ": "
     .. H.fmt(text))
end

-- Run a script that must succeed; returns stdout, stderr.
local function run_ok(name, ...)
  local good, status, out, err = H.run_script(name, ...)
  if not good then
    error(("%s failed (status %s): %s%s"):format(name, tostring(status), out, err), 2)
  end
  return out, err
end

-- Run a script that must fail with exit code `want`; returns stdout, stderr.
local function run_fails(want, name, ...)
  local good, status, out, err = H.run_script(name, ...)
  ok(not good, name .. " should fail: " .. out .. err)
  eq(code(status), want, name .. " exit code (" .. err .. ")")
  return out, err
end

-- Metadata with everything an export must carry through unchanged.
local TRICKY = {
  quote = 'say "hi"\nline two\ttab \\ back\\slash /',
  unicode = "héllo ✓ 😀 \u{2028}",
  control = "\0\1\31\127 end",
  tenth = 0.1, big = 1e300, neg = -0.5, tiny = 5e-324, int = 42, huge_int = 2 ^ 53 + 2,
  negzero = -0.0, inf = math.huge, ninf = -math.huge,
  yes = true, no = false,
  tags = {"a", 'b"c', "", "d\ne"}, none = {},
}
local ODD_ID = 'odd "id"\n\255\1 ✓'

-- A database at path: "docs" (cosine, sq8, custom settings, deleted
-- records leaving holes in the slot order) and "other" (defaults).
local function make_db(path)
  local db = assert(omen.open(path))
  local docs = assert(db:create_collection("docs", {dim = 5, metric = "cosine", m = 8,
    ef_construction = 40, ef_search = 24, quantization = "sq8"}))
  local vecs = H.random_vectors(40, 5, 3)
  local ids, metas = {}, {}
  for i = 1, 40 do
    ids[i] = ("r%02d"):format(i)
    metas[i] = {n = i, even = i % 2 == 0, tag = {"t" .. i % 3}}
  end
  docs:upsert_batch(ids, vecs, metas)
  docs:upsert(ODD_ID, {0.1, -0.0, 1e-30, 123456.789, -2.5}, TRICKY)
  docs:upsert("empty meta", {1, 2, 3, 4, 5}, {})
  docs:upsert("no meta", {-1, 2, -3, 4, -5})
  docs:delete("r07")
  docs:delete("r20")
  local other = assert(db:create_collection("other", {dim = 3}))
  other:upsert_batch({"x", "y"}, {{1, 2, 3}, {4, 5, 6}})
  assert(db:close())
  return 41 -- records in docs
end

local function lines_of(text)
  local out = {}
  for line in text:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

local function count_in(path, name)
  local db = assert(omen.open(path, {readonly = true}))
  local c = db:collection(name)
  local n = c and c:count()
  db:close()
  return n
end

-- -- Usage --------------------------------------------------------------------------

T["scripts: --help prints the usage and exits 0"] = function()
  for _, name in ipairs(SCRIPTS) do
    local good, status, out, err = H.run_script(name, "--help")
    ok(good, name .. " --help: status " .. tostring(status))
    ok(out:find("^usage: omen%-lua scripts/" .. name .. "%.lua "), name .. ": " .. out)
    eq(err, "", name .. " writes nothing on stderr")
  end
end

T["scripts: a wrong argument count is a usage error (status 2)"] = function()
  for _, name in ipairs(SCRIPTS) do
    local _, err = run_fails(2, name)
    has(err, "usage: omen-lua scripts/" .. name .. ".lua", name)
  end
end

-- -- Export and import ------------------------------------------------------------------

T["export: the header, and one record per line with its meta as JSON"] = function()
  local dir = H.tmpdir()
  local n = make_db(dir .. "/a.omen")
  local _, err = run_ok("export", dir .. "/a.omen", "docs", dir .. "/a.jsonl")
  has(err, n .. " records", "summary line")
  eq(H.exists(dir .. "/a.jsonl.tmp"), false, "no temporary file left")
  local lines = lines_of(H.read_file(dir .. "/a.jsonl"))
  eq(#lines, n + 1)
  eq(lines[1], '{"omen_collection":{"count":41,"dim":5,"ef_construction":40,"ef_search":24,'
     .. '"m":8,"metric":"cosine","name":"docs","quantization":"sq8"}}')
  local seen = {}
  local cli = dofile("scripts/cli.lua")
  for i = 2, #lines do
    local rec = assert(json.decode(lines[i]), lines[i])
    ok(cli.utf8_valid(lines[i]), "line " .. i .. " is UTF-8 text")
    seen[cli.from_json_bytes(rec.id)] = rec
    ok(lines[i]:find('^{"id":.*,"vector":%[.*%],"meta":{.*}}$'), lines[i])
  end
  eq(seen.r07, nil, "a deleted record is not exported")
  eq(seen["empty meta"].meta, {})
  eq(seen["no meta"].meta, {})
  ok(lines[#lines]:find('"meta":{}}$'), "an empty meta is written {}")
  local odd = assert(seen[ODD_ID], "the odd id reads back")
  eq(odd.id, {base64 = cli.base64(ODD_ID)}, "an id that is not UTF-8 goes as base64")
  -- 9 digits: each component reads back as the same float32
  local back = {}
  for j, x in ipairs(odd.vector) do back[j] = H.f32(x) end
  eq(back, {H.f32(0.1), 0, H.f32(1e-30), H.f32(123456.789), -2.5})
  eq(1 / odd.vector[2], -math.huge, "a -0 component keeps its sign")
  for _, k in ipairs({"quote", "unicode", "control", "tenth", "big", "neg", "tiny", "int",
                      "huge_int", "yes", "no", "tags"}) do
    eq(odd.meta[k], TRICKY[k], "meta " .. k)
  end
  eq(odd.meta.inf, math.huge)
  eq(odd.meta.ninf, -math.huge)
  eq(1 / odd.meta.negzero, -math.huge, "-0 keeps its sign")
  local text = H.read_file(dir .. "/a.jsonl")
  has(text, '"none":[]', "an empty string array")
  has(text, '"tags":["a","b\\"c","","d\\ne"]', "a string array")
  has(text, '"tenth":0.10000000000000001', "doubles with 17 digits")
end

T["export -> import -> export: jsonl, byte for byte"] = function()
  local dir = H.tmpdir()
  make_db(dir .. "/a.omen")
  run_ok("export", dir .. "/a.omen", "docs", dir .. "/a.jsonl")
  local _, err = run_ok("import", dir .. "/b.omen", dir .. "/a.jsonl")
  has(err, "41 records into docs")
  run_ok("export", dir .. "/b.omen", "docs", dir .. "/b.jsonl")
  eq(H.read_file(dir .. "/b.jsonl"), H.read_file(dir .. "/a.jsonl"))

  -- and the records themselves: settings, vectors bit for bit, metadata
  local a = assert(omen.open(dir .. "/a.omen", {readonly = true}))
  local b = assert(omen.open(dir .. "/b.omen", {readonly = true}))
  local ca, cb = a:collection("docs"), b:collection("docs")
  for _, k in ipairs({"dim", "metric", "m", "ef_construction", "ef_search", "quantization",
                      "count"}) do
    eq(cb:info()[k], ca:info()[k], k)
  end
  for id, vec, meta in ca:each({with_meta = true, with_vectors = true}) do
    local v2, m2 = cb:get(id)
    eq(v2, vec, "vector of " .. H.fmt(id))
    eq(m2, meta, "meta of " .. H.fmt(id))
  end
  local _, m = cb:get(ODD_ID)
  eq(1 / m.negzero, -math.huge, "-0 survives the round trip")
  eq(b:collection("other"), nil, "only the exported collection")
  a:close()
  b:close()
end

T["export -> import -> export: fvecs with its sidecar"] = function()
  local dir = H.tmpdir()
  local n = make_db(dir .. "/a.omen")
  run_ok("export", dir .. "/a.omen", "docs", dir .. "/a.jsonl")
  run_ok("export", dir .. "/a.omen", "docs", dir .. "/a.fvecs")
  eq(#H.read_file(dir .. "/a.fvecs"), n * (4 + 4 * 5), "fvecs size")
  local side = lines_of(H.read_file(dir .. "/a.fvecs.jsonl"))
  eq(#side, n + 1)
  eq(side[1], lines_of(H.read_file(dir .. "/a.jsonl"))[1], "the same header")
  ok(side[2]:find('^{"id":"r01","meta":{.*}}$'), side[2])

  run_ok("import", dir .. "/b.omen", dir .. "/a.fvecs")
  run_ok("export", dir .. "/b.omen", "docs", dir .. "/b.jsonl")
  eq(H.read_file(dir .. "/b.jsonl"), H.read_file(dir .. "/a.jsonl"), "as the jsonl export")
  run_ok("export", dir .. "/b.omen", "docs", dir .. "/b.vec", "--format", "fvecs")
  eq(H.read_file(dir .. "/b.vec"), H.read_file(dir .. "/a.fvecs"))
  eq(H.read_file(dir .. "/b.vec.jsonl"), H.read_file(dir .. "/a.fvecs.jsonl"))
end

T["export -> import: an empty collection, in both formats"] = function()
  local dir = H.tmpdir()
  local db = assert(omen.open(dir .. "/a.omen"))
  db:create_collection("void", {dim = 7, metric = "ip"})
  db:close()
  for _, ext in ipairs({"jsonl", "fvecs"}) do
    local out = dir .. "/void." .. ext
    run_ok("export", dir .. "/a.omen", "void", out)
    run_ok("import", dir .. "/" .. ext .. ".omen", out)
    local b = assert(omen.open(dir .. "/" .. ext .. ".omen", {readonly = true}))
    local c = assert(b:collection("void"))
    eq({c:count(), c:dim(), c:info().metric}, {0, 7, "ip"}, ext)
    b:close()
  end
  eq(#H.read_file(dir .. "/void.fvecs"), 0)
end

T["export: an unknown collection or format fails and leaves no file"] = function()
  local dir = H.tmpdir()
  make_db(dir .. "/a.omen")
  local _, err = run_fails(1, "export", dir .. "/a.omen", "nope", dir .. "/x.jsonl")
  has(err, "no collection named 'nope'")
  eq(H.exists(dir .. "/x.jsonl"), false)
  eq(H.exists(dir .. "/x.jsonl.tmp"), false)
  _, err = run_fails(2, "export", dir .. "/a.omen", "docs", dir .. "/x.csv")
  has(err, "jsonl or fvecs")
  _, err = run_fails(1, "export", dir .. "/missing.omen", "docs", dir .. "/x.jsonl")
  has(err, "missing.omen")
  eq(H.exists(dir .. "/missing.omen"), false, "a read-only open makes no file")
end

T["import: an existing collection needs --replace; --collection renames"] = function()
  local dir = H.tmpdir()
  make_db(dir .. "/a.omen")
  run_ok("export", dir .. "/a.omen", "docs", dir .. "/a.jsonl")
  local b = dir .. "/b.omen"
  run_ok("import", b, dir .. "/a.jsonl")
  local db = assert(omen.open(b))
  db:collection("docs"):upsert("extra", {1, 1, 1, 1, 1})
  db:close()
  local _, err = run_fails(1, "import", b, dir .. "/a.jsonl")
  has(err, "collection docs exists (--replace")
  eq(count_in(b, "docs"), 42, "left as it was")

  run_ok("import", b, dir .. "/a.jsonl", "--replace")
  eq(count_in(b, "docs"), 41, "replaced: the extra record is gone")
  run_ok("import", b, dir .. "/a.jsonl", "--collection", "copy")
  eq(count_in(b, "copy"), 41)
  run_ok("export", b, "copy", dir .. "/copy.jsonl")
  local copy = H.read_file(dir .. "/copy.jsonl")
  has(copy, '"name":"copy"')
  eq(copy:gsub('"name":"copy"', '"name":"docs"'), H.read_file(dir .. "/a.jsonl"))
end

-- Malformed input: the whole input is checked before the database is
-- touched, so a bad file stores nothing: the database is not even made,
-- an existing one keeps what it had (with --replace too).

local function exported(dir)
  make_db(dir .. "/a.omen")
  run_ok("export", dir .. "/a.omen", "docs", dir .. "/a.jsonl")
  run_ok("export", dir .. "/a.omen", "docs", dir .. "/a.fvecs")
  return lines_of(H.read_file(dir .. "/a.jsonl"))
end

local function write_lines(path, lines)
  H.write_file(path, table.concat(lines, "\n") .. "\n")
end

T["import: a bad line names file and line, and stores nothing"] = function()
  local dir = H.tmpdir()
  local lines = exported(dir)
  local cases = {
    {3, '{"id": "x", "vector": [1, 2, 3, 4, 5]', "not a JSON object"},
    {4, '{"id": "x", "vector": [1, 2, 3], "meta": {}}', "3 vector components"},
    {5, '{"id": "x", "vector": [1, 2, 3, 4, NaN]}', "not a JSON object"},
    {6, '{"vector": [1, 2, 3, 4, 5]}', 'no "id"'},
    {7, '{"id": "x", "vector": [1, 2, 3, 4, 5], "meta": {"k": null}}', "meta field k is null"},
    {8, '{"id": "x", "vector": [1, 2, 3, 4, 5], "meta": {"k": {"a": "b"}}}', "an object"},
    {9, '{"id": "x", "vector": [1, 2, 3, 4, 5], "meta": {"k": ["a", 1]}}', "item 2"},
    {1, '{"omen_collection": {"name": "docs"}}', "no dimension"},
    {1, lines[1]:gsub('"m":8', '"m":1'), "m must be between"},
  }
  for _, case in ipairs(cases) do
    local bad = {unpack(lines)}
    bad[case[1]] = case[2]
    local path = dir .. "/bad.jsonl"
    write_lines(path, bad)
    local _, err = run_fails(1, "import", dir .. "/new.omen", path)
    has(err, path .. ":line " .. case[1] .. ": ", "the place")
    has(err, case[3], "the reason")
    eq(H.exists(dir .. "/new.omen"), false, "nothing made for line " .. case[1])
    -- an existing collection stays as it was, --replace or not
    run_fails(1, "import", dir .. "/a.omen", path, "--replace")
    eq(count_in(dir .. "/a.omen", "docs"), 41)
  end
end

T["import: too few records or no header is refused"] = function()
  local dir = H.tmpdir()
  local lines = exported(dir)
  local path = dir .. "/cut.jsonl"
  write_lines(path, {unpack(lines, 1, #lines - 1)})
  local _, err = run_fails(1, "import", dir .. "/new.omen", path)
  has(err, path .. ": 40 records, the header (line 1) says 41")
  write_lines(path, {unpack(lines, 2)})
  _, err = run_fails(1, "import", dir .. "/new.omen", path)
  has(err, path .. ":line 1: not an export")
  eq(H.exists(dir .. "/new.omen"), false)
end

T["import: a truncated fvecs file or a missing sidecar is refused"] = function()
  local dir = H.tmpdir()
  exported(dir)
  local fv, side = H.read_file(dir .. "/a.fvecs"), H.read_file(dir .. "/a.fvecs.jsonl")
  local db = dir .. "/b.omen"
  run_ok("import", db, dir .. "/a.jsonl", "--collection", "keep")

  local cut = dir .. "/cut.fvecs"
  H.write_file(cut, fv:sub(1, #fv - 3))
  H.write_file(cut .. ".jsonl", side)
  local _, err = run_fails(1, "import", db, cut)
  has(err, cut .. ":record 41: truncated")

  H.write_file(cut, fv:sub(1, #fv - 24)) -- one whole record less
  _, err = run_fails(1, "import", db, cut)
  has(err, cut .. ".jsonl:line 42: no vector for it in " .. cut)

  H.write_file(cut, fv)
  H.write_file(cut .. ".jsonl", side:gsub("[^\n]*\n$", ""))
  _, err = run_fails(1, "import", db, cut)
  has(err, cut .. ":record 41: no line for it in " .. cut .. ".jsonl")

  os.remove(cut .. ".jsonl")
  _, err = run_fails(1, "import", db, cut)
  has(err, "no sidecar " .. cut .. ".jsonl")

  eq(count_in(db, "docs"), nil, "nothing stored")
  eq(count_in(db, "keep"), 41, "the rest untouched")
end

-- -- Stats ------------------------------------------------------------------------------

T["stats: sizes and one aligned row per collection; --json"] = function()
  local dir = H.tmpdir()
  local path = dir .. "/a.omen"
  make_db(path)
  local out = run_ok("stats", path)
  has(out, "database  " .. path)
  ok(out:find("\nfile +[%d.]+ KiB %(%d+ bytes%)\n"), out)
  ok(out:find("\nlog +0 B %(0 bytes%)\n"), out)
  has(out, "43 in 2 collections")
  local rows = lines_of(out)
  local head
  for i, line in ipairs(rows) do
    if line:find("^name ") then head = i end
  end
  ok(head, "a header row: " .. out)
  ok(rows[head]:find("^name +count +dim +metric +quantization +m +ef_construction +ef_search"
     .. " +memory +deleted$"), rows[head])
  ok(rows[head + 1]:find("^docs +41 +5 +cosine +sq8 +8 +40 +24 +[%d.]+ %a?i?B +2$"),
     rows[head + 1])
  ok(rows[head + 2]:find("^other +2 +3 +l2 +none +16 +200 +64 +[%d.]+ %a?i?B +0$"),
     rows[head + 2])
  -- aligned: every row's count ends in the same column
  local _, e1 = rows[head]:find("count")
  local _, e2 = rows[head + 1]:find("41")
  local _, e3 = rows[head + 2]:find("^other +2")
  eq({e2, e3}, {e1, e1}, "counts aligned")

  local info = assert(json.decode((run_ok("stats", path, "--json"))))
  eq(info.path, path)
  eq(info.count, 43)
  eq({info.collections[1].name, info.collections[2].name}, {"docs", "other"})
  eq(info.collections[1].ef_search, 24)

  local empty = dir .. "/empty.omen"
  assert(omen.open(empty)):close()
  has((run_ok("stats", empty, "--json")), '"collections":[]')
  has((run_ok("stats", empty)), "0 in 0 collections")
  run_fails(1, "stats", dir .. "/missing.omen")
end

-- -- Check ------------------------------------------------------------------------------

-- A collection big enough for its searches to walk the graph (more than
-- 8 * ef_search records).
local function graph_db(path)
  local db = assert(omen.open(path))
  local c = assert(db:create_collection("g", {dim = 8, m = 8, ef_construction = 32,
                                              ef_search = 10}))
  H.load(c, H.random_vectors(300, 8, 11))
  db:create_collection("empty", {dim = 2})
  assert(db:close())
end

T["check: a sound file: a line per collection with its graph recall, then ok"] = function()
  local dir = H.tmpdir()
  local path = dir .. "/g.omen"
  graph_db(path)
  local out = run_ok("check", path, "--sample", "50")
  local lines = lines_of(out)
  eq(#lines, 3, out)
  ok(lines[1]:find("^empty: 0 records"), lines[1])
  ok(lines[2]:find("^g: 300 records, dim 8, l2, graph recall [01]%.%d+ %(searches for 50 sampled"),
     lines[2])
  local recall = tonumber(lines[2]:match("graph recall ([%d.]+)"))
  ok(recall >= 0.9, "graph recall " .. recall)
  eq(lines[3], "ok")
  -- the default sample, and the bigger fixture with its odd ids
  make_db(dir .. "/a.omen")
  out = run_ok("check", dir .. "/a.omen")
  has(out, "docs: 41 records, dim 5, cosine, graph recall 1.000 (searches for 41 sampled")
  ok(out:find("\nok\n$"), out)
end

-- 3000 random vectors of 32 dimensions in a thin graph (built on one
-- thread, so always the same): with m 8, ef_construction 16 and ef_search
-- 10 it finds about two thirds; with m 2, ef_construction 2 and ef_search 1
-- almost nothing.
local function thin_db(path, m, ef_construction, ef_search)
  local db = assert(omen.open(path))
  local c = assert(db:create_collection("thin", {dim = 32, m = m, ef_construction =
                                                 ef_construction, ef_search = ef_search}))
  H.load(c, H.random_vectors(3000, 32, 5), nil, nil, {threads = 1})
  assert(db:close())
end

T["check: duplicates are not a low recall; a thin graph warns; a collapsed one fails"] = function()
  -- 300 copies of one vector: a search for one finds 10 others at the same
  -- distance, which count
  local dir = H.tmpdir()
  local db = assert(omen.open(dir .. "/dup.omen"))
  local c = assert(db:create_collection("dup", {dim = 4, m = 8, ef_construction = 32,
                                                ef_search = 10}))
  local vecs = {}
  for i = 1, 300 do vecs[i] = {1, 2, 3, 4} end
  H.load(c, vecs)
  assert(db:close())
  local out = run_ok("check", dir .. "/dup.omen")
  has(out, "dup: 300 records, dim 4, l2, graph recall 1.000")
  ok(out:find("\nok\n$"), out)
  thin_db(dir .. "/thin.omen", 8, 16, 10)
  local warned = run_ok("check", dir .. "/thin.omen")
  local recall = tonumber(warned:match("graph recall ([%d.]+)"))
  ok(recall and recall >= 0.5 and recall < 0.9, warned)
  ok(warned:find("\nwarning: thin: graph recall 0%.%d+ is below 0%.9\nok\n$"), warned)
  thin_db(dir .. "/collapsed.omen", 2, 2, 1)
  out = run_fails(1, "check", dir .. "/collapsed.omen")
  ok(out:find("FAILED: thin: graph recall 0%.%d+ is below 0%.5: the graph has collapsed\n$"), out)
end

T["check: a damaged file fails with the reason and is left as it was"] = function()
  local dir = H.tmpdir()
  local path = dir .. "/g.omen"
  graph_db(path)
  local good = H.read_file(path)
  -- flip 256 bytes in the middle: more than any alignment gap, so some
  -- checksummed array is hit
  local mid = math.floor(#good / 2)
  local flipped = good:sub(mid + 1, mid + 256):gsub(".", function(c)
    return string.char(255 - c:byte())
  end)
  local damaged = good:sub(1, mid) .. flipped .. good:sub(mid + 257)
  H.write_file(path, damaged)
  local out = run_fails(1, "check", path)
  ok(out:find("^FAILED: database file '.*g%.omen' is damaged: "), out)
  eq(H.read_file(path) == damaged, true, "check does not change the file")
  eq(H.exists(path .. "-wal"), false, "nor make a log")

  H.write_file(path, good:sub(1, #good - 100))
  out = run_fails(1, "check", path)
  has(out, "FAILED: ")
  has(out, "truncated")
  H.write_file(path, "not a database")
  has((run_fails(1, "check", path)), "FAILED: ")
end

T["bytes that are not UTF-8 export as base64 and import exactly, keys too"] = function()
  local dir = H.tmpdir()
  local db = assert(omen.open(dir .. "/bin.omen"))
  local c = db:create_collection("bin", {dim = 2})
  local bad = "\255\254\0x\192\128" -- not UTF-8: stray bytes, a NUL, an overlong form
  c:upsert(bad, {1, 2}, {s = bad, tags = {"ok", bad}, ["k\255"] = bad, n = 1})
  c:upsert("plain", {3, 4}, {s = "é", tags = {}})
  assert(db:close())
  run_ok("export", dir .. "/bin.omen", "bin", dir .. "/bin.jsonl")
  local text = H.read_file(dir .. "/bin.jsonl")
  local cli = dofile("scripts/cli.lua")
  ok(cli.utf8_valid(text), "the export is UTF-8 text")
  for line in text:gmatch("[^\n]+") do ok(json.decode(line), line) end
  has(text, '"$pairs":[', "a key that is not UTF-8 makes the metadata a list of pairs")
  has(text, '"s":"é"')
  run_ok("import", dir .. "/copy.omen", dir .. "/bin.jsonl")
  local a = assert(omen.open(dir .. "/bin.omen", {readonly = true}))
  local b = assert(omen.open(dir .. "/copy.omen", {readonly = true}))
  eq(H.dump(b), H.dump(a))
  eq(select(2, b:collection("bin"):get(bad)), {s = bad, tags = {"ok", bad}, ["k\255"] = bad, n = 1})
  a:close()
  b:close()
  -- a bad base64 is named
  H.write_file(dir .. "/worse.jsonl", text:gsub('"base64":"', '"base64":"!', 1))
  local out, err = run_fails(1, "import", dir .. "/worse.omen", dir .. "/worse.jsonl")
  ok((out .. err):find("line %d+"), out .. err)
end

T["export names only the formats it writes"] = function()
  local dir = H.tmpdir()
  make_db(dir .. "/a.omen")
  local _, err = run_fails(2, "export", dir .. "/a.omen", "docs", dir .. "/out.what")
  has(err, "give --format (jsonl, fvecs)")
end

return T
