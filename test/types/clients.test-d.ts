// tsd checks of the two Clients: the seed protocol's declares only what it does at run time (get,
// set, delete; no ttl, flags or typedValues), the memcached one everything; the protocol follows option protocol or port 11211.
import { expectType, expectError, expectAssignable } from 'tsd';
import { Client, SeedClient, MemcachedClient, SimplecachedError, SimplecachedErrorCode } from '../..';

// The seed protocol: by default, by option, or by any port but 11211.
const seed = new Client({ port: 11311 });
expectType<SeedClient<string, false>>(seed);
expectType<'simple'>(seed.protocol);
expectType<SeedClient<string, false>>(new Client());
expectType<SeedClient<string, false>>(new Client(11311));
expectType<SeedClient<Buffer, false>>(new Client({ port: 11211, protocol: 'simple', encoding: null }));
expectType<Promise<string | null>>(seed.get('k'));
expectType<Promise<boolean>>(seed.set('k', 'v'));
expectType<Promise<boolean>>(seed.set('k', 'v', 0));
expectType<Promise<boolean>>(seed.set('k', 'v', { ttl: 0 }));
expectType<Promise<boolean>>(seed.delete('k'));
expectError(seed.set('k', 'v', 60));
expectError(seed.set('k', 'v', { ttl: 60 }));
expectError(seed.set('k', 'v', { expires: 60 }));
expectError(seed.set('k', 'v', { flags: 1 }));
expectError(seed.incr('k'));
expectError(seed.getMulti(['a']));
expectError(seed.gets('k'));
expectError(seed.touch('k', 1));
expectError(seed.add('k', 'v'));
expectError(seed.stats());
expectError(new Client({ port: 11311, typedValues: true }));
expectError(new Client({ protocol: 'simple', typedValues: true }));

// The memcached protocol: by option, or by port 11211 (one server, or every server).
const mc = new Client({ port: 11211 });
expectType<MemcachedClient<string, false>>(mc);
expectType<'memcached'>(mc.protocol);
expectType<Client<string, false>>(new Client(11211));
expectType<Client<string, false>>(new Client({ port: 1234, protocol: 'memcached' }));
expectType<Client<string, true>>(new Client({ servers: ['a:11211', 'b:11211:2'] }));
expectType<SeedClient<string, true>>(new Client({ servers: ['a:11211', 'b:11311'] }));
expectType<Promise<number | bigint | null>>(mc.incr('k'));
expectType<Promise<boolean>>(mc.set('k', 'v', 60));
expectType<Promise<boolean>>(mc.set('k', 'v', { expires: 60 }));
expectType<Promise<boolean>>(mc.add('k', 'v', 60));
expectType<Promise<boolean>>(mc.cas('k', 'v', '1', 60));
expectType<void>(mc.replace('k', 'v', 60, () => {}));
expectError(mc.set('k', 'v', { ttls: 60 }));
expectError(mc.set('k', { an: 'object' }));
expectError(new Client({ prot: 'memcached' }));

// typedValues: any JSON value in, unknown out.
const typed = new Client({ port: 11211, typedValues: true });
expectType<Promise<boolean>>(typed.set('k', { an: 'object', list: [1, 2] }));
expectType<Promise<boolean>>(typed.set('k', null, 60));
expectType<Promise<unknown>>(typed.get('k'));

// One error class, with its codes.
const err = new SimplecachedError('ESERVER', 'CLIENT_ERROR: bad', { serverMessage: 'CLIENT_ERROR bad' });
expectAssignable<Error>(err);
expectType<SimplecachedErrorCode>(err.code);
expectType<string | undefined>(err.serverMessage);
expectError(new SimplecachedError('EWHATEVER', 'x'));
mc.on('error', (e) => expectType<SimplecachedErrorCode>(e.code));
