import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ChangeEvent } from "../api/types";
import { makeTask } from "../test/fixtures";
import { FakeSocket } from "../test/fakeSocket";
import { EventStream, eventsUrl, type ConnectionState, type ResyncReason } from "./eventStream";

function setup() {
  const stream = new EventStream({
    url: "ws://h/api/v1/events",
    createSocket: (url) => new FakeSocket(url),
    random: () => 0.999999, // no jitter: delays are the ceilings
  });
  const events: ChangeEvent[] = [];
  const resyncs: [number, ResyncReason][] = [];
  const states: ConnectionState[] = [];
  stream.onEvent((e) => events.push(e));
  stream.onResync((seq, why) => resyncs.push([seq, why]));
  stream.onState((s) => states.push(s));
  return { stream, events, resyncs, states };
}

const task = (seq: number, id: number) => ({ seq, event: "task", task: makeTask({ id }) });

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});

describe("EventStream", () => {
  it("builds ws/wss URLs from the page location", () => {
    expect(eventsUrl({ protocol: "http:", host: "a:8080" })).toBe("ws://a:8080/api/v1/events");
    expect(eventsUrl({ protocol: "https:", host: "a" })).toBe("wss://a/api/v1/events");
  });

  it("hello → subscribe with since → live; first hello asks for an initial reload", () => {
    const { stream, resyncs, states } = setup();
    stream.start();
    const s = FakeSocket.last();
    expect(s.url).toBe("ws://h/api/v1/events");
    expect(stream.state).toBe("reconnecting");
    s.open();
    s.receive({ event: "hello", seq: 40 });
    expect(s.sent).toEqual([{ subscribe: {}, since: 40 }]);
    expect(stream.state).toBe("live");
    expect(states).toEqual(["live"]);
    expect(resyncs).toEqual([[40, "initial"]]);
    expect(stream.lastSeq).toBe(40);
  });

  it("emits changes in order, dropping seq <= lastSeq", () => {
    const { stream, events } = setup();
    stream.start();
    const s = FakeSocket.last();
    s.receive({ event: "hello", seq: 10 });
    s.receive(task(10, 1)); // already covered by hello
    s.receive(task(11, 1));
    s.receive(task(11, 1)); // duplicate
    s.receive({ seq: 12, event: "deleted", id: 1 });
    s.receive("garbage");
    s.receive(task(9, 2));
    expect(events.map((e) => e.seq)).toEqual([11, 12]);
    expect(events[1]).toEqual({ event: "deleted", seq: 12, id: 1 });
    expect(stream.lastSeq).toBe(12);
  });

  it("reconnects with doubling backoff and resumes from lastSeq without a reload", () => {
    const { stream, resyncs, states } = setup();
    stream.start();
    let s = FakeSocket.last();
    s.receive({ event: "hello", seq: 5 });
    s.receive(task(6, 1));
    s.receive(task(7, 2));
    s.drop();
    expect(stream.state).toBe("reconnecting");
    expect(FakeSocket.all).toHaveLength(1);

    // Fails three times: 250, 500, 1000 ms apart.
    const delays = [250, 500, 1000];
    for (const d of delays) {
      vi.advanceTimersByTime(d - 1);
      expect(FakeSocket.all).toHaveLength(1 + delays.indexOf(d));
      vi.advanceTimersByTime(1);
      expect(FakeSocket.all).toHaveLength(2 + delays.indexOf(d));
      FakeSocket.last().drop();
    }
    vi.advanceTimersByTime(2000);
    expect(FakeSocket.all).toHaveLength(5);
    s = FakeSocket.last();
    s.open();
    s.receive({ event: "hello", seq: 90 }); // the server moved on while we were away
    expect(s.sent).toEqual([{ subscribe: {}, since: 7 }]);
    expect(states).toEqual(["live", "reconnecting", "live"]);
    expect(resyncs).toEqual([[5, "initial"]]);
    expect(stream.failures).toBe(0);

    // After a success the schedule starts again at 250 ms.
    s.drop();
    vi.advanceTimersByTime(250);
    expect(FakeSocket.all).toHaveLength(6);
  });

  it("caps the reconnect delay at 5 s", () => {
    const { stream } = setup();
    stream.start();
    for (let i = 0; i < 8; i++) {
      FakeSocket.last().drop();
      vi.advanceTimersByTime(5000);
    }
    expect(FakeSocket.all).toHaveLength(9);
    FakeSocket.last().drop();
    vi.advanceTimersByTime(4999);
    expect(FakeSocket.all).toHaveLength(9);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(10);
  });

  it("reset → reload callback and continue from the reset seq", () => {
    const { stream, events, resyncs } = setup();
    stream.start();
    const s = FakeSocket.last();
    s.receive({ event: "hello", seq: 3 });
    s.receive(task(4, 1));
    s.receive({ event: "reset", seq: 100 });
    expect(resyncs).toEqual([
      [3, "initial"],
      [100, "reset"],
    ]);
    expect(stream.lastSeq).toBe(100);
    s.receive(task(99, 1));
    s.receive(task(101, 1));
    expect(events.map((e) => e.seq)).toEqual([4, 101]);
  });

  it("treats a hello behind lastSeq (new server history) as a reset", () => {
    const { stream, resyncs } = setup();
    stream.start();
    FakeSocket.last().receive({ event: "hello", seq: 50 });
    FakeSocket.last().drop();
    vi.advanceTimersByTime(250);
    const s = FakeSocket.last();
    s.receive({ event: "hello", seq: 2 });
    expect(s.sent).toEqual([{ subscribe: {}, since: 2 }]);
    expect(resyncs[1]).toEqual([2, "reset"]);
  });

  it("stop closes the socket and does not reconnect", () => {
    const { stream } = setup();
    stream.start();
    const s = FakeSocket.last();
    s.receive({ event: "hello", seq: 1 });
    stream.stop();
    expect(s.closed).toBe(true);
    expect(stream.state).toBe("reconnecting");
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("an error without a close still reconnects, once", () => {
    const { stream } = setup();
    stream.start();
    const s = FakeSocket.last();
    s.onerror?.({});
    s.onclose?.({}); // late close from the same socket is ignored
    vi.advanceTimersByTime(250);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(10_000);
    expect(FakeSocket.all).toHaveLength(2);
  });
});
