#!/usr/bin/env node
// Started inside a lab namespace: listens on a unix socket (a file, visible from the host
// namespace) and forwards each connection to HOST:PORT inside the namespace. This is how the
// test process, which stays in the host namespace, reaches the API port without any network
// link between the namespaces.
//   node unix-forward.js SOCKET HOST PORT
import net from 'node:net';
import { rmSync } from 'node:fs';

const [socketPath, host, portText] = process.argv.slice(2);
const port = Number(portText);
if (!socketPath || !host || !Number.isInteger(port)) {
  console.error('usage: unix-forward.js SOCKET HOST PORT');
  process.exit(2);
}
rmSync(socketPath, { force: true });
const server = net.createServer((client) => {
  const upstream = net.connect(port, host);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(socketPath, () => console.log(`forwarding ${socketPath} -> ${host}:${port}`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
