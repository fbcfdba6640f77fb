// tsd checks of index.d.ts: what the public API accepts and returns, and what it must refuse.
// Run by test/78.types.test.js; nothing here is executed.
import { expectType, expectError, expectAssignable } from 'tsd';
import { Server, Client, SeedClient, ServerStats, GetsResult, StatsReply, SimplecachedError } from '../..';

// Server
const server = new Server({ port: 0, memcachedPort: 0, memoryLimit: 1 << 20, threads: 2 }, (err, s) => {
	expectType<Error | null>(err);
	expectType<Server | undefined>(s);
});
new Server(11311);
new Server({ port: false, memcachedPort: 11211 });
expectError(new Server({ port: 'x' }));
expectError(new Server({ memoryLimit: '64m' }));
expectType<ServerStats>(server.stats());
expectType<number>(server.stats().hits);
expectType<number>(server.stats().curr_items);
expectType<Record<string, number | string>>(server.stats('settings'));
expectType<Record<string, number | string>>(server.engine.stats('items'));
expectError(server.stats('nonsense'));
expectType<import('net').AddressInfo | null>(server.address('memcached'));
expectType<import('net').AddressInfo | null>(server.address('metrics'));
expectError(server.address('binary'));
expectType<Buffer | null>(server.engine.get('k'));
expectType<true>(server.engine.set('k', 'v'));
expectType<boolean>(server.engine.delete('k'));
expectType<Buffer>(server.engine.feed('get k\r\n', { protocol: 'memcached' }));
expectType<Promise<void>>(server.close());
expectType<void>(server.close((err) => expectType<Error | null>(err)));
server.on('error', (err) => expectType<string>(err.code));

// Client: one server
const client = new Client({ port: 11211, protocol: 'memcached', timeout: 1000 });
expectType<Promise<string | null>>(client.get('k'));
expectType<void>(client.get('k', (err, value) => expectType<string | null | undefined>(value)));
expectType<Promise<boolean>>(client.set('k', 'v'));
expectType<Promise<boolean>>(client.set('k', 42, { ttl: 60, flags: 3 }));
expectType<void>(client.set('k', Buffer.from('v'), (err, stored) => expectType<boolean | undefined>(stored)));
expectType<void>(client.set('k', true, { ttl: 1 }, () => {}));
expectType<Promise<GetsResult<string> | null>>(client.gets('k'));
expectType<Promise<boolean>>(client.cas('k', 'v', 123n));
expectType<Promise<Record<string, string>>>(client.getMulti(['a', 'b']));
expectType<Promise<number | bigint | null>>(client.incr('n'));
expectType<Promise<number | bigint | null>>(client.decr('n', 5));
expectType<Promise<boolean>>(client.touch('k', 10));
expectType<Promise<true>>(client.flushAll());
expectType<Promise<StatsReply>>(client.stats());
expectType<Promise<StatsReply>>(client.stats('settings'));
expectType<Promise<string>>(client.version());
expectType<string | null>(client.serverFor('k'));
expectType<Promise<void>>(client.close());
expectError(client.get(42));
expectError(client.set('k', { an: 'object' }));
expectError(client.set('k', 'v', { ttl: '1' }));
expectError(client.stats('nonsense'));
expectError(client.touch('k'));
expectError(new Client({ port: '11211' }));
expectError(new Client({ protocol: 'binary' }));
expectError(new Client({ port: 1, servers: ['a:1'] }));

// Buffers with encoding: null
const binary = new Client({ port: 11211, protocol: 'memcached', encoding: null });
expectType<Promise<Buffer | null>>(binary.get('k'));
expectType<Promise<Record<string, Buffer>>>(binary.getMulti(['k']));

// The seed's form: a port and a callback
new Client(11311, (err, c) => {
	expectType<Error | null>(err);
	expectType<SeedClient<string, false> | undefined>(c);
});

// Many servers: per-server stats and versions, failure options, events
const many = new Client({ servers: ['127.0.0.1:11211:2', { host: '127.0.0.1', port: 11212, name: 'b' }], protocol: 'memcached', remove: true, failures: 2, retry: 1000, poolSize: 4 });
expectType<Promise<Record<string, StatsReply>>>(many.stats());
expectType<Promise<Record<string, string>>>(many.version());
expectType<Promise<string | null>>(many.get('k'));
many.on('dead', (server, err) => {
	expectType<string>(server);
	expectAssignable<SimplecachedError>(err);
});
many.on('alive', (server) => expectType<string>(server));
expectError(new Client({ servers: [42] }));
expectError(new Client({ servers: ['a:1'], remove: 'yes' }));
