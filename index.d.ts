// Type definitions for simplecached: the Server (a C engine behind Node listeners) and the Client
// (one server or many by ketama), as index.js exports them. Checked by tsd in test/78.types.test.js.

/// <reference types="node" />
import { EventEmitter } from 'events';
import { AddressInfo } from 'net';

/** Node-style callback: `err` is null on success. */
export type Callback<T> = (err: Error | null, result?: T) => void;

/** The codes of a SimplecachedError (README, "Errors"). */
export type SimplecachedErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ECONNECT' | 'ETIMEDOUT' | 'ESERVERDEAD' |
	'ECLOSED' | 'ESERVER' | 'EPROTO' | 'ENOTSUP' | 'EDECODE';

/** Every error a Client hands back (argument errors aside: TypeError / RangeError with Node's
 * ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE or ERR_OUT_OF_RANGE). */
export declare class SimplecachedError extends Error {
	constructor(code: SimplecachedErrorCode, message: string, extra?: object);
	code: SimplecachedErrorCode;
	/** ESERVER: the server's line (ERROR, CLIENT_ERROR <why>, SERVER_ERROR <why>). */
	serverMessage?: string;
	/** The older name of serverMessage. */
	reply?: string;
	/** 'host:port' of the server a connection error came from. */
	server?: string;
	/** getMulti over many servers: what the servers that did answer returned. */
	partial?: Record<string, unknown>;
}

/** An error a Server reports (EADDRINUSE, EAUTHFILE, ...). */
export interface ServerError extends Error {
	code: string;
}

// ---------------------------------------------------------------- Server

export interface ServerOptions {
	/** Port of the seed protocol (default 11311); 0 picks a free one; false turns it off. */
	port?: number | false;
	/** Port of memcached's text protocol (default off); 0 picks a free one. */
	memcachedPort?: number | false | null;
	/** Address to bind (default '127.0.0.1'). */
	host?: string;
	/** Memory for items: slab pages in use plus larger items (default 64 MiB); past it, items not
	 * used recently are evicted. */
	memoryLimit?: number;
	/** Simultaneous connections (default: what the open-files limit allows). */
	maxConnections?: number;
	/** Largest value in bytes (default 1 MiB). */
	maxItemSize?: number;
	/** 1 serves on Node's loop (default); N > 1 starts N native I/O threads. */
	threads?: number;
	/** Seconds without a command before a connection is closed (default 0: never). */
	idleTimeout?: number;
	/** Seconds replies may wait unread before a connection is dropped (default 30; 0: never). */
	writeTimeout?: number;
	/** memcached's -v level on stderr: 0 off (default), 1 errors, 2 also every command and reply
	 * line; the text command "verbosity" changes it while running. */
	verbose?: number;
	/** memcached's ascii authentication file (user:password lines). */
	authFile?: string;
	/** With authFile, allow the seed protocol (which has no authentication) on `port`. */
	allowUnauthenticatedSeed?: boolean;
	/** A Unix domain socket file serving the memcached protocols (memcached's -s). */
	socketPath?: string;
	/** A Unix domain socket file serving the seed protocol. */
	seedSocketPath?: string;
	/** The socket files' permissions (memcached's -a; default 0o700). */
	socketMode?: number;
	/** memcached's -S: binary protocol only, SASL PLAIN against authFile's users. */
	sasl?: boolean;
	/** Port of memcached's text protocol over TLS; 0 picks a free one; needs `tls`. */
	tlsPort?: number | false | null;
	/** Options of tls.createServer: at least cert and key. */
	tls?: import('tls').TlsOptions;
	/** HTTP port serving /metrics in Prometheus's text format; 0 picks a free one (default off). */
	metricsPort?: number | false | null;
	/** An Engine to serve (made in this thread) instead of a new one; the memory options are its own. */
	engine?: Engine<string | Buffer>;
	/** Saved to on close() and loaded from at start, so that a restart keeps the cache. */
	restartFile?: string;
	/** With restartFile: seconds between background saves while serving (default 0: only on close). */
	snapshotInterval?: number;
	/** memcached's -A: a client's `shutdown [graceful]` emits 'shutdown', then closes the server
	 * (default false: `ERROR: shutdown not enabled`). */
	enableShutdown?: boolean;
	/** memcached's -F: clients' `flush_all` is refused (default false). */
	disableFlushAll?: boolean;
	/** memcached's -M: a full cache refuses writes instead of evicting (default false). */
	disableEvictions?: boolean;
}

/** The options a Server runs with, once checked. */
export interface ServerSettings {
	port: number | null;
	memcachedPort: number | null;
	host: string;
	memoryLimit: number;
	maxConnections: number;
	maxItemSize: number;
	threads: number;
	idleTimeout: number;
	writeTimeout: number;
	verbose: number;
	authFile: string | null;
	socketPath: string | null;
	seedSocketPath: string | null;
	socketMode: number;
	sasl: boolean;
	tlsPort: number | null;
	tls: import('tls').TlsOptions | null;
	metricsPort: number | null;
	restartFile: string | null;
	snapshotInterval: number;
	enableShutdown: boolean;
	disableFlushAll: boolean;
	disableEvictions: boolean;
}

/** server.stats(): friendly names plus every counter under its memcached `stats` name. */
export interface ServerStats {
	items: number;
	bytes: number;
	connections: number;
	totalConnections: number;
	rejectedConnections: number;
	gets: number;
	hits: number;
	misses: number;
	sets: number;
	deletes: number;
	deleteHits: number;
	deleteMisses: number;
	evictions: number;
	totalItems: number;
	memoryLimit: number;
	[memcachedName: string]: number;
}

export type Protocol = 'simple' | 'memcached';

export interface EngineOptions {
	/** Bytes of items (64 MiB). */
	memoryLimit?: number;
	/** Largest item, as memcached measures it (1 MiB). */
	maxItemSize?: number;
	/** Locks over the store (1 to 64): more let threads work side by side. */
	shards?: number;
	/** What get returns: Buffers (null, the default) or strings of this encoding. */
	encoding?: BufferEncoding | 'buffer' | null;
	/** memcached's -A for the servers that serve it: a client's `shutdown` closes them. */
	enableShutdown?: boolean;
	/** memcached's -F for the servers that serve it: clients' `flush_all` is refused. */
	disableFlushAll?: boolean;
	/** memcached's -M: a full cache refuses writes (set throws) instead of evicting. */
	disableEvictions?: boolean;
}

export interface EngineStoreOptions {
	/** memcached's exptime: seconds up to 30 days, a unix time past that, negative: expired, 0: never. */
	ttl?: number;
	flags?: number;
}

export interface EngineItem<V> {
	value: V;
	flags: number;
	cas: bigint;
}

export interface EngineGetOptions {
	encoding?: BufferEncoding | 'buffer' | null;
}

/** The cache in-process: the C store with memcached's rules, shared by every thread of the
 * process (handle() / Engine.attach()), and what a Server serves. Every call is synchronous.
 * V: what get returns (Buffers, or strings with an encoding). */
export interface Engine<V extends string | Buffer = Buffer> {
	/** A BigInt naming this store, to post to a worker. */
	handle(): bigint;
	/** Gives this Engine's reference back; later calls throw ERR_ENGINE_CLOSED. */
	close(): void;
	/** Whether this Engine came from Engine.attach(). */
	readonly attached: boolean;

	/** The value, or null when absent. */
	get(key: Key): V | null;
	get(key: Key, options: { encoding: BufferEncoding }): string | null;
	get(key: Key, options: { encoding: null | 'buffer' }): Buffer | null;
	/** The item with its flags and cas unique (for cas()), or null. */
	gets(key: Key, options?: EngineGetOptions): EngineItem<V> | null;
	getMulti(keys: Key[], options?: EngineGetOptions): Record<string, V>;
	has(key: Key): boolean;
	/** Stores the value; throws (code SERVER_ERROR) when it does not fit. */
	set(key: Key, value: Value, options?: EngineStoreOptions): true;
	/** true once stored, false when not (add: present; the others: absent). */
	add(key: Key, value: Value, options?: EngineStoreOptions): boolean;
	replace(key: Key, value: Value, options?: EngineStoreOptions): boolean;
	append(key: Key, value: Value, options?: EngineStoreOptions): boolean;
	prepend(key: Key, value: Value, options?: EngineStoreOptions): boolean;
	/** false when the item changed since gets() returned `cas`, or is gone. */
	cas(key: Key, value: Value, cas: CasUnique, options?: EngineStoreOptions): boolean;
	/** true if deleted, false if absent (or, with options.cas, changed since). */
	delete(key: Key, options?: { cas?: CasUnique }): boolean;
	/** The new value (a BigInt past 2^53), or null when absent; throws CLIENT_ERROR for a non-number. */
	incr(key: Key, delta?: number | bigint): number | bigint | null;
	decr(key: Key, delta?: number | bigint): number | bigint | null;
	touch(key: Key, ttl: number): boolean;
	flush(delay?: number): true;
	/** The value, or compute(key)'s, stored with ttl; one thread computes a missing key at a time,
	 * the others wait for it (up to options.wait ms, 5000). */
	getOrSet(key: Key, ttl: number, compute: (key: string) => Value | null | undefined,
		options?: { wait?: number; encoding?: BufferEncoding | 'buffer' | null }): V | null | undefined;
	/** The whole protocol engine: request bytes in, reply bytes out. */
	feed(data: string | Buffer, options?: { protocol?: Protocol }): Buffer;
	/** A memcached `stats` group's pairs under their names ('' or none: `stats` itself), numbers
	 * where the value is one: the figures the memcached port prints, from the same code. */
	stats(group?: StatsGroup): Record<string, number | string>;
	/** Writes every live item to a snapshot file (beside it, then renamed into place). */
	save(path: string, callback: Callback<SnapshotSaved>): void;
	save(path: string, options: { idle?: boolean }, callback: Callback<SnapshotSaved>): void;
	/** options.idle: at idle CPU priority, so that requests keep their latency. */
	save(path: string, options?: { idle?: boolean }): Promise<SnapshotSaved>;
	/** Loads a snapshot file; rejects with code ENOENT, EBADSNAPSHOT (nothing loaded) or EIO. */
	load(path: string, callback: Callback<SnapshotLoaded>): void;
	load(path: string): Promise<SnapshotLoaded>;
}

export interface EngineConstructor {
	new (options?: EngineOptions & { encoding?: null | 'buffer' }): Engine<Buffer>;
	new (options: EngineOptions & { encoding: BufferEncoding }): Engine<string>;
	/** An Engine over the store another Engine's handle() names, in any thread; throws
	 * ERR_ENGINE_GONE once that store is freed. */
	attach(handle: bigint, options?: { encoding?: null | 'buffer' }): Engine<Buffer>;
	attach(handle: bigint, options: { encoding: BufferEncoding }): Engine<string>;
	readonly prototype: Engine<string | Buffer>;
}

export declare const Engine: EngineConstructor;

export interface SnapshotSaved {
	items: number;
	bytes: number;
	seconds: number;
}

export interface SnapshotLoaded extends SnapshotSaved {
	/** Items whose expiry passed while they were in the file. */
	expired: number;
	/** Items left out for want of memory or over the item size limit. */
	dropped: number;
}

/** The `stats` groups the engine reports. */
export type StatsGroup = '' | 'settings' | 'items' | 'slabs' | 'sizes' | 'conns';

export declare class Server extends EventEmitter {
	/** Starts listening at once; the callback runs once listening, or with the error. */
	constructor(options?: ServerOptions | number, callback?: Callback<Server>);
	readonly options: ServerSettings;
	readonly engine: Engine;
	readonly listening: boolean;
	/** The listener of `protocol` (by default the seed one, or the only one); null when not listening. */
	address(protocol?: Protocol | 'tls' | 'metrics'): AddressInfo | null;
	/** Stops accepting, answers what was received, closes every connection. */
	close(callback: Callback<void>): void;
	close(): Promise<void>;
	stats(): ServerStats;
	/** One `stats` group's pairs, as engine.stats(group). */
	stats(group: Exclude<StatsGroup, ''>): Record<string, number | string>;
	/** Reads authFile again and swaps in its users; throws, keeping the old ones, on a bad file. */
	reloadAuth(): void;
	/** With restartFile: saves the cache there now, while serving. */
	snapshot(callback: Callback<SnapshotSaved>): void;
	snapshot(): Promise<SnapshotSaved>;

	on(event: 'listening' | 'close', listener: () => void): this;
	on(event: 'error', listener: (err: ServerError) => void): this;
	once(event: 'listening' | 'close', listener: () => void): this;
	/** A client sent `shutdown` (enableShutdown); 'close' follows once the server has closed. */
	on(event: 'shutdown', listener: (info: { graceful: boolean }) => void): this;
	once(event: 'shutdown', listener: (info: { graceful: boolean }) => void): this;
	once(event: 'error', listener: (err: ServerError) => void): this;
}

// ---------------------------------------------------------------- Client

/** A server of option `servers`: "host:port", "host:port:weight", "host:port:weight name". */
export interface ServerAddress {
	host?: string;
	port?: number;
	/** A Unix domain socket instead of host and port (a string entry starting with "/" is one too). */
	path?: string;
	/** Share of the keys, relative to the other servers' weights (default 1). */
	weight?: number;
	/** Hashed instead of the address when given, as nutcracker does with named servers. */
	name?: string;
}

interface CommonClientOptions {
	/** 'simple' (the seed protocol) or 'memcached'; without it, servers all on port 11211 speak
	 * memcached and any other the seed protocol. */
	protocol?: Protocol;
	/** How values are decoded (default 'utf8'); null returns Buffers. */
	encoding?: BufferEncoding | null;
	/** ms a request may wait for its reply before its connection is dropped (default 5000; 0: none). */
	timeout?: number;
	/** ms a connection may take to open (default 5000; 0: none). */
	connectTimeout?: number;
	/** ms before the first reconnection; doubled after each consecutive failure (default 100). */
	reconnect?: number;
	/** Consecutive failures that mark a server dead (default 3). */
	failures?: number;
	/** ms a dead server is left alone before it is tried again (default 10000). */
	retry?: number;
	/** Take dead servers out of the ring so their keys go to the others (default false). */
	remove?: boolean;
	/** Connections per server; a key always uses the same one (default 1). */
	poolSize?: number;
	/** Send the gets of one event-loop turn as multi-key gets (memcached protocol; default true). */
	batchGets?: boolean;
	/** Values larger than this fail at once with ESERVER, unsent (default 1 MiB: the servers' item size limit). */
	maxValueSize?: number;
	/** Connect with TLS (to a server's tlsPort): true, or options of tls.connect. */
	tls?: boolean | import('tls').ConnectionOptions;
	/** Values keep their type through the item's flags, as npm memcached stores them (memcached protocol only). */
	typedValues?: boolean;
}

export interface SingleServerOptions extends CommonClientOptions {
	port?: number;
	host?: string;
	/** The server's Unix domain socket, instead of port and host. */
	path?: string;
	servers?: undefined;
}

export interface ManyServersOptions extends CommonClientOptions {
	servers: ReadonlyArray<string | ServerAddress>;
	port?: undefined;
	host?: undefined;
	path?: undefined;
}

export type ClientOptions = SingleServerOptions | ManyServersOptions;

export type Key = string | Buffer;
export type Value = string | Buffer | number | boolean;
export type CasUnique = string | bigint | number;

export interface StorageOptions {
	/** Seconds to live (0: never expires; negative: already expired). */
	ttl?: number;
	/** memjs's name for ttl; give one or the other. */
	expires?: number;
	/** 32-bit flags stored with the item (not with typedValues, which sets them). */
	flags?: number;
}

/** The seed protocol stores no expiry and no flags: 0 (nothing) is all it takes. */
export interface SeedStorageOptions {
	ttl?: 0;
	expires?: 0;
	flags?: 0;
}

export interface GetsResult<V> {
	value: V;
	/** The cas unique to pass to cas(). */
	cas: string;
	flags: number;
}

/** A memcached `stats` reply: numbers where the value is numeric. */
export type StatsReply = Record<string, number | string>;

/** One result, or {'host:port': result} when the Client was given option `servers`. */
export type PerServer<Many extends boolean, T> = Many extends true ? Record<string, T> : T;

/** What a typedValues Client stores: anything JSON can hold, Buffers and numbers as themselves. */
export type TypedValue = string | number | boolean | null | Buffer | readonly unknown[] | { readonly [key: string]: unknown };

/** A Client speaking memcached's text protocol: every method. V: what values read back as; In:
 * what values may be stored (TypedValue with typedValues). */
export interface Client<V = string, Many extends boolean = false, In = Value> extends EventEmitter {
	readonly protocol: 'memcached';
	readonly encoding: BufferEncoding | null;
	/** 'host:port' of every server (a Unix socket's path for one). */
	readonly servers: string[];
	/** With one server given by port/host. */
	readonly port?: number;
	readonly host?: string;
	/** With one server given by path. */
	readonly path?: string;

	get(key: Key, callback: Callback<V | null>): void;
	get(key: Key): Promise<V | null>;
	gets(key: Key, callback: Callback<GetsResult<V> | null>): void;
	gets(key: Key): Promise<GetsResult<V> | null>;
	getMulti(keys: Key[], callback: Callback<Record<string, V>>): void;
	getMulti(keys: Key[]): Promise<Record<string, V>>;

	/** options: {ttl | expires, flags}, or the ttl in seconds as a number (npm memcached's lifetime). */
	set(key: Key, value: In, callback: Callback<boolean>): void;
	set(key: Key, value: In, options: StorageOptions | number | undefined, callback: Callback<boolean>): void;
	set(key: Key, value: In, options?: StorageOptions | number): Promise<boolean>;
	add(key: Key, value: In, callback: Callback<boolean>): void;
	add(key: Key, value: In, options: StorageOptions | number | undefined, callback: Callback<boolean>): void;
	add(key: Key, value: In, options?: StorageOptions | number): Promise<boolean>;
	replace(key: Key, value: In, callback: Callback<boolean>): void;
	replace(key: Key, value: In, options: StorageOptions | number | undefined, callback: Callback<boolean>): void;
	replace(key: Key, value: In, options?: StorageOptions | number): Promise<boolean>;
	append(key: Key, value: Value, callback: Callback<boolean>): void;
	append(key: Key, value: Value): Promise<boolean>;
	prepend(key: Key, value: Value, callback: Callback<boolean>): void;
	prepend(key: Key, value: Value): Promise<boolean>;
	cas(key: Key, value: In, cas: CasUnique, callback: Callback<boolean>): void;
	cas(key: Key, value: In, cas: CasUnique, options: StorageOptions | number | undefined, callback: Callback<boolean>): void;
	cas(key: Key, value: In, cas: CasUnique, options?: StorageOptions | number): Promise<boolean>;

	delete(key: Key, callback: Callback<boolean>): void;
	delete(key: Key): Promise<boolean>;
	incr(key: Key, callback: Callback<number | bigint | null>): void;
	incr(key: Key, delta: number | bigint | undefined, callback: Callback<number | bigint | null>): void;
	incr(key: Key, delta?: number | bigint): Promise<number | bigint | null>;
	decr(key: Key, callback: Callback<number | bigint | null>): void;
	decr(key: Key, delta: number | bigint | undefined, callback: Callback<number | bigint | null>): void;
	decr(key: Key, delta?: number | bigint): Promise<number | bigint | null>;
	touch(key: Key, ttl: number, callback: Callback<boolean>): void;
	touch(key: Key, ttl: number): Promise<boolean>;

	flushAll(callback: Callback<true>): void;
	flushAll(delay: number | undefined, callback: Callback<true>): void;
	flushAll(delay?: number): Promise<true>;
	stats(callback: Callback<PerServer<Many, StatsReply>>): void;
	stats(group: 'settings' | 'items' | 'slabs' | undefined, callback: Callback<PerServer<Many, StatsReply>>): void;
	stats(group?: 'settings' | 'items' | 'slabs'): Promise<PerServer<Many, StatsReply>>;
	version(callback: Callback<PerServer<Many, string>>): void;
	version(): Promise<PerServer<Many, string>>;

	/** 'host:port' of the server `key` goes to now, or null when every server is removed. */
	serverFor(key: Key): string | null;
	/** Waits for the replies due, then closes every connection. */
	close(callback: Callback<void>): void;
	close(): Promise<void>;

	on(event: 'connect', listener: () => void): this;
	on(event: 'error', listener: (err: SimplecachedError) => void): this;
	on(event: 'dead', listener: (server: string, err: SimplecachedError) => void): this;
	on(event: 'alive', listener: (server: string) => void): this;
	once(event: 'connect', listener: () => void): this;
	once(event: 'error', listener: (err: SimplecachedError) => void): this;
	once(event: 'dead', listener: (server: string, err: SimplecachedError) => void): this;
	once(event: 'alive', listener: (server: string) => void): this;
}

/** The memcached Client under its protocol's name. */
export type MemcachedClient<V = string, Many extends boolean = false, In = Value> = Client<V, Many, In>;

/** A Client speaking the seed protocol: get, set and delete, values without line breaks, no
 * expiry or flags. Everything else fails with ENOTSUP at run time and is not declared. */
export interface SeedClient<V = string, Many extends boolean = false> extends EventEmitter {
	readonly protocol: 'simple';
	readonly encoding: BufferEncoding | null;
	readonly servers: string[];
	readonly port?: number;
	readonly host?: string;

	get(key: Key, callback: Callback<V | null>): void;
	get(key: Key): Promise<V | null>;
	set(key: Key, value: Value, callback: Callback<boolean>): void;
	set(key: Key, value: Value, options: SeedStorageOptions | 0 | undefined, callback: Callback<boolean>): void;
	set(key: Key, value: Value, options?: SeedStorageOptions | 0): Promise<boolean>;
	delete(key: Key, callback: Callback<boolean>): void;
	delete(key: Key): Promise<boolean>;
	serverFor(key: Key): string | null;
	close(callback: Callback<void>): void;
	close(): Promise<void>;

	on(event: 'connect', listener: () => void): this;
	on(event: 'error', listener: (err: SimplecachedError) => void): this;
	on(event: 'dead', listener: (server: string, err: SimplecachedError) => void): this;
	on(event: 'alive', listener: (server: string) => void): this;
	once(event: 'connect', listener: () => void): this;
	once(event: 'error', listener: (err: SimplecachedError) => void): this;
	once(event: 'dead', listener: (server: string, err: SimplecachedError) => void): this;
	once(event: 'alive', listener: (server: string) => void): this;
}

type ValueOf<O> = O extends { typedValues: true } ? unknown : O extends { encoding: null } ? Buffer : string;
type InputOf<O> = O extends { typedValues: true } ? TypedValue : Value;
type ManyOf<O> = O extends { servers: ReadonlyArray<string | ServerAddress> } ? true : false;
type OnMemcachedPort<S> = S extends `${string}:11211` | `${string}:11211:${string}` | { port: 11211 } ? true : false;
/** The protocol a Client speaks: option protocol, else memcached when every server is on 11211. */
type ProtocolOf<O> = O extends { protocol: Protocol } ? O['protocol']
	: O extends { servers: ReadonlyArray<infer S> } ? (false extends OnMemcachedPort<S> ? 'simple' : 'memcached')
	: O extends { port: 11211 } ? 'memcached' : 'simple';
type ClientOf<O> = ProtocolOf<O> extends 'memcached' ? Client<ValueOf<O>, ManyOf<O>, InputOf<O>> : SeedClient<ValueOf<O>, ManyOf<O>>;

/** Seed-protocol options: no typedValues (the seed protocol stores no flags). */
type SeedOptions<O> = O extends { typedValues: true } ? never : O;
type Checked<O> = ProtocolOf<O> extends 'memcached' ? O : SeedOptions<O>;

export interface ClientConstructor {
	/** Connects at once; the callback gets an error only when no server could be reached. */
	new <const O extends ClientOptions>(options: O & Checked<O>, callback?: Callback<ClientOf<O>>): ClientOf<O>;
	new (port: 11211, callback?: Callback<Client<string, false>>): Client<string, false>;
	new (port?: number, callback?: Callback<SeedClient<string, false>>): SeedClient<string, false>;
}

export declare const Client: ClientConstructor;
