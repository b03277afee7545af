import net from 'node:net';

/** A question to ask once connected, and whether the first reply answers it. */
export interface Greeting {
  send: string;
  answered: (reply: Buffer) => boolean;
}

/**
 * Whether something accepts TCP connections at host:port within `timeoutMs` — and, given a
 * greeting, replies to it as expected.
 */
export function isListening(
  host: string,
  port: number,
  timeoutMs = 1_000,
  greeting?: Greeting,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => (greeting ? socket.write(greeting.send) : done(true)));
    if (greeting) socket.once('data', (reply) => done(greeting.answered(reply)));
    socket.once('error', () => done(false));
  });
}

export function parseHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}
