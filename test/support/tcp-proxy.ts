/**
 * A TCP proxy on 127.0.0.1 in front of a real server (redis-server), which a test can stall: while
 * stalled it keeps every socket open and keeps reading, but forwards nothing in either direction
 * (a hung network path, not a refused one). What clients send meanwhile is held and counted, so a
 * test can say exactly how many bytes a client wrote into a dead path; `resume` delivers the held
 * bytes in order, as TCP would once the path heals.
 */
import net from 'node:net';

export interface StallableProxy {
  /** Port on 127.0.0.1 that clients dial instead of the server's. */
  readonly port: number;
  /** Stop forwarding; sockets stay open. */
  stall(): void;
  /** Forward again, held bytes first. */
  resume(): void;
  /** Bytes clients wrote since the last `stall()` (held or forwarded). */
  readonly bytesFromClientsSinceStall: number;
  close(): Promise<void>;
}

interface Pipe {
  client: net.Socket;
  server: net.Socket;
  toServer: Buffer[];
  toClient: Buffer[];
}

export async function startStallableProxy(targetPort: number): Promise<StallableProxy> {
  let stalled = false;
  let sinceStall = 0;
  const pipes = new Set<Pipe>();

  const flush = (pipe: Pipe) => {
    for (const chunk of pipe.toServer.splice(0)) pipe.server.write(chunk);
    for (const chunk of pipe.toClient.splice(0)) pipe.client.write(chunk);
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pipe: Pipe = { client, server: upstream, toServer: [], toClient: [] };
    pipes.add(pipe);
    client.on('data', (chunk: Buffer) => {
      if (stalled) sinceStall += chunk.length;
      if (stalled) pipe.toServer.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (stalled) pipe.toClient.push(chunk);
      else client.write(chunk);
    });
    const end = () => {
      pipes.delete(pipe);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    stall() {
      stalled = true;
      sinceStall = 0;
    },
    resume() {
      stalled = false;
      for (const pipe of pipes) flush(pipe);
    },
    get bytesFromClientsSinceStall() {
      return sinceStall;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pipe of pipes) {
          pipe.client.destroy();
          pipe.server.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
