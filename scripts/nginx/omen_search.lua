-- omen_search.lua: k-NN search over HTTP from nginx's Lua module.
--
-- Each nginx worker process opens the database once, read-only, when it
-- starts (init_worker_by_lua_block calls M.init_worker). A read-only omen
-- database is a live reader: before each search it takes in every write
-- the writing process (an omen-lua job, say) committed, at the cost of two
-- stat() calls when nothing changed. Searches run inside the worker's
-- event loop: a request blocks its worker for the length of one search.
--
--   POST /search  {"vector": [...], "k": 10, "ef": 64, "filter": {...}}
--                 -> {"hits": [{"id": ..., "distance": ..., "meta": {...}}]}
--   GET  /count   -> {"count": N}
--
-- The filter is omen's declarative filter as JSON, e.g.
-- {"cat": "shoes", "price": {"$lt": 50}}. Bad requests get 400 and a
-- message; a missing collection 404.
local cjson = require("cjson.safe")
local omen = require("omen")

local M = {}
local db, coll, coll_name, open_err

function M.init_worker(path, name)
  coll_name = name
  db, open_err = omen.open(path, {readonly = true})
  if not db then ngx.log(ngx.ERR, "omen: cannot open ", path, ": ", open_err) end
end

local function reply(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(body))
  return ngx.exit(status)
end

-- The collection, opened at the first request that finds it (the writer
-- may make it after the workers start), again if it was dropped.
local function collection()
  if not db then return nil, 503, "database not open: " .. tostring(open_err) end
  if not coll then coll = db:collection(coll_name) end
  if not coll then return nil, 404, "no collection '" .. coll_name .. "'" end
  return coll
end

local function failed(err)
  if tostring(err):find("was dropped", 1, true) then coll = nil end
  return reply(400, {error = tostring(err)})
end

function M.search()
  if ngx.req.get_method() ~= "POST" then
    return reply(405, {error = "POST a JSON body to /search"})
  end
  ngx.req.read_body()
  local req = cjson.decode(ngx.req.get_body_data() or "")
  if type(req) ~= "table" or type(req.vector) ~= "table" then
    return reply(400, {error = 'expected {"vector": [...], "k": 10, "filter": {...}}'})
  end
  local c, status, err = collection()
  if not c then return reply(status, {error = err}) end
  local ok, hits, why = pcall(c.search, c, req.vector,
                              {k = req.k or 10, ef = req.ef, filter = req.filter})
  if not ok then return failed(hits) end
  if not hits then return failed(why) end
  return reply(200, {hits = hits})
end

function M.count()
  local c, status, err = collection()
  if not c then return reply(status, {error = err}) end
  local ok, n, why = pcall(c.count, c)
  if not ok or not n then return failed(ok and why or n) end
  return reply(200, {count = n})
end

return M
