// Compiled twice by nodiscard_check.cmake for each runtime's context: with
// COBENCH_FORGET_AWAIT every operation is called without co_await, and each
// call must be diagnosed (under -Werror, a compile error: under the coroutine
// loop such a call would silently do nothing); without it, the same body
// awaits each operation and must compile.
#include "runtimes/registry.hpp"

#include <tuple>

// The runtime by its place in the registry, so a new runtime is checked
// without an edit here; past the end, the check script stops.
constexpr std::size_t runtime_index = COBENCH_RUNTIME_INDEX;
static_assert(runtime_index < std::tuple_size_v<cb::all_runtimes>, "NO_SUCH_RUNTIME");
using C = std::tuple_element_t<(runtime_index < std::tuple_size_v<cb::all_runtimes> ? runtime_index : 0), cb::all_runtimes>::context;

cb::task<std::uint64_t> body(C& ctx, C::channel<std::uint64_t>& ch, char* buf) {
#ifdef COBENCH_FORGET_AWAIT
#define OP(...) __VA_ARGS__
#else
#define OP(...) co_await __VA_ARGS__
#endif
    OP(ctx.yield());
    OP(ctx.sleep_for(std::chrono::milliseconds(1)));
    OP(ctx.send(ch, std::uint64_t{1}));
    OP(ctx.recv(ch));
    OP(ctx.park());
    OP(ctx.read(0, buf, 1));
    OP(ctx.write(1, buf, 1));
    OP(ctx.accept(0));
    co_return 0;
}
