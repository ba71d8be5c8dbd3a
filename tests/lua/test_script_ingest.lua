-- scripts/ingest.lua: every input format, new and existing collections,
-- and bad input files named by file and record or line.
local ffi = require("ffi")
local H = require("helpers")
local eq, ok = H.eq, H.ok

local T = {}

-- TEXMEX records: int32 dim, then the items as `ctype`.
local function texmex(path, ctype, rows, dim_of)
  local parts = {}
  for i, row in ipairs(rows) do
    local dim = dim_of and dim_of(i) or #row
    local head = ffi.new("int32_t[1]", dim)
    local body = ffi.new(ctype .. "[?]", #row, row)
    parts[#parts + 1] = ffi.string(head, 4) .. ffi.string(body, ffi.sizeof(body))
  end
  H.write_file(path, table.concat(parts))
end

-- A version 1.0 .npy file of float32 rows.
local function npy(path, rows, shape_rows)
  local dim = #rows[1]
  local dict = ("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }"):format(
    shape_rows or #rows, dim)
  local pad = 64 - (10 + #dict + 1) % 64
  local header = dict .. (" "):rep(pad) .. "\n"
  local flat = {}
  for _, r in ipairs(rows) do for _, x in ipairs(r) do flat[#flat + 1] = x end end
  local data = ffi.new("float[?]", #flat, flat)
  H.write_file(path, "\147NUMPY\1\0" .. string.char(#header % 256, math.floor(#header / 256))
               .. header .. ffi.string(data, ffi.sizeof(data)))
end

local ROWS = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9.5}}

local function ingest(...)
  local passed, _, out, err = H.run_script("ingest", ...)
  return passed, err, out
end

local function open_coll(path, name)
  local db = assert(omen.open(path, {readonly = true}))
  return db:collection(name), db
end

T["ingest --help prints the usage"] = function()
  local passed, _, out = H.run_script("ingest", "--help")
  ok(passed)
  ok(out:find("^usage: omen%-lua scripts/ingest%.lua DB COLLECTION FILE"), out)
end

T["ingest: every format loads, ids and vectors as written"] = function()
  local dir = H.tmpdir()
  local db = dir .. "/db.omen"
  texmex(dir .. "/a.fvecs", "float", ROWS)
  texmex(dir .. "/b.bvecs", "uint8_t", {{1, 2, 3}, {250, 0, 9}})
  texmex(dir .. "/c.ivecs", "int32_t", {{-1, 2, 300000}})
  npy(dir .. "/d.npy", ROWS)
  H.write_file(dir .. "/e.csv", 'id,x,y,z\nc1,1,2,3\n"c,2",0.5,-1e3,7\n')
  H.write_file(dir .. "/f.jsonl", '{"id": "j1", "vector": [1, 2, 3], "meta": {"tag": "x", ' ..
               '"n": 2.5, "ok": true, "tags": ["a", "b"]}}\n\n{"id": 7, "vector": [3, 2, 1]}\n')
  local cases = {{"a.fvecs", "fv", 3}, {"b.bvecs", "bv", 2}, {"c.ivecs", "iv", 1},
                 {"d.npy", "np", 3}, {"e.csv", "cs", 2}, {"f.jsonl", "js", 2}}
  for _, case in ipairs(cases) do
    local passed, err = ingest(db, case[2], dir .. "/" .. case[1], "--id-prefix", "r")
    ok(passed, case[1] .. ": " .. err)
    ok(err:find(("^ingest: %d records into %s"):format(case[3], case[2])), err)
  end
  local d = assert(omen.open(db, {readonly = true}))
  eq((d:collection("fv"):get("r2")), {7, 8, 9.5})
  eq((d:collection("bv"):get("r1")), {250, 0, 9})
  eq((d:collection("iv"):get("r0")), {-1, 2, 300000})
  eq((d:collection("np"):get("r1")), {4, 5, 6})
  eq((d:collection("cs"):get("c,2")), {0.5, -1000, 7})
  local v, meta = d:collection("js"):get("j1")
  eq(v, {1, 2, 3})
  eq(meta, {tag = "x", n = 2.5, ok = true, tags = {"a", "b"}})
  eq((d:collection("js"):get("7")), {3, 2, 1})
  eq(d:collection("fv"):info().dim, 3)
  d:close()
end

T["ingest: settings of a new collection; a second file adds to it"] = function()
  local dir = H.tmpdir()
  local db = dir .. "/db.omen"
  texmex(dir .. "/a.fvecs", "float", ROWS)
  ok((ingest(db, "c", dir .. "/a.fvecs", "--metric", "cosine", "--quantization", "sq8",
             "--m", "8", "--ef-construction", "50", "--batch", "2")))
  ok((ingest(db, "c", dir .. "/a.fvecs", "--id-prefix", "again-", "--limit", "2")))
  local c, d = open_coll(db, "c")
  local i = c:info()
  eq({i.metric, i.quantization, i.m, i.ef_construction, i.count}, {"cosine", "sq8", 8, 50, 5})
  d:close()
  local passed, err = ingest(db, "c", dir .. "/a.fvecs", "--metric", "ip")
  ok(not passed)
  ok(err:find("exists with metric cosine"), err)
end

T["ingest: a dimension that does not match the collection stores nothing"] = function()
  local dir = H.tmpdir()
  local db = dir .. "/db.omen"
  texmex(dir .. "/a.fvecs", "float", ROWS)
  texmex(dir .. "/b.fvecs", "float", {{1, 2}})
  ok((ingest(db, "c", dir .. "/a.fvecs")))
  local passed, err = ingest(db, "c", dir .. "/b.fvecs", "--id-prefix", "b")
  ok(not passed)
  ok(err:find("b%.fvecs has 2 components per record, collection c has dimension 3"), err)
  local c, d = open_coll(db, "c")
  eq(c:count(), 3)
  d:close()
end

-- Each bad file: the message names the file and the place; the batches
-- before the bad one are stored and counted, nothing after.
T["ingest: bad input files are named with the record or line"] = function()
  local dir = H.tmpdir()
  texmex(dir .. "/trunc.fvecs", "float", ROWS)
  local whole = H.read_file(dir .. "/trunc.fvecs")
  H.write_file(dir .. "/trunc.fvecs", whole:sub(1, #whole - 3))
  texmex(dir .. "/dims.fvecs", "float", ROWS, function(i) return i == 3 and 2 or 3 end)
  texmex(dir .. "/nan.fvecs", "float", {{1, 2, 3}, {0 / 0, 1, 1}})
  npy(dir .. "/short.npy", ROWS, 5)
  H.write_file(dir .. "/bad.csv", "a,1,2,3\nb,1,x,3\n")
  H.write_file(dir .. "/ragged.csv", "a,1,2,3\nb,1,2\n")
  H.write_file(dir .. "/bad.jsonl", '{"id": "a", "vector": [1, 2, 3]}\n{"id": "b", "vector": [1,\n')
  H.write_file(dir .. "/noid.jsonl", '{"vector": [1, 2, 3]}\n')
  H.write_file(dir .. "/nullmeta.jsonl", '{"id": "a", "vector": [1], "meta": {"k": null}}\n')
  H.write_file(dir .. "/empty.fvecs", "")
  H.write_file(dir .. "/x.unknown", "1,2\n")
  local cases = {
    {"trunc.fvecs", "trunc%.fvecs:record 3: truncated", 2},
    {"dims.fvecs", "dims%.fvecs:record 3: dimension 2, the file's first record has 3", 2},
    {"nan.fvecs", "nan%.fvecs:record 2: component 1 is nan", 1},
    {"short.npy", "short%.npy: truncated: the header says 5 rows", nil},
    {"bad.csv", "bad%.csv:line 2: component 2 is not a number", 1},
    {"ragged.csv", "ragged%.csv:line 2: 2 components, the first record has 3", 1},
    {"bad.jsonl", "bad%.jsonl:line 2: not a JSON object", 1},
    {"noid.jsonl", "noid%.jsonl:line 1: no \"id\"", nil},
    {"nullmeta.jsonl", "nullmeta%.jsonl:line 1: meta field k is null", nil},
    {"empty.fvecs", "empty%.fvecs: no records", nil},
    {"x.unknown", "cannot tell the format from the name", nil},
  }
  for i, case in ipairs(cases) do
    local db = ("%s/db%d.omen"):format(dir, i)
    local passed, err = ingest(db, "c", dir .. "/" .. case[1], "--batch", "1")
    ok(not passed, case[1] .. " was accepted")
    ok(err:find(case[2]), case[1] .. ": " .. err)
    if case[3] then
      ok(err:find(("(%d records stored before it)"):format(case[3]), 1, true), err)
      local c, d = open_coll(db, "c")
      eq(c:count(), case[3], case[1])
      d:close()
    end
  end
end

-- On a terminal (a pseudo-terminal made by script(1)) the progress line is
-- redrawn in place, with the share done and the time left, then cleared
-- for the summary.
T["ingest: a live progress line on a terminal, one summary line otherwise"] = function()
  if os.execute("command -v script >/dev/null 2>&1") ~= 0 then return end -- no script(1)
  local dir = H.tmpdir()
  local rows = {}
  for i = 1, 3000 do rows[i] = {i, 1, 2} end
  texmex(dir .. "/a.fvecs", "float", rows)
  local cmd = ("%s scripts/ingest.lua %s/db.omen c %s/a.fvecs --batch 500"):format(
    H.interp, dir, dir)
  local out = dir .. "/tty.out"
  ok(os.execute(("script -qec %s /dev/null >%s 2>&1 </dev/null"):format(H.shq(cmd), out)) == 0)
  local tty = H.read_file(out)
  ok(tty:find("\ringest: 500 records +%d+/s +16%% +[%d.]+ s left"), H.fmt(tty))
  ok(tty:find("\r\27%[Kingest: 3000 records into c %(3000 in all%) in"), H.fmt(tty))
  local passed, err = ingest(dir .. "/db2.omen", "c", dir .. "/a.fvecs", "--batch", "500")
  ok(passed)
  ok(err:find("^ingest: 3000 records into c %(3000 in all%) in [%d.]+ s %(%d+/s%)\n$"), err)
end

T["ingest: usage errors fail with a message"] = function()
  local passed, status, _, err = H.run_script("ingest", "only-one-arg")
  ok(not passed)
  ok(status ~= 0)
  ok(err:find("expected 3 arguments"), err)
  passed, _, _, err = H.run_script("ingest", "a", "b", "c", "--batch", "0")
  ok(not passed and err:find("bad value for %-%-batch: 0"), err)
  passed, _, _, err = H.run_script("ingest", "a", "b", "c", "--metric", "hamming")
  ok(not passed and err:find("%-%-metric must be one of l2, cosine, ip"), err)
  passed, _, _, err = H.run_script("ingest", "a", "b", "c", "--frobnicate")
  ok(not passed and err:find("unknown option %-%-frobnicate"), err)
end

T["a failed ingest leaves no empty collection behind"] = function()
  local dir = H.tmpdir()
  local db = dir .. "/db.omen"
  H.write_file(dir .. "/bad.csv", "a,1,2,3\nb,1,x,3\n")
  local passed, err = ingest(db, "fresh", dir .. "/bad.csv", "--batch", "10")
  ok(not passed)
  ok(err:find("not a number", 1, true) and err:find("collection fresh not created", 1, true), err)
  local d = assert(omen.open(db, {readonly = true}))
  eq(d:collections(), {})
  d:close()
  -- a collection that was there stays, even empty
  local w = assert(omen.open(db))
  w:create_collection("kept", {dim = 3})
  w:close()
  passed, err = ingest(db, "kept", dir .. "/bad.csv", "--batch", "10")
  ok(not passed and err:find("0 records stored before", 1, true), err)
  d = assert(omen.open(db, {readonly = true}))
  eq(d:collections(), {"kept"})
  d:close()
end

return T
