"""producer_consumer: P producers and Q consumers share one bounded queue of
capacity 64 (the runtime's own); M messages in total, as
workloads/producer_consumer.hpp: producer j sends k + 1 for every k < M with
k % P == j (0 is the end-of-stream sentinel); the producer that finishes
last sends Q sentinels; consumers add what they got to shared totals, which
verify() checks. The blocking bodies update the shared counters under the
runtime's lock (threads and processes can interleave inside an update;
gevent's is never contended); an asyncio task cannot be switched away
between two awaits, so it takes none."""

from typing import NamedTuple

from workloads.common import by_cost, by_profile, needs_all_alive

NAME = "producer_consumer"
COUNTERS = {"msgs_per_s": ("msgs/s", "higher")}
CAPACITY = 64


class Params(NamedTuple):
    producers: int
    consumers: int
    messages: int  # in total

    def label(self):
        return f"producers:{self.producers}/consumers:{self.consumers}"


def sizes(profile, rt):
    shapes = by_profile(profile, [(1, 1), (2, 3)], [(1, 1), (1, 4), (4, 1), (4, 4)],
                        [(1, 1), (1, 4), (4, 1), (4, 4), (16, 16), (64, 64)])
    m = by_cost(rt, by_profile(profile, 200, 2000, 20000), by_profile(profile, 500, 10000, 100000),
                by_profile(profile, 1000, 20000, 200000), by_profile(profile, 1000, 20000, 200000))
    return [Params(np, nc, m) for np, nc in shapes]


def unsupported(rt, p):
    # A pool whose every worker holds a blocked producer starts no consumer.
    return needs_all_alive(rt, p.producers + 1, "a consumer running beside every producer")


def tasks(p):
    return p.producers + p.consumers


def ops(p):
    return p.messages


class State:
    def __init__(self, p, rt):
        self.queue = rt.queue(CAPACITY)
        self.lock = None if rt.is_async else rt.lock()
        self.finished, self.received, self.total = rt.counter(), rt.counter(), rt.counter()


# Producers return how many messages they sent, consumers how many they received.
def task(ctx, s, i, p):
    n = 0
    if i < p.producers:
        for k in range(i, p.messages, p.producers):
            s.queue.put(k + 1)
            n += 1
        with s.lock:
            s.finished.value += 1
            last = s.finished.value == p.producers
        for _ in range(p.consumers if last else 0):
            s.queue.put(0)
        return n
    total = 0
    while v := s.queue.get():
        total += v
        n += 1
    with s.lock:
        s.received.value += n
        s.total.value += total
    return n


async def atask(ctx, s, i, p):
    n = 0
    if i < p.producers:
        for k in range(i, p.messages, p.producers):
            await s.queue.put(k + 1)
            n += 1
        s.finished.value += 1
        for _ in range(p.consumers if s.finished.value == p.producers else 0):
            await s.queue.put(0)
        return n
    total = 0
    while v := await s.queue.get():
        total += v
        n += 1
    s.received.value += n
    s.total.value += total
    return n


def verify(s, p, res):
    if len(res) != tasks(p):
        return "wrong number of results"
    sent, got = sum(res[:p.producers]), sum(res[p.producers:])
    m = p.messages
    if sent != m:
        return f"producers sent {sent} messages, expected {m}"
    if got != m or s.received.value != m:
        return f"consumers received {got} messages (shared count {s.received.value}), expected {m}"
    if s.total.value != m * (m + 1) // 2:
        return f"received values sum to {s.total.value}, sent {m * (m + 1) // 2}"
    return ""


def report(p, m):
    t = m.per_iteration()
    return {"msgs_per_s": p.messages / t if t > 0 else 0}
