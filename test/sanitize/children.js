// children: loaded first (node --require) under the sanitizer runs. The mocha process keeps the
// options it started with; the processes it spawns (CLI servers, compilers, memcached, Python
// clients) inherit these instead: no leak check, since compilers and interpreters leak on exit by
// design, and a small quarantine, since one test measures a server's resident memory.
'use strict';

const options = process.env.ASAN_OPTIONS;
if (options) process.env.ASAN_OPTIONS = `${options.replace('detect_leaks=1', 'detect_leaks=0')}:quarantine_size_mb=8`;
