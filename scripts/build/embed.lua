-- embed.lua: a Lua file as C source text, for the module and omen-lua to
-- load with luaL_loadbuffer. Source, not bytecode: LuaJIT's bytecode format
-- differs between LuaJIT builds (Tarantool's refuses Debian's), while every
-- LuaJIT host reads the source.
--
--   luajit scripts/build/embed.lua NAME in.lua out.h
--
-- out.h defines NAME_lua (the bytes, NUL-terminated) and NAME_lua_SIZE
-- (without the NUL).
local name, input, output = arg[1], arg[2], arg[3]
assert(name and input and output, "usage: embed.lua NAME in.lua out.h")
local f = assert(io.open(input, "rb"))
local src = f:read("*a")
f:close()
assert(loadstring(src, "=" .. input)) -- a syntax error fails the build here
local out = {("/* %s as text, made by scripts/build/embed.lua */\n"):format(input),
             ("static const char %s_lua[] =\n"):format(name)}
for line in src:gmatch("[^\n]*\n?") do
  if line ~= "" then
    out[#out + 1] = '  "' .. line:gsub('[\\"]', "\\%0"):gsub("\n", "\\n")
                                  :gsub("[%c\128-\255]", function(c)
                                    return ("\\%03o"):format(c:byte())
                                  end) .. '"\n'
  end
end
out[#out + 1] = ";\n"
out[#out + 1] = ("#define %s_lua_SIZE %d\n"):format(name, #src)
f = assert(io.open(output, "wb"))
f:write(table.concat(out))
f:close()
