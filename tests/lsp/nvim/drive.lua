-- The headless editor test's script (after init.lua): edit a corpus file as a user would, and write
-- what the editor shows (vim.diagnostic.get) to CW_OUT as JSON for the pytest test to read.
--   CW_OUT       where the JSON goes
--   CW_CORPUS    the corpus file to open (relative to the working directory, the workspace)
--   CW_DEADLINE  seconds before the script gives up (it then writes what it has, with "error")
local out_path = os.getenv("CW_OUT")
local deadline_ms = tonumber(os.getenv("CW_DEADLINE") or "150") * 1000
local started = vim.loop.hrtime()
local result = { steps = {} }

local function elapsed_ms()
  return (vim.loop.hrtime() - started) / 1e6
end

local function finish(err)
  result.error = err
  result.elapsed_ms = elapsed_ms()
  local file = io.open(out_path, "w")
  file:write(vim.fn.json_encode(result))
  file:close()
  for _, client in ipairs(vim.lsp.get_active_clients()) do
    client.stop()
  end
  -- Give the server its shutdown/exit, then leave.
  vim.wait(10000, function()
    return #vim.lsp.get_active_clients() == 0
  end, 50)
  vim.cmd("qa!")
end

local function wait_for(what, predicate)
  local remaining = deadline_ms - elapsed_ms()
  if remaining <= 0 or not vim.wait(remaining, predicate, 10) then
    error("timed out waiting for " .. what, 0)
  end
end

local function shown(buf)
  local items = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local lsp = (d.user_data or {}).lsp or {}
    local data = lsp.data or {}
    table.insert(items, {
      lnum = d.lnum,
      col = d.col,
      severity = d.severity,
      message = d.message,
      source = d.source,
      code = d.code,
      origin = data.origin,
      nodeIds = data.nodeIds,
      fixes = data.fixes,
    })
  end
  return items
end

local function errors_from_tests(buf)
  local found = {}
  for _, d in ipairs(shown(buf)) do
    if d.severity == vim.diagnostic.severity.ERROR and d.origin == "run" then
      table.insert(found, d)
    end
  end
  return found
end

local function runs_done(client)
  local done = 0
  for _, progress in pairs(client.messages.progress) do
    if progress.done then
      done = done + 1
    end
  end
  return done
end

local function drive()
  vim.cmd("edit " .. os.getenv("CW_CORPUS"))
  local buf = vim.api.nvim_get_current_buf()
  local client
  wait_for("the language server to start", function()
    client = vim.lsp.get_active_clients()[1]
    return client ~= nil and client.initialized
  end)
  wait_for("the first run to finish", function()
    return runs_done(client) >= 1
  end)
  table.insert(result.steps, { step = "first run", at_ms = elapsed_ms(), diagnostics = shown(buf) })

  -- Break the fourth record's id, as a user would: change the line, then :write.
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local seen, target = 0, nil
  for i, line in ipairs(lines) do
    if line:match('^    "id": %d+,$') then
      seen = seen + 1
      if seen == 4 then
        target = i
        break
      end
    end
  end
  if target == nil then
    error("no fourth record id in " .. os.getenv("CW_CORPUS"), 0)
  end
  local original = lines[target]
  result.broken_line = target - 1
  vim.api.nvim_buf_set_lines(buf, target - 1, target, false, { '    "id": "not-a-number",' })
  local saved = vim.loop.hrtime()
  result.saved_broken_at_ms = elapsed_ms()
  vim.cmd("write")
  wait_for("the failing test's diagnostic", function()
    return #errors_from_tests(buf) > 0
  end)
  local broken = { step = "broken", save_to_diagnostic_ms = (vim.loop.hrtime() - saved) / 1e6, diagnostics = shown(buf) }
  table.insert(result.steps, broken)

  -- The daemon proves a fix on its overlay; once the diagnostic carries it, ask for code actions on
  -- that line the way a user does (:lua vim.lsp.buf.code_action()), pick the first (preferred)
  -- one in the menu, and :write. The editor applies the edit; the daemon never writes.
  wait_for("a verified fix on the diagnostic", function()
    for _, d in ipairs(errors_from_tests(buf)) do
      if d.fixes and #d.fixes > 0 then
        return true
      end
    end
    return false
  end)
  local offered = { step = "fix offered", at_ms = elapsed_ms(), diagnostics = shown(buf), titles = {} }
  table.insert(result.steps, offered)
  vim.api.nvim_win_set_cursor(0, { target, 4 })
  local tick = vim.api.nvim_buf_get_changedtick(buf)
  vim.ui.select = function(items, opts, on_choice)
    for _, item in ipairs(items) do
      local title = opts.format_item(item) -- (format_item also returns gsub's count)
      table.insert(offered.titles, title)
    end
    on_choice(items[1])
  end
  local notified = {}
  vim.notify = function(message)
    table.insert(notified, message)
  end
  offered.notified = notified
  vim.lsp.buf.code_action()
  wait_for("the code action's edit", function()
    return vim.api.nvim_buf_get_changedtick(buf) ~= tick
  end)
  offered.line_after = vim.api.nvim_buf_get_lines(buf, target - 1, target, false)[1]
  offered.original_line = original
  local runs_before = runs_done(client)
  saved = vim.loop.hrtime()
  vim.cmd("write")
  wait_for("the diagnostics to clear", function()
    return #vim.diagnostic.get(buf, { severity = vim.diagnostic.severity.ERROR }) == 0
  end)
  local fixed = { step = "fixed", save_to_clear_ms = (vim.loop.hrtime() - saved) / 1e6 }
  wait_for("the fix's run to finish", function()
    local all_done = true
    for _, progress in pairs(client.messages.progress) do
      all_done = all_done and progress.done == true
    end
    return runs_done(client) > runs_before and all_done
  end)
  fixed.diagnostics = shown(buf)
  -- Green: nothing is left for "rerun failed".
  local response = client.request_sync("workspace/executeCommand", { command = "connector-watch.rerunFailed" }, 10000, buf)
  fixed.rerun_failed = response and response.result or vim.NIL
  table.insert(result.steps, fixed)
end

local ok, err = pcall(drive)
finish(not ok and tostring(err) or nil)
