// simplecached: a memcached-class cache server with its engine in C, and its client.
// The public surface: the Server, the Client, the in-process Engine and the Client's one error class.
'use strict';

// Exported in shorthand, so that Node's ESM loader sees each name: `import { Client } from 'simplecached'`.
const Server = require('./lib/server');
const Client = require('./lib/client');
const { Engine } = require('./lib/engine');
const { SimplecachedError } = require('./lib/errors');

module.exports = { Server, Client, Engine, SimplecachedError };
