import type { ChangeEvent } from "../api/types";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { isChangeEvent, parseServerMessage } from "./validate";

/** The part of the browser WebSocket this client uses (so tests can pass a fake). */
export interface SocketLike {
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type ConnectionState = "live" | "reconnecting";

/** Why the data must be reloaded over REST before continuing from `seq`. */
export type ResyncReason = "initial" | "reset";

export interface EventStreamOptions {
  url: string;
  createSocket?: (url: string) => SocketLike;
  random?: () => number;
  backoff?: BackoffOptions;
}

type Fn<T> = (arg: T) => void;

/**
 * Client for /api/v1/events.
 *
 *   connect → hello{seq:H} → send {"subscribe":{},"since":lastSeq} → live
 *   task/deleted with seq ≤ lastSeq are dropped; others advance lastSeq and are emitted
 *   reset{seq:H} → lastSeq = H, emit resync (callers reload over REST)
 *   socket closed → "reconnecting", reconnect after backoff (250 ms doubling to 5 s, jittered)
 *
 * On the very first hello (and when a restarted server's head is behind lastSeq) a resync is
 * emitted too: data loaded before the stream was live may have missed changes.
 */
export class EventStream {
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = true;
  private _state: ConnectionState = "reconnecting";
  private _lastSeq: number | null = null;
  private readonly eventFns = new Set<Fn<ChangeEvent>>();
  private readonly resyncFns = new Set<(seq: number, reason: ResyncReason) => void>();
  private readonly stateFns = new Set<Fn<ConnectionState>>();
  private readonly createSocket: (url: string) => SocketLike;
  private readonly random: () => number;
  private readonly backoff: BackoffOptions;

  constructor(private readonly opts: EventStreamOptions) {
    this.createSocket = opts.createSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.random = opts.random ?? Math.random;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
  }

  get state(): ConnectionState {
    return this._state;
  }

  get lastSeq(): number | null {
    return this._lastSeq;
  }

  /** Number of consecutive failed connection attempts (0 once live). */
  get failures(): number {
    return this.attempt;
  }

  onEvent(fn: Fn<ChangeEvent>): () => void {
    this.eventFns.add(fn);
    return () => this.eventFns.delete(fn);
  }

  onResync(fn: (seq: number, reason: ResyncReason) => void): () => void {
    this.resyncFns.add(fn);
    return () => this.resyncFns.delete(fn);
  }

  onState(fn: Fn<ConnectionState>): () => void {
    this.stateFns.add(fn);
    return () => this.stateFns.delete(fn);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dropSocket();
    this.setState("reconnecting");
  }

  private connect(): void {
    this.timer = null;
    let sock: SocketLike;
    try {
      sock = this.createSocket(this.opts.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = sock;
    sock.onmessage = (ev) => {
      if (this.socket === sock) this.handleMessage(ev.data);
    };
    sock.onclose = () => {
      if (this.socket === sock) this.handleClose();
    };
    sock.onerror = () => {
      // A close event follows; some environments don't send one, so close explicitly.
      if (this.socket === sock) {
        try {
          sock.close();
        } catch {
          /* ignore */
        }
        this.handleClose();
      }
    };
  }

  private dropSocket(): void {
    const sock = this.socket;
    this.socket = null;
    if (!sock) return;
    sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
    try {
      sock.close();
    } catch {
      /* ignore */
    }
  }

  private handleClose(): void {
    this.dropSocket();
    this.setState("reconnecting");
    if (!this.stopped) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = backoffDelay(this.attempt, this.random, this.backoff);
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private handleMessage(data: unknown): void {
    const msg = parseServerMessage(data);
    if (!msg) return;
    if (msg.event === "hello") {
      let resync: ResyncReason | null = null;
      if (this._lastSeq === null) {
        this._lastSeq = msg.seq;
        resync = "initial";
      } else if (msg.seq < this._lastSeq) {
        // The server's change log is behind what we saw: it is not the same history.
        this._lastSeq = msg.seq;
        resync = "reset";
      }
      this.send({ subscribe: {}, since: this._lastSeq });
      this.attempt = 0;
      this.setState("live");
      if (resync) this.emitResync(this._lastSeq, resync);
      return;
    }
    if (msg.event === "reset") {
      this._lastSeq = msg.seq;
      this.emitResync(msg.seq, "reset");
      return;
    }
    if (!isChangeEvent(msg)) return;
    if (this._lastSeq !== null && msg.seq <= this._lastSeq) return;
    this._lastSeq = msg.seq;
    for (const fn of [...this.eventFns]) fn(msg);
  }

  private send(obj: unknown): void {
    try {
      this.socket?.send(JSON.stringify(obj));
    } catch {
      /* the close handler will reconnect */
    }
  }

  private emitResync(seq: number, reason: ResyncReason): void {
    for (const fn of [...this.resyncFns]) fn(seq, reason);
  }

  private setState(s: ConnectionState): void {
    if (s === this._state) return;
    this._state = s;
    for (const fn of [...this.stateFns]) fn(s);
  }
}

export function eventsUrl(loc: Pick<Location, "protocol" | "host">, token: string | null = null): string {
  const base = `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/api/v1/events`;
  return token ? `${base}?access_token=${encodeURIComponent(token)}` : base;
}
