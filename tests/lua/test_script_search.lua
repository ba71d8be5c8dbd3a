-- scripts/search.lua and scripts/eval.lua, run as a user runs them: small
-- fixture files written here, loaded with scripts/ingest.lua, then the
-- scripts' outputs parsed and checked against brute force.
local ffi = require("ffi")
local H = require("helpers")
local eq, ok = H.eq, H.ok

local T = {}

local DIM, N = 4, 40
local QUERY_ROWS = {6, 18, 31} -- 1-based rows of the base used as queries

-- TEXMEX records: an int32 length, then the items as `ctype`.
local function texmex(path, rows, ctype)
  local parts = {}
  for i, row in ipairs(rows) do
    local buf = ffi.new("int32_t[?]", #row + 1)
    buf[0] = #row
    local items = ffi.cast(ctype .. " *", buf + 1)
    for j = 1, #row do items[j - 1] = row[j] end
    parts[i] = ffi.string(buf, 4 * (#row + 1))
  end
  H.write_file(path, table.concat(parts))
  return path
end

-- A temp dir holding base.fvecs (N random vectors), q.fvecs (QUERY_ROWS of
-- them), and a database db.omen with collection "c" of the base, ids "0"..
local function fixture(ingest_args)
  local dir = H.tmpdir()
  local f = {dir = dir, db = dir .. "/db.omen", base = H.random_vectors(N, DIM, 11)}
  f.queries = {}
  for i, r in ipairs(QUERY_ROWS) do f.queries[i] = f.base[r] end
  f.base_file = texmex(dir .. "/base.fvecs", f.base, "float")
  f.q_file = texmex(dir .. "/q.fvecs", f.queries, "float")
  local done, _, _, err = H.run_script("ingest", f.db, "c", f.base_file,
                                       unpack(ingest_args or {}))
  ok(done, "ingest failed: " .. err)
  return f
end

-- The exact k nearest of a query among the base, ids as ingest gives them.
local function brute(f, q, k, prefix)
  local recs = {}
  for i, v in ipairs(f.base) do recs[i] = {id = (prefix or "") .. (i - 1), vec = v} end
  return H.brute("l2", recs, q, k)
end

local function split(s, sep)
  local out = {}
  for field in (s .. sep):gmatch("(.-)" .. sep) do out[#out + 1] = field end
  return out
end

local function lines(s)
  local out = {}
  for line in s:gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

-- Run a script that must fail: its stderr, which must hold every pattern.
local function refused(name, patterns, ...)
  local done, status, out, err = H.run_script(name, ...)
  ok(not done, name .. " should have failed; stdout: " .. out)
  ok(status ~= 0, "status " .. tostring(status))
  for _, p in ipairs(patterns) do
    ok(err:find(p, 1, true), ("stderr %q lacks %q"):format(err, p))
  end
  return err
end

local function succeeded(name, ...)
  local done, status, out, err = H.run_script(name, ...)
  ok(done, ("%s failed (status %s): %s"):format(name, tostring(status), err))
  return out, err
end

-- -- Both scripts --------------------------------------------------------------------

T["search, eval: --help prints the usage and exits 0"] = function()
  for _, name in ipairs({"search", "eval"}) do
    local out = succeeded(name, "--help")
    ok(out:find("^usage: omen%-lua scripts/" .. name .. "%.lua DB COLLECTION %[?QUERIES"),
       name .. " --help: " .. out:sub(1, 80))
    ok(out:find("--k N", 1, true), name .. " --help lists the options")
  end
end

T["search, eval: an unknown option or a missing argument is a usage error"] = function()
  local f = fixture()
  for _, name in ipairs({"search", "eval"}) do
    refused(name, {"unknown option --bogus", "usage:"}, f.db, "c", f.q_file, "--bogus")
    refused(name, {name == "search" and "give a QUERIES file, --text-query, or both"
                                     or "expected 3 arguments"}, f.db, "c")
  end
end

T["search, eval: a missing collection or a query file of another dimension"] = function()
  local f = fixture()
  local q3 = texmex(f.dir .. "/q3.fvecs", {{1, 2, 3}}, "float")
  for _, name in ipairs({"search", "eval"}) do
    refused(name, {f.db, "no collection named 'nope'"}, f.db, "nope", f.q_file)
    refused(name, {q3, "3 components", "collection c has dimension 4"}, f.db, "c", q3)
  end
end

-- -- search.lua -----------------------------------------------------------------------

T["search: TSV, a header then k ranked hits per query, as exact search finds"] = function()
  local f = fixture()
  local out = succeeded("search", f.db, "c", f.q_file, "--k", 5, "--exact")
  local ls = lines(out)
  eq(ls[1], "query\trank\tid\tdistance")
  eq(#ls, 1 + 5 * #f.queries)
  for qi, q in ipairs(f.queries) do
    local hits = {}
    for rank = 1, 5 do
      local fields = split(ls[1 + (qi - 1) * 5 + rank], "\t")
      eq(#fields, 4)
      eq(fields[1], tostring(qi - 1), "query id: the row number")
      eq(fields[2], tostring(rank))
      hits[rank] = {id = fields[3], distance = tonumber(fields[4])}
    end
    eq(hits[1].id, tostring(QUERY_ROWS[qi] - 1), "a stored vector finds itself first")
    eq(hits[1].distance, 0)
    H.same_hits(hits, brute(f, q, 5), 1e-6, "query " .. qi)
  end
end

T["search: the graph finds each stored vector first; --batch does not change the output"] =
function()
  local f = fixture()
  local whole = succeeded("search", f.db, "c", f.q_file, "--k", 3)
  local ls = lines(whole)
  for qi = 1, #f.queries do
    eq(split(ls[2 + (qi - 1) * 3], "\t"), {tostring(qi - 1), "1", tostring(QUERY_ROWS[qi] - 1),
                                          "0"})
  end
  eq(succeeded("search", f.db, "c", f.q_file, "--k", 3, "--batch", 1, "--threads", 1), whole)
  local path = f.dir .. "/out.tsv"
  eq(succeeded("search", f.db, "c", f.q_file, "--k", 3, "--out", path), "", "nothing on stdout")
  eq(H.read_file(path), whole, "--out holds what stdout would")
  eq(H.exists(path .. ".part"), false)
end

T["search: JSONL, one object per query with its hits and metadata"] = function()
  local cjson = require("cjson.safe")
  local f = fixture()
  local out, err = succeeded("search", f.db, "c", f.q_file, "--as", "jsonl", "--k", 4,
                             "--with-meta")
  local ls = lines(out)
  eq(#ls, #f.queries)
  for qi, line in ipairs(ls) do
    ok(line:find('^{"query":'), "query comes first: " .. line)
    local obj = assert(cjson.decode(line), line)
    eq(obj.query, tostring(qi - 1))
    eq(#obj.hits, 4)
    eq(obj.hits[1].id, tostring(QUERY_ROWS[qi] - 1))
    eq(obj.hits[1].distance, 0)
    eq(type(obj.hits[1].meta), "table", "with --with-meta every hit has meta")
    H.same_hits(obj.hits, brute(f, f.queries[qi], 4), 1e-5)
  end
  ok(err:find("search: 3 queries answered from c (12 hits)", 1, true), "summary: " .. err)
end

-- A collection "p" from JSON Lines with metadata: ids p1..p8, colour red for
-- the odd ones, blue for the even, size i.
local function products(f)
  local rows = {}
  for i = 1, 8 do
    rows[i] = ('{"id": "p%d", "vector": [%d, 0, 0, 0], "meta": {"colour": "%s", "size": %d}}')
      :format(i, i, i % 2 == 1 and "red" or "blue", i)
  end
  local path = f.dir .. "/p.jsonl"
  H.write_file(path, table.concat(rows, "\n") .. "\n")
  ok(H.run_script("ingest", f.db, "p", path))
  local q = f.dir .. "/pq.jsonl"
  H.write_file(q, '{"id": "origin", "vector": [0, 0, 0, 0]}\n')
  return q
end

T["search: --filter keeps to the records that match, --with-meta prints them in TSV"] = function()
  local f = fixture()
  local q = products(f)
  local out, err = succeeded("search", f.db, "p", q, "--k", 10, "--with-meta",
                             "--filter", '{"colour": "red", "size": {"$lt": 6}}')
  local ls = lines(out)
  eq(ls[1], "query\trank\tid\tdistance\tmeta")
  eq(#ls, 4, "p1 p3 p5 match")
  local want = {{"p1", "1", '{"colour":"red","size":1}'}, {"p3", "9", '{"colour":"red","size":3}'},
                {"p5", "25", '{"colour":"red","size":5}'}}
  for i, w in ipairs(want) do
    local fields = split(ls[1 + i], "\t")
    eq({fields[1], fields[3], fields[4], fields[5]}, {"origin", w[1], w[2], w[3]})
  end
  ok(err:find("the filter matches 3 records", 1, true), err)
end

T["search: a bad --filter stops the job before any output"] = function()
  local f = fixture()
  local q = products(f)
  refused("search", {"bad --filter", "unknown filter operator '$bogus'"},
          f.db, "p", q, "--filter", '{"colour": {"$bogus": 1}}')
  refused("search", {"--filter is not valid JSON"}, f.db, "p", q, "--filter", '{"colour": ')
  refused("search", {"--filter must be a JSON object"}, f.db, "p", q, "--filter", "[1, 2]")
  local path = f.dir .. "/out.tsv"
  refused("search", {"bad --filter"}, f.db, "p", q, "--out", path, "--filter", '{"size": null}')
  eq(H.exists(path) or H.exists(path .. ".part"), false, "no output file is left")
  local done, _, out = H.run_script("search", f.db, "p", q, "--filter", '{"x": {"$in": 1}}')
  eq({done, out}, {false, ""}, "nothing on stdout")
end

T["search: an ef the engine refuses stops the job before the header"] = function()
  local f = fixture()
  local done, _, out, err = H.run_script("search", f.db, "c", f.q_file, "--ef", 10000000)
  eq({done, out}, {false, ""})
  ok(err:find("ef must be", 1, true), err)
end

-- -- eval.lua -------------------------------------------------------------------------

-- The table's row for ef, as {ef, recall, qps, ms} numbers.
local function eval_row(out, ef)
  for line in out:gmatch("[^\n]+") do
    local fields = {}
    for w in line:gmatch("%S+") do fields[#fields + 1] = w end
    if fields[1] == tostring(ef) and #fields == 4 then
      return {tonumber(fields[1]), fields[2], tonumber(fields[3]), tonumber(fields[4])}
    end
  end
  error("no row for ef " .. ef .. " in:\n" .. out)
end

T["eval: against exact search, recall 1.0000 at a large ef on a tiny collection"] = function()
  local f = fixture()
  local out = succeeded("eval", f.db, "c", f.q_file, "--k", 5, "--ef", "2,500", "--rounds", 2)
  ok(out:find("truth: exact search", 1, true), out)
  ok(out:find("ef%s+recall@5%s+queries/s%s+ms/query"), out)
  local row = eval_row(out, 500)
  eq(row[2], "1.0000")
  ok(row[3] > 0 and row[4] > 0, "a rate and a time")
  ok(eval_row(out, 2)[2]:find("^[01]%.%d%d%d%d$"), "recall with 4 decimals")
end

-- Row numbers of the exact k nearest of each query, as ivecs rows.
local function truth_rows(f, k)
  local rows = {}
  for i, q in ipairs(f.queries) do
    local row = {}
    for j, h in ipairs(brute(f, q, k)) do row[j] = tonumber(h.id) end
    rows[i] = row
  end
  return rows
end

T["eval: an ivecs truth file of row numbers, with --id-prefix and --limit"] = function()
  local f = fixture({"--id-prefix", "v"})
  local truth = texmex(f.dir .. "/truth.ivecs", truth_rows(f, 8), "int32_t")
  local out = succeeded("eval", f.db, "c", f.q_file, "--truth", truth, "--id-prefix", "v",
                        "--ef", 1000, "--k", 8)
  ok(out:find("truth: " .. truth, 1, true), out)
  eq(eval_row(out, 1000)[2], "1.0000")
  -- only two queries: the truth may then hold only two rows
  local short = texmex(f.dir .. "/short.ivecs", {unpack(truth_rows(f, 8), 1, 2)}, "int32_t")
  out = succeeded("eval", f.db, "c", f.q_file, "--truth", short, "--id-prefix", "v",
                  "--ef", 1000, "--limit", 2, "--k", 8)
  ok(out:find("2 queries", 1, true), out)
  eq(eval_row(out, 1000)[2], "1.0000")
  -- a wrong prefix finds nothing, and says why it may be
  local _, err
  out, err = succeeded("eval", f.db, "c", f.q_file, "--truth", truth, "--ef", 1000, "--k", 8)
  eq(eval_row(out, 1000)[2], "0.0000")
  ok(err:find("is --id-prefix right?", 1, true), err)
end

T["eval: a malformed truth file is refused"] = function()
  local f = fixture()
  local rows = truth_rows(f, 8)
  local truth = texmex(f.dir .. "/truth.ivecs", rows, "int32_t")
  local data = H.read_file(truth)
  local cut = f.dir .. "/cut.ivecs"
  H.write_file(cut, data:sub(1, #data - 6))
  refused("eval", {cut .. ":record 3: truncated"}, f.db, "c", f.q_file, "--truth", cut, "--k", 8)
  local two = texmex(f.dir .. "/two.ivecs", {rows[1], rows[2]}, "int32_t")
  refused("eval", {two, "2 rows of neighbours for 3 queries"},
          f.db, "c", f.q_file, "--truth", two, "--k", 8)
  refused("eval", {truth .. ":record 1: 8 neighbours, fewer than k = 10"},
          f.db, "c", f.q_file, "--truth", truth)
  local bad = f.dir .. "/bad.ivecs"
  H.write_file(bad, "\0\0\0\0")
  refused("eval", {bad .. ":record 1: bad row length 0"}, f.db, "c", f.q_file, "--truth", bad)
end

return T
