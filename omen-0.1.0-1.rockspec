-- luarocks make: builds the Lua module (build/omen.so) with the project's
-- Makefile and installs it into the rocks tree. Needs LuaJIT (the module
-- embeds its Lua half as LuaJIT bytecode) and a C11 compiler.
package = "omen"
version = "0.1.0-1"
source = {url = "git+file://."}
description = {
  summary = "Embedded vector database (HNSW and exact search) for LuaJIT",
  detailed = [[
omen stores vectors with string ids and metadata in named collections,
finds nearest neighbours (HNSW graph or exact scan; l2, cosine, ip) and
keeps its data durable in one database file.]],
}
dependencies = {"lua >= 5.1, < 5.2"}
build = {
  type = "make",
  build_target = "build/omen.so",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUAJIT_CFLAGS = "-I$(LUA_INCDIR)",
    DEPS_STAMP = "",
  },
  install_pass = false,
  install = {lib = {omen = "build/omen.so"}},
}
