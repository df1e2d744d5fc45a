//! The page shell every view shares: the style sheet (served inline, no
//! CDN), header and navigation, and the security headers on every response.

use axum::http::{header, HeaderValue};
use axum::response::Response;

use crate::text::escape_html as esc;

pub(crate) fn security_headers(res: &mut Response) {
    let h = res.headers_mut();
    // No script runs on these pages at all; styles are inline.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A token in the address bar must not travel on to linked sites.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

pub(crate) const CSS: &str = r#"
:root{--fg:#1d232a;--muted:#5c6670;--line:#d8dee4;--soft:#f4f6f8;--accent:#0b5cad;--bad:#b3261e;--ok:#1e7b34;--warn:#8a5a00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;font-size:16px;line-height:1.7;
font-family:"PingFang SC","Hiragino Sans GB","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Zen Hei","WenQuanYi Micro Hei","Microsoft YaHei",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header.top{background:#12324f;color:#fff;padding:.4rem 1rem;display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;align-items:center}
header.top a{color:#fff;text-decoration:none}
header.top .brand{font-weight:700;margin-right:auto}
header.top form.find input{font:inherit;padding:.05rem .4rem;border-radius:.3rem;border:0;width:10rem}
mark{background:#fff1a8;color:inherit}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;line-height:1.45;margin:.4rem 0 .6rem}
h2{font-size:1.15rem;margin:1.4rem 0 .4rem;border-bottom:2px solid var(--line)}
h3{font-size:1.02rem;margin:1rem 0 .3rem}
a{color:var(--accent)}
code,.hash{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}
.muted{color:var(--muted);font-size:.9em}
.badge{display:inline-block;padding:0 .45em;border-radius:.3em;font-size:.8em;line-height:1.6;white-space:nowrap;background:var(--soft);color:var(--muted)}
.b-ok{background:#e3f4e7;color:var(--ok)}.b-bad{background:#fde0e0;color:var(--bad)}.b-warn{background:#fff1d0;color:var(--warn)}
ul.cards{list-style:none;padding:0;margin:0}
ul.cards>li{border:1px solid var(--line);border-radius:.5rem;padding:.5rem .75rem;margin:.5rem 0;overflow-wrap:anywhere}
ul.cards>li.nested{margin-left:1.2rem;border-style:dashed}
.row{display:flex;flex-wrap:wrap;gap:.1rem .9rem;align-items:baseline}
.row .grow{flex:1 1 12rem;min-width:0}
.err{color:var(--bad);font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere;margin:.2rem 0 0}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;min-width:0;overflow-wrap:anywhere}
.text{white-space:pre-wrap;overflow-wrap:anywhere;margin:.2rem 0}
section.sec{margin:.6rem 0;padding-left:.6rem;border-left:3px solid var(--line)}
section.l2{margin-left:1rem}section.l3{margin-left:2rem}section.l4{margin-left:3rem}
.label{font-weight:700}
ins{background:#d5f5dc;color:#0b4d1c;text-decoration:none;border-bottom:2px solid #2da44e}
del{background:#fde0e0;color:#82071e;text-decoration:line-through}
.change{border:1px solid var(--line);border-radius:.5rem;padding:.4rem .75rem;margin:.7rem 0}
.change h3{margin:.2rem 0}
.side{display:grid;grid-template-columns:1fr 1fr;gap:.5rem}
.side>div{background:var(--soft);border-radius:.4rem;padding:.3rem .5rem;min-width:0}
.cap{font-size:.8em;color:var(--muted)}
.toggle a{display:inline-block;padding:.1rem .7rem;border:1px solid var(--accent);border-radius:1rem;text-decoration:none;margin:.1rem .2rem .1rem 0}
.toggle a.on{background:var(--accent);color:#fff}
form.cmp{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;background:var(--soft);padding:.5rem .75rem;border-radius:.5rem}
select,button{font:inherit;padding:.2rem .4rem}
@media (max-width:34rem){main{padding:.6rem}.side{grid-template-columns:1fr}
dl.meta{grid-template-columns:1fr}dl.meta dd{margin-bottom:.3rem}
section.l2{margin-left:.5rem}section.l3{margin-left:1rem}section.l4{margin-left:1.5rem}h1{font-size:1.2rem}}
"#;

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{} · bulletin-watch</title>\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"告警 Alerts\" href=\"/feed.xml\">\n\
         <style>{CSS}</style>\n</head>\n<body>\n\
         <header class=\"top\"><a class=\"brand\" href=\"/\">bulletin-watch 应急管理部署监测</a>\
         <a href=\"/\">来源 Sources</a><a href=\"/matrix\">对比 Matrix</a><a href=\"/outbox\">告警 Alerts</a><a href=\"/feed.xml\">Atom</a>\
         <form class=\"find\" action=\"/search\" method=\"get\" role=\"search\"><input type=\"search\" name=\"q\" \
         placeholder=\"搜索 Search\" aria-label=\"搜索 Search\"></form></header>\n\
         <main>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title)
    )
}
