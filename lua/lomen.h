/*
** The omen Lua module: luaopen_omen() builds it (classic binding in
** binding.c, completed by the embedded lua/omen.lua); lomen_push_db() hands
** a host program's database to a lua_State.
*/
#ifndef LOMEN_H
#define LOMEN_H

#include <lua.h>

#include "omen.h"

int luaopen_omen(lua_State *L);

/* Push a handle on db, a database the host program opened, as the same
** userdata omen.open returns. The host keeps it: db:close() and the
** garbage collector only let go of the handle. Several lua_States (one per
** thread) may each hold one on the same database, since omen's handles are
** thread-safe; close those states (or drop their handles and collections)
** before omen_close(db). Load the module into L first (luaopen_omen or
** require "omen"). */
void lomen_push_db(lua_State *L, omen_db *db);

/* omen_interrupt on every database opened through the module (omen.open)
** and not yet closed: the searches running on them stop with an
** "interrupted" error. Safe in a signal handler (omen-lua calls it on
** Ctrl-C). */
void lomen_interrupt_all(void);

#endif
