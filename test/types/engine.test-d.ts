// tsd checks of the Engine's declarations: a cache in-process, shared by worker threads.
// Run by test/types/tsd.test.js; nothing here is executed.
import { expectType, expectError } from 'tsd';
import { Engine, EngineItem, Server } from '../..';

// Buffers by default, strings with an encoding
const buffers = new Engine({ memoryLimit: 1 << 20, maxItemSize: 1024, shards: 4 });
expectType<Buffer | null>(buffers.get('k'));
expectType<string | null>(buffers.get('k', { encoding: 'utf8' }));
const strings = new Engine({ encoding: 'utf8' });
expectType<string | null>(strings.get('k'));
expectType<Buffer | null>(strings.get(Buffer.from('k'), { encoding: null }));
expectType<Record<string, string>>(strings.getMulti(['a', 'b']));
expectType<EngineItem<string> | null>(strings.gets('k'));
expectType<bigint | undefined>(strings.gets('k')?.cas);
expectType<boolean>(strings.has('k'));

// Storage with memcached's options, cas, arithmetic, expiry
expectType<true>(strings.set('k', 'v', { ttl: 60, flags: 3 }));
expectType<boolean>(strings.add('k', Buffer.from('v')));
expectType<boolean>(strings.replace('k', 1));
expectType<boolean>(strings.append('k', 'v'));
expectType<boolean>(strings.prepend('k', 'v'));
expectType<boolean>(strings.cas('k', 'v', 12n));
expectType<boolean>(strings.delete('k'));
expectType<number | bigint | null>(strings.incr('n'));
expectType<number | bigint | null>(strings.decr('n', 5n));
expectType<boolean>(strings.touch('k', -1));
expectType<true>(strings.flush());
expectType<string | null | undefined>(strings.getOrSet('k', 60, (key) => `${key}!`, { wait: 100 }));
expectError(strings.set('k', 'v', { ttl: '1' }));
expectError(strings.set('k', {}));
expectError(strings.touch('k'));
expectError(strings.getOrSet('k', 60, async () => 'v'));

// Shared with workers, served by a Server
const handle: bigint = strings.handle();
expectType<Engine<string>>(Engine.attach(handle, { encoding: 'utf8' }));
expectType<Engine<Buffer>>(Engine.attach(handle));
expectError(Engine.attach(42));
expectType<boolean>(strings.attached);
expectType<void>(strings.close());
new Server({ engine: strings, port: 0 });
new Server({ engine: buffers, port: false, memcachedPort: 0 });
expectError(new Server({ engine: {} }));
