#!/usr/bin/env node
// simplecached command line: memcached's flags where they exist (see --help); the work is in
// lib/cli.js (running) and lib/cli_options.js (flags).
'use strict';

require('../lib/cli').main(process.argv.slice(2));
