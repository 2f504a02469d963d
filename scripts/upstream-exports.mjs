// The export list of genai-electron 0.26.0 (node_modules/genai-electron/dist/index.d.ts) and of
// this package's index.d.ts, read with the TypeScript compiler API: the source of the surface
// checks (scripts/check-surface.mjs, __test__/exports.test.mjs).
// `node scripts/upstream-exports.mjs` prints upstream's list as JSON.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ts = require('typescript');
export const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const upstreamDts = path.join(root, 'node_modules/genai-electron/dist/index.d.ts');
export const ownDts = path.join(root, 'index.d.ts');

/** `kind`: what the export is at runtime ('class' | 'function' | 'const') or 'type' (types only). */
function kindOf(symbol) {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Variable) return 'const';
  return 'type';
}

/** Type parameters of a type/interface (generic types need arguments in a check). */
function typeParameterCount(symbol) {
  const decl = symbol.declarations?.[0];
  return decl && (ts.isInterfaceDeclaration(decl) || ts.isTypeAliasDeclaration(decl)) ? (decl.typeParameters?.length ?? 0) : 0;
}

/** A class's public static members (but `prototype`). */
function staticsOf(symbol) {
  if (!(symbol.flags & ts.SymbolFlags.Class) || !symbol.exports) return [];
  const names = [];
  symbol.exports.forEach((member, name) => {
    const decl = member.declarations?.[0];
    const modifiers = decl ? ts.getCombinedModifierFlags(decl) : 0;
    if (name !== 'prototype' && !(modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected))) names.push(String(name));
  });
  return names.sort();
}

/** The exports of a .d.ts module, sorted by name: `{ name, kind, typeParameters, statics }`. */
export function exportsOf(file) {
  const program = ts.createProgram([file], { skipLibCheck: true, noEmit: true, types: ['node'] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${file}: not a module`);
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return { name: s.getName(), kind: kindOf(target), typeParameters: typeParameterCount(target), statics: staticsOf(target) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export const upstreamExports = () => exportsOf(upstreamDts);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(upstreamExports(), null, 2));
}
