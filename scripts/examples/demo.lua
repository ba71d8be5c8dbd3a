-- demo.lua: index Fashion-MNIST (60,000 clothing images, 784 pixels each)
-- and search it with held-out test images.
--
--   omen-lua scripts/examples/demo.lua [--limit N] [--queries N] [--db PATH]
--
-- Reads Debian's dataset-fashion-mnist (`make demo` installs it), loads the
-- training images straight into an FFI float buffer, inserts them in one
-- batch with their labels as metadata, then answers the test images: shows
-- the neighbours of one, measures recall against exact search and how often
-- the neighbours' majority label is the right one.

local ffi = require("ffi")
local omen = require("omen")

local DATA = "/usr/share/datasets/fashion-mnist/"
local LABELS = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

local function usage()
  io.stderr:write("usage: omen-lua scripts/examples/demo.lua",
                  " [--limit N] [--queries N] [--db PATH]\n")
  os.exit(2)
end

local opts = {limit = 60000, queries = 1000}
do
  local i = 1
  while i <= #arg do
    local a, v = arg[i], arg[i + 1]
    if a == "--limit" or a == "--queries" then
      opts[a:sub(3)] = tonumber(v) or usage()
    elseif a == "--db" then
      opts.db = v or usage()
    else
      usage()
    end
    i = i + 2
  end
end

local now = (function()
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } omen_demo_timespec;
    int clock_gettime(int clk, omen_demo_timespec *ts);
  ]]
  local ts = ffi.new("omen_demo_timespec")
  return function()
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
  end
end)()

-- The gzip'd IDX files: a big-endian header, then one byte per pixel/label.
local function read_idx(name, want_magic)
  local path = DATA .. name
  local f = io.open(path, "rb")
  if not f then
    io.stderr:write("demo: ", path, " is missing; run `make demo` (it installs\n",
                    "Debian's dataset-fashion-mnist package)\n")
    os.exit(1)
  end
  f:close()
  local p = assert(io.popen("gzip -dc '" .. path .. "'", "r"))
  local bytes = p:read("*a")
  p:close()
  local function u32(at)
    local a, b, c, d = bytes:byte(at, at + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
  end
  assert(u32(1) == want_magic, path .. ": not an IDX file")
  local count = u32(5)
  local header = want_magic == 2051 and 16 or 8
  return bytes, header, count
end

local function load_images(name, limit)
  local bytes, header, count = read_idx(name, 2051)
  local n = math.min(count, limit)
  local buf = ffi.new("float[?]", n * 784)
  local src = ffi.cast("const uint8_t *", bytes) + header
  for i = 0, n * 784 - 1 do buf[i] = src[i] end
  return buf, n
end

local function load_labels(name, limit)
  local bytes, header, count = read_idx(name, 2049)
  local labels = {}
  for i = 1, math.min(count, limit) do labels[i] = bytes:byte(header + i) end
  return labels
end

io.write(("omen %s -- Fashion-MNIST demo\n"):format(omen.version))
local t0 = now()
local train, n = load_images("train-images-idx3-ubyte.gz", opts.limit)
local train_labels = load_labels("train-labels-idx1-ubyte.gz", opts.limit)
local test, nq = load_images("t10k-images-idx3-ubyte.gz", opts.queries)
local test_labels = load_labels("t10k-labels-idx1-ubyte.gz", opts.queries)
io.write(("loaded %d training and %d test images in %.1f s\n"):format(n, nq, now() - t0))

local db = assert(omen.open(opts.db))
if opts.db then db:drop_collection("fashion") end
local coll = db:create_collection("fashion", {dim = 784, metric = "l2"})

local ids, metas = {}, {}
for i = 1, n do
  ids[i] = "train-" .. (i - 1)
  local label = train_labels[i]
  metas[i] = {label = LABELS[label + 1], class = label}
end
t0 = now()
coll:upsert_batch(ids, train, metas) -- one flat FFI buffer, read in place
local build = now() - t0
io.write(("indexed %d vectors of 784 dims in %.1f s (%.0f vectors/s, all cores)\n"):format(
  n, build, n / build))

-- One query, shown in full.
local q = test + 0 * 784
local hits = coll:search(q, 5)
io.write(("\ntest image 0 (label: %s), its 5 nearest training images:\n"):format(
  LABELS[test_labels[1] + 1]))
for i, h in ipairs(hits) do
  io.write(("  %d. %-12s %-12s distance %.0f\n"):format(i, h.id, h.meta.label, h.distance))
end

-- All queries: speed, recall against exact search, k-NN classification.
local k, correct, found = 10, 0, 0
local exact_every = math.max(1, math.floor(nq / 200))
local exact_checked, search_time = 0, 0
for j = 0, nq - 1 do
  local qv = test + j * 784
  local s = now()
  local res = coll:search(qv, k)
  search_time = search_time + (now() - s)
  local votes, best, best_votes = {}, nil, 0
  for _, h in ipairs(res) do
    local c = h.meta.class
    votes[c] = (votes[c] or 0) + 1
    if votes[c] > best_votes then best, best_votes = c, votes[c] end
  end
  if best == test_labels[j + 1] then correct = correct + 1 end
  if j % exact_every == 0 then
    local truth = {}
    for _, h in ipairs(coll:search(qv, {k = k, exact = true, with_meta = false})) do
      truth[h.id] = true
    end
    for _, h in ipairs(res) do if truth[h.id] then found = found + 1 end end
    exact_checked = exact_checked + 1
  end
end
io.write(("\n%d queries: %.0f queries/s through Lua (k = %d, ef = 64)\n"):format(
  nq, nq / search_time, k))
io.write(("recall@%d against exact search: %.4f (%d queries checked)\n"):format(
  k, found / (exact_checked * k), exact_checked))
io.write(("k-NN label accuracy (majority of %d neighbours): %.1f%%\n"):format(
  k, 100 * correct / nq))
if opts.db then io.write(("database written to %s\n"):format(opts.db)) end
db:close()
