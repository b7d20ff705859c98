// Guard pages for fiber stacks: how an overflow is caught and reported.
//
// A guarded slab (stack_slab with guard = true) keeps one PROT_NONE page
// below every stack and registers each of its chunks here. A SIGSEGV/SIGBUS
// handler, run on an alternate signal stack (the faulting fiber's own stack
// is the one that is full), looks the faulting address up among the
// registered chunks: in a guard page it writes
//   cobench: fiber stack overflow: a 8192-byte fiber stack ran into its guard page at 0x7f...
// to stderr (write(2) only), puts the default action back and re-raises, so
// the process dies by SIGSEGV, visibly. Any other fault goes to the handler
// that was installed before ours (or the default action).
//
// The handler is installed once for the process, on the first guarded chunk,
// and never removed: sigaction is process-wide, and taking ours out later
// would put back a snapshot of the previous handler even if something else
// (a sanitizer, a death test) installed its own after us and chains to ours.
// While no guarded chunk is registered the handler only forwards.
//
// The alternate stack is per thread: signal_stack_scope gives the calling
// thread one for a scope (a guarded run) unless it already has one.
#pragma once

#include <cstddef>
#include <string>

#include <signal.h>

namespace cb {

// Registers [begin, begin + bytes) as a chunk of stacks of `stride` bytes
// each, whose first `guard` bytes are the guard page and the next
// `stack_size` bytes the stack. Throws spawn_error when the table is full.
void register_guarded_chunk(void* begin, std::size_t bytes, std::size_t stride, std::size_t guard, std::size_t stack_size);
// Forgets a chunk registered before (called before it is unmapped).
void unregister_guarded_chunk(void* begin) noexcept;
// Installs the fault handler (once for the process; later calls do nothing).
void install_stack_guard_handler();

// "vm.max_map_count 65530": the sysctl that caps a process's mappings, which
// a guarded stack (two mappings) meets long before memory.
std::string max_map_count_note();

// The calling thread has an alternate signal stack while this lives (its
// own, if it had none; the one it had otherwise).
class signal_stack_scope {
public:
    signal_stack_scope();
    ~signal_stack_scope();
    signal_stack_scope(const signal_stack_scope&) = delete;
    signal_stack_scope& operator=(const signal_stack_scope&) = delete;

private:
    void* mem_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace cb
