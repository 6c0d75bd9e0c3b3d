/**
 * A scripted TCP server for client tests: each accepted socket is handed to
 * `onSocket`, which answers with whatever bytes the test needs (valid or
 * not). Counts accepted connections and closes everything on close().
 */
import { createServer, type Socket } from "node:net";

export interface RawServer {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function rawServer(onSocket: (socket: Socket, index: number) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { accepted: 0 };
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    onSocket(s, state.accepted++);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get accepted() {
      return state.accepted;
    },
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Calls `onRequest` with each complete request head (and any body bytes
 * that arrived with it) read from `socket`; pipelined heads each get a call.
 * Bodies are not framed: tests that send bodies read them themselves.
 */
export function onHeads(socket: Socket, onRequest: (head: string, socket: Socket) => void): void {
  let buf = "";
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => {
    buf += d;
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.slice(0, end + 4);
      buf = buf.slice(end + 4);
      onRequest(head, socket);
    }
  });
}
