// Compiles the page's templates (the text/x-template scripts of index.html) into Vue
// render functions with the compiler pinned in package-lock.json (@vue/compiler-dom,
// the one vue.global.prod.js carries), so the browser does not compile them at load.
//
//   node compile-templates.js INDEX_HTML OUT_JS
//
// The output sets window.AO_RENDERS = {name: render}; app.js uses it when present. The
// functions are those Vue compiles in the browser (function mode, `with (_ctx)`), marked
// as such (`_rc`) so that Vue resolves their names the same way.
"use strict";
const fs = require("fs");
const { compile } = require("@vue/compiler-dom");

const [, , input, output] = process.argv;
const html = fs.readFileSync(input, "utf8");
const pattern = /<script type="text\/x-template" id="tpl-([a-z-]+)">([\s\S]*?)<\/script>/g;
const parts = [];
for (const [, name, source] of html.matchAll(pattern)) {
  const { code } = compile(source, {
    mode: "function",
    hoistStatic: true,
    whitespace: "condense",
    onError: (error) => { throw new Error(`template ${name}: ${error.message}`); },
  });
  parts.push(`  ${JSON.stringify(name)}: (() => { const render = (function (Vue) {\n${code}\n})(Vue); render._rc = true; return render; })()`);
}
if (!parts.length) throw new Error(`no text/x-template script in ${input}`);
fs.writeFileSync(output, `// Built by hack/build-web.sh from index.html: do not edit.\nwindow.AO_RENDERS = {\n${parts.join(",\n")},\n};\n`);
console.error(`compile-templates: ${parts.length} templates -> ${output}`);
