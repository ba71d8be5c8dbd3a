-- text_prep.lua: the corpora and queries of bench/text.c, from text every
-- Debian machine has.
--
--   omen-lua bench/text_prep.lua apt DUMPAVAIL OUT_DOCS OUT_QUERIES [N_QUERIES]
--   omen-lua bench/text_prep.lua man MAN_DIR OUT_DOCS OUT_QUERIES [N_QUERIES]
--
-- apt: each package's description in `apt-cache dumpavail` output (short
-- line and long text), one document per line. man: the installed English
-- man pages (MAN_DIR/man*/*.gz), their roff markup stripped, one document
-- per paragraph of at least 8 words. Queries: 1 to 5 words (ASCII letters and
-- digits, as both tokenizers split them) drawn from random documents, so
-- common words come up as often as they do in the text.

local mode, src, out_docs, out_queries, n_queries = ...
assert(mode and src and out_docs and out_queries,
       "usage: text_prep.lua apt|man SOURCE OUT_DOCS OUT_QUERIES [N_QUERIES]")
n_queries = tonumber(n_queries) or 2000

local function clean(s)
  return (s:gsub("[%c]", " "):gsub("  +", " "):gsub("^ ", ""):gsub(" $", ""))
end

local function apt_docs(path)
  local docs, cur = {}, nil
  for line in io.lines(path) do
    local short = line:match("^Description: (.*)")
    if short then
      cur = {short}
    elseif cur and line:sub(1, 1) == " " then
      if line ~= " ." then cur[#cur + 1] = line:sub(2) end
    elseif cur then
      docs[#docs + 1] = clean(table.concat(cur, " "))
      cur = nil
    end
  end
  if cur then docs[#docs + 1] = clean(table.concat(cur, " ")) end
  return docs
end

-- roff to words: requests and comments go, escapes go, paragraphs split at
-- blank lines and paragraph macros.
local function man_docs(dir)
  local docs = {}
  local list = assert(io.popen("ls " .. dir .. "/man[1-8]/*.gz 2>/dev/null"))
  for file in list:lines() do
    local f = io.popen("zcat '" .. file .. "' 2>/dev/null")
    local para = {}
    local function flush()
      local text = clean(table.concat(para, " "))
      local words = select(2, text:gsub("%S+", ""))
      if words >= 8 then docs[#docs + 1] = text end
      para = {}
    end
    for line in f:lines() do
      if line == "" or line:match("^%.[PLT]?P%s*$") or line:match("^%.S[HS]")
         or line:match("^%.TP") or line:match("^%.IP") then
        flush()
      elseif not line:match("^['.]") then
        line = line:gsub("\\f[BIRP]", ""):gsub("\\f%(..", ""):gsub("\\%(..", " ")
                   :gsub("\\%*%(..", " "):gsub("\\[-e&|^%%]", ""):gsub("\\.", "")
        para[#para + 1] = line
      end
    end
    flush()
    f:close()
  end
  list:close()
  return docs
end

local docs = mode == "apt" and apt_docs(src) or mode == "man" and man_docs(src)
assert(docs, "mode is apt or man")
local f = assert(io.open(out_docs, "w"))
for _, d in ipairs(docs) do f:write(d, "\n") end
f:close()

math.randomseed(20261203)
local q = assert(io.open(out_queries, "w"))
local made = 0
while made < n_queries do
  local words = {}
  for w in docs[math.random(#docs)]:lower():gmatch("[%w]+") do
    if not w:match("[\128-\255]") then words[#words + 1] = w end
  end
  if #words > 0 then
    local n, picked = math.random(5), {}
    for i = 1, n do picked[i] = words[math.random(#words)] end
    q:write(table.concat(picked, " "), "\n")
    made = made + 1
  end
end
q:close()
io.stderr:write(("text_prep: %d documents, %d queries\n"):format(#docs, made))
