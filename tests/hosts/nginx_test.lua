-- nginx_test.lua: the nginx example under load from a writer. A database of
-- BASE records; nginx started from scripts/nginx with 2 workers; then an
-- omen-lua process upserts NEW records one call at a time, printing each id
-- once its call returned, and for each the test asks nginx (any worker) for
-- the record's vector: it must come back first, at distance 0, with its
-- metadata. Then counts from every worker, a filter, bad requests.
--
--   omen-lua tests/hosts/nginx_test.lua BUILD TMPDIR
local build, tmp = arg[1], arg[2]
local BASE, NEW, DIM = 200, 60, 8
local db_path = tmp .. "/svc.omen"

local function fail(msg)
  io.stderr:write("nginx test: ", msg, "\n")
  local log = io.open(tmp .. "/nginx/error.log")
  if log then io.stderr:write(log:read("*a")) log:close() end
  os.exit(1)
end

local function vec(i)
  local v = {}
  for d = 1, DIM do v[d] = math.sin(i * 1.7 + d * 0.31) * 10 end
  return v
end

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

-- A free loopback port: the first in a range that nothing answers on.
local port
for p = 18000 + (os.time() % 500) * 7, 23000 do
  if sh(("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ 2>/dev/null"):format(p)) == "000" then
    port = p
    break
  end
end
if not port then fail("no free port") end

local function http(method, path, body)
  local cmd = ("curl -s -X %s -w '\\n%%{http_code}' http://127.0.0.1:%d%s"):format(method, port, path)
  if body then cmd = cmd .. " -H 'Content-Type: application/json' --data-binary @-" end
  local out
  if body then
    local f = io.open(tmp .. "/body.json", "w")
    f:write(body)
    f:close()
    out = sh(cmd .. " < " .. tmp .. "/body.json")
  else
    out = sh(cmd)
  end
  local text, code = out:match("^(.*)\n(%d+)$")
  return tonumber(code), text
end

local cjson = require("cjson")
local function search(v, k, filter)
  local code, text = http("POST", "/search", cjson.encode({vector = v, k = k, filter = filter}))
  if code ~= 200 then fail("search answered " .. tostring(code) .. ": " .. tostring(text)) end
  return cjson.decode(text).hits
end

-- The database, with a collection before nginx starts.
local db = assert(omen.open(db_path))
local c = assert(db:create_collection("docs", {dim = DIM}))
for i = 1, BASE do c:upsert("b" .. i, vec(i), {kind = "base", i = i}) end
assert(db:close())

local started = sh(("sh scripts/nginx/run.sh start %s docs %d 2 %s/nginx 2>&1"):format(db_path, port, tmp))
if not started:find("omen search service") then fail("nginx did not start: " .. started) end
local up = false
for _ = 1, 100 do
  if http("GET", "/count") == 200 then up = true break end
  sh("sleep 0.05")
end
if not up then fail("nginx does not answer on port " .. port) end

-- The writer, in another process.
local writer = io.popen(("%s/omen-lua -e '%s' 2>&1"):format(build, ([[
  local db = assert(omen.open(%q))
  local c = db:collection("docs")
  for i = 1, %d do
    local v = {}
    for d = 1, %d do v[d] = math.sin((1000 + i) * 1.7 + d * 0.31) * 10 end
    c:upsert("w" .. i, v, {kind = "new", i = i})
    io.write("acked ", i, "\n")
    io.flush()
  end
  db:close()
]]):format(db_path, NEW, DIM)))
local seen = 0
for line in writer:lines() do
  local i = tonumber(line:match("^acked (%d+)$"))
  if not i then fail("writer: " .. line) end
  local hits = search(vec(1000 + i), 3)
  local h = hits[1]
  if not h or h.id ~= "w" .. i or h.distance > 1e-6 or h.meta.i ~= i or h.meta.kind ~= "new" then
    fail(("write w%d was acknowledged, yet the next search answered %s"):format(i, cjson.encode(hits)))
  end
  seen = seen + 1
end
writer:close()
if seen ~= NEW then fail(("the writer acknowledged %d of %d writes"):format(seen, NEW)) end

for _ = 1, 8 do -- both workers, most likely: each must hold everything
  local code, text = http("GET", "/count")
  if code ~= 200 or cjson.decode(text).count ~= BASE + NEW then fail("count: " .. text) end
end
local only_base = search(vec(1000 + 5), 5, {kind = "base"})
for _, h in ipairs(only_base) do
  if h.meta.kind ~= "base" then fail("the filter let " .. h.id .. " through") end
end
local code = http("POST", "/search", '{"vector": [1, 2]}')
if code ~= 400 then fail("a query of the wrong dimension answered " .. tostring(code)) end
code = http("POST", "/search", "not json")
if code ~= 400 then fail("a body that is not JSON answered " .. tostring(code)) end
code = http("GET", "/search")
if code ~= 405 then fail("GET /search answered " .. tostring(code)) end
print(("nginx: 2 workers on port %d answered %d searches for writes acknowledged just "
       .. "before, counts, a filter and bad requests right"):format(port, NEW))
