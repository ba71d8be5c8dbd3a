/*
** omen-lua: LuaJIT with the omen module preloaded (and bound to the global
** `omen`). Runs a script with arguments, -e chunks, or, with no script, an
** interactive prompt: readline editing and history, multi-line input,
** expressions printed readably (lua/repl.lua), errors reported without
** ending the session, Ctrl-C interrupting the running chunk.
*/
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "lomen.h"
#include "luajit.h"
#include "omen.h"
#include "repl_lua.h" /* luaJIT_BC_repl: lua/repl.lua compiled */

#define PROMPT "omen> "
#define PROMPT2 "  ... "
#define HISTORY_FILE ".omen_history"
#define HISTORY_MAX 1000

static const char *progname = "omen-lua";
static lua_State *running_L; /* for the SIGINT handler only */

/* -- Running chunks ------------------------------------------------------------ */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
  signal(sig, SIG_DFL); /* a second Ctrl-C ends the process */
  lua_sethook(running_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int traceback(lua_State *L)
{
  if (!lua_isstring(L, 1)) { /* a non-string error object */
    if (lua_isnoneornil(L, 1) || !luaL_callmeta(L, 1, "__tostring") ||
        !lua_isstring(L, -1))
      lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
  }
  lua_getglobal(L, "debug");
  lua_getfield(L, -1, "traceback");
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 2);
  lua_call(L, 2, 1);
  return 1;
}

/* Call the function below nargs arguments with a traceback handler. */
static int docall(lua_State *L, int nargs, int nres)
{
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  running_L = L;
  signal(SIGINT, on_sigint);
  int status = lua_pcall(L, nargs, nres, base);
  signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  if (status) lua_gc(L, LUA_GCCOLLECT, 0);
  return status;
}

static int report(lua_State *L, int status)
{
  if (status && !lua_isnil(L, -1)) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

static int dochunk(lua_State *L, int status)
{
  if (status == 0) status = docall(L, 0, 0);
  return report(L, status);
}

/* -- Arguments ------------------------------------------------------------------ */

static void usage(void)
{
  fprintf(stderr,
          "usage: %s [options] [script [args...]]\n"
          "  -e chunk   run the string chunk\n"
          "  -i         enter the prompt after running the script\n"
          "  -v         show the versions\n"
          "  -h         show this help\n"
          "  --         stop handling options\n"
          "  -          run standard input as a script\n"
          "With no script the prompt starts (or, when standard input is not a\n"
          "terminal, standard input is run as a script).\n",
          progname);
}

/* The global `arg`: script at 0, its arguments at 1.., the rest below 0. */
static void make_arg_table(lua_State *L, char **argv, int argc, int script)
{
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script)
{
  const char *file = strcmp(argv[script], "-") ? argv[script] : NULL;
  int status = luaL_loadfile(L, file);
  if (status) return report(L, status);
  int nargs = argc - script - 1;
  luaL_checkstack(L, nargs, "too many arguments");
  for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
  return report(L, docall(L, nargs, 0));
}

/* -- Prompt ------------------------------------------------------------------ */

static int use_readline;

static char *history_path(void)
{
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  char *p = malloc(strlen(home) + sizeof HISTORY_FILE + 1);
  if (p) sprintf(p, "%s/%s", home, HISTORY_FILE);
  return p;
}

/* One line of input without its newline, or NULL at end of input. */
static char *read_line(const char *prompt)
{
  if (use_readline) return readline(prompt);
  fputs(prompt, stdout);
  fflush(stdout);
  size_t cap = 0;
  char *line = NULL;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = 0;
  return line;
}

/* Whether a load failed only because the chunk ends too early. */
static int incomplete(lua_State *L, int status)
{
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

/* Read a whole chunk, asking for more lines while it is incomplete. An
** expression alone (or after '=') is compiled as `return expr`. Leaves the
** compiled chunk on the stack, or returns -1 at end of input. */
static int read_chunk(lua_State *L)
{
  char *line = read_line(PROMPT);
  if (!line) return -1;
  lua_pushstring(L, line[0] == '=' ? line + 1 : line);
  int was_eq = line[0] == '=';
  free(line);
  for (;;) {
    const char *code = lua_tostring(L, -1);
    lua_pushfstring(L, "return %s", code);
    int status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_objlen(L, -1), "=stdin");
    if (status && !was_eq) {
      lua_pop(L, 2); /* not an expression: try it as statements */
      status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
    } else {
      lua_remove(L, -2);
    }
    if (!incomplete(L, status)) {
      if (use_readline && *code) add_history(code);
      lua_remove(L, -2); /* the source */
      return status;
    }
    lua_pop(L, 1);
    char *more = read_line(PROMPT2);
    if (!more) return -1;
    lua_pushfstring(L, "\n%s", more);
    free(more);
    lua_concat(L, 2);
  }
}

static void print_results(lua_State *L, int base)
{
  int n = lua_gettop(L) - base;
  if (n <= 0) return;
  lua_getfield(L, LUA_REGISTRYINDEX, "omen.repl");
  lua_getfield(L, -1, "show");
  lua_remove(L, -2);
  lua_insert(L, base + 1);
  if (report(L, docall(L, n, 0))) return;
}

static void repl(lua_State *L)
{
  use_readline = isatty(STDIN_FILENO);
  char *hist = use_readline ? history_path() : NULL;
  if (hist) {
    stifle_history(HISTORY_MAX);
    read_history(hist);
  }
  if (use_readline)
    printf("omen %s on %s -- type Lua; =expr prints; Ctrl-D leaves\n",
           OMEN_VERSION, LUAJIT_VERSION);
  for (;;) {
    int base = lua_gettop(L);
    int status = read_chunk(L);
    if (status == -1) break;
    if (status == 0) status = docall(L, 0, LUA_MULTRET);
    if (status == 0) print_results(L, base);
    else report(L, status);
    lua_settop(L, base);
  }
  if (use_readline) fputc('\n', stdout);
  if (hist) {
    write_history(hist);
    free(hist);
  }
}

/* -- Main ------------------------------------------------------------------- */

static void open_libs(lua_State *L)
{
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_omen);
  lua_setfield(L, -2, "omen");
  lua_pop(L, 2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "omen");
  lua_call(L, 1, 1);
  lua_setglobal(L, "omen");
  if (luaL_loadbuffer(L, (const char *)luaJIT_BC_repl, luaJIT_BC_repl_SIZE,
                      "=repl.lua") == 0)
    lua_call(L, 0, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "omen.repl");
}

typedef struct run {
  int argc;
  char **argv;
  int status;
} run;

static int pmain(lua_State *L)
{
  run *r = lua_touserdata(L, 1);
  char **argv = r->argv;
  int argc = r->argc, script = 0, interactive = 0, ran_chunk = 0;
  open_libs(L);
  int i;
  for (i = 1; i < argc && argv[i][0] == '-' && !script; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--")) {
      i++;
      break;
    } else if (!strcmp(o, "-")) {
      break;
    } else if (!strcmp(o, "-i")) {
      interactive = 1;
    } else if (!strcmp(o, "-v")) {
      printf("omen-lua %s, %s\n", OMEN_VERSION, LUAJIT_VERSION);
      ran_chunk = 1;
    } else if (!strcmp(o, "-h")) {
      usage();
      return 0;
    } else if (!strcmp(o, "-e")) {
      if (++i >= argc) {
        usage();
        r->status = 1;
        return 0;
      }
      make_arg_table(L, argv, argc, 0);
      ran_chunk = 1;
      if (dochunk(L, luaL_loadbuffer(L, argv[i], strlen(argv[i]), "=(command line)"))) {
        r->status = 1;
        return 0;
      }
    } else {
      fprintf(stderr, "%s: unknown option '%s'\n", progname, o);
      usage();
      r->status = 1;
      return 0;
    }
  }
  if (i < argc) {
    script = i;
    make_arg_table(L, argv, argc, script);
    if (run_script(L, argv, argc, script)) {
      r->status = 1;
      return 0;
    }
  } else {
    make_arg_table(L, argv, argc, argc - 1);
  }
  if (interactive || (!script && !ran_chunk && isatty(STDIN_FILENO))) {
    repl(L);
  } else if (!script && !ran_chunk) {
    if (dochunk(L, luaL_loadfile(L, NULL))) r->status = 1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (argv[0] && argv[0][0]) progname = argv[0];
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%s: cannot create Lua state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  run r = {argc, argv, 0};
  int status = lua_cpcall(L, pmain, &r);
  report(L, status);
  lua_close(L);
  return status || r.status ? EXIT_FAILURE : EXIT_SUCCESS;
}
