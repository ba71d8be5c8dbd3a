/*
** The omen Lua module: luaopen_omen() builds it (classic binding in
** binding.c, completed by the embedded lua/omen.lua).
*/
#ifndef LOMEN_H
#define LOMEN_H

#include <lua.h>

int luaopen_omen(lua_State *L);

#endif
