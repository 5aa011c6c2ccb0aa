import http2 from "node:http2";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { listen, sniffProtocol } from "../../src/server/listener.js";

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

describe("sniffProtocol", () => {
  it("recognises the HTTP/2 preface", () => {
    expect(sniffProtocol(Buffer.from(PREFACE + "\x00\x00"))).toBe("http2");
  });
  it("waits while the bytes so far could still be the preface", () => {
    expect(sniffProtocol(Buffer.from(""))).toBe("undecided");
    expect(sniffProtocol(Buffer.from("PRI * HT"))).toBe("undecided");
  });
  it("calls anything else HTTP/1", () => {
    expect(sniffProtocol(Buffer.from("POST /x HTTP/1.1\r\n"))).toBe("http1");
    expect(sniffProtocol(Buffer.from("PRX"))).toBe("http1");
  });
});

async function echoListener(protocolSniffTimeoutMs = 10_000) {
  return listen({
    host: "127.0.0.1",
    port: 0,
    protocolSniffTimeoutMs,
    handler: (req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`${req.httpVersion} ${req.url}`);
    },
  });
}

function rawExchange(port: number, parts: string[], gapMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString()));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
    socket.on("connect", () => {
      void (async () => {
        for (const part of parts) {
          socket.write(part);
          await new Promise((r) => setTimeout(r, gapMs));
        }
      })();
    });
  });
}

describe("one port for HTTP/1.1 and h2c", () => {
  it("serves several HTTP/1.1 requests on one keep-alive connection", async () => {
    const listener = await echoListener();
    try {
      const request = (path: string, close: boolean) => `GET ${path} HTTP/1.1\r\nhost: x\r\n${close ? "connection: close\r\n" : ""}\r\n`;
      const received = await rawExchange(listener.port, [request("/one", false), request("/two", true)], 20);
      expect(received).toContain("1.1 /one");
      expect(received).toContain("1.1 /two");
    } finally {
      await listener.close(1000);
    }
  });

  it("serves HTTP/2 whose preface arrives in pieces", async () => {
    const listener = await echoListener();
    try {
      const session = http2.connect(`http://127.0.0.1:${listener.port}`, {
        createConnection: () => {
          const socket = net.connect(listener.port, "127.0.0.1");
          // Split every early write so the preface reaches the server in fragments.
          const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
          let fragmented = 0;
          socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
            if (fragmented++ > 0 || !Buffer.isBuffer(chunk)) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
            write(chunk.subarray(0, 5));
            setTimeout(() => write(chunk.subarray(5)), 30);
            return true;
          }) as typeof socket.write;
          return socket;
        },
      });
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":path": "/h2" });
        let data = "";
        stream.on("data", (chunk) => (data += chunk));
        stream.on("end", () => resolve(data));
        stream.on("error", reject);
        stream.end();
      });
      session.close();
      expect(body).toBe("2.0 /h2");
    } finally {
      await listener.close(1000);
    }
  });

  it("closes a connection that says nothing within the sniff timeout", async () => {
    const listener = await echoListener(100);
    try {
      expect(await rawExchange(listener.port, [], 0)).toBe("");
    } finally {
      await listener.close(1000);
    }
  });
});
