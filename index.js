// simplecached: a memcached-class cache server with its engine in C, and its client.
// The public surface is exactly these three classes.
'use strict';

module.exports = {
	Server: require('./lib/server'),
	Client: require('./lib/client'),
	Engine: require('./lib/engine').Engine,
};
