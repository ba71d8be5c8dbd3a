-- The omen Lua test runner.
--
--   build/omen-lua tests/lua/run.lua [pattern]
--
-- Loads every tests/lua/test_*.lua (sorted; only files whose name matches the
-- Lua pattern when one is given). Each returns a table of test functions
-- keyed by name; every test runs in xpcall with a traceback. Prints one line
-- per failure, then "lua: N passed, M failed", and exits non-zero on failure.
-- Set OMEN_TEST_VERBOSE=1 to print tracebacks and each test's time, and
-- OMEN_TEST_ONLY=<pattern> to run only matching test names.

package.path = "tests/lua/?.lua;" .. package.path
local H = require("helpers")

local pattern = arg and arg[1]
local only = os.getenv("OMEN_TEST_ONLY")
local verbose = os.getenv("OMEN_TEST_VERBOSE")

local files = {}
local ls = assert(io.popen("ls tests/lua/test_*.lua 2>/dev/null"))
for line in ls:lines() do
  if not pattern or line:find(pattern) then files[#files + 1] = line end
end
ls:close()
table.sort(files)
if #files == 0 then
  io.stderr:write("lua: no test files", pattern and (" match " .. pattern) or "", "\n")
  os.exit(1)
end

local passed, failed = 0, 0
local started = os.clock()
local wall = os.time()

local function report(file, name, msg)
  failed = failed + 1
  local first = tostring(msg):match("^[^\n]*")
  print(string.format("FAIL %s: %s: %s", file, name, first))
  if verbose then print(msg) end
end

for _, file in ipairs(files) do
  local chunk, lerr = loadfile(file)
  local ok, tests = false, lerr
  if chunk then ok, tests = xpcall(chunk, debug.traceback) end
  if not ok or type(tests) ~= "table" then
    report(file, "(load)", ok and "file did not return a table of tests" or tests)
  else
    local names = {}
    for name, fn in pairs(tests) do
      if type(fn) == "function" and (not only or tostring(name):find(only)) then
        names[#names + 1] = name
      end
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local t0 = os.clock()
      local tok, terr = xpcall(tests[name], debug.traceback)
      -- collect the test's handles first: a file database collected later
      -- would write its file again after the cleanup removed it
      collectgarbage("collect")
      collectgarbage("collect")
      H.run_cleanups()
      if tok then
        passed = passed + 1
      else
        report(file, name, terr)
      end
      if verbose then
        print(string.format("  %-14s %-45s %.2fs", file:match("[^/]*$"), name, os.clock() - t0))
      end
    end
  end
end

if verbose then
  print(string.format("lua: %.1fs cpu, ~%ds wall", os.clock() - started, os.time() - wall))
end
print(string.format("lua: %d passed, %d failed", passed, failed))
if failed > 0 then os.exit(1) end
