// metrics_listener: the HTTP listener of the metricsPort option: GET /metrics answers the engine's
// figures in Prometheus's format (lib/metrics.js). It runs on Node's loop; no request passes through it.
'use strict';

const http = require('http');
const metrics = require('./metrics');

class MetricsListener {
	constructor(native) {
		this._native = native;
		this._http = http.createServer((req, res) => this._answer(req, res));
	}

	_answer(req, res) {
		const path = req.url.split('?')[0];
		if (path !== '/metrics') {
			res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: the metrics are at /metrics\n');
		} else if (req.method !== 'GET' && req.method !== 'HEAD') {
			res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('Method not allowed\n');
		} else {
			const body = metrics.compose(this._native);
			res.writeHead(200, { 'Content-Type': metrics.CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
			res.end(req.method === 'HEAD' ? undefined : body);
		}
	}

	// callback(err) once listening, or with the error that prevented it.
	listen(host, port, callback) {
		const failed = (err) => callback(err);
		this._http.once('error', failed);
		this._http.listen(port, host, () => {
			this._http.removeListener('error', failed);
			callback(null);
		});
	}

	address() {
		return this._http.address();
	}

	// Stops listening and drops keep-alive scrapers' connections, so the process can exit.
	close(callback) {
		this._http.close(() => callback());
		this._http.closeAllConnections();
	}
}

module.exports = MetricsListener;
