// Which peers are reverse proxies whose forwarding headers (X-Forwarded-For, -Host, -Proto,
// -Prefix, Forwarded) are believed: those of http.trust_proxy. One function for fastify's
// trustProxy (req.ip, req.host, req.protocol) and for our own readers of such headers
// (dicomweb/deps.ts baseUrl), so they never disagree.
import { BlockList, isIP } from 'node:net';

export function proxyTrust(entries: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [ip = '', bits] = entry.split('/');
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(bits), family);
  }
  return (address) => {
    if (!address) return false;
    // An IPv4 peer of a dual-stack socket shows as ::ffff:a.b.c.d: matched as IPv4.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (v4 !== undefined) return list.check(v4, 'ipv4');
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}
