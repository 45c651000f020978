/**
 * Lists the functions in src/ and adapters/ longer than a limit (default 120 lines), longest first:
 * declarations, methods, accessors, constructors, function expressions and arrow functions, each
 * measured from its first line to its last with the TypeScript compiler's own parser.
 *
 *   node bin/run-script.js scripts/long-functions.ts [limit] [repository root]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(process.argv[3] ?? path.join(import.meta.dirname, '..'));
const limit = Number(process.argv[2] ?? 120);

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

function nameOf(node: ts.Node, file: ts.SourceFile): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isAccessor(node)) && node.name)
    return node.name.getText(file);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(file);
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(file).slice(0, 40)})`;
  return '(anonymous)';
}

const rows: Array<{ where: string; name: string; lines: number }> = [];
for (const top of ['src', 'adapters']) {
  for (const f of tsFiles(path.join(ROOT, top))) {
    const file = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
        const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = last - first + 1;
        if (lines > limit)
          rows.push({ where: `${path.relative(ROOT, f)}:${first + 1}`, name: nameOf(node, file), lines });
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
}
rows.sort((a, b) => b.lines - a.lines);
for (const r of rows) console.log(`${String(r.lines).padStart(5)}  ${r.name}  ${r.where}`);
if (rows.length === 0) console.log(`No function in src/ or adapters/ is longer than ${limit} lines.`);
