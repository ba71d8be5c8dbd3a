-- prepare.lua: the benchmark's data sets as raw float32 files (little-endian,
-- row-major), made once: a file that exists is left alone.
--
--   omen-lua bench/prepare.lua DATA_DIR      (or luajit bench/prepare.lua)
--
-- fmnist-base.f32   60,000 x 784  Fashion-MNIST training images, pixels 0..255
-- fmnist-query.f32  10,000 x 784  its test images
--   from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
-- fmrot-base.f32, fmrot-query.f32  the same images times one random
--   orthogonal matrix (Gram-Schmidt on Gaussian draws, seeded): the same
--   neighbours, but real values with the variance spread over every
--   component, where 8-bit codes are no longer nearly lossless
-- synth-base.f32   100,000 x 128  Gaussian clusters: 1,000 centres; a point is
-- synth-query.f32   10,000 x 128  its centre + a draw in the cluster's own
--   16-dim subspace + small full-rank noise; seeded, the same data as
--   bench/scale.c makes at 128 dims.
--
-- Each file is written under a temporary name and renamed when complete.

local ffi = require("ffi")
local bit = require("bit")

local FMNIST = "/usr/share/datasets/fashion-mnist/"
local dir = arg[1] or "build/bench/data"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function die(msg)
  io.stderr:write("prepare: ", msg, "\n")
  os.exit(1)
end

assert(ffi.abi("le"), "prepare: writes little-endian floats; this machine is big-endian")
os.execute("mkdir -p '" .. dir .. "'")

-- Write n floats from buf to path, through a temporary file.
local function write_floats(path, buf, n)
  local tmp = path .. ".tmp"
  local f = io.open(tmp, "wb") or die("cannot write " .. tmp)
  f:write(ffi.string(buf, n * 4))
  if not f:close() then die("cannot write " .. tmp) end
  assert(os.rename(tmp, path))
end

-- -- Fashion-MNIST ------------------------------------------------------------

-- A gzip'd IDX image file: 16-byte big-endian header (magic 2051, count,
-- rows, cols), then one unsigned byte per pixel.
local function convert_idx(src, dst, want)
  if exists(dst) then return end
  if not exists(src) then
    die(src .. " is missing: install Debian's dataset-fashion-mnist (`make bench` does)")
  end
  local p = io.popen("gzip -dc '" .. src .. "'", "r") or die("cannot run gzip")
  local bytes = p:read("*a")
  p:close()
  local function u32(at)
    local a, b, c, d = bytes:byte(at, at + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
  end
  if #bytes < 16 or u32(1) ~= 2051 then die(src .. ": not an IDX image file") end
  local count, dim = u32(5), u32(9) * u32(13)
  if count ~= want or dim ~= 784 or #bytes ~= 16 + count * dim then
    die(("%s: expected %d images of 784 pixels, found %d of %d"):format(src, want, count, dim))
  end
  local n = count * dim
  local out = ffi.new("float[?]", n)
  local px = ffi.cast("const uint8_t *", bytes) + 16
  for i = 0, n - 1 do out[i] = px[i] end
  write_floats(dst, out, n)
  io.write(("prepare: %s (%d x %d)\n"):format(dst, count, dim))
end

convert_idx(FMNIST .. "train-images-idx3-ubyte.gz", dir .. "/fmnist-base.f32", 60000)
convert_idx(FMNIST .. "t10k-images-idx3-ubyte.gz", dir .. "/fmnist-query.f32", 10000)

-- -- Synthetic clusters -------------------------------------------------------
-- bench_clusters of bench/bench.h as bench/scale.c calls it, step for step:
-- 1,000 centres with coordinates N(0, 4^2); each cluster spreads along 16 random
-- directions (basis entries N(0, 0.5^2), latent draws N(0, 1)), plus noise
-- N(0, 0.05^2) in every coordinate. Centres from seed 12345, the base
-- points from seed 1, the queries from seed 2.

local SYN_DIM, CENTRES, LATENT = 128, 1000, 16

-- splitmix64, as in scale.c.
local state = ffi.new("uint64_t[1]")
local function next_u64()
  local x = state[0] + 0x9e3779b97f4a7c15ULL
  state[0] = x
  x = bit.bxor(x, bit.rshift(x, 30)) * 0xbf58476d1ce4e5b9ULL
  x = bit.bxor(x, bit.rshift(x, 27)) * 0x94d049bb133111ebULL
  return bit.bxor(x, bit.rshift(x, 31))
end
local function gauss() -- Box-Muller, one value per two draws, as in scale.c
  local u = (tonumber(bit.rshift(next_u64(), 11)) + 1) / 9007199254740993.0
  local v = tonumber(bit.rshift(next_u64(), 11)) / 9007199254740992.0
  return math.sqrt(-2 * math.log(u)) * math.cos(6.283185307179586 * v)
end

local synth_base, synth_query = dir .. "/synth-base.f32", dir .. "/synth-query.f32"
if not (exists(synth_base) and exists(synth_query)) then
  state[0] = 12345ULL
  local centre = ffi.new("float[?]", CENTRES * SYN_DIM)
  local basis = ffi.new("float[?]", CENTRES * SYN_DIM * LATENT) -- [c][j][l]
  for i = 0, CENTRES * SYN_DIM - 1 do centre[i] = 4 * gauss() end
  for i = 0, CENTRES * SYN_DIM * LATENT - 1 do basis[i] = gauss() / 2 end
  local z = ffi.new("double[?]", LATENT)
  local function points(path, n, seed)
    state[0] = seed
    local out = ffi.new("float[?]", n * SYN_DIM)
    for i = 0, n - 1 do
      local c = tonumber(next_u64() % CENTRES)
      for l = 0, LATENT - 1 do z[l] = gauss() end
      local cb, bb, ob = c * SYN_DIM, c * SYN_DIM * LATENT, i * SYN_DIM
      for j = 0, SYN_DIM - 1 do
        local x = centre[cb + j] + 0.05 * gauss()
        local row = bb + j * LATENT
        for l = 0, LATENT - 1 do x = x + basis[row + l] * z[l] end
        out[ob + j] = x
      end
    end
    write_floats(path, out, n * SYN_DIM)
    io.write(("prepare: %s (%d x %d)\n"):format(path, n, SYN_DIM))
  end
  points(synth_base, 100000, 1ULL)
  points(synth_query, 10000, 2ULL)
end

-- -- Fashion-MNIST, rotated (with the generator above) ---------------------

local function read_floats(path, n)
  local f = io.open(path, "rb") or die("cannot read " .. path)
  local bytes = f:read(n * 4)
  f:close()
  if not bytes or #bytes ~= n * 4 then die(path .. ": short file") end
  local out = ffi.new("float[?]", n)
  ffi.copy(out, bytes, n * 4)
  return out
end

-- A random orthogonal d x d matrix (rows), in doubles: Gaussian rows made
-- orthonormal by Gram-Schmidt, twice over.
local function random_rotation(d, seed)
  state[0] = seed
  local q = ffi.new("double[?]", d * d)
  for i = 0, d * d - 1 do q[i] = gauss() end
  for i = 0, d - 1 do
    local ri = i * d
    for _ = 1, 2 do
      for k = 0, i - 1 do
        local rk, dot = k * d, 0
        for j = 0, d - 1 do dot = dot + q[ri + j] * q[rk + j] end
        for j = 0, d - 1 do q[ri + j] = q[ri + j] - dot * q[rk + j] end
      end
    end
    local norm = 0
    for j = 0, d - 1 do norm = norm + q[ri + j] * q[ri + j] end
    norm = 1 / math.sqrt(norm)
    for j = 0, d - 1 do q[ri + j] = q[ri + j] * norm end
  end
  return q
end

local function rotate(src, dst, n, d, q)
  local x = read_floats(src, n * d)
  local out = ffi.new("float[?]", n * d)
  for r = 0, n - 1 do
    local xr = r * d
    for i = 0, d - 1 do
      local qi, sum = i * d, 0
      for j = 0, d - 1 do sum = sum + q[qi + j] * x[xr + j] end
      out[xr + i] = sum
    end
  end
  write_floats(dst, out, n * d)
  io.write(("prepare: %s (%d x %d, rotated)\n"):format(dst, n, d))
end

local rot_base, rot_query = dir .. "/fmrot-base.f32", dir .. "/fmrot-query.f32"
if not (exists(rot_base) and exists(rot_query)) then
  local q = random_rotation(784, 784ULL)
  rotate(dir .. "/fmnist-base.f32", rot_base, 60000, 784, q)
  rotate(dir .. "/fmnist-query.f32", rot_query, 10000, 784, q)
end
