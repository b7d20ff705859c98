"""The section on the pool's CPU between requests (io_thread_cpu.py): shown only where echo entries
carry io_thread_cpu_frac, with the closed and open loop's server CPU per request and the I/O
thread's share; the generic tables leave the counter out.

fixtures/io.json has no io_thread_cpu_frac; the tests add it to a copy in memory.
"""

import unittest

import doc as docmod
import io_thread_cpu
import tables
from fixture_files import parse, read
from presentation import builtin
from test_io import set_counters


def with_share(share=0.04):
    d = read("io.json")
    d["context"]["counters"]["io_thread_cpu_frac"] = {"unit": "fraction", "better": "none"}
    for conns in (10, 100, 1000):
        set_counters(d, f"echo/pool/conns:{conns}", io_thread_cpu_frac=share)
    return d


def section(d):
    out = docmod.Doc()
    shown = io_thread_cpu.io_thread_section(out, parse(d))
    return shown, out.markdown(lambda chart: "")


class IoThreadSectionTest(unittest.TestCase):
    def test_absent_without_the_counter(self):
        shown, text = section(read("io.json"))
        self.assertFalse(shown)
        self.assertEqual(io_thread_cpu.io_thread_rows(parse(read("io.json"))), [])

    def test_rows_compare_open_with_closed_and_split_the_cpu(self):
        d = with_share(0.04)
        set_counters(d, "echo/pool/conns:100", server_cpu_ns_per_req=6000.0, open_server_cpu_ns_per_req=120000.0)
        rows = io_thread_cpu.io_thread_rows(parse(d))
        self.assertEqual([row[:2] for row in rows], [["pool", f"conns:{c}"] for c in (10, 100, 1000)])
        row = rows[1]
        self.assertEqual(row[4], "×20")
        self.assertEqual(row[5], "I/O thread 4% · other threads 96%")
        self.assertEqual(row[3], "120 µs at 20.0k req/s")

    def test_section_names_the_runtime_and_the_spin(self):
        shown, text = section(with_share())
        self.assertTrue(shown)
        for phrase in ("## " + io_thread_cpu.HEADING, "pool waits on sockets", "pool runs tasks on a oneTBB arena",
                       "prolonged_pause", "leave_policy::fast"):
            self.assertIn(phrase, text)

    def test_the_onetbb_paragraph_follows_the_traits(self):
        d = with_share()
        next(rt for rt in d["context"]["runtimes"] if rt["name"] == "pool")["kind"] = "thread"
        shown, text = section(d)
        self.assertTrue(shown)
        self.assertNotIn("prolonged_pause", text)

    def test_the_sweep_is_left_out(self):
        d = with_share()
        set_counters(d, "echo/pool/conns:100/rate:10000", io_thread_cpu_frac=0.5)
        self.assertFalse(any("rate:" in row[1] for row in io_thread_cpu.io_thread_rows(parse(d))))

    def test_generic_tables_leave_the_counter_out(self):
        r = parse(with_share())
        pts = r.points("echo")
        self.assertNotIn("io_thread_cpu_frac", tables.result_counters(r, pts) + tables.rusage_counters(r, pts))
        echo = next(e for e in builtin.ENTRIES if e.workload == "echo")
        self.assertIn(io_thread_cpu.io_thread_section, echo.sections)


if __name__ == "__main__":
    unittest.main()
