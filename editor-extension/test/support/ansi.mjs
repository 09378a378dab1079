// A terminal capture with colours (`tmux capture-pane -e`) as an HTML page Chromium can screenshot: the
// Python suite's 80×24 captures of `connector-watch watch` become pictures beside the panel's.
const BASIC = ["#1e1e1e", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5"];
const BRIGHT = ["#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff"];

function color256(n) {
  if (n < 8) return BASIC[n];
  if (n < 16) return BRIGHT[n - 8];
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const level = (x) => (x ? 55 + x * 40 : 0);
  return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
}

const escape = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** SGR-coloured text → `<span style>` runs. */
export function ansiToHtml(text, { columns = 80, rows = 24, title = "" } = {}) {
  const lines = text.replace(/\n$/, "").split("\n").slice(0, rows);
  while (lines.length < rows) lines.push("");
  const body = lines.map((line) => {
    let style = {};
    let out = "";
    for (const part of line.split(/(\x1b\[[0-9;]*m)/)) {
      const sgr = /^\x1b\[([0-9;]*)m$/.exec(part);
      if (!sgr) {
        if (!part) continue;
        const fg = style.reverse ? style.bg || "#1e1e1e" : style.fg;
        const bg = style.reverse ? style.fg || "#d4d4d4" : style.bg;
        const css = [fg && `color:${fg}`, bg && `background:${bg}`, style.bold && "font-weight:bold", style.dim && "opacity:.65"]
          .filter(Boolean).join(";");
        out += css ? `<span style="${css}">${escape(part)}</span>` : escape(part);
        continue;
      }
      const codes = (sgr[1] || "0").split(";").map(Number);
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i];
        if (c === 0) style = {};
        else if (c === 1) style.bold = true;
        else if (c === 2) style.dim = true;
        else if (c === 22) style.bold = style.dim = false;
        else if (c === 7) style.reverse = true;
        else if (c === 27) style.reverse = false;
        else if (c >= 30 && c <= 37) style.fg = BASIC[c - 30];
        else if (c >= 90 && c <= 97) style.fg = BRIGHT[c - 90];
        else if (c === 39) delete style.fg;
        else if (c >= 40 && c <= 47) style.bg = BASIC[c - 40];
        else if (c >= 100 && c <= 107) style.bg = BRIGHT[c - 100];
        else if (c === 49) delete style.bg;
        else if ((c === 38 || c === 48) && codes[i + 1] === 5) { style[c === 38 ? "fg" : "bg"] = color256(codes[i + 2]); i += 2; }
        else if ((c === 38 || c === 48) && codes[i + 1] === 2) {
          style[c === 38 ? "fg" : "bg"] = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`;
          i += 4;
        }
      }
    }
    return out;
  });
  return `<!doctype html><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{margin:0;background:#1e1e1e}pre{margin:0;padding:8px;color:#d4d4d4;background:#1e1e1e;
font:14px/1.25 "DejaVu Sans Mono",monospace;width:${columns}ch;height:${rows * 1.25}em;white-space:pre}</style>
<pre>${body.join("\n")}</pre>`;
}
