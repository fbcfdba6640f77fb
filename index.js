// simplecached: a memcached-class cache server with its engine in C, and its client.
// The public surface: the Server, the Client and the one class of the Client's errors.
'use strict';

// Exported in shorthand, so that Node's ESM loader sees each name: `import { Client } from 'simplecached'`.
const Server = require('./lib/server');
const Client = require('./lib/client');
const { SimplecachedError } = require('./lib/errors');

module.exports = { Server, Client, SimplecachedError };
