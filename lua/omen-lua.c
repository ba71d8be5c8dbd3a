/*
** omen-lua: LuaJIT with the omen module preloaded and bound to the global
** `omen`. Runs -e chunks and a script with arguments like the luajit binary
** does, or, with no script, an interactive prompt: readline editing, history
** and tab completion, multi-line input, results printed readably by
** lua/repl.lua, errors reported without ending the session, Ctrl-C stopping
** the running chunk (or dropping the line being typed).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <luajit.h>

#include "lomen.h"
#include "omen.h"
#include "repl_lua.h" /* repl_lua: lua/repl.lua as text */

#define PROMPT "omen> "
#define PROMPT2 "  ... "
#define HISTORY_FILE ".omen_history"
#define HISTORY_MAX 1000
#define REPL_KEY "omen.repl" /* registry: the table lua/repl.lua returns */

static const char *progname = "omen-lua";
static int in_repl; /* the prompt is up: no progname on errors, Ctrl-C caught */

/* -- Ctrl-C ------------------------------------------------------------------
** While a chunk runs, Ctrl-C sets a hook that raises an error at the next
** instruction the interpreter runs. Code stuck in C never reaches one, so
** the handler also restores the default action: a second Ctrl-C ends the
** process. At the prompt, Ctrl-C only raises a flag that drops the input. */

static lua_State *volatile running; /* the state running a chunk, if any */
static volatile sig_atomic_t interrupted;

static int traceback(lua_State *L);

static void stop_hook(lua_State *L, lua_Debug *ar)
{
  lua_sethook(L, NULL, 0, 0);
  /* Entering the error handler: an error is already on its way out (omen's
  ** "search interrupted", say); raising another would make it an error in
  ** error handling. */
  if (ar->event == LUA_HOOKCALL && lua_getinfo(L, "f", ar)) {
    int handler = lua_tocfunction(L, -1) == traceback;
    lua_pop(L, 1);
    if (handler) return;
  }
  luaL_error(L, "interrupted!");
}

static void set_handler(int sig, void (*handler)(int), int flags)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* Without SA_RESTART, so that a read blocked in a chunk or at the prompt
** returns at once. */
static void catch_sigint(void (*handler)(int))
{
  set_handler(SIGINT, handler, 0);
}

static void on_sigint(int sig)
{
  lua_State *L = running;
  (void)sig;
  if (!L) {
    interrupted = 1;
    return;
  }
  catch_sigint(SIG_DFL);
  lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  lomen_interrupt_all(); /* and a long search inside omen returns at once */
}

/* -- Running chunks ------------------------------------------------------------ */

static int traceback(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Call the function below nargs arguments, interruptible by Ctrl-C. */
static int docall(lua_State *L, int nargs, int nres)
{
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  running = L;
  catch_sigint(on_sigint);
  int status = lua_pcall(L, nargs, nres, base);
  running = NULL;
  catch_sigint(in_repl ? on_sigint : SIG_DFL);
  if (lua_gethook(L) == stop_hook) /* Ctrl-C came after the last instruction */
    lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

/* Print and pop the error message a failed load or call left. */
static int report(lua_State *L, int status)
{
  if (status) {
    const char *msg = lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
    fflush(stdout); /* what the chunk printed comes first */
    if (in_repl) fprintf(stderr, "%s\n", msg);
    else fprintf(stderr, "%s: %s\n", progname, msg);
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

static void push_repl_fn(lua_State *L, const char *name)
{
  lua_getfield(L, LUA_REGISTRYINDEX, REPL_KEY);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

/* -- Line input ------------------------------------------------------------------ */

static int use_readline; /* standard input is a terminal */
static char *history_path;
static lua_State *completing; /* readline's callbacks take no user data */
static volatile sig_atomic_t resized;

/* readline only watches the window size while it reads a key itself. */
static void on_sigwinch(int sig)
{
  (void)sig;
  resized = 1;
}

/* readline's match generator: on state 0 ask repl.complete for the list,
** then hand out one match per call (readline frees them). */
static char *complete_next(const char *text, int state)
{
  static int next;
  lua_State *L = completing;
  if (state == 0) {
    rl_completion_append_character = '\0'; /* a name may go on with . : ( */
    next = 0;
    push_repl_fn(L, "complete");
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) || !lua_istable(L, -1)) {
      lua_pop(L, 1);
      lua_newtable(L);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, "omen.completions");
  }
  lua_getfield(L, LUA_REGISTRYINDEX, "omen.completions");
  lua_rawgeti(L, -1, ++next);
  const char *s = lua_tostring(L, -1);
  char *match = s ? strdup(s) : NULL;
  lua_pop(L, 2);
  return match;
}

static void start_readline(lua_State *L)
{
  completing = L;
  set_handler(SIGWINCH, on_sigwinch, SA_RESTART);
  rl_readline_name = "omen";
  rl_completion_entry_function = complete_next;
  /* Lua's operators end a name; '.' and ':' stay inside it for fields. */
  rl_completer_word_break_characters = " \t\n\"'`<>=;+-*/%^~#&|,()[]{}";
  /* Timestamps mark where each entry starts, so a multi-line chunk comes
  ** back from the file as one entry. */
  history_comment_char = '#';
  history_write_timestamps = 1;
  history_multiline_entries = 1;
  stifle_history(HISTORY_MAX);
  const char *home = getenv("HOME");
  if (!home || !*home) return;
  size_t size = strlen(home) + sizeof HISTORY_FILE + 1;
  history_path = malloc(size);
  if (!history_path) return;
  snprintf(history_path, size, "%s/%s", home, HISTORY_FILE);
  if (read_history(history_path)) write_history(history_path); /* create it */
}

static void stop_readline(void)
{
  if (!history_path) return;
  history_truncate_file(history_path, HISTORY_MAX);
  free(history_path);
  history_path = NULL;
}

/* Entries are appended as they come, so concurrent sessions and a killed
** one lose nothing. */
static void remember(const char *chunk)
{
  if (!use_readline || !*chunk) return;
  add_history(chunk);
  if (history_path) append_history(1, history_path);
}

static char *edited_line;
static int line_done;

static void on_line(char *line)
{
  rl_callback_handler_remove(); /* no new prompt until we ask for one */
  edited_line = line;
  line_done = 1;
}

/* readline() through its callback interface: we wait for input ourselves,
** so Ctrl-C and window changes interrupt select() (which SA_RESTART never
** restarts) and we can drop the half-typed line or redraw it. */
static char *edit_line(const char *prompt)
{
  line_done = 0;
  edited_line = NULL;
  rl_callback_handler_install(prompt, on_line);
  while (!line_done && !interrupted) {
    if (resized) {
      resized = 0;
      rl_resize_terminal();
    }
    fd_set in;
    FD_ZERO(&in);
    FD_SET(STDIN_FILENO, &in);
    if (select(STDIN_FILENO + 1, &in, NULL, NULL, NULL) > 0)
      rl_callback_read_char();
    else if (errno != EINTR)
      break;
  }
  if (!line_done) {
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_callback_handler_remove();
    fputc('\n', stdout);
  }
  return edited_line;
}

static char *plain_line(const char *prompt)
{
  fputs(prompt, stdout);
  fflush(stdout);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    if (interrupted) clearerr(stdin);
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

/* One line without its newline (to free), or NULL at the end of input or
** after Ctrl-C (then `interrupted` is set). */
static char *read_line(const char *prompt)
{
  interrupted = 0;
  fflush(stdout);
  return use_readline ? edit_line(prompt) : plain_line(prompt);
}

/* -- The prompt ------------------------------------------------------------------ */

enum { CHUNK_OK, CHUNK_ERROR, CHUNK_CANCEL, CHUNK_EOF };

/* Whether a load failed only because the chunk is not finished yet. */
static int incomplete(lua_State *L, int status)
{
  static const char eof[] = LUA_QL("<eof>");
  size_t len, n = sizeof eof - 1;
  if (status != LUA_ERRSYNTAX) return 0;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= n && !strcmp(msg + len - n, eof);
}

/* Compile code as an expression to print (`return code`), else, unless
** expr_only, as statements. Leaves the function or the error message; sets
** *more when either reading could still be completed by further lines. */
static int compile(lua_State *L, const char *code, int expr_only, int *more)
{
  lua_pushfstring(L, "return %s", code);
  int status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_objlen(L, -1), "=stdin");
  lua_remove(L, -2);
  int expr_more = incomplete(L, status);
  if (status == 0 || expr_only) {
    *more = expr_more;
    return status;
  }
  lua_pop(L, 1);
  status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
  *more = status != 0 && (expr_more || incomplete(L, status));
  return status;
}

/* A dot-command as a chunk: repl.lua's command() on the line. */
static int run_command(lua_State *L)
{
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_call(L, 1, 0);
  return 0;
}

/* Read lines until they make a chunk. Leaves the compiled chunk (CHUNK_OK)
** or an error message (CHUNK_ERROR) on the stack. */
static int read_chunk(lua_State *L)
{
  char *line = read_line(PROMPT);
  if (!line) return interrupted ? CHUNK_CANCEL : CHUNK_EOF;
  if (line[0] == '.') {
    remember(line);
    push_repl_fn(L, "command");
    lua_pushstring(L, line);
    lua_pushcclosure(L, run_command, 2);
    free(line);
    return CHUNK_OK;
  }
  lua_pushstring(L, line);
  free(line);
  for (;;) {
    const char *src = lua_tostring(L, -1);
    int more, status = compile(L, src + (src[0] == '='), src[0] == '=', &more);
    line = more ? read_line(PROMPT2) : NULL;
    if (!line) {
      if (more && interrupted) {
        lua_pop(L, 2);
        return CHUNK_CANCEL;
      }
      remember(src); /* an error at the end of input is reported too */
      lua_remove(L, -2);
      return status ? CHUNK_ERROR : CHUNK_OK;
    }
    lua_pop(L, 1);
    lua_pushliteral(L, "\n");
    lua_pushstring(L, line);
    free(line);
    lua_concat(L, 3);
  }
}

static void repl(lua_State *L)
{
  in_repl = 1;
  catch_sigint(on_sigint);
  use_readline = isatty(STDIN_FILENO);
  if (use_readline) start_readline(L);
  push_repl_fn(L, "track"); /* .dbs lists the databases opened from here on */
  lua_getglobal(L, "omen");
  if (lua_istable(L, -1)) lua_call(L, 1, 0);
  else lua_pop(L, 2);
  for (;;) {
    int base = lua_gettop(L);
    int status = read_chunk(L);
    if (status == CHUNK_EOF) break;
    if (status == CHUNK_CANCEL) continue;
    if (status == CHUNK_OK) {
      /* Code typed here runs interpreted: a JIT-compiled loop never looks
      ** at the hook, so Ctrl-C could not stop `while true do end`. */
      luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
      status = docall(L, 0, LUA_MULTRET);
      int n = lua_gettop(L) - base;
      if (status == 0 && n > 0) {
        push_repl_fn(L, "show");
        lua_insert(L, base + 1);
        status = docall(L, n, 0);
      }
    }
    report(L, status);
    lua_settop(L, base);
  }
  if (use_readline) {
    fputc('\n', stdout);
    stop_readline();
  }
  in_repl = 0;
}

/* -- Arguments ------------------------------------------------------------------ */

enum { OPT_E = 1, OPT_I = 2, OPT_V = 4, OPT_H = 8 };

static void usage(FILE *out)
{
  fprintf(out,
          "usage: %s [options] [script [args...]]\n"
          "  -e chunk   run the string chunk\n"
          "  -i         enter the prompt after running the script\n"
          "  -v         show the versions\n"
          "  -h         show this help\n"
          "  --         stop handling options\n"
          "  -          run standard input as the script\n"
          "With no script (and no -e or -v) the prompt starts, or, when standard\n"
          "input is not a terminal, standard input runs as the script.\n",
          progname);
}

static void print_version(void)
{
  printf("omen %s, %s\n", omen_version(), LUAJIT_VERSION);
  fflush(stdout);
}

/* Check the options before the script and set *opts. Returns the script's
** index in argv (argc if there is none), or -1 after a usage error. */
static int scan_args(int argc, char **argv, int *opts)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0') return i; /* a script, or - for stdin */
    if (!strcmp(a, "--")) return i + 1;
    if (a[1] == 'e') { /* -e chunk or -echunk */
      *opts |= OPT_E;
      if (a[2] == '\0' && ++i == argc) {
        fprintf(stderr, "%s: '-e' needs a chunk\n", progname);
        return -1;
      }
    } else if (a[2] == '\0' && strchr("ivh", a[1])) {
      *opts |= a[1] == 'i' ? OPT_I : a[1] == 'v' ? OPT_V : OPT_H;
    } else {
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
      return -1;
    }
  }
  return argc;
}

/* The global `arg`: the script at 0, its arguments at 1.., the interpreter
** and options below 0; with no script, the interpreter at 0. */
static void make_arg_table(lua_State *L, char **argv, int argc, int script)
{
  if (script == argc) script = 0;
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_e_chunks(lua_State *L, char **argv, int script)
{
  for (int i = 1; i < script; i++) {
    if (argv[i][0] != '-' || argv[i][1] != 'e') continue;
    const char *chunk = argv[i][2] ? argv[i] + 2 : argv[++i];
    int status = luaL_loadbuffer(L, chunk, strlen(chunk), "=(command line)");
    if (status == 0) status = docall(L, 0, 0);
    if (report(L, status)) return 1;
  }
  return 0;
}

/* Run argv[script] ("-" is standard input, unless after "--") with the
** rest of the arguments as its `...`. */
static int run_script(lua_State *L, char **argv, int argc, int script)
{
  const char *file = argv[script];
  if (!strcmp(file, "-") && strcmp(argv[script - 1], "--")) file = NULL;
  int status = luaL_loadfile(L, file);
  if (status == 0) {
    int n = argc - script - 1;
    luaL_checkstack(L, n, "too many arguments to script");
    for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    status = docall(L, n, 0);
  }
  return report(L, status);
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
  if (luaL_loadbuffer(L, repl_lua, repl_lua_SIZE,
                      "=repl.lua"))
    lua_error(L);
  lua_call(L, 0, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, REPL_KEY);
}

struct run {
  int argc;
  char **argv;
  int failed;
};

static int pmain(lua_State *L)
{
  struct run *r = lua_touserdata(L, 1);
  int argc = r->argc, opts = 0;
  char **argv = r->argv;
  int script = scan_args(argc, argv, &opts);
  if (script < 0 || opts & OPT_H) {
    usage(script < 0 ? stderr : stdout);
    r->failed = script < 0;
    return 0;
  }
  if (opts & OPT_V) print_version();
  open_libs(L);
  make_arg_table(L, argv, argc, script);
  if (run_e_chunks(L, argv, script) ||
      (script < argc && run_script(L, argv, argc, script))) {
    r->failed = 1;
  } else if (opts & OPT_I) {
    repl(L);
  } else if (script == argc && !(opts & (OPT_E | OPT_V))) {
    if (isatty(STDIN_FILENO)) {
      print_version();
      repl(L);
    } else { /* standard input is the script */
      int status = luaL_loadfile(L, NULL);
      if (status == 0) status = docall(L, 0, 0);
      r->failed = report(L, status) != 0;
    }
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (argv[0] && argv[0][0]) progname = argv[0];
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%s: cannot create the Lua state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  struct run r = {argc, argv, 0};
  int status = report(L, lua_cpcall(L, pmain, &r));
  lua_close(L);
  return status || r.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
