/**
 * The console's stylesheet and its one small script, served from the binary at /console/assets/* (the
 * CSP allows only 'self' for both: no inline style or script anywhere).
 */

export const CONSOLE_CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f3f5f8}
a{color:#2456c4}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f6;padding:1px 4px;border-radius:3px;word-break:break-all}
pre{background:#eef1f6;padding:8px;overflow:auto;white-space:pre-wrap}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:16px;padding:10px 16px;background:#1d2430;color:#fff}
header.top a{color:#fff;text-decoration:none}
header.top .brand{font-weight:700}
header.top nav{display:flex;gap:14px;align-items:center;flex-wrap:wrap}
main{max-width:1280px;margin:0 auto;padding:12px}
.card{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:12px 16px;margin:0 0 12px}
.card.narrow{max-width:420px;margin:40px auto}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px}
.grid .card{margin:0}
h1{font-size:20px;margin:4px 0 8px}
h2{font-size:16px;margin:4px 0 8px}
.muted{color:#5b6573}
.small{font-size:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6e9ef;vertical-align:top}
th a{color:inherit;text-decoration:none}
.scroll{overflow-x:auto}
td.body{white-space:pre-wrap;max-width:520px}
.badge{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;margin:0 2px 2px 0;border:1px solid transparent}
.badge.ok{background:#e3f5e8;color:#17653a;border-color:#b8e2c6}
.badge.warn{background:#fff4d6;color:#7a5400;border-color:#f0d58a}
.badge.bad{background:#fde5e5;color:#9b1c1c;border-color:#f3b4b4}
.badge.muted{background:#eef0f3;color:#5b6573}
.badge.info{background:#e5eefc;color:#1f4c9e;border-color:#bcd0f5}
.strip{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 12px}
.strip .item{background:#fff;border:1px solid #dde2ea;border-left:4px solid #2f9e5b;border-radius:4px;padding:4px 8px;max-width:100%}
.strip .item.warn{border-left-color:#d49b00}
.strip .item.bad{border-left-color:#c62828}
.strip .label{display:block;font-size:11px;text-transform:uppercase;color:#5b6573}
.strip .value{font-size:13px}
.toolbar{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:8px}
form.search{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
form.inline{display:inline}
form.row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin-top:8px}
label{display:block;margin:4px 0}
label.check,label.confirm{display:inline-flex;gap:4px;align-items:center;font-size:12px}
textarea{width:100%;font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
input,select,button,textarea{font:inherit;padding:5px 8px;border:1px solid #c3cad6;border-radius:4px;background:#fff;max-width:100%}
button{background:#2456c4;color:#fff;border-color:#2456c4;cursor:pointer}
button.danger{background:#c62828;border-color:#c62828}
button.small{padding:2px 6px;font-size:12px}
button.link{background:none;border:none;color:#fff;text-decoration:underline;padding:0}
.flash{padding:8px 10px;border-radius:4px}
.flash.ok{background:#e3f5e8}
.flash.bad{background:#fde5e5}
.empty{padding:16px;text-align:left}
.pager{display:flex;gap:12px;align-items:center}
.fix{color:#7a5400;font-size:12px}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px}
dd{margin:0}
.chart{margin:8px 0}
.chart figcaption{font-size:12px;color:#5b6573}
.error .message{font-size:16px}
@media (max-width:640px){th,td{padding:4px}.strip .item{flex:1 1 45%}}
`;

/** Progressive enhancement only: the overview reloads every 30 s unless the operator is typing in a field. */
export const CONSOLE_JS = `(() => {
  const seconds = Number(document.body.dataset.autorefresh || 0);
  if (!seconds) return;
  setInterval(() => {
    const el = document.activeElement;
    if (el && (el.tagName === "INPUT" || el.tagName === "SELECT")) return;
    if (document.visibilityState === "visible") location.reload();
  }, seconds * 1000);
})();
`;
