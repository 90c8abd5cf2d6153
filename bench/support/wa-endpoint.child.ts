// A loopback WhatsApp endpoint in its own process (spawned by baileys.bench.ts), so the memory the
// benchmark measures is the client sockets' alone; answers with its URL and root key over IPC.
import { endpointRootKey, WaEndpoint } from '../../test/support/wa-endpoint.ts';

const endpoint = await WaEndpoint.start();
process.send?.({ url: endpoint.url, root: endpointRootKey().toString('hex') });
process.on('disconnect', () => {
  void endpoint.close().finally(() => process.exit(0));
});
