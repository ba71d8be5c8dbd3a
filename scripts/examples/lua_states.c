/*
** lua_states.c: a host program with one lua_State per thread, all sharing
** one omen database it opened itself. A writer script streams records into
** a collection while a reader script on another thread searches it; the
** host then checks the count from C.
**
**   cc -Icore -Ilua $(pkg-config --cflags luajit) \
**      scripts/examples/lua_states.c build/omen.so $(pkg-config --libs luajit) \
**      -pthread -Wl,-rpath,build
**   ./a.out
**
** The pattern: open the database in C; in each thread create a lua_State,
** load the omen module, and hand it the database with lomen_push_db. Lua
** values never cross between states; the database handle does, because
** omen's handles are thread-safe. Close the states before omen_close.
*/
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>

#include "lomen.h"
#include "omen.h"

static const char *const writer_script =
    "local c = db:collection('points')\n"
    "for i = 1, 2000 do\n"
    "  local a = i * 0.01\n"
    "  c:upsert('p' .. i, {math.cos(a), math.sin(a), a}, {i = i})\n"
    "end\n"
    "return c:count()";

static const char *const reader_script =
    "local c, searches, found = db:collection('points'), 0, 0\n"
    "while searches < 500 do\n"
    "  local hits = c:search({1, 0, 0.5}, {k = 5})\n"
    "  searches = searches + 1\n"
    "  found = found + #hits\n"
    "end\n"
    "return found";

typedef struct job {
  omen_db *db;
  const char *script;
  double answer;
  int failed;
} job;

static void *run(void *p)
{
  job *j = p;
  lua_State *L = luaL_newstate();
  if (!L) {
    j->failed = 1;
    return NULL;
  }
  luaL_openlibs(L);
  lua_pushcfunction(L, luaopen_omen); /* or require "omen" */
  lua_call(L, 0, 1);
  lua_setglobal(L, "omen");
  lomen_push_db(L, j->db);
  lua_setglobal(L, "db");
  if (luaL_dostring(L, j->script)) {
    fprintf(stderr, "script: %s\n", lua_tostring(L, -1));
    j->failed = 1;
  } else {
    j->answer = lua_tonumber(L, -1);
  }
  lua_close(L); /* releases the state's handles; the database stays open */
  return NULL;
}

int main(void)
{
  omen_db *db;
  omen_coll *c;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 3);
  if (omen_open(NULL, NULL, &db) || omen_coll_create(db, "points", &cfg, &c)) {
    fprintf(stderr, "setup: %s\n", omen_errmsg(db));
    return 1;
  }
  job jobs[2] = {{db, writer_script, 0, 0}, {db, reader_script, 0, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, run, &jobs[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  uint64_t n = 0;
  omen_count(c, &n);
  printf("writer stored %.0f records, reader saw %.0f hits in 500 searches, count %llu\n",
         jobs[0].answer, jobs[1].answer, (unsigned long long)n);
  omen_coll_close(c);
  omen_close(db);
  return jobs[0].failed || jobs[1].failed || n != 2000;
}
