// includes: the include graph of csrc/ by module (x.c and x.h are module x) and its cycles; exits 1
// when there is one. `node test/tools/includes.js` prints it; test/81 keeps csrc/ free of cycles.
'use strict';

const fs = require('fs');
const path = require('path');

const CSRC = path.join(__dirname, '..', '..', 'csrc');

// module -> Set of the csrc/ modules its files include (system headers and itself left out).
function includeGraph(dir = CSRC) {
	const graph = new Map();
	for (const file of fs.readdirSync(dir)) {
		const ext = path.extname(file);
		if (!['.c', '.h', '.cc'].includes(ext)) continue;
		const mod = path.basename(file, ext);
		if (!graph.has(mod)) graph.set(mod, new Set());
		const text = fs.readFileSync(path.join(dir, file), 'utf8');
		for (const [, name] of text.matchAll(/^#include\s+"([^"]+)\.h"/gm)) {
			if (name !== mod && fs.existsSync(path.join(dir, `${name}.h`))) graph.get(mod).add(name);
		}
	}
	return graph;
}

// Each cycle as the sorted list of its modules: the strongly connected components of more than one
// module (Tarjan's algorithm; the graph is a few dozen nodes, so recursion is fine).
function cycles(graph) {
	const index = new Map();
	const low = new Map();
	const stack = [];
	const found = [];
	const visit = (v) => {
		index.set(v, index.size);
		low.set(v, index.get(v));
		stack.push(v);
		for (const w of graph.get(v) || []) {
			if (!index.has(w)) {
				visit(w);
				low.set(v, Math.min(low.get(v), low.get(w)));
			} else if (stack.includes(w)) {
				low.set(v, Math.min(low.get(v), index.get(w)));
			}
		}
		if (low.get(v) !== index.get(v)) return;
		const component = [];
		let w;
		do {
			w = stack.pop();
			component.push(w);
		} while (w !== v);
		if (component.length > 1) found.push(component.sort());
	};
	for (const v of graph.keys()) if (!index.has(v)) visit(v);
	return found;
}

if (require.main === module) {
	const graph = includeGraph();
	for (const mod of [...graph.keys()].sort()) {
		if (graph.get(mod).size) console.log(`${mod} -> ${[...graph.get(mod)].sort().join(' ')}`);
	}
	const found = cycles(graph);
	console.log(`cycles: ${found.length}${found.map((c) => `\n  ${c.join(' <-> ')}`).join('')}`);
	process.exit(found.length ? 1 : 0);
}

module.exports = { includeGraph, cycles };
