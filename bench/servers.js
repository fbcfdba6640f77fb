// servers: what every benchmark script does with the servers it starts — pick a free port, wait
// until the server listens there, and stop it (SIGTERM, then SIGKILL if it lingers).
'use strict';

const net = require('net');

const STOP_TIMEOUT_MS = 3000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Asks the kernel for a port that is free right now; the server binds it a moment later.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// `port` on 127.0.0.1, or a Unix socket's path (net.connect takes either).
function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

// SIGTERM first so simplecached closes cleanly; SIGKILL if it lingers. server: {child}.
async function stopServer(server) {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

module.exports = { sleep, freePort, canConnect, stopServer };
