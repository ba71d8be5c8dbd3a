-- report.lua: the benchmark's report, from the runners' JSON files.
--
--   omen-lua bench/report.lua BENCH_DIR      (or luajit bench/report.lua)
--
-- Reads BENCH_DIR/results/*.json (one object per run of bench/ann.c,
-- bench/ann.lua or bench/hnswlib.cpp) and BENCH_DIR/machine.json if there,
-- then prints for each dataset a table of the runs (build time and rate,
-- memory, recall@k and queries/s at each ef) and the ratios against hnswlib
-- measured in the same run: queries/s at recall 0.95 and 0.99 (linear
-- interpolation between the two sweep points around the target), build
-- vectors/s, the 2-thread/1-thread build speedup of each system, and omen's
-- Lua/C queries/s at each ef. Writes BENCH_DIR/results.json (every run plus
-- the ratios), and for Fashion-MNIST a gnuplot script of recall against
-- queries/s rendered to BENCH_DIR/fashion-mnist.png.

local dir = arg[1] or "build/bench"
local PEER = "hnswlib"
local TARGETS = {0.95, 0.99}
local SYSTEM_ORDER = {["omen-c"] = 1, ["omen-c-sq8"] = 2, ["omen-c-pca8"] = 3,
                      ["omen-c-file"] = 4, ["omen-lua"] = 5, ["omen-lua-sq8"] = 6,
                      ["omen-lua-pca8"] = 7, hnswlib = 8}
local DATASET_TITLE = {["fashion-mnist"] = "Fashion-MNIST",
                       ["fashion-mnist-rotated"] = "Fashion-MNIST, randomly rotated",
                       synthetic = "Synthetic clusters"}

local function die(msg)
  io.stderr:write("report: ", msg, "\n")
  os.exit(1)
end

-- os.execute's success, as Lua 5.1 (a status of 0) or 5.2 (true) tells it.
local function run(cmd)
  local ok = os.execute(cmd)
  return ok == 0 or ok == true
end

-- Debian's lua-cjson (`make bench` installs it).
local cjson_ok, cjson = pcall(require, "cjson")
if not cjson_ok then die("lua-cjson is missing (Debian: lua-cjson)") end

local function decode(text, where)
  local ok, v = pcall(cjson.decode, text)
  if not ok then die(where .. ": " .. tostring(v)) end
  return v
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- -- The runs -------------------------------------------------------------------

local runs = {}
do
  local p = io.popen("ls '" .. dir .. "/results/' 2>/dev/null")
  for name in p:lines() do
    if name:match("%.json$") then
      local path = dir .. "/results/" .. name
      local r = decode(read_file(path), path)
      if type(r) ~= "table" or not r.system or not r.dataset or type(r.points) ~= "table" then
        die(path .. ": not a runner's result")
      end
      local by_ef = function(x, y) return x.ef < y.ef end
      table.sort(r.points, by_ef)
      if r.c_api_points then table.sort(r.c_api_points, by_ef) end
      r.file = name
      runs[#runs + 1] = r
    end
  end
  p:close()
end
if #runs == 0 then die("no results in " .. dir .. "/results") end
-- DIR/name decoded, or nil where that part did not run.
local function read_json(name)
  local text = read_file(dir .. "/" .. name)
  return text and decode(text, dir .. "/" .. name) or nil
end

local machine = read_json("machine.json")

local datasets, by_dataset = {}, {}
for _, r in ipairs(runs) do
  if not by_dataset[r.dataset] then
    by_dataset[r.dataset] = {}
    datasets[#datasets + 1] = r.dataset
  end
  table.insert(by_dataset[r.dataset], r)
end
table.sort(datasets, function(x, y)
  local px, py = x == "fashion-mnist" and 0 or 1, y == "fashion-mnist" and 0 or 1
  if px ~= py then return px < py end
  return x < y
end)
for _, d in ipairs(datasets) do
  table.sort(by_dataset[d], function(x, y)
    local ox, oy = SYSTEM_ORDER[x.system] or 9, SYSTEM_ORDER[y.system] or 9
    if ox ~= oy then return ox < oy end
    if x.system ~= y.system then return x.system < y.system end
    return x.threads < y.threads
  end)
end

local function find(d, system, threads)
  for _, r in ipairs(by_dataset[d]) do
    if r.system == system and r.threads == threads then return r end
  end
end

-- Queries/s at `target` recall: linear between the first two consecutive
-- sweep points that straddle it. Returns qps and how it was found: "interp",
-- "at least" (the sweep starts above the target: the qps of its first
-- point, a lower bound) or nil (never reached).
local function qps_at(points, target)
  for i, p in ipairs(points) do
    if p.recall >= target then
      if i == 1 then return p.qps, "at least" end
      local q = points[i - 1]
      if p.recall == q.recall then return p.qps, "interp" end
      return q.qps + (p.qps - q.qps) * (target - q.recall) / (p.recall - q.recall), "interp"
    end
  end
  return nil
end

-- -- Formatting --------------------------------------------------------------------

local function commas(x)
  local s = ("%.0f"):format(x)
  local neg, digits = s:match("^(-?)(%d+)$")
  if not digits then return s end
  return neg .. digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
end

local function pad(s, w, left)
  s = tostring(s)
  if #s >= w then return s end
  return left and s .. (" "):rep(w - #s) or (" "):rep(w - #s) .. s
end

local function ratio_text(x)
  return x and ("%.2fx"):format(x) or "-"
end

local out = {}
local function say(fmt, ...) out[#out + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end

-- -- Tables and ratios --------------------------------------------------------------

local ratios = {}

if machine then
  say("omen benchmark: %s", machine.date or "")
  say("machine: %s, %s cores; %s; %s; omen built %s", machine.cpu or "?", machine.cores or "?",
      machine.hnswlib or "hnswlib", machine.cxx or "", machine.omen_cflags or "")
  say("omen kernels: %s; the CPU has %s", machine.omen_isa or "?", machine.cpu_sets or "?")
  if machine.load_before then
    say("load average before the runs: %s%s", machine.load_before,
        (tonumber(machine.load_before) or 0) > 0.5
          and "  (other work was running: the figures are less reliable)" or "")
  end
  say("")
end

for _, d in ipairs(datasets) do
  local rs = by_dataset[d]
  local first = rs[1]
  say("%s (%s): %s x %d base vectors, %s queries, L2, k = 10, M = %d, ef_construction = %d",
      DATASET_TITLE[d] or d, d, commas(first.n), first.dim, commas(first.nq), first.m,
      first.ef_construction)
  -- The ef columns: every ef any run swept, in order.
  local efs, seen = {}, {}
  for _, r in ipairs(rs) do
    for _, p in ipairs(r.points) do
      if not seen[p.ef] then
        seen[p.ef] = true
        efs[#efs + 1] = p.ef
      end
    end
  end
  table.sort(efs)
  local head = pad("system", 14, true) .. pad("thr", 4) .. pad("build s", 9) ..
               pad("vec/s", 8) .. pad("RSS MB", 8) .. pad("peak MB", 8) .. "  "
  for _, e in ipairs(efs) do head = head .. pad("ef=" .. e, 15) end
  say("%s", head)
  say("%s", pad("", 51) .. "  " .. pad("", 15 * #efs):gsub(" ", "-"))
  for _, r in ipairs(rs) do
    local line = pad(r.system, 14, true) .. pad(r.threads, 4) ..
                 pad(("%.1f"):format(r.build_seconds), 9) ..
                 pad(commas(r.build_vectors_per_second), 8) ..
                 pad(("%.1f"):format(r.rss_mb or 0), 8) ..
                 pad(r.peak_rss_mb and ("%.1f"):format(r.peak_rss_mb) or "-", 8) .. "  "
    local at = {}
    for _, p in ipairs(r.points) do at[p.ef] = p end
    for _, e in ipairs(efs) do
      local p = at[e]
      line = line .. pad(p and ("%.4f %s"):format(p.recall, commas(p.qps)) or "-", 15)
    end
    say("%s", line)
  end
  say("  (each ef column: recall@10, then queries/s; one query at a time on one thread)")

  -- Against hnswlib at the same thread count.
  local ds = {dataset = d, comparisons = {}}
  ratios[#ratios + 1] = ds
  say("")
  say("  against hnswlib in this run (>1: omen ahead)")
  local head2 = "  " .. pad("system", 14, true) .. pad("thr", 4)
  for _, tr in ipairs(TARGETS) do head2 = head2 .. pad(("qps@%.2f"):format(tr), 11) .. pad("ratio", 8) end
  head2 = head2 .. pad("vec/s", 10) .. pad("ratio", 8)
  say("%s", head2)
  local notes = {}
  for _, r in ipairs(rs) do
    local peer = find(d, PEER, r.threads)
    local cmp = {system = r.system, threads = r.threads, qps_at_recall = {}}
    local line = "  " .. pad(r.system, 14, true) .. pad(r.threads, 4)
    for _, tr in ipairs(TARGETS) do
      local q, how = qps_at(r.points, tr)
      local entry = {recall = tr, qps = q, found = how or "not reached"}
      local ratio
      if peer and r ~= peer then
        local pq, phow = qps_at(peer.points, tr)
        if q and pq and not (how == "at least" and phow == "at least") then
          ratio = q / pq
          entry.vs_hnswlib = ratio
          if how == "at least" or phow == "at least" then
            entry.vs_hnswlib_note = "a sweep starts above the target: bounds, not values"
            notes[#notes + 1] = true
          end
        end
      end
      cmp.qps_at_recall[#cmp.qps_at_recall + 1] = entry
      local qtext = q and ((how == "at least" and ">=" or "") .. commas(q)) or "not reached"
      line = line .. pad(qtext, 11) .. pad(r == peer and "" or ratio_text(ratio), 8)
    end
    cmp.build_vectors_per_second = r.build_vectors_per_second
    local bratio
    if peer and r ~= peer then
      bratio = r.build_vectors_per_second / peer.build_vectors_per_second
      cmp.build_vs_hnswlib = bratio
    end
    line = line .. pad(commas(r.build_vectors_per_second), 10) ..
           pad(r == peer and "" or ratio_text(bratio), 8)
    say("%s", line)
    ds.comparisons[#ds.comparisons + 1] = cmp
  end
  if #notes > 0 then say("  (>=: the sweep's first point is already above the target)") end

  -- Build speedup with more threads.
  local speedups = {}
  for _, r in ipairs(rs) do
    if r.threads > 1 then
      local one = find(d, r.system, 1)
      if one then
        speedups[#speedups + 1] = {system = r.system, threads = r.threads,
                                   speedup = r.build_vectors_per_second / one.build_vectors_per_second}
      end
    end
  end
  if #speedups > 0 then
    ds.build_speedup = speedups
    local parts = {}
    for _, s in ipairs(speedups) do
      parts[#parts + 1] = ("%s %.2fx"):format(s.system, s.speedup)
    end
    say("  build speedup, %d threads over 1: %s", speedups[1].threads, table.concat(parts, ", "))
  end

  -- omen's Lua API against its C API on the same collection, called from
  -- the same process in alternation (bench/ann.lua's c_api_points).
  local lua_over_c = {}
  for _, r in ipairs(rs) do
    if r.c_api_points then
      local parts = {}
      for i, p in ipairs(r.points) do
        local x = p.qps / r.c_api_points[i].qps
        lua_over_c[#lua_over_c + 1] = {system = r.system, ef = p.ef, ratio = x}
        parts[#parts + 1] = ("ef=%d %.2f"):format(p.ef, x)
      end
      say("  %s queries/s over the C API in the same process: %s", r.system,
          table.concat(parts, ", "))
    end
  end
  if #lua_over_c > 0 then ds.lua_over_c_qps = lua_over_c end

  -- Batch search, exact search, memory, the durable write path.
  for _, r in ipairs(rs) do
    if r.batch then
      local x = r.batch.qps_all / r.batch.qps_1
      say("  %s search_batch at ef %d: %s queries/s on 1 thread, %s on %d: %.2fx", r.system,
          r.batch.ef, commas(r.batch.qps_1), commas(r.batch.qps_all), r.batch.threads, x)
      ds.batch_speedup = ds.batch_speedup or {}
      ds.batch_speedup[#ds.batch_speedup + 1] = {system = r.system, speedup = x}
    end
    if r.exact then
      local x = r.exact.scan_gbps / r.exact.read_gbps
      say("  %s exact search streams %.2f GB/s; a plain read of the vectors %.2f GB/s: %.0f%%",
          r.system, r.exact.scan_gbps, r.exact.read_gbps, 100 * x)
      ds.exact_share_of_read = x
    end
  end
  -- Resident memory of each in-process omen run against its raw vectors and
  -- links: level-0 lists of 2m slots and a count per node, and the expected
  -- upper levels (a node has 1/(m-1) of them on average, m slots and a count).
  local c1 = find(d, "omen-c", 1)
  for _, r in ipairs(rs) do
    if r.raw_vectors_mb and r.rss_mb and r.system:match("^omen%-c") and r.threads == 1 and
        r.system ~= "omen-c-file" then
      local links = r.n * 4 * ((2 * r.m + 1) + (r.m + 1) / (r.m - 1)) / 2 ^ 20
      local x = r.rss_mb / (r.raw_vectors_mb + links)
      say("  %s resident %.1f MB for %.1f MB of vectors + %.1f MB of links: %.2fx",
          r.system, r.rss_mb, r.raw_vectors_mb, links, x)
      ds.memory_over_raw_and_links = ds.memory_over_raw_and_links or {}
      ds.memory_over_raw_and_links[r.system] = x
    end
  end
  local file = find(d, "omen-c-file", 1)
  if file and c1 then
    local x = file.build_vectors_per_second / c1.build_vectors_per_second
    say("  insert through the log into a file: %s vectors/s against %s in memory: %.2fx",
        commas(file.build_vectors_per_second), commas(c1.build_vectors_per_second), x)
    ds.durable_over_memory_build = x
  end
  say("")
end

-- Live readers (bench/follow.c), when that part ran.
local follow = read_json("follow.json")
do
  if follow then
    say("live readers (%s x %d clusters, ef %d, C API, omen %s):", commas(follow.n),
        follow.dim, follow.ef, follow.isa)
    say("  writer idle: a live reader %s queries/s, a plain one %s: %.2fx, %.2f us per look",
        commas(follow.live_qps), commas(follow.plain_qps), follow.live_qps / follow.plain_qps,
        follow.look_us)
    say("  writer ingesting %s upserts/s: the live reader %s queries/s while it applies them",
        commas(follow.ingest_writes_per_s), commas(follow.ingest_live_qps))
    say("")
  end
end

-- omen inside nginx (bench/nginx.sh), when that part ran.
local nginx = read_json("nginx.json")
do
  if nginx then
    if nginx.skipped then
      say("omen inside nginx: skipped: %s", nginx.skipped)
    else
      say("omen inside nginx (%d workers, each a live reader; %s x %d; wrk, 2 threads, 16 "
          .. "connections, POST /search k 10):", nginx.workers, commas(nginx.n), nginx.dim)
      for _, part in ipairs({{"writer idle", nginx.idle},
                             {("writer upserting %s/s"):format(commas(nginx.rate)), nginx.ingesting}}) do
        local w = part[2]
        say("  %-22s %s requests/s, latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, non-2xx %d",
            part[1] .. ":", commas(w.rps), w.p50_ms, w.p90_ms, w.p99_ms, w.non_2xx)
      end
      say("  %s upserts made while serving; a /count afterwards answered %s", commas(nginx.ingested),
          commas(nginx.count_after.count))
    end
    say("")
  end
end

-- The text index against SQLite FTS5 (bench/text.c), per corpus that ran.
local text = {}
for _, corpus in ipairs({{"apt", "package descriptions (apt-cache dumpavail)"},
                         {"man", "man pages, one document per paragraph"}}) do
  local t = read_json("text-" .. corpus[1] .. ".json")
  if t then
    text[corpus[1]] = t
    say("full text against SQLite FTS5, %s: %s documents, %s OR queries of 1-5 words, top 10",
        corpus[2], commas(t.docs), commas(t.queries))
    say("  top-10 agreement with FTS5's bm25 ranking (ties aside): %.4f", t.agreement)
    say("  queries/s: omen %s, FTS5 %s: %.1fx", commas(t.omen_qps), commas(t.fts5_qps),
        t.omen_qps / t.fts5_qps)
    say("  build, documents/s: omen's index %s, FTS5 %s: %.2fx", commas(t.omen_index_dps),
        commas(t.fts5_build_dps), t.omen_index_dps / t.fts5_build_dps)
    say("  upserts of records with a 16-d vector, collection indexed: %s/s; not indexed: %s/s",
        commas(t.omen_upsert_dps), commas(t.omen_plain_upsert_dps))
    say("  index size: omen %.1f MB, FTS5 %.1f MB (contentless table): %.2fx", t.omen_bytes / 1e6,
        t.fts5_bytes / 1e6, t.omen_bytes / t.fts5_bytes)
    say("  a fused query (vector and text, RRF, 50 deep) %.0f us; its two halves %.0f us",
        t.fused_us, t.halves_us)
    say("")
  end
end

io.write(table.concat(out, "\n"), "\n")

-- -- results.json ------------------------------------------------------------------

do
  local clean = {}
  for i, r in ipairs(runs) do
    local c = {}
    for k, v in pairs(r) do
      if k ~= "file" then c[k] = v end
    end
    clean[i] = c
  end
  local doc = {machine = machine, runs = clean, ratios = ratios, follow = follow, nginx = nginx,
               text = text}
  local path = dir .. "/results.json"
  local f = io.open(path, "w") or die("cannot write " .. path)
  f:write(cjson.encode(doc), "\n")
  f:close()
  io.write("wrote ", path, "\n")
end

-- -- The plot --------------------------------------------------------------------------

do
  local d = "fashion-mnist"
  local rs = by_dataset[d]
  if rs then
    local gp, png = dir .. "/fashion-mnist.gp", dir .. "/fashion-mnist.png"
    local s = {}
    local function w(fmt, ...) s[#s + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
    local styles = {["omen-c"] = "lc rgb '#d62728' pt 7", ["omen-c-sq8"] = "lc rgb '#2ca02c' pt 11",
                    ["omen-c-pca8"] = "lc rgb '#9467bd' pt 15",
                    ["omen-lua"] = "lc rgb '#ff9896' pt 5", ["omen-lua-sq8"] = "lc rgb '#98df8a' pt 13",
                    ["omen-lua-pca8"] = "lc rgb '#c5b0d5' pt 17",
                    hnswlib = "lc rgb '#1f77b4' pt 9"}
    local first = rs[1]
    w("# recall against queries/s on Fashion-MNIST, written by bench/report.lua")
    w("# gnuplot %s", gp)
    w("set terminal pngcairo size 960,640 font 'Sans,11'")
    w("set output '%s'", png)
    w("set title 'Fashion-MNIST, %s x %d, L2, k = 10, M = %d, ef_construction = %d, one thread, one query at a time'",
      commas(first.n), first.dim, first.m, first.ef_construction)
    w("set termoption noenhanced")
    w("set xlabel 'recall@10'")
    w("set ylabel 'queries per second (log scale)'")
    w("set xrange [0.92:1]")
    w("set logscale y")
    w("set format y '%.0f'")
    w("set grid xtics ytics mytics")
    w("set key bottom left box opaque")
    local plots = {}
    for i, r in ipairs(rs) do
      local block = "$d" .. i
      w("%s << EOD", block)
      for _, p in ipairs(r.points) do w("%.5f %.1f %d", p.recall, p.qps, p.ef) end
      w("EOD")
      local title = r.system .. (r.threads > 1 and (" (" .. r.threads .. " threads)") or "")
      local style = styles[r.system] or ""
      plots[#plots + 1] = ("%s using 1:2 with linespoints lw 2 ps 1.2 %s title '%s'"):format(
        block, style, title)
    end
    w("plot %s", table.concat(plots, ", \\\n     "))
    local f = io.open(gp, "w") or die("cannot write " .. gp)
    f:write(table.concat(s, "\n"), "\n")
    f:close()
    if not run("command -v gnuplot >/dev/null 2>&1") then
      io.write("gnuplot is missing: wrote ", gp, " only\n")
    else
      local ok = run("gnuplot '" .. gp .. "'")
      if not ok then
        -- Without cairo: gnuplot's plain png terminal.
        local plain = table.concat(s, "\n"):gsub("set terminal pngcairo[^\n]*", "set terminal png size 960,640")
        f = io.open(gp, "w")
        f:write(plain, "\n")
        f:close()
        ok = run("gnuplot '" .. gp .. "'")
      end
      if not ok then die("gnuplot failed on " .. gp) end
      io.write("wrote ", png, "\n")
    end
  end
end
