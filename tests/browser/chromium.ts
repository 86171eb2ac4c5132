/**
 * Headless Chromium for the browser tests, driven over the Chrome DevTools protocol from Deno (a
 * WebSocket; no browser download, no npm driver): WebGPU on Dawn over SwiftShader, a fresh
 * profile per launch, the page's console and errors forwarded, screenshots; and the pages'
 * bundles (`deno bundle`).
 *
 * `HAJIME_CHROMIUM` names the binary (default `/usr/bin/chromium`); `HAJIME_BROWSER_VERBOSE=1`
 * prints the browser's own log lines too.
 *
 * @module
 */

/** The Chromium binary the tests use. */
export const CHROMIUM = Deno.env.get("HAJIME_CHROMIUM") ?? "/usr/bin/chromium";

/**
 * Runs `deno bundle --quiet --platform=browser ...args` in `cwd` (a page's bundle for Chromium);
 * throws with the bundler's messages when it fails.
 */
export async function bundle(cwd: string, args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform=browser", ...args],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`deno bundle ${args.at(-1)} failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

/** Whether the binary exists (tests are ignored, with a message, where it does not). */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/**
 * Flags for WebGPU in a headless, sandbox-less, quiet Chromium: Dawn on SwiftShader (Chromium's
 * own software Vulkan), no first-run, sync, component updates or background traffic.
 */
const FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--use-webgpu-adapter=swiftshader",
  "--disable-gpu-sandbox",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--mute-audio",
  "--remote-debugging-port=0",
];

interface Reply {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  sessionId?: string;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** A message the page logged, or an exception it threw. */
export interface PageMessage {
  /** `log`, `warning`, `error`, ... or `exception`. */
  type: string;
  /** The text. */
  text: string;
}

/** One browser with one page (a tab), for one test file. */
export class Browser {
  /** What the page logged so far. */
  readonly messages: PageMessage[] = [];
  #process: Deno.ChildProcess;
  #profile: string;
  #socket: WebSocket;
  #session = "";
  #nextId = 1;
  #waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #listeners = new Map<string, (params: Record<string, unknown>) => void>();
  #log: BrowserLog;

  private constructor(
    process: Deno.ChildProcess,
    profile: string,
    socket: WebSocket,
    log: BrowserLog,
  ) {
    this.#process = process;
    this.#profile = profile;
    this.#socket = socket;
    this.#log = log;
    socket.onmessage = (event) => this.#receive(JSON.parse(event.data));
    socket.onclose = () => {
      for (const { reject } of this.#waiting.values()) reject(new Error("Chromium went away"));
      this.#waiting.clear();
    };
  }

  /** Starts Chromium on a fresh profile and opens a blank page of `width`×`height` pixels. */
  static async launch(width = 1200, height = 900): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "hajime-chromium-" });
    const process = new Deno.Command(CHROMIUM, {
      args: [...FLAGS, `--user-data-dir=${profile}`, `--window-size=${width},${height}`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const log = new BrowserLog(process.stderr);
    const endpoint = await log.endpoint;
    const socket = new WebSocket(endpoint);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot connect to Chromium at ${endpoint}`));
    });
    const browser = new Browser(process, profile, socket, log);
    const { targetId } = await browser.#send("Target.createTarget", { url: "about:blank" });
    const attached = await browser.#send("Target.attachToTarget", { targetId, flatten: true });
    browser.#session = attached.sessionId as string;
    await browser.#send("Page.enable");
    await browser.#send("Runtime.enable");
    await browser.#send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return browser;
  }

  /** Loads `url` and waits for its `load` event. */
  async open(url: string): Promise<void> {
    const loaded = this.#event("Page.loadEventFired");
    const { errorText } = await this.#send("Page.navigate", { url });
    if (errorText) throw new Error(`Chromium could not open ${url}: ${errorText}`);
    await loaded;
  }

  /**
   * The value of `expression` in the page, awaited when it is a promise; throws the page's
   * exception, or after `timeoutMs` (naming what it waited for).
   */
  async evaluate<T>(expression: string, timeoutMs = 60_000): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the page did not answer ${expression} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([
        this.#send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }),
        timeout,
      ]);
      const thrown = reply.exceptionDetails as
        | { text: string; exception?: { description?: string } }
        | undefined;
      if (thrown) {
        throw new Error(`the page threw: ${thrown.exception?.description ?? thrown.text}`);
      }
      return (reply.result as { value: T }).value;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A PNG of the page as it shows now. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.#send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
  }

  /** The last `chars` characters of Chromium's own log (GPU process exits show up there). */
  log(chars = 3000): string {
    return this.#log.text.slice(-chars);
  }

  /** Stops Chromium and removes its profile. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN) {
      await this.#send("Browser.close").catch(() => {});
      this.#socket.close();
    }
    const timer = setTimeout(() => this.#process.kill("SIGKILL"), 5000);
    await this.#process.status;
    clearTimeout(timer);
    await this.#log.done;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  #send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const message: Record<string, unknown> = { id, method, params };
    if (this.#session && !method.startsWith("Target.") && !method.startsWith("Browser.")) {
      message.sessionId = this.#session;
    }
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, {
        resolve: (reply) =>
          reply.error
            ? reject(new Error(`${method}: ${reply.error.message}`))
            : resolve(reply.result ?? {}),
        reject,
      });
      this.#socket.send(JSON.stringify(message));
    });
  }

  #event(method: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.#listeners.set(method, resolve));
  }

  #receive(reply: Reply): void {
    if (reply.id !== undefined) {
      this.#waiting.get(reply.id)?.resolve(reply);
      this.#waiting.delete(reply.id);
      return;
    }
    const params = reply.params ?? {};
    this.#listeners.get(reply.method!)?.(params);
    this.#listeners.delete(reply.method!);
    if (reply.method === "Runtime.consoleAPICalled") {
      const args = params.args as { value?: unknown; description?: string }[];
      const text = args.map((a) => a.value ?? a.description ?? "").join(" ");
      this.messages.push({ type: params.type as string, text });
    } else if (reply.method === "Runtime.exceptionThrown") {
      const details = params.exceptionDetails as {
        text: string;
        exception?: { description?: string };
      };
      this.messages.push({
        type: "exception",
        text: details.exception?.description ?? details.text,
      });
    } else if (reply.method === "Inspector.targetCrashed") {
      this.messages.push({ type: "crash", text: "the page crashed" });
    }
  }
}

/**
 * Chromium's stderr, collected as it comes (and printed with HAJIME_BROWSER_VERBOSE=1); `endpoint`
 * resolves with the address of its `DevTools listening on ws://...` line.
 */
class BrowserLog {
  text = "";
  readonly endpoint: Promise<string>;
  readonly done: Promise<void>;

  constructor(stderr: ReadableStream<Uint8Array>) {
    const verbose = Deno.env.get("HAJIME_BROWSER_VERBOSE") === "1";
    let found: (endpoint: string) => void = () => {};
    let failed: (error: Error) => void = () => {};
    this.endpoint = new Promise((resolve, reject) => [found, failed] = [resolve, reject]);
    const decoder = new TextDecoder();
    this.done = (async () => {
      for await (const bytes of stderr) {
        const chunk = decoder.decode(bytes, { stream: true });
        this.text += chunk;
        if (verbose) console.error(chunk.trimEnd());
        const endpoint = /DevTools listening on (ws:\/\/\S+)/.exec(this.text)?.[1];
        if (endpoint) found(endpoint);
      }
      failed(new Error(`Chromium exited before listening:\n${this.text.slice(-2000)}`));
    })();
  }
}
