// index.d.ts checked by tsd (`npm run test:types`): test/types/*.test-d.ts type-check against it,
// where expectType pins every result type and expectError requires the wrong calls to be refused.
'use strict';

const assert = require('assert');
const path = require('path');

describe('types: index.d.ts, checked by tsd', function () {
	this.timeout(120000);

	it('passes every expectation of test/types without a diagnostic', async () => {
		const { default: tsd } = require('tsd');
		const diagnostics = await tsd({
			cwd: path.join(__dirname, '..', '..'),
			typingsFile: 'index.d.ts',
			testFiles: ['test/types/*.test-d.ts'],
		});
		const report = diagnostics.map((d) => `${path.relative(process.cwd(), d.fileName || '')}:${d.line}:${d.column} ${d.severity}: ${d.message}`);
		assert.deepStrictEqual(report, []);
	});
});
