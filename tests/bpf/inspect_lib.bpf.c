/* Fixture for the inspect tests (lib): one tracepoint program per test (each test selects its
 * own, so names are unique among parallel tests); the maps are in
 * inspect_common.h. */
#define MAP(name) insp_lib_##name
#include "inspect_common.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_show(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_list(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_dump(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_btfmap(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_hexmap(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_percpu(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_pin(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_link(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_lib_stats(void *ctx)
{
    return count_exec();
}

char _license[] SEC("license") = "GPL";
