-- The README's Neovim (0.7+) setup for connector-watch, as the headless editor test uses it.
-- One client for the session, attached to every Python, YAML and JSON buffer.
-- CONNECTOR_WATCH_LSP_CMD (a JSON list) stands in for { "connector-watch", "lsp" } in the test.
local cmd = { "connector-watch", "lsp" }
if os.getenv("CONNECTOR_WATCH_LSP_CMD") then
  cmd = vim.fn.json_decode(os.getenv("CONNECTOR_WATCH_LSP_CMD"))
end

local connector_watch
vim.api.nvim_create_autocmd("FileType", {
  pattern = { "python", "yaml", "json" },
  callback = function(args)
    connector_watch = connector_watch
      or vim.lsp.start_client({ name = "connector-watch", cmd = cmd, root_dir = vim.fn.getcwd() })
    vim.lsp.buf_attach_client(args.buf, connector_watch)
  end,
})
