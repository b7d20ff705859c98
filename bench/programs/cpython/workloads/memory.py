"""Memory as the kernel accounts it, as workloads/memory.hpp reads it: RSS and
PSS from /proc/PID/smaps_rollup, kernel memory (kernel stacks + page
tables) from /proc/meminfo. All in bytes."""


def _kb_fields(path, keys):
    out = dict.fromkeys(keys, 0.0)
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in out:
                out[key] = float(rest.split()[0]) * 1024
    return out


def process_memory(pid="self"):
    f = _kb_fields(f"/proc/{pid}/smaps_rollup", ("Rss", "Pss"))
    return f["Rss"], f["Pss"]


def kernel_memory():
    f = _kb_fields("/proc/meminfo", ("KernelStack", "PageTables"))
    return f["KernelStack"] + f["PageTables"]


def sample_self():
    rss, pss = process_memory()
    return rss, pss, kernel_memory()


def sample_processes(pids):
    """RSS and PSS summed over the processes (PSS sums to what they use
    together; RSS counts shared pages in each), kernel memory system-wide."""
    rss = pss = 0.0
    for pid in pids:
        r, p = process_memory(pid)
        rss, pss = rss + r, pss + p
    return rss, pss, kernel_memory()
