// build: the benchmarks' C programs (loadgen, floor) compiled into bench/build/ with one cc call each,
// again only when a source is newer than the program; every script that runs one builds it here.
'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const BUILD_DIR = path.join(__dirname, 'build');
const CFLAGS = ['-O2', '-std=c11', '-Wall', '-Wextra'];
const CSRC = path.join(__dirname, '..', 'csrc');
// Sources of the product a program is built with, and the flags they need (as binding.gyp gives
// them): the floor's io_uring loop runs on csrc/ring.c.
const SHARED = { floor: { files: ['ring.c', 'ring.h'], flags: ['-D_GNU_SOURCE', '-I', CSRC] } };

// A program is bench/<name>/ (its .c files compiled, its .h files watched too) or bench/<name>.c.
function programSources(name) {
  const dir = path.join(__dirname, name);
  if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) {
    const files = fs.readdirSync(dir).sort().map((file) => path.join(dir, file));
    const shared = (SHARED[name] ? SHARED[name].files : []).map((file) => path.join(CSRC, file));
    const all = [...files, ...shared];
    return { compile: all.filter((f) => f.endsWith('.c')), watch: all.filter((f) => /\.[ch]$/.test(f)) };
  }
  const file = path.join(__dirname, `${name}.c`);
  return { compile: [file], watch: [file] };
}

function isCurrent(binary, sources) {
  if (!fs.existsSync(binary)) return false;
  const built = fs.statSync(binary).mtimeMs;
  return sources.every((source) => fs.statSync(source).mtimeMs <= built);
}

function programPath(name) {
  return path.join(BUILD_DIR, name);
}

// Returns the program's path; progress goes to stderr so that stdout carries only results.
function buildProgram(name) {
  const binary = programPath(name);
  const { compile, watch } = programSources(name);
  if (isCurrent(binary, watch)) return binary;
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const args = [...CFLAGS, ...(SHARED[name] ? SHARED[name].flags : []), '-o', binary, ...compile];
  process.stderr.write(`bench: building ${name}: cc ${args.map((a) => path.relative(process.cwd(), a) || a).join(' ')}\n`);
  const result = spawnSync('cc', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`could not compile bench/${name} (is a C compiler installed as cc?)`);
  return binary;
}

module.exports = { buildProgram, programPath };
