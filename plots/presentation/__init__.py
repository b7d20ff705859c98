"""The presentation registry: the one place that knows workloads by name.

One Presentation entry per workload says how the report shows it: its place in the report, its
computed caveats (notes), tables of its own beside or instead of the generic ones, the report
sections and charts it brings, and its headline rows. Everything else in plots/ is written for
any workload and asks the registry; a workload without an entry still gets the generic section
(its parameters in a sentence and one table per declared counter: presentation.generic).

entry.py               Presentation (one workload's entry) and HeadlineRow
registry.py            the registry: the built-in entries, then those of the extra files
builtin.py             the entries of the workloads this repository ships, in report order
generic.py             the section any workload gets (and what an entry adds to it)

Adding a workload's presentation is one entry: in builtin.py, or in a file outside plots/ named
in the environment variable COBENCH_PRESENTATION_EXTRA (paths separated by os.pathsep), which
defines PRESENTATIONS, a list of presentation.entry.Presentation. Such a file's entries follow
the built-in ones; one with the name of a built-in workload takes that entry's place.

This file imports nothing, so that an entry's module imports presentation.entry without the
registry, and nothing imports in a circle. registry.py:

entries()              [Presentation] in report order (built-in, then the extra files)
entry(workload)        its Presentation; a bare one (the generic section only) when none is registered
ordered(workloads)     the given workloads in report order: registered ones first, the others by name
sections()             the report sections of every entry, in registry order, each once
headline_rows()        [(Presentation, HeadlineRow)] in registry order
charts()               the Chart objects of every entry (drawn after charts.CHARTS)
"""
