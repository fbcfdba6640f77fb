// The C layers keep their order: csrc/'s include graph (by module) has no cycle, no protocol
// includes another, and the engine and the session loop know no protocol (docs/architecture.md).
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { includeGraph, cycles } = require('./tools/includes');

const graph = includeGraph();
// The protocols' own modules, by the file they belong to: proto_text_cmd is the text protocol's, etc.
const protocolOf = (mod) => (mod.match(/^proto_(simple|text|meta|binary)/) || [])[1];
const SAME_PROTOCOL = { meta: 'text' }; // the meta commands are part of the text protocol

describe('C layers (csrc/ include graph)', function () {
	it('finds a cycle where there is one (a folder of three files that include round)', function () {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-includes-'));
		try {
			fs.writeFileSync(path.join(dir, 'a.h'), '#include "b.h"\n');
			fs.writeFileSync(path.join(dir, 'b.c'), '#include "b.h"\n#include "c.h"\n');
			fs.writeFileSync(path.join(dir, 'b.h'), '');
			fs.writeFileSync(path.join(dir, 'c.h'), '#include "a.h"\n#include <stdio.h>\n');
			assert.deepStrictEqual(cycles(includeGraph(dir)), [['a', 'b', 'c']]);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	it('has no cycle', function () {
		assert.deepStrictEqual(cycles(graph), []);
	});

	it('has no protocol that includes another protocol', function () {
		for (const [mod, deps] of graph) {
			const own = protocolOf(mod);
			if (!own) continue;
			for (const dep of deps) {
				const other = protocolOf(dep);
				if (!other) continue;
				assert.strictEqual(SAME_PROTOCOL[other] || other, SAME_PROTOCOL[own] || own, `${mod} includes ${dep}`);
			}
		}
	});

	it('keeps the engine, stats and the session loop below every protocol', function () {
		for (const low of ['engine', 'stats', 'session', 'store', 'cache']) {
			const reached = new Set();
			const walk = (m) => {
				for (const d of graph.get(m) || []) {
					if (reached.has(d)) continue;
					reached.add(d);
					walk(d);
				}
			};
			walk(low);
			const protocols = [...reached].filter((m) => protocolOf(m) || m === 'protocols');
			assert.deepStrictEqual(protocols, [], `${low} reaches ${protocols.join(', ')}`);
		}
	});
});
