/**
 * A local Socket Mode endpoint (WebSocket on 127.0.0.1) speaking Slack's envelope protocol: greets
 * with `hello`, sends `{envelope_id, type, payload}` envelopes and collects the client's acks
 * (`{envelope_id, payload}`). Paired with slack-peer.ts, whose apps.connections.open hands out its URL.
 * https://docs.slack.dev/apis/events-api/using-socket-mode
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface SocketAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

export interface SlackSocketPeer {
  /** `ws://127.0.0.1:PORT/link` */
  readonly url: string;
  /** Resolves once a client has connected and been greeted. */
  readonly connected: Promise<void>;
  /** Sends one envelope; resolves with the client's ack and how long it took. */
  send(
    type: 'events_api' | 'slash_commands' | 'interactive',
    payload: Record<string, unknown>,
    opts?: { retryAttempt?: number },
  ): Promise<{ ack: SocketAck; ms: number }>;
  close(): Promise<void>;
}

export async function startSlackSocketPeer(): Promise<SlackSocketPeer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/link`;
  const pending = new Map<string, (ack: SocketAck) => void>();
  let socket: WebSocket | undefined;
  let onConnected: () => void = () => {};
  const connected = new Promise<void>((resolve) => {
    onConnected = resolve;
  });

  wss.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (data) => {
      const ack = JSON.parse(String(data)) as SocketAck;
      pending.get(ack.envelope_id)?.(ack);
      pending.delete(ack.envelope_id);
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'local-peer', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A111' },
      }),
    );
    onConnected();
  });

  return {
    url,
    connected,
    send(type, payload, opts = {}) {
      const ws = socket;
      if (!ws) return Promise.reject(new Error('socket peer: no client connected'));
      const envelopeId = randomUUID();
      const started = performance.now();
      const acked = new Promise<SocketAck>((resolve) => pending.set(envelopeId, resolve));
      ws.send(
        JSON.stringify({
          envelope_id: envelopeId,
          type,
          payload,
          accepts_response_payload: type !== 'events_api',
          ...(type === 'events_api' ? { retry_attempt: opts.retryAttempt ?? 0, retry_reason: '' } : {}),
        }),
      );
      return acked.then((ack) => ({ ack, ms: performance.now() - started }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
