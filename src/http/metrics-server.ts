// /metrics on its own port (monitoring.metrics_port), apart from the web port: Prometheus
// scrapes it from inside the network while the web port may face users.
import http from 'node:http';
import type { Metrics } from '../core/metrics.js';
import type { Logger } from '../core/logging.js';

export async function startMetricsServer(metrics: Metrics, host: string, port: number, logger: Logger): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    metrics.text().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (e: unknown) => {
        logger.error({ err: e }, 'cannot collect the metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', (e) => logger.error({ err: e }, 'metrics listener error'));
      resolve();
    });
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
}
